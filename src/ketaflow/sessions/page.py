"""What the chairside page shows: the session view (`view.session_view`) plus the forms, the stock
on hand to prepare from, the live chart and the thresholds with their sources.

`page_context` is used by the page itself and by every action that re-renders it (after an HTMX
POST, or with a form's errors), so a section always looks the same however it was reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.controlled import expiry_status
from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.instruments.definition import Instrument
from ketaflow.clinical.instruments.library import get_instrument
from ketaflow.clinical.session_catalogue import RescueDrug, severities, side_effects
from ketaflow.ledger.models import Balance, LedgerSettings

from . import forms
from .live_chart import Figure, Reading, chart_figure
from .models import TreatmentSession, VitalAlert
from .view import SessionView, session_view

Status = TreatmentSession.Status
SCORED_INSTRUMENTS = ("cadss6", "moaas")
ROUTE_DRUG = {"iv": "ketamine", "im": "ketamine", "sublingual_home": "ketamine", "esketamine": "esketamine"}
INFUSION_ROUTES = ("iv",)
DEFAULT_EXPIRY_WARN_DAYS = 60  # LedgerSettings' default, for a practice that has not saved its own
VERIFY_LABEL = "clinic default — verify"
PREGNANCY_LABELS = {"negative": "Negative", "positive": "Positive", "not_applicable": "Does not apply"}
STATUS_BADGES = {
    Status.CHECKED_IN: "brand",
    Status.DOSING: "warn",
    Status.RECOVERY: "warn",
    Status.DISCHARGED: "ok",
    Status.SIGNED: "ok",
    Status.BLOCKED: "danger",
    Status.CANCELLED: "danger",
}


@dataclass(frozen=True)
class Rule:
    """One number the page decides with, its source and whether the clinic must verify it."""

    label: str
    value: str
    verify: bool


def zone_of(session: TreatmentSession) -> ZoneInfo:
    clinic = session.clinic or session.patient.home_clinic
    return ZoneInfo(clinic.timezone)


def stock_choices(
    actor: Actor, session: TreatmentSession, drugs: Iterable[str], today: date
) -> list[tuple[str, str]]:
    """("lot_id:location_id", label) for each unexpired lot of `drugs` with stock at the session's
    clinic, soonest expiry first; the label carries the expiry and the quantity on hand."""
    rows = (
        Balance.objects.for_organization(actor.organization_id)
        .filter(
            quantity_mg__gt=0,
            lot__product__drug__in=list(drugs),
            lot__expires_on__gte=today,
            location__is_active=True,
        )
        .select_related("lot__product", "location")
        .order_by("lot__expires_on", "lot__lot_number")
    )
    if session.clinic_id is not None:
        rows = rows.filter(location__clinic_id=session.clinic_id)
    ledger = LedgerSettings.objects.filter(organization_id=actor.organization_id).first()
    warn_days = ledger.expiry_warn_days if ledger else DEFAULT_EXPIRY_WARN_DAYS
    choices = []
    for row in rows:
        lot = row.lot
        soon = expiry_status(lot.expires_on, today, warn_days=warn_days) == "expiring"
        label = (
            f"{lot.product.name} · lot {lot.lot_number} · expires {lot.expires_on:%m/%d/%Y}"
            f"{' (soon)' if soon else ''} · {row.quantity_mg.normalize():f} mg in {row.location.name}"
        )
        choices.append((f"{lot.pk}:{row.location_id}", label))
    return choices


def instruments() -> list[Instrument]:
    return [get_instrument(key) for key in SCORED_INSTRUMENTS]


def readings_of(view: SessionView) -> list[Reading]:
    keys = {
        "sys": "systolic_bp",
        "dia": "diastolic_bp",
        "hr": "heart_rate",
        "spo2": "oxygen_saturation",
        "rr": "respiratory_rate",
    }
    return [
        Reading(datetime.fromisoformat(p["t"]), {keys[k]: p.get(k) for k in keys}) for p in view.vitals_series
    ]


def figure_of(view: SessionView, zone: ZoneInfo) -> Figure:
    session = view.session
    start = session.dosing_started_at or (
        session.pre_dose_vitals.measured_at if session.pre_dose_vitals else None
    )
    return chart_figure(
        readings_of(view),
        baseline=view.baseline,
        limits=session.monitoring.get("limits", {}),
        start=start,
        now=view.now,
        zone=zone,
    )


def timer_context(view: SessionView) -> dict[str, Any]:
    """The vitals countdown: due time, seconds left (negative when overdue) and the interval."""
    timer = view.timer
    left = timer.seconds_left(view.now)
    return {
        "due_at": timer.due_at,
        "seconds_left": left,
        "overdue": timer.overdue(view.now),
        "every_min": timer.every_min,
        "verify": view.rules.is_verify("vitals_every_min"),
        "left_text": countdown_text(left),
        "verify_label": VERIFY_LABEL,
    }


def countdown_text(seconds: int | None) -> str:
    """'due in 4:05' or 'overdue by 1:30' ('' without a timer); the page script keeps it ticking."""
    if seconds is None:
        return ""
    minutes, rest = divmod(abs(seconds), 60)
    return f"{'overdue by' if seconds < 0 else 'due in'} {minutes}:{rest:02d}"


def vitals_rows(view: SessionView) -> list[dict[str, Any]]:
    """The readings for the table, latest first, with their time as a datetime."""
    phases = {"pre_dose": "Before dosing", "dosing": "Dosing", "recovery": "Recovery"}
    return [
        {**p, "at": datetime.fromisoformat(p["t"]), "phase": phases.get(p["phase"], p["phase"])}
        for p in reversed(view.vitals_series)
    ]


def rules_shown(view: SessionView) -> list[Rule]:
    """The monitoring numbers of this session with their verify marks (source shown once beside them)."""
    rules = view.rules
    shown = [Rule(f"{t.label} limit", t.text, rules.is_verify("limits")) for t in view.thresholds]
    if rules.systolic_rise_mmhg:
        shown.append(
            Rule(
                "Systolic rise above baseline",
                f"at most {rules.systolic_rise_mmhg} mmHg",
                rules.is_verify("systolic_rise_mmhg"),
            )
        )
    if rules.vitals_every_min:
        shown.append(
            Rule("Vital signs", f"every {rules.vitals_every_min} min", rules.is_verify("vitals_every_min"))
        )
    shown.append(
        Rule(
            "Minimum observation", f"{rules.min_observation_min} min", rules.is_verify("min_observation_min")
        )
    )
    return shown


def pre_dose_shown(view: SessionView) -> list[Rule]:
    rules = view.rules
    shown = [
        Rule(f"{t.label} before dosing", t.text, rules.is_verify("pre_dose")) for t in view.pre_dose_limits
    ]
    if rules.fasting_hours:
        liquids = f"; no liquids for {rules.no_liquids_min} min" if rules.no_liquids_min else ""
        shown.append(Rule("Fasting", f"{rules.fasting_hours} h{liquids}", rules.is_verify("fasting_hours")))
    if rules.pregnancy_test:
        shown.append(Rule("Pregnancy test", "required", rules.is_verify("pregnancy_test")))
    if rules.escort_required:
        shown.append(Rule("Escort home", "named, with a phone number", rules.is_verify("escort_required")))
    if rules.second_check:
        shown.append(Rule("Second person checks the preparation", "yes", rules.is_verify("second_check")))
    return shown


def preparation_form(
    actor: Actor, session: TreatmentSession, zone: ZoneInfo, data: Any = None
) -> forms.PreparationForm:
    """The preparation form offering the lots of the route's drug on hand at the session's clinic."""
    today = timezone.now().astimezone(zone).date()
    stock = stock_choices(actor, session, [ROUTE_DRUG.get(session.route, "ketamine")], today)
    return forms.PreparationForm(data, stock=stock, route=session.route, zone=zone)


def rescue_form(
    actor: Actor,
    session: TreatmentSession,
    zone: ZoneInfo,
    formulary: tuple[RescueDrug, ...],
    open_alerts: Iterable[VitalAlert],
    data: Any = None,
) -> forms.RescueForm:
    """The rescue form: the formulary's doses, the controlled drugs' lots on hand, the open alerts."""
    today = timezone.now().astimezone(zone).date()
    controlled = [d.key for d in formulary if d.controlled]
    stock = stock_choices(actor, session, controlled, today) if controlled else []
    alerts = [(str(a.pk), f"{a.raised_at.astimezone(zone):%H:%M} {a.message}") for a in open_alerts]
    return forms.RescueForm(data, formulary=formulary, stock=stock, alerts=alerts, zone=zone)


def alert_prefix(alert: VitalAlert) -> str:
    return f"alert-{alert.pk.hex[:8]}"


def alert_forms(view: SessionView, zone: ZoneInfo, given: dict[str, Any]) -> list[tuple[VitalAlert, Any]]:
    """(alert, its response form) for each open alert; a failed form (by alert id) kept."""
    return [
        (a, given.get(str(a.pk)) or forms.AlertResponseForm(prefix=alert_prefix(a), zone=zone))
        for a in view.open_alerts
    ]


def _checklist_initial(session: TreatmentSession) -> dict[str, Any]:
    initial = {k: v for k, v in (session.checklist or {}).items() if k in forms.ChecklistForm.base_fields}
    if initial.get("mood") is not None:
        initial["mood"] = str(initial["mood"])
    vitals = session.pre_dose_vitals
    if vitals is not None:
        initial |= {
            name: getattr(vitals, name) for name in forms.SESSION_VITALS if getattr(vitals, name) is not None
        }
    return initial


def event_initial(view: SessionView) -> dict[str, Any]:
    """The pump rate of the last preparation, or one device's (or the drawn) mg for a give route."""
    last = view.preparations[-1] if view.preparations else None
    if last is None:
        return {}
    if last.pump_rate_ml_per_h is not None:
        return {"rate_ml_per_h": f"{last.pump_rate_ml_per_h.normalize():f}"}
    per = last.lot.product.mg_per_unit if last.units else last.drawn_mg
    return {"amount_mg": f"{per.normalize():f}"}


