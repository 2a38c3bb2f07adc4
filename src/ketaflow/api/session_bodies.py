"""Session records as plain JSON values for the session API (shapes in `session_schemas`).

Numbers of drug and volume are decimal strings ("37.5"); every threshold carries its source. The
whole-session body is built from `sessions.view.session_view`, the same value the chairside page
shows, so the API and the page never disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from ketaflow.clinical.discharge import DischargeReadiness
from ketaflow.clinical.dose_events import Delivery
from ketaflow.clinical.monitoring import Limit, MonitoringRules
from ketaflow.clinical.session_catalogue import RescueDrug
from ketaflow.sessions.models import (
    DoseEvent,
    DosePreparation,
    NoteAmendment,
    RescueDose,
    SessionScore,
    SideEffect,
    TreatmentSession,
    VitalAlert,
)
from ketaflow.sessions.view import session_view
from ketaflow.sessions.vitals import VitalsResult


def s(value: Decimal | None) -> str | None:
    """A decimal as plain text without trailing zeros ("37.5"); None stays None."""
    return None if value is None else f"{Decimal(value).normalize():f}"


def limit_body(limit: Limit) -> dict[str, Any]:
    return {
        "field": limit.field,
        "label": limit.label,
        "unit": limit.unit,
        "low": s(limit.low),
        "high": s(limit.high),
        "text": limit.text,
    }


def rules_body(rules: MonitoringRules) -> dict[str, Any]:
    return {
        "vitals_every_min": rules.vitals_every_min,
        "limits": [limit_body(x) for x in rules.limits],
        "systolic_rise_mmhg": rules.systolic_rise_mmhg,
        "pre_dose": [limit_body(x) for x in rules.pre_dose],
        "min_observation_min": rules.min_observation_min,
        "second_check": rules.second_check,
        "fasting_hours": rules.fasting_hours,
        "escort_required": rules.escort_required,
        "pregnancy_test": rules.pregnancy_test,
        "source": rules.source,
        "verify": list(rules.verify),
    }


def summary_body(session: TreatmentSession, open_alerts: int) -> dict[str, Any]:
    return {
        "id": session.pk,
        "patient_id": session.patient_id,
        "appointment_id": session.appointment_id,
        "plan_id": session.plan_id,
        "clinic_id": session.clinic_id,
        "setting": session.setting,
        "route": session.route,
        "status": session.status,
        "checked_in_at": session.checked_in_at,
        "protocol_label": session.protocol_label,
        "planned_mg": s(session.planned_mg),
        "delivered_mg": s(session.delivered_mg),
        "open_alerts": open_alerts,
    }


def reloaded_preparation(preparation_id: uuid.UUID) -> DosePreparation:
    """The preparation with its lot and product, for the response."""
    return DosePreparation.objects.select_related("lot__product").get(pk=preparation_id)


def preparation_body(p: DosePreparation) -> dict[str, Any]:
    return {
        "id": p.pk,
        "lot_id": p.lot_id,
        "lot_number": p.lot.lot_number,
        "product": p.lot.product.name,
        "expires_on": p.lot.expires_on,
        "location_id": p.location_id,
        "concentration_mg_per_ml": s(p.concentration_mg_per_ml),
        "volume_drawn_ml": s(p.volume_drawn_ml),
        "units": p.units,
        "drawn_mg": s(p.drawn_mg),
        "bag_ml": s(p.bag_ml),
        "pump_rate_ml_per_h": s(p.pump_rate_ml_per_h),
        "override_reason": p.override_reason,
        "prepared_at": p.prepared_at,
        "verified": p.verified_at is not None,
        "verified_at": p.verified_at,
    }


def event_body(e: DoseEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "at": e.at,
        "rate_ml_per_h": s(e.rate_ml_per_h),
        "amount_mg": s(e.amount_mg),
        "note": e.note,
    }


def alert_body(a: VitalAlert) -> dict[str, Any]:
    return {
        "id": a.pk,
        "field": a.field,
        "value": s(a.value),
        "direction": a.direction,
        "limit_text": a.limit_text,
        "message": a.message,
        "source": a.source,
        "raised_at": a.raised_at,
        "response": a.response or None,
        "response_note": a.response_note,
        "responded_at": a.responded_at,
    }


def side_effect_body(e: SideEffect) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "severity": e.severity,
        "onset_at": e.onset_at,
        "resolved_at": e.resolved_at,
        "note": e.note,
    }


def rescue_body(d: RescueDose) -> dict[str, Any]:
    return {
        "id": d.pk,
        "drug_key": d.drug_key,
        "drug_name": d.drug_name,
        "dose_mg": s(d.dose_mg),
        "route": d.route,
        "given_at": d.given_at,
        "reason": d.reason,
        "controlled": d.controlled,
        "override_reason": d.override_reason,
        "alert_id": d.alert_id,
        "lot_id": d.lot_id,
    }


def score_body(score: SessionScore) -> dict[str, Any]:
    return {
        "response_id": score.response_id,
        "instrument_id": score.instrument_id,
        "value": score.value,
        "scored_at": score.scored_at,
    }


def amendment_body(a: NoteAmendment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "reason": a.reason,
        "note": a.note,
        "previous_note": a.previous_note,
        "recorded_at": a.recorded_at,
    }


def discharge_body(decision: DischargeReadiness) -> dict[str, Any]:
    return {
        "ready": decision.ready,
        "reasons": [{"field": field, "message": message} for field, message in decision.reasons],
        "minutes_left": decision.minutes_left,
    }


def reading_body(
    values: Any, at: datetime, phase: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """One set of readings from a VitalSigns row (or anything with the same attributes)."""
    return {
        "t": at,
        "sys": values.systolic_bp,
        "dia": values.diastolic_bp,
        "hr": values.heart_rate,
        "spo2": values.oxygen_saturation,
        "rr": values.respiratory_rate,
        "temp": s(values.temperature_c),
        "phase": phase,
        "source": source,
    }


def vitals_result_body(result: VitalsResult) -> dict[str, Any]:
    link = result.link
    return {
        "reading": reading_body(link.vitals, link.measured_at, link.phase, link.source),
        "alerts": [alert_body(a) for a in result.alerts],
    }


def _baseline(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The view's pre-dose values (a dict of the VitalSigns fields) as a reading."""
    if values is None:
        return None
    return reading_body(SimpleNamespace(**values), values["measured_at"], "pre_dose")


