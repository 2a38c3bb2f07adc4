"""Changing a plan: its dose (with a reason, the new arithmetic, and the protocol's titration
advice) and its phase (induction, maintenance, taper, completed or discontinued).

Both need SIGN_PLANS and an open plan, write one history row (DoseChange, PhaseChange) and an audit
entry in the same transaction. A phase move of a signed plan moves the measurement stage too.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.prescribing import TitrationAdvice, titration_advice
from ketaflow.scheduling.calendar import local_midnight, zone_of
from ketaflow.scheduling.models import Appointment
from ketaflow.validation import FieldError, ValidationFailed

from .doses import calculate
from .measures import chart_measures
from .models import DoseChange, Phase, PhaseChange, TreatmentPlan
from .services import dose_fields, follow_stage, plans_of
from .snapshot import protocol_of

REASON_LIMIT = 300
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Phase.INDUCTION: (Phase.MAINTENANCE, Phase.TAPER, Phase.COMPLETED, Phase.DISCONTINUED),
    Phase.MAINTENANCE: (Phase.TAPER, Phase.COMPLETED, Phase.DISCONTINUED, Phase.INDUCTION),
    Phase.TAPER: (Phase.MAINTENANCE, Phase.COMPLETED, Phase.DISCONTINUED),
}
NEEDS_SIGNATURE = (Phase.MAINTENANCE, Phase.TAPER, Phase.INDUCTION)


def _locked(actor: Actor, plan_id: uuid.UUID | str) -> TreatmentPlan:
    plan: TreatmentPlan = (
        plans_of(actor.organization_id).select_for_update(of=("self",)).select_related("patient__home_clinic")
        .one(plan_id, "plan")
    )
    if not plan.is_open:
        ended = plan.get_phase_display().lower()
        raise ValidationFailed.single(None, f"This plan is {ended}; it cannot change.")
    return plan


def _reason(reason: str, errors: list[FieldError], *, required: bool, message: str) -> str:
    text = (reason or "").strip()
    if required and not text:
        errors.append(FieldError("reason", message))
    elif len(text) > REASON_LIMIT:
        errors.append(FieldError("reason", f"Keep the reason to {REASON_LIMIT} characters."))
    return text


def _effective(effective_on: Any, errors: list[FieldError]) -> date | None:
    if not isinstance(effective_on, date):
        errors.append(FieldError("effective_on", "Enter the date the change takes effect."))
        return None
    return effective_on


def change_dose(
    actor: Actor,
    plan_id: uuid.UUID | str,
    *,
    mg_per_kg: Any = None,
    mg: Any = None,
    override_mg: Any = None,
    override_reason: str = "",
    reason: str,
    effective_on: date,
) -> DoseChange:
    """Set a new dose from the chart's latest measures (SIGN_PLANS). ValidationFailed naming the
    field: `reason` missing, a dose the protocol does not allow, an override without its reason."""
    actor.require(Permission.SIGN_PLANS)
    errors: list[FieldError] = []
    why = _reason(reason, errors, required=True, message="Say why the dose changes.")
    when = _effective(effective_on, errors)
    with transaction.atomic():
        plan = _locked(actor, plan_id)
        measures = chart_measures(plan.patient)
        prescription = None
        try:
            prescription = calculate(
                protocol_of(plan), measures.measures, mg_per_kg=mg_per_kg, mg=mg, override_mg=override_mg,
                override_reason=override_reason,
            )
        except ValidationFailed as failure:
            errors.extend(failure.errors)
        if errors or prescription is None or when is None:
            raise ValidationFailed(errors)
        dose = dose_fields(prescription)
        change = DoseChange.objects.create(
            organization_id=actor.organization_id, patient_id=plan.patient_id, recorded_by_id=actor.user_id,
            plan=plan, reason=why, effective_on=when, **dose,
        )
        plan.dose_mg_per_kg = dose["mg_per_kg"]
        plan.dose_mg = dose["mg"]
        plan.dose_summary = dose["summary"]
        plan.dose_arithmetic = dose["arithmetic"]
        plan.dose_overridden = dose["overridden"]
        plan.weight_kg = measures.measures.weight_kg
        plan.save()
        record(actor, Action.UPDATE, "TreatmentPlan", plan.pk, patient_id=plan.patient_id, detail={
            "event": "dose changed", "dose_change": str(change.pk), "mg": str(change.mg),
            "overridden": change.overridden,
        })
    return change


def move_phase(
    actor: Actor, plan_id: uuid.UUID | str, *, to_phase: str, reason: str = "", effective_on: date
) -> PhaseChange:
    """Move the plan to another phase (SIGN_PLANS). ValidationFailed on `to_phase` for a move the
    rules do not allow or a phase the protocol lacks, on `reason` when discontinuing without one."""
    actor.require(Permission.SIGN_PLANS)
    errors: list[FieldError] = []
    why = _reason(reason, errors, required=to_phase == Phase.DISCONTINUED,
                  message="Say why the plan is discontinued.")
    when = _effective(effective_on, errors)
    with transaction.atomic():
        plan = _locked(actor, plan_id)
        allowed = TRANSITIONS.get(plan.phase, ())
        if to_phase not in allowed:
            names = ", ".join(Phase(p).label.lower() for p in allowed)
            errors.append(FieldError("to_phase", (
                f"A plan in {plan.get_phase_display().lower()} can move to {names}; not to "
                f"{Phase(to_phase).label.lower() if to_phase in Phase.values else repr(to_phase)}."
            )))
        elif to_phase in NEEDS_SIGNATURE and plan.status != TreatmentPlan.Status.SIGNED:
            errors.append(FieldError("to_phase", "Sign the plan before moving it on; a draft can only be "
                                                 "completed or discontinued."))
        elif to_phase in (Phase.MAINTENANCE, Phase.TAPER) and to_phase not in protocol_of(plan).phases:
            errors.append(FieldError("to_phase", (
                f"{plan.protocol_name} has no {to_phase} phase; clone the protocol to add one, or choose "
                "another move."
            )))
        if errors or when is None:
            raise ValidationFailed(errors)
        change = PhaseChange.objects.create(
            organization_id=actor.organization_id, patient_id=plan.patient_id, recorded_by_id=actor.user_id,
            plan=plan, from_phase=plan.phase, to_phase=to_phase, effective_on=when,
            reason=why or f"moved to {Phase(to_phase).label.lower()}",
        )
        plan.phase = to_phase
        plan.phase_started_on = when
        if to_phase in (Phase.COMPLETED, Phase.DISCONTINUED):
            plan.ended_reason = why or "completed"
        plan.save()
        record(actor, Action.UPDATE, "TreatmentPlan", plan.pk, patient_id=plan.patient_id, detail={
            "event": "phase changed", "from": change.from_phase, "to": to_phase,
        })
        if plan.status == TreatmentPlan.Status.SIGNED:
            follow_stage(actor, plan)
    return change


def sessions_at_dose(plan: TreatmentPlan) -> int:
    """Completed appointments of the plan since the current dose took effect (from midnight of that
    day at the plan's clinic)."""
    last = plan.dose_changes.order_by("-recorded_at").first()
    rows = Appointment.objects.for_organization(plan.organization_id).filter(
        plan=plan, status=Appointment.Status.COMPLETED
    )
    if last is not None:
        rows = rows.filter(starts_at__gte=local_midnight(last.effective_on, zone_of(plan.clinic)))
    return int(rows.count())


def advice_for(plan: TreatmentPlan, *, responding: bool | None) -> TitrationAdvice | None:
    """The protocol's titration advice for the current dose, assuming the last session was tolerated
    (the page says so); None for protocols not dosed per kg."""
    if plan.dose_mg_per_kg is None:
        return None
    return titration_advice(
        protocol_of(plan), current_mg_per_kg=Decimal(plan.dose_mg_per_kg).normalize(),
        sessions_at_dose=sessions_at_dose(plan), tolerated=True, responding=responding,
    )