def page_forms(actor: Actor, view: SessionView, zone: ZoneInfo, given: dict[str, Any]) -> dict[str, Any]:
    """Each section's form: the one that failed (in `given`), else a fresh one."""
    session = view.session
    built: dict[str, Any] = {
        "checklist_form": lambda: forms.ChecklistForm(initial=_checklist_initial(session), zone=zone),
        "override_form": lambda: forms.ReasonForm(zone=zone, label="Reason to proceed"),
        "cancel_form": lambda: forms.ReasonForm(zone=zone, prefix="cancel", label="Reason for cancelling"),
        "prep_form": lambda: preparation_form(actor, session, zone),
        "event_form": lambda: forms.EventForm(initial=event_initial(view), zone=zone),
        "vitals_form": lambda: forms.VitalsForm(zone=zone),
        "effect_form": lambda: forms.SideEffectForm(zone=zone),
        "rescue_form": lambda: rescue_form(actor, session, zone, view.formulary, view.open_alerts),
        "aldrete_form": lambda: forms.AldreteForm(suggested=view.aldrete_suggested, zone=zone),
        "discharge_form": lambda: forms.DischargeForm(
            initial={
                "escort_handover_name": (session.checklist or {}).get("escort_name", ""),
                "send_instructions": ["print"],
            },
            zone=zone,
        ),
        "sign_form": lambda: forms.NoteForm(initial={"note": session.note}, zone=zone),
        "amend_form": lambda: forms.NoteForm(initial={"note": session.note}, amend=True, zone=zone),
    }
    made = {name: given.get(name) or make() for name, make in built.items()}
    made["alert_forms"] = alert_forms(view, zone, given.get("alert_forms", {}))
    scores = given.get("score_forms", {})
    made["score_forms"] = [
        scores.get(i.id) or forms.ScoreForm(instrument=i, zone=zone) for i in instruments()
    ]
    return made


