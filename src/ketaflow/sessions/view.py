"""Everything the chairside page and the session API show, read in a fixed number of queries.

`session_view(session, now)` takes a session already opened (and the read audited) through
`access.open_session`, prefetches its rows once and returns one frozen value: the monitoring rules
with their source, readiness, the dose and its delivery, the vitals timer, the vital-signs series
for the live chart against the pre-dose baseline, alerts, side effects, rescue doses, scores, the
discharge decision with the Aldrete pass marks and their source, the reconciliation, the formulary,
the follow-up questionnaire due and the note's amendments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import prefetch_related_objects

from ketaflow.clinical.discharge import (
    ALDRETE_ITEMS,
    AldreteRules,
    DischargeReadiness,
    suggested_circulation,
    suggested_saturation,
)
from ketaflow.clinical.dose_events import Delivery, EventKind
from ketaflow.clinical.dose_events import DoseEvent as CoreEvent
from ketaflow.clinical.monitoring import Limit, MonitoringRules, VitalsTimer, vitals_timer
from ketaflow.clinical.session_catalogue import RescueDrug, formulary_source
from ketaflow.measurement.models import MeasureDue
from ketaflow.patients.models import VitalSigns

from .checkin import may_start
from .effects import formulary_of
from .flow_common import rules_of
from .flow_events import delivery_of
from .flow_vitals import SESSION_FIELDS
from .models import (
    DoseEvent,
    DosePreparation,
    NoteAmendment,
    RescueDose,
    SessionScore,
    SideEffect,
    TreatmentSession,
    VitalAlert,
)
from .recovery import aldrete_rules, discharge_check, observation_start
from .recovery_common import session_settings

Status = TreatmentSession.Status
SERIES_KEYS = (
    ("systolic_bp", "sys"),
    ("diastolic_bp", "dia"),
    ("heart_rate", "hr"),
    ("oxygen_saturation", "spo2"),
    ("respiratory_rate", "rr"),
)
VIEW_PREFETCH = (
    "checked_in_by",
    "override_by",
    "discharged_by",
    "signed_by",
    "preparations__lot__product",
    "preparations__recorded_by",
    "preparations__verified_by",
    "dose_events",
    "vital_links__vitals",
    "alerts__responded_by",
    "side_effects",
    "rescue_doses__lot",
    "scores",
    "amendments__recorded_by",
)


@dataclass(frozen=True)
class Threshold:
    """One vital sign's limit as the page shows it beside the readings."""

    field: str
    label: str
    unit: str
    low: Decimal | None
    high: Decimal | None
    text: str

    @classmethod
    def of(cls, limit: Limit) -> Threshold:
        return cls(limit.field, limit.label, limit.unit, limit.low, limit.high, limit.text)


