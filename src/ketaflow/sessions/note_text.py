"""The session note as plain text, assembled from the record (never typed from memory).

Each section reads the stored rows: checklist and readiness, the dose with its arithmetic, the
preparation and its check, the dose events, a vital-signs summary against the pre-dose baseline,
alerts with their responses, side effects, rescue doses, scores, the Aldrete, the ledger
reconciliation and the discharge. Times are the clinic's local time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import prefetch_related_objects

from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.dose_events import EventKind
from ketaflow.clinical.session_catalogue import route_labels, severities, side_effects
from ketaflow.clinical.vitals import VITAL_SPECS
from ketaflow.patients.models import VitalSigns
from ketaflow.scheduling.calendar_cells import clock

from .flow_common import zone_of
from .flow_vitals import SESSION_FIELDS
from .models import HomeSession, TreatmentSession
from .recovery_common import num, person

NOTE_PREFETCH = (
    "clinic",
    "checked_in_by",
    "override_by",
    "discharged_by",
    "pre_dose_vitals",
    "preparations__lot__product",
    "preparations__recorded_by",
    "preparations__verified_by",
    "dose_events",
    "vital_links__vitals",
    "alerts__responded_by",
    "side_effects",
    "rescue_doses__lot",
    "scores",
)
CHECKLIST_LABELS = {
    "fasting_confirmed": "Fasting confirmed",
    "escort_name": "Escort",
    "escort_phone": "Escort phone",
    "medications_taken": "Medications taken",
    "pregnancy_test": "Pregnancy test",
    "intention": "Intention",
    "mood": "Mood (0-10)",
    "playlist": "Playlist",
    "room_preferences": "Room preferences",
}


def assemble_note(session: TreatmentSession) -> str:
    """The whole note as plain text (one query per related table)."""
    prefetch_related_objects([session], *NOTE_PREFETCH)
    zone = zone_of(session)

    def hm(moment: datetime | None) -> str:
        return "-" if moment is None else clock(moment.astimezone(zone))

    lines = [
        f"Treatment session: {session.protocol_label}",
        f"Date: {session.checked_in_at.astimezone(zone):%m/%d/%Y}; route: {session.route}; "
        f"setting: {session.get_setting_display().lower()}"
        + (f"; clinic: {session.clinic.name}" if session.clinic else ""),
        f"Checked in {hm(session.checked_in_at)} by {person(session.checked_in_by) or '-'}.",
    ]
    lines += _section("Pre-session checklist", _checklist(session))
    lines += _section("Readiness", _readiness(session))
    lines += _section("At home", _home(session, hm))
    lines += _section("Dose", _dose(session, hm))
    lines += _section("Vital signs", _vitals(session, hm))
    lines += _section("Alerts", _alerts(session, hm))
    lines += _section("Side effects", _side_effects(session, hm))
    lines += _section("Rescue medications", _rescues(session, hm))
    lines += _section("Scores", _scores(session, hm))
    lines += _section("Recovery and discharge", _discharge(session, hm))
    return "\n".join(lines).strip() + "\n"


def _unit(value: Decimal | int, unit: str) -> str:
    return f"{num(value)}{unit}" if unit.startswith("/") or unit == "%" else f"{num(value)} {unit}"


def refresh_note(session: TreatmentSession) -> None:
    """Re-assemble a discharged, unsigned session's note after a late entry (inside the caller's
    transaction), so the text the prescriber reads and signs includes it."""
    if session.status == TreatmentSession.Status.DISCHARGED and not session.is_locked:
        session.note = assemble_note(session)
        session.save(update_fields=["note", "updated_at"])


def _section(title: str, body: list[str]) -> list[str]:
    return ["", title, *(f"- {line}" for line in body)] if body else []


def _yes(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("_", " ")


def _checklist(session: TreatmentSession) -> list[str]:
    data = session.checklist or {}
    out = [
        f"{CHECKLIST_LABELS.get(key, key.replace('_', ' ').capitalize())}: {_yes(value)}"
        for key, value in data.items()
        if key not in ("pre_dose", "recorded_at", "recorded_by") and value not in ("", None)
    ]
    if session.pre_dose_vitals is not None:
        out.append(f"Pre-dose vital signs: {readings_text(session.pre_dose_vitals)}")
    return out


def readings_text(vitals: VitalSigns) -> str:
    """`BP 124/78 mmHg, HR 72/min, ...` for the readings present."""
    parts = []
    if vitals.systolic_bp is not None and vitals.diastolic_bp is not None:
        parts.append(f"BP {vitals.systolic_bp}/{vitals.diastolic_bp} mmHg")
    for field, short in (
        ("heart_rate", "HR"),
        ("respiratory_rate", "RR"),
        ("oxygen_saturation", "SpO2"),
        ("temperature_c", "Temp"),
    ):
        value = getattr(vitals, field)
        if value is not None:
            parts.append(f"{short} {_unit(value, VITAL_SPECS[field].unit)}")
    return ", ".join(parts) or "none recorded"


def _home(session: TreatmentSession, hm: Any) -> list[str]:
    """What the patient or their monitor recorded around an at-home dose."""
    if session.setting != TreatmentSession.Setting.HOME:
        return []
    home = HomeSession.objects.for_organization(session.organization_id).filter(session=session).first()
    if home is None:
        return []
    out = []
    if home.monitor_attested_at:
        out.append(f"Monitor {home.monitor_name or '-'} attested at {hm(home.monitor_attested_at)}.")
    if home.dose_taken_mg is not None:
        out.append(f"Dose taken: {num(home.dose_taken_mg)} mg at {hm(home.dose_taken_at)}.")
    if home.checked_in_at:
        feeling = f"; feeling {home.feeling}/10" if home.feeling is not None else ""
        out.append(f"Post-session check-in at {hm(home.checked_in_at)}{feeling}.")
    elif home.missed_alerted_at:
        out.append(f"Check-in missed; staff alerted at {hm(home.missed_alerted_at)}.")
    if home.experience_notes:
        out.append(f"Experience: {home.experience_notes}")
    return out


def _readiness(session: TreatmentSession) -> list[str]:
    decision = session.readiness
    if not decision:
        return []
    if decision.get("ready"):
        out = ["Ready to dose against the protocol's rules."]
    else:
        out = [f"Not ready: {b['message']}" for b in decision.get("blockers", [])]
    if session.override_reason:
        out.append(f"Override by {person(session.override_by) or '-'}: {session.override_reason}")
    return out


def _dose(session: TreatmentSession, hm: Any) -> list[str]:
    out = [f"Planned: {session.dose_summary} ({num(session.planned_mg)} mg)"]
    out += [f"Arithmetic: {line}" for line in session.dose_arithmetic or []]
    for prep in session.preparations.all():
        drawn = (
            f"{num(prep.volume_drawn_ml)} mL"
            if prep.volume_drawn_ml is not None
            else f"{prep.units} x {prep.lot.product.form}"
        )
        extra = []
        if prep.bag_ml is not None:
            extra.append(f"in a {num(prep.bag_ml)} mL bag")
        if prep.pump_rate_ml_per_h is not None:
            extra.append(f"pump {num(prep.pump_rate_ml_per_h)} mL/h")
        checked = (
            f"verified {hm(prep.verified_at)} by {person(prep.verified_by)}"
            if prep.verified_at
            else "not verified by a second person"
        )
        out.append(
            f"Prepared {hm(prep.prepared_at)} by {person(prep.recorded_by) or '-'}: {prep.lot.product.name} "
            f"lot {prep.lot.lot_number} (expires {prep.lot.expires_on:%Y-%m-%d}), "
            f"{drawn} = {num(prep.drawn_mg)} mg"
            + (f", {', '.join(extra)}" if extra else "")
            + f"; {checked}."
        )
        if prep.override_reason:
            out.append(f"Above the plan, override: {prep.override_reason}")
    for event in session.dose_events.all():
        out.append(f"{hm(event.at)} {_event_text(event)}")
    if session.delivered_mg is not None:
        volume = f" ({num(session.delivered_ml)} mL)" if session.delivered_ml else ""
        out.append(
            f"Delivered {num(session.delivered_mg)} mg{volume}, "
            f"dosing {hm(session.dosing_started_at)}-{hm(session.dosing_ended_at)}."
        )
    if session.reconciliation:
        flag = "reconciled" if session.reconciled else "NOT reconciled"
        message = session.reconciliation.get("message", "")
        out.append(f"Controlled-substance reconciliation: {flag}. {message}".strip())
    return out


def _event_text(event: Any) -> str:
    text = EventKind(event.kind).label
    if event.rate_ml_per_h is not None:
        text += f" at {num(event.rate_ml_per_h)} mL/h"
    if event.amount_mg is not None:
        text += f" {num(event.amount_mg)} mg"
    return text + (f" ({event.note})" if event.note else "")


def _vitals(session: TreatmentSession, hm: Any) -> list[str]:
    links = [link for link in session.vital_links.all() if link.phase != "pre_dose"]
    if not links:
        return []
    out = [f"{len(links)} readings from {hm(links[0].measured_at)} to {hm(links[-1].measured_at)}."]
    for field in SESSION_FIELDS:
        values = [getattr(link.vitals, field) for link in links if getattr(link.vitals, field) is not None]
        if values:
            spec = VITAL_SPECS[field]
            out.append(f"{spec.label}: {_range(values, spec.unit)}")
    return out


def _range(values: Iterable[Decimal | int], unit: str) -> str:
    ordered = sorted(values)
    low, high = ordered[0], ordered[-1]
    return _unit(low, unit) if low == high else f"{num(low)}-{_unit(high, unit)}"


def _alerts(session: TreatmentSession, hm: Any) -> list[str]:
    out = []
    for alert in session.alerts.all():
        if alert.responded_at is None:
            answer = "NOT ANSWERED"
        else:
            answer = (
                f"{alert.get_response_display().lower()} "
                f"({hm(alert.responded_at)}, {person(alert.responded_by)})"
            )
            if alert.response_note:
                answer += f": {alert.response_note}"
        out.append(f"{hm(alert.raised_at)} {alert.message} Response: {answer}")
    return out


def _side_effects(session: TreatmentSession, hm: Any) -> list[str]:
    names, grades = side_effects(), severities()
    out = []
    for effect in session.side_effects.all():
        grade = grades.get(effect.severity, effect.severity).lower()
        text = f"{hm(effect.onset_at)} {names.get(effect.kind, effect.kind)} ({grade})"
        text += f", resolved {hm(effect.resolved_at)}" if effect.resolved_at else ", not resolved"
        out.append(text + (f"; {effect.note}" if effect.note else ""))
    return out


def _rescues(session: TreatmentSession, hm: Any) -> list[str]:
    routes = route_labels()
    out = []
    for dose in session.rescue_doses.all():
        route = routes.get(dose.route, dose.route)
        text = f"{hm(dose.given_at)} {dose.drug_name} {num(dose.dose_mg)} mg {route} for {dose.reason}"
        if dose.lot is not None:
            text += f"; lot {dose.lot.lot_number} (ledger)"
        if dose.override_reason:
            text += f"; above the session maximum, override: {dose.override_reason}"
        out.append(text)
    return out


SCORE_NAMES = {"cadss6": "CADSS-6 (0-24)", "moaas": "MOAA/S (0-5)"}


def _scores(session: TreatmentSession, hm: Any) -> list[str]:
    return [
        f"{hm(s.scored_at)} {SCORE_NAMES.get(s.instrument_id, s.instrument_id)}: {s.value:g}"
        for s in session.scores.all()
    ]


def _discharge(session: TreatmentSession, hm: Any) -> list[str]:
    out = []
    if session.aldrete:
        items = ", ".join(
            f"{ALDRETE_ITEMS[k][0].lower()} {v}" for k, v in session.aldrete.items() if k in ALDRETE_ITEMS
        )
        out.append(f"Modified Aldrete {session.aldrete_total} at {hm(session.aldrete_at)} ({items}).")
    if session.ready_to_leave_at:
        out.append(f"Ready to leave (by the Aldrete) at {hm(session.ready_to_leave_at)}.")
    if session.discharged_at:
        out.append(f"Discharged {hm(session.discharged_at)} by {person(session.discharged_by) or '-'}.")
        out.append(f"Escort handover: {session.escort_handover_name or 'none named'}.")
        channels = ", ".join(row.get("channel", "") for row in session.instructions_sent or [])
        out.append(f"Discharge instructions: {channels or 'none recorded'}.")
    if session.discharge_override_reason:
        out.append(f"Discharged before ready, override: {session.discharge_override_reason}")
    return out