def page_context(actor: Actor, session: TreatmentSession, **given: Any) -> dict[str, Any]:
    """Everything the chairside page shows, for a session opened (and the read audited) already."""
    now = timezone.now()
    zone = zone_of(session)
    view = session_view(session, now)
    status = Status(session.status)
    running = "not started" if view.delivery is None else view.delivery.state
    latest_scores = {s.instrument_id: s for s in view.scores}
    return {
        "session": session,
        "patient": session.patient,
        "view": view,
        "zone": zone,
        "now": now,
        "status_badge": STATUS_BADGES.get(status, "brand"),
        "section": "sessions",
        "timer": timer_context(view),
        "figure": figure_of(view, zone),
        "rules": rules_shown(view),
        "pre_dose_rules": pre_dose_shown(view),
        "verify_label": VERIFY_LABEL,
        "readiness": view.readiness,
        "infusion": session.route in INFUSION_ROUTES,
        "dose_state": running,
        "open_alerts": view.open_alerts,
        "aldrete_items": [(key, label) for key, (label, _) in ALDRETE_ITEMS.items()],
        "effect_labels": side_effects(),
        "severity_labels": severities(),
        "latest_scores": latest_scores,
        "instruments": instruments(),
        "can_chart": actor.can(Permission.CHART_SESSIONS) and not session.is_locked,
        "can_sign": actor.can(Permission.SIGN_DOSES),
        "can_handle": actor.can(Permission.HANDLE_CONTROLLED),
        "before_dosing": status == Status.CHECKED_IN,
        "monitoring": status in (Status.DOSING, Status.RECOVERY),
        "charting": status in (Status.CHECKED_IN, Status.DOSING, Status.RECOVERY),
        "recovering": status == Status.RECOVERY,
        "finished": status in (Status.DISCHARGED, Status.SIGNED),
        "response_labels": dict(VitalAlert.Response.choices),
        "vitals_rows": vitals_rows(view),
        "observation_verify": view.rules.is_verify("min_observation_min"),
        "pregnancy_label": PREGNANCY_LABELS.get((session.checklist or {}).get("pregnancy_test", ""), ""),
        **page_forms(actor, view, zone, given),
    }