@dataclass(frozen=True)
class SessionView:
    session: TreatmentSession
    now: datetime
    rules: MonitoringRules
    thresholds: tuple[Threshold, ...]
    pre_dose_limits: tuple[Threshold, ...]
    readiness: dict[str, Any] | None
    may_start: tuple[str, ...]
    preparations: tuple[DosePreparation, ...]
    events: tuple[DoseEvent, ...]
    delivery: Delivery | None
    timer: VitalsTimer
    vitals_series: list[dict[str, Any]]
    baseline: dict[str, Any] | None
    alerts: tuple[VitalAlert, ...]
    open_alerts: tuple[VitalAlert, ...]
    side_effects: tuple[SideEffect, ...]
    rescue_doses: tuple[RescueDose, ...]
    scores: tuple[SessionScore, ...]
    aldrete_rules: AldreteRules
    aldrete_suggested: dict[str, int | None]
    discharge: DischargeReadiness
    observation_started_at: datetime | None
    reconciliation: dict[str, Any] | None
    formulary: tuple[RescueDrug, ...]
    formulary_source: str
    follow_up: tuple[MeasureDue, ...]
    amendments: tuple[NoteAmendment, ...]

    @property
    def rules_source(self) -> str:
        return self.rules.source

    @property
    def locked(self) -> bool:
        return self.session.is_locked

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values for the API (times ISO 8601, quantities as strings of mg/mL)."""
        return view_as_dict(self)


def session_view(session: TreatmentSession, now: datetime) -> SessionView:
    """The chairside view of an opened session (no audit here: `open_session` recorded the read).
    Runs a fixed number of queries, whatever the number of readings or events."""
    prefetch_related_objects([session], *VIEW_PREFETCH)
    settings = session_settings(session.organization_id)
    rules = rules_of(session)
    links = list(session.vital_links.all())
    alerts = tuple(session.alerts.all())
    events = tuple(session.dose_events.all())
    preparations = tuple(session.preparations.all())
    baseline = _baseline(_pre_dose(session, links))
    latest = next((link.vitals for link in reversed(links) if link.phase != "pre_dose"), None)
    monitoring = session.status in (Status.DOSING, Status.RECOVERY)
    last_at = links[-1].measured_at if links else None
    timer = (
        vitals_timer(last_at, session.dosing_started_at, rules)
        if monitoring
        else VitalsTimer(None, rules.vitals_every_min)
    )
    return SessionView(
        session=session,
        now=now,
        rules=rules,
        thresholds=tuple(Threshold.of(limit) for limit in rules.limits),
        pre_dose_limits=tuple(Threshold.of(limit) for limit in rules.pre_dose),
        readiness=session.readiness,
        may_start=tuple(may_start(session)) if session.status == Status.CHECKED_IN else (),
        preparations=preparations,
        events=events,
        delivery=_delivery(events, preparations, now),
        timer=timer,
        vitals_series=[_point(link.vitals, link.measured_at, link.phase) for link in links],
        baseline=baseline,
        alerts=alerts,
        open_alerts=tuple(a for a in alerts if a.responded_at is None),
        side_effects=tuple(session.side_effects.all()),
        rescue_doses=tuple(session.rescue_doses.all()),
        scores=tuple(session.scores.all()),
        aldrete_rules=aldrete_rules(settings),
        aldrete_suggested=_suggested(latest, baseline),
        discharge=discharge_check(session, now, settings=settings),
        observation_started_at=observation_start(session),
        reconciliation=session.reconciliation,
        formulary=formulary_of(settings.formulary),
        formulary_source=formulary_source(),
        follow_up=_follow_up(session),
        amendments=tuple(session.amendments.all()),
    )


def _delivery(
    events: tuple[DoseEvent, ...], preparations: tuple[DosePreparation, ...], now: datetime
) -> Delivery | None:
    """What has gone in so far, from the prefetched rows (no further query)."""
    if not events:
        return None
    core = [CoreEvent(EventKind(e.kind), e.at, e.rate_ml_per_h, e.amount_mg) for e in events]
    return delivery_of(core, preparations, now)


def _point(vitals: VitalSigns, at: datetime, phase: str) -> dict[str, Any]:
    point: dict[str, Any] = {"t": at.isoformat(), "phase": phase}
    for field, key in SERIES_KEYS:
        point[key] = getattr(vitals, field)
    return point


def _pre_dose(session: TreatmentSession, links: list[Any]) -> VitalSigns | None:
    """The pre-dose set, found among the session's readings (no further query)."""
    if session.pre_dose_vitals_id is None:
        return None
    found = next((link.vitals for link in links if link.vitals_id == session.pre_dose_vitals_id), None)
    return found or session.pre_dose_vitals


def _baseline(vitals: VitalSigns | None) -> dict[str, Any] | None:
    if vitals is None:
        return None
    found: dict[str, Any] = {field: getattr(vitals, field) for field in SESSION_FIELDS}
    found["measured_at"] = vitals.measured_at
    return found


def _suggested(latest: VitalSigns | None, baseline: dict[str, Any] | None) -> dict[str, int | None]:
    """Aldrete circulation and saturation suggested from the latest reading (the nurse decides)."""
    if latest is None:
        return {"circulation": None, "oxygen_saturation": None}
    return {
        "circulation": suggested_circulation(latest.systolic_bp, (baseline or {}).get("systolic_bp")),
        "oxygen_saturation": suggested_saturation(latest.oxygen_saturation),
    }


def _follow_up(session: TreatmentSession) -> tuple[MeasureDue, ...]:
    """The patient's open due questionnaires (the follow-up scheduled at discharge), soonest first."""
    if session.status not in (Status.DISCHARGED, Status.SIGNED):
        return ()
    rows = MeasureDue.objects.for_organization(session.organization_id).filter(
        patient_id=session.patient_id, status=MeasureDue.Status.OPEN
    )
    return tuple(rows.order_by("due_at"))


