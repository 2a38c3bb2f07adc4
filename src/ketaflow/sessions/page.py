"""What the chairside page shows: the session view (`view.session_view`) plus the forms, the stock
on hand to prepare from, the live chart and the thresholds with their sources.

`page_context` is used by the page itself and by every action that re-renders it (after an HTMX
POST, or with a form's errors), so a section always looks the same however it was reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.instruments.definition import Instrument
from ketaflow.clinical.instruments.library import builtin_instruments, get_instrument
from ketaflow.clinical.monitoring import MonitoringRules, clinic_settings
from ketaflow.clinical.session_catalogue import RescueDrug, side_effects

from . import forms
from .flow_common import INFUSION_ROUTES, drug_of_route
from .live_chart import Figure, Reading, chart_figure, clock
from .models import SessionVitals, TreatmentSession, VitalAlert
from .on_hand import Stock, draw_guides, stock_of
from .view import SessionView, session_view

Status = TreatmentSession.Status
SCORED_INSTRUMENTS = ("cadss6", "moaas")
VERIFY_LABEL = "clinic default — verify"
CLINIC_LABEL = "set by your clinic"
PREPARING = (Status.CHECKED_IN, Status.DOSING)
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
    """One number the page decides with and its mark: '' (from the source shown below), the
    verify label (a shipped default to confirm) or the clinic label (the clinic's own number)."""

    label: str
    value: str
    mark: str


def mark(rules: MonitoringRules, name: str) -> str:
    """How a monitoring setting is marked beside its number (see `Rule`)."""
    if name in clinic_settings(rules):
        return CLINIC_LABEL
    return VERIFY_LABEL if rules.is_verify(name) else ""


def zone_of(session: TreatmentSession) -> ZoneInfo:
    clinic = session.clinic or session.patient.home_clinic
    return ZoneInfo(clinic.timezone)


def instruments() -> list[Instrument]:
    return [get_instrument(key) for key in SCORED_INSTRUMENTS]


def chart_readings(view: SessionView) -> list[Reading]:
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
        chart_readings(view),
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
        "mark": mark(view.rules, "vitals_every_min"),
        "left_text": countdown_text(left),
    }


def countdown_text(seconds: int | None) -> str:
    """'due in 4:05' or 'overdue by 1:30' ('' without a timer); the page script keeps it ticking."""
    if seconds is None:
        return ""
    minutes, rest = divmod(abs(seconds), 60)
    return f"{'overdue by' if seconds < 0 else 'due in'} {minutes}:{rest:02d}"


def vitals_rows(view: SessionView) -> list[dict[str, Any]]:
    """The readings for the table, latest first, with their time as a datetime."""
    phases = dict(SessionVitals.Phase.choices)
    return [
        {**p, "at": datetime.fromisoformat(p["t"]), "phase": phases.get(p["phase"], p["phase"])}
        for p in reversed(view.vitals_series)
    ]


def rules_shown(view: SessionView) -> list[Rule]:
    """The monitoring numbers of this session with their verify marks (source shown once beside them)."""
    rules = view.rules
    shown = [Rule(f"{t.label} limit", t.text, mark(rules, "limits")) for t in view.thresholds]
    if rules.systolic_rise_mmhg:
        shown.append(
            Rule(
                "Systolic rise above baseline",
                f"at most {rules.systolic_rise_mmhg} mmHg",
                mark(rules, "systolic_rise_mmhg"),
            )
        )
    if rules.vitals_every_min:
        shown.append(
            Rule("Vital signs", f"every {rules.vitals_every_min} min", mark(rules, "vitals_every_min"))
        )
    shown.append(
        Rule(
            "Minimum observation", f"{rules.min_observation_min} min", mark(rules, "min_observation_min")
        )
    )
    return shown


def pre_dose_shown(view: SessionView) -> list[Rule]:
    rules = view.rules
    shown = [
        Rule(f"{t.label} before dosing", t.text, mark(rules, "pre_dose")) for t in view.pre_dose_limits
    ]
    if rules.fasting_hours:
        liquids = f"; no liquids for {rules.no_liquids_min} min" if rules.no_liquids_min else ""
        shown.append(Rule("Fasting", f"{rules.fasting_hours} h{liquids}", mark(rules, "fasting_hours")))
    if rules.pregnancy_test:
        shown.append(Rule("Pregnancy test", "required", mark(rules, "pregnancy_test")))
    if rules.escort_required:
        shown.append(Rule("Escort home", "named, with a phone number", mark(rules, "escort_required")))
    if rules.second_check:
        shown.append(Rule("Second person checks the preparation", "yes", mark(rules, "second_check")))
    return shown


def _today(zone: ZoneInfo) -> date:
    return timezone.now().astimezone(zone).date()


def preparation_form(
    actor: Actor, session: TreatmentSession, zone: ZoneInfo, data: Any = None, *, stock: Stock | None = None
) -> forms.PreparationForm:
    """The preparation form offering the lots of the route's drug on hand at the session's clinic."""
    drug = drug_of_route(session.route)
    stock = stock or stock_of(actor, session, [drug], _today(zone))
    return forms.PreparationForm(data, stock=stock.choices([drug]), route=session.route, zone=zone)