def _delivery(d: Delivery | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "state": d.state,
        "running_minutes": s(d.running_minutes),
        "volume_ml": s(d.volume_ml),
        "mg": s(d.mg),
        "arithmetic": list(d.arithmetic),
    }


def _drug(d: RescueDrug) -> dict[str, Any]:
    return {
        "key": d.key,
        "name": d.name,
        "doses_mg": [s(x) for x in d.doses_mg],
        "routes": list(d.routes),
        "max_mg": s(d.max_mg),
        "controlled": d.controlled,
        "indication": d.indication,
        "schedule": d.schedule,
    }


def session_body(session: TreatmentSession, now: datetime) -> dict[str, Any]:
    """The whole session (see `SessionOut`) from the chairside view of it at `now`, in the view's
    fixed number of queries."""
    view = session_view(session, now)
    rules = view.rules
    return summary_body(session, len(view.open_alerts)) | {
        "status_reason": session.status_reason,
        "dose": {
            "planned_mg": s(session.planned_mg),
            "summary": session.dose_summary,
            "arithmetic": list(session.dose_arithmetic or []),
        },
        "rules": rules_body(rules),
        "checklist": session.checklist or {},
        "readiness": view.readiness,
        "override_reason": session.override_reason,
        "may_start": list(view.may_start),
        "preparations": [preparation_body(p) for p in view.preparations],
        "events": [event_body(e) for e in view.events],
        "delivery": _delivery(view.delivery),
        "timer": {
            "due_at": view.timer.due_at,
            "every_min": view.timer.every_min,
            "seconds_left": view.timer.seconds_left(now),
            "overdue": view.timer.overdue(now),
        },
        "baseline": _baseline(view.baseline),
        "vitals": [
            {key: point.get(key) for key in ("t", "sys", "dia", "hr", "spo2", "rr", "phase")}
            for point in view.vitals_series
        ],
        "alerts": [alert_body(a) for a in view.alerts],
        "side_effects": [side_effect_body(e) for e in view.side_effects],
        "rescue_doses": [rescue_body(d) for d in view.rescue_doses],
        "scores": [score_body(x) for x in view.scores],
        "aldrete": {
            "items": session.aldrete,
            "total": session.aldrete_total,
            "at": session.aldrete_at,
            "minimum_total": view.aldrete_rules.minimum_total,
            "alternative_total": view.aldrete_rules.alternative_total,
            "source": view.aldrete_rules.source,
            "suggested": view.aldrete_suggested,
        },
        "discharge": discharge_body(view.discharge)
        | {
            "min_observation_min": rules.min_observation_min,
            "observation_started_at": view.observation_started_at,
        },
        "reconciliation": view.reconciliation,
        "reconciled": session.reconciled,
        "formulary": [_drug(d) for d in view.formulary],
        "formulary_source": view.formulary_source,
        "follow_up": [
            {"instrument_id": d.instrument_id, "due_at": d.due_at, "reason": d.reason} for d in view.follow_up
        ],
        "ready_to_leave_at": session.ready_to_leave_at,
        "escort_handover_name": session.escort_handover_name,
        "discharged_at": session.discharged_at,
        "discharge_override_reason": session.discharge_override_reason,
        "instructions_sent": session.instructions_sent or [],
        "note": session.note,
        "signed_at": session.signed_at,
        "amendments": [amendment_body(a) for a in view.amendments],
    }