def _mg(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def view_as_dict(view: SessionView) -> dict[str, Any]:
    """The view as plain JSON values."""
    s = view.session
    return {
        "id": str(s.pk),
        "status": s.status,
        "route": s.route,
        "setting": s.setting,
        "protocol": s.protocol_label,
        "locked": s.is_locked,
        "rules": {**view.rules.as_dict()},
        "readiness": view.readiness,
        "may_start": list(view.may_start),
        "dose": {
            "planned_mg": _mg(s.planned_mg),
            "summary": s.dose_summary,
            "arithmetic": list(s.dose_arithmetic or []),
            "delivered_mg": _mg(view.delivery.mg) if view.delivery else None,
            "delivered_ml": _mg(view.delivery.volume_ml) if view.delivery else None,
            "state": view.delivery.state if view.delivery else "not started",
            "delivery_arithmetic": list(view.delivery.arithmetic) if view.delivery else [],
        },
        "events": [
            {
                "kind": e.kind,
                "at": _iso(e.at),
                "rate_ml_per_h": _mg(e.rate_ml_per_h),
                "amount_mg": _mg(e.amount_mg),
            }
            for e in view.events
        ],
        "timer": {
            "due_at": _iso(view.timer.due_at),
            "every_min": view.timer.every_min,
            "overdue": view.timer.overdue(view.now),
        },
        "vitals_series": view.vitals_series,
        "baseline": None
        if view.baseline is None
        else {
            k: (str(v) if isinstance(v, Decimal) else _iso(v) if isinstance(v, datetime) else v)
            for k, v in view.baseline.items()
        },
        "alerts": [
            {
                "id": str(a.pk),
                "field": a.field,
                "message": a.message,
                "limit": a.limit_text,
                "source": a.source,
                "raised_at": _iso(a.raised_at),
                "response": a.response or None,
                "responded_at": _iso(a.responded_at),
            }
            for a in view.alerts
        ],
        "side_effects": [
            {
                "id": str(e.pk),
                "kind": e.kind,
                "severity": e.severity,
                "onset_at": _iso(e.onset_at),
                "resolved_at": _iso(e.resolved_at),
            }
            for e in view.side_effects
        ],
        "rescue_doses": [
            {
                "id": str(r.pk),
                "drug": r.drug_key,
                "dose_mg": _mg(r.dose_mg),
                "route": r.route,
                "given_at": _iso(r.given_at),
                "controlled": r.controlled,
                "ledger_entry": str(r.ledger_entry_id or "") or None,
            }
            for r in view.rescue_doses
        ],
        "scores": [
            {"instrument": sc.instrument_id, "value": sc.value, "scored_at": _iso(sc.scored_at)}
            for sc in view.scores
        ],
        "aldrete": {
            "items": s.aldrete,
            "total": s.aldrete_total,
            "minimum": view.aldrete_rules.minimum_total,
            "alternative": view.aldrete_rules.alternative_total,
            "source": view.aldrete_rules.source,
            "suggested": view.aldrete_suggested,
            "item_labels": {k: label for k, (label, _) in ALDRETE_ITEMS.items()},
        },
        "discharge": {
            "ready": view.discharge.ready,
            "reasons": [{"field": f, "message": m} for f, m in view.discharge.reasons],
            "minutes_left": view.discharge.minutes_left,
            "min_observation_min": view.rules.min_observation_min,
            "observation_started_at": _iso(view.observation_started_at),
            "ready_to_leave_at": _iso(s.ready_to_leave_at),
            "discharged_at": _iso(s.discharged_at),
        },
        "reconciliation": view.reconciliation,
        "formulary": [d.as_dict() for d in view.formulary],
        "formulary_source": view.formulary_source,
        "follow_up": [
            {"instrument": d.instrument_id, "due_at": _iso(d.due_at), "reason": d.reason}
            for d in view.follow_up
        ],
        "note": s.note,
        "signed_at": _iso(s.signed_at),
        "amendments": [{"reason": a.reason, "recorded_at": _iso(a.recorded_at)} for a in view.amendments],
    }