def rescue_form(
    actor: Actor,
    session: TreatmentSession,
    zone: ZoneInfo,
    formulary: tuple[RescueDrug, ...],
    open_alerts: Iterable[VitalAlert],
    data: Any = None,
    *,
    stock: Stock | None = None,
) -> forms.RescueForm:
    """The rescue form: the formulary's doses, the controlled drugs' lots on hand, the open alerts."""
    controlled = [d.key for d in formulary if d.controlled]
    if controlled and stock is None:
        stock = stock_of(actor, session, controlled, _today(zone))
    choices = stock.choices(controlled) if stock is not None else []
    alerts = [(str(a.pk), f"{clock(a.raised_at.astimezone(zone))} {a.message}") for a in open_alerts]
    return forms.RescueForm(data, formulary=formulary, stock=choices, alerts=alerts, zone=zone)


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


def page_forms(
    actor: Actor, view: SessionView, zone: ZoneInfo, given: dict[str, Any], *, preparing: bool, charting: bool
) -> dict[str, Any]:
    """Each section's form: the one that failed (in `given`), else a fresh one. The preparation and
    rescue forms (and the stock they offer, one query) only while their sections are open."""
    session = view.session
    drug = drug_of_route(session.route)
    drugs = [drug] if preparing else []
    drugs += [d.key for d in view.formulary if d.controlled] if charting else []
    stock = stock_of(actor, session, drugs, _today(zone)) if drugs else None
    built: dict[str, Any] = {
        "checklist_form": lambda: forms.ChecklistForm(initial=_checklist_initial(session), zone=zone),
        "override_form": lambda: forms.ReasonForm(zone=zone, label="Reason to proceed"),
        "cancel_form": lambda: forms.ReasonForm(zone=zone, prefix="cancel", label="Reason for cancelling"),
        "event_form": lambda: forms.EventForm(initial=event_initial(view), zone=zone),
        "vitals_form": lambda: forms.VitalsForm(zone=zone),
        "effect_form": lambda: forms.SideEffectForm(zone=zone),
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
    if preparing:
        built["prep_form"] = lambda: preparation_form(actor, session, zone, stock=stock)
    if charting:
        built["rescue_form"] = lambda: rescue_form(
            actor, session, zone, view.formulary, view.open_alerts, stock=stock
        )
    made = {name: given.get(name) or make() for name, make in built.items()}
    made["alert_forms"] = alert_forms(view, zone, given.get("alert_forms", {}))
    scores = given.get("score_forms", {})
    made["score_forms"] = [
        scores.get(i.id) or forms.ScoreForm(instrument=i, zone=zone) for i in instruments()
    ]
    if preparing and stock is not None:
        prepared_mg = sum((p.drawn_mg for p in view.preparations), Decimal(0))
        made["draw_guides"] = draw_guides(session, stock.products(drug), prepared_mg)
    return made


def follow_up_shown(view: SessionView) -> list[tuple[str, datetime]]:
    """(instrument's short name, due) of the follow-up questionnaires; an unknown id as it is."""
    library = builtin_instruments()
    return [
        (library[d.instrument_id].short_name if d.instrument_id in library else d.instrument_id, d.due_at)
        for d in view.follow_up
    ]


def page_context(actor: Actor, session: TreatmentSession, **given: Any) -> dict[str, Any]:
    """Everything the chairside page shows, for a session opened (and the read audited) already."""
    zone = zone_of(session)
    view = session_view(session, timezone.now())
    status = Status(session.status)
    can_chart = actor.can(Permission.CHART_SESSIONS) and not session.is_locked
    can_handle = actor.can(Permission.HANDLE_CONTROLLED)
    charting = status in (Status.CHECKED_IN, Status.DOSING, Status.RECOVERY)
    preparing = can_chart and can_handle and status in PREPARING
    pregnancy = dict(forms.ChecklistForm.base_fields["pregnancy_test"].choices)  # type: ignore[attr-defined]
    return {
        "session": session,
        "patient": session.patient,
        "view": view,
        "zone": zone,
        "status_badge": STATUS_BADGES.get(status, "brand"),
        "section": "sessions",
        "timer": timer_context(view),
        "figure": figure_of(view, zone),
        "rules": rules_shown(view),
        "pre_dose_rules": pre_dose_shown(view),
        "verify_label": VERIFY_LABEL,
        "readiness": view.readiness,
        "infusion": session.route in INFUSION_ROUTES,
        "dose_state": "not started" if view.delivery is None else view.delivery.state,
        "open_alerts": view.open_alerts,
        "aldrete_items": [(key, label) for key, (label, _) in ALDRETE_ITEMS.items()],
        "effect_labels": side_effects(),
        "can_chart": can_chart,
        "can_sign": actor.can(Permission.SIGN_DOSES),
        "can_handle": can_handle,
        "before_dosing": status == Status.CHECKED_IN,
        "preparing": preparing,
        "dosing_open": can_chart and status in PREPARING,
        "charting": charting,
        "recovering": status == Status.RECOVERY,
        "vitals_rows": vitals_rows(view),
        "observation_mark": mark(view.rules, "min_observation_min"),
        "pregnancy_label": pregnancy.get((session.checklist or {}).get("pregnancy_test", ""), ""),
        "follow_up": follow_up_shown(view),
        **page_forms(actor, view, zone, given, preparing=preparing, charting=can_chart and charting),
    }
