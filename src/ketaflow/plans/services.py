"""Treatment plans: made from the chart, signed by a prescriber, read with an audit entry.

- `create_plan` drafts a plan from a protocol of the library, computing the dose from the chart's
  latest weight and height (`measures.py`); the protocol is copied into the plan, so later library
  edits never change it. The first DoseChange row is the dose the plan was made with.
- `sign_plan` needs the route's signed approval (eligibility) and a current consent; it stores both
  and moves the measurement plan's stage to the plan's phase.
- Dose changes and phase moves are in `changes.py`; review points in `reviews.py`.

Audit details carry ids, keys and flags, never goals or reasons.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.prescribing import Prescription
from ketaflow.clinical.protocols import Protocol
from ketaflow.clinics.models import Clinic, TenantQuerySet
from ketaflow.consent.services import ConsentRequired, require_current_consent
from ketaflow.eligibility.decisions import current_decision, route_approved
from ketaflow.measurement.models import MeasurementPlan
from ketaflow.measurement.schedule import set_plan
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.validation import FieldError, Forbidden, NotFound, ValidationFailed

from .doses import calculate
from .library import get_protocol
from .measures import chart_measures
from .models import OPEN_PHASES, DoseChange, TreatmentPlan

GOALS_LIMIT = 2000
HOME_WARNING = (
    "The APA consensus strongly discourages unsupervised home use: treatment at home is an explicit "
    "prescriber decision with its own safeguards. Say why home treatment suits this patient and how "
    "the safeguards are met."
)


def plans_of(organization_id: uuid.UUID) -> TenantQuerySet:
    """The one starting point for plan queries: this organization's rows only."""
    return TreatmentPlan.objects.for_organization(organization_id)


def open_plan_of(patient: Patient) -> TreatmentPlan | None:
    """The patient's open plan (induction, maintenance or taper), if any. No audit."""
    found: TreatmentPlan | None = (
        plans_of(patient.organization_id).filter(patient=patient, phase__in=OPEN_PHASES).first()
    )
    return found


def patient_plans(actor: Actor, patient: Patient) -> list[TreatmentPlan]:
    """Every plan of a patient already opened (and audited) by the caller, newest first."""
    actor.require(Permission.VIEW_CLINICAL)
    return list(plans_of(actor.organization_id).filter(patient=patient).select_related("clinic"))


def open_plan(actor: Actor, plan_id: uuid.UUID | str, *, purpose: str = "view") -> TreatmentPlan:
    """One plan of this organization (NotFound for another's); the read is audited."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        plan: TreatmentPlan = (
            plans_of(actor.organization_id)
            .select_related("patient__home_clinic", "clinic", "prescriber__user", "signed_by")
            .one(plan_id, "plan")
        )
        record(actor, Action.READ, "TreatmentPlan", plan.pk, patient_id=plan.patient_id,
               detail={"purpose": purpose})
    return plan


def _prescriber(actor: Actor, prescriber_id: Any) -> StaffMember | None:
    """The chosen prescriber, or the actor when they prescribe; None when neither."""
    scope = StaffMember.objects.for_organization(actor.organization_id).filter(
        user__is_active=True, role_rows__role=Role.PRESCRIBER.value
    )
    if prescriber_id:
        try:
            key = uuid.UUID(str(prescriber_id))
        except ValueError as exc:
            raise ValidationFailed.single("prescriber_id", "Choose one of your prescribers.") from exc
        found = scope.filter(pk=key).first()
        if found is None:
            raise ValidationFailed.single("prescriber_id", "Choose one of your prescribers.")
        return found
    if actor.staff_id is not None:
        return scope.filter(pk=actor.staff_id).first()
    return None


def _clinic(actor: Actor, clinic_id: Any) -> Clinic | None:
    try:
        key = uuid.UUID(str(clinic_id))
    except ValueError:
        return None
    found: Clinic | None = Clinic.objects.for_organization(actor.organization_id).filter(pk=key).first()
    return found


def _plan_errors(
    actor: Actor, protocol: Protocol, *, clinic_id: Any, condition: str, start_date: Any, goals: str,
    home_justification: str, maintenance_every_days: int | None,
) -> tuple[Clinic | None, list[FieldError]]:
    errors: list[FieldError] = []
    clinic = _clinic(actor, clinic_id)
    if clinic is None:
        errors.append(FieldError("clinic_id", "Choose one of your organization's clinics."))
    known = {c.id: c.display for c in catalogue().conditions}
    if condition not in known:
        errors.append(FieldError("condition", "Choose the condition this plan treats."))
    elif condition not in protocol.conditions:
        treats = ", ".join(known.get(c, c) for c in protocol.conditions)
        errors.append(FieldError("condition", f"{protocol.name} is for {treats}; choose another protocol "
                                              "or clone this one to add the condition."))
    if not isinstance(start_date, date):
        errors.append(FieldError("start_date", "Enter the start date."))
    if not (goals or "").strip():
        errors.append(FieldError("goals", "Write the goals agreed with the patient."))
    elif len(goals) > GOALS_LIMIT:
        errors.append(FieldError("goals", f"Keep the goals to {GOALS_LIMIT} characters."))
    if protocol.setting == "home" and not (home_justification or "").strip():
        errors.append(FieldError("home_justification", HOME_WARNING))
    if maintenance_every_days is not None:
        maintenance = protocol.phases.get("maintenance")
        options = maintenance.options_every_days if maintenance is not None else ()
        if maintenance_every_days not in options:
            allowed = " or ".join(str(o) for o in options)
            errors.append(FieldError("maintenance_every_days", (
                f"Choose every {allowed} days." if options
                else "This protocol's maintenance interval is set by its blocks; leave this empty."
            )))
    return clinic, errors


def dose_fields(prescription: Prescription) -> dict[str, Any]:
    """The plan/DoseChange fields that store a prescription."""
    return {
        "mg_per_kg": prescription.mg_per_kg,
        "mg": prescription.dose.mg.quantize(Decimal("0.01")),
        "summary": prescription.summary[:200],
        "arithmetic": list(prescription.arithmetic),
        "overridden": prescription.dose.overridden,
    }


def create_plan(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    protocol_key: str,
    protocol_version: str | None = None,
    clinic_id: Any,
    condition: str,
    start_date: date,
    goals: str,
    mg_per_kg: Any = None,
    mg: Any = None,
    override_mg: Any = None,
    override_reason: str = "",
    home_justification: str = "",
    maintenance_every_days: int | None = None,
    prescriber_id: Any = None,
) -> TreatmentPlan:
    """Draft a plan (EDIT_CLINICAL) with its dose from the chart. Raises ValidationFailed naming the
    field (a dose problem on the dose field; an open plan already; home without justification),
    NotFound (patient, protocol) or Forbidden."""
    actor.require(Permission.EDIT_CLINICAL)
    try:
        protocol = get_protocol(actor.organization_id, protocol_key, protocol_version or None)
    except NotFound as exc:
        raise ValidationFailed.single("protocol_key", "Choose a protocol of your library.") from exc
    clinic, errors = _plan_errors(
        actor, protocol, clinic_id=clinic_id, condition=condition, start_date=start_date, goals=goals,
        home_justification=home_justification, maintenance_every_days=maintenance_every_days,
    )
    prescriber = None
    try:
        prescriber = _prescriber(actor, prescriber_id)
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)  # one plan at a time per patient
        if patient.is_archived:
            raise ValidationFailed.single(None, "This patient is archived; restore the record first.")
        existing = open_plan_of(patient)
        if existing is not None:
            phase = existing.get_phase_display().lower()
            raise ValidationFailed.single(None, (
                f"This patient already has an open plan ({existing.protocol_name}, {phase}); complete or "
                "discontinue it before making another."
            ))
        measures = chart_measures(patient)
        prescription = None
        try:
            prescription = calculate(
                protocol, measures.measures, mg_per_kg=mg_per_kg, mg=mg, override_mg=override_mg,
                override_reason=override_reason, first_dose=True,
            )
        except ValidationFailed as failure:
            errors.extend(failure.errors)
        if errors or prescription is None or clinic is None:
            raise ValidationFailed(errors)
        dose = dose_fields(prescription)
        plan = TreatmentPlan.objects.create(
            organization_id=actor.organization_id, patient=patient, recorded_by_id=actor.user_id,
            clinic=clinic, protocol_key=protocol.key, protocol_version=protocol.version,
            protocol_name=protocol.name, protocol=dict(protocol.definition), route=protocol.route.value,
            setting=protocol.setting, condition=condition, goals=goals.strip(), start_date=start_date,
            phase_started_on=start_date, prescriber=prescriber,
            dose_mg_per_kg=dose["mg_per_kg"], dose_mg=dose["mg"], dose_summary=dose["summary"],
            dose_arithmetic=dose["arithmetic"], dose_overridden=dose["overridden"],
            weight_kg=measures.measures.weight_kg, maintenance_every_days=maintenance_every_days,
            home_justification=(home_justification or "").strip() if protocol.setting == "home" else "",
        )
        DoseChange.objects.create(
            organization_id=actor.organization_id, patient=patient, recorded_by_id=actor.user_id, plan=plan,
            reason="plan created", effective_on=start_date, **dose,
        )
        record(actor, Action.CREATE, "TreatmentPlan", plan.pk, patient_id=patient.pk, detail={
            "protocol": f"{protocol.key}@{protocol.version}", "route": plan.route, "setting": plan.setting,
            "mg": str(plan.dose_mg), "overridden": plan.dose_overridden,
        })
    return plan


def signing_errors(plan: TreatmentPlan, patient: Patient) -> list[FieldError]:
    """What stands between the plan and its signature, each with where to fix it."""
    errors = []
    route = plan.get_route_display()
    if not route_approved(patient, plan.route):
        errors.append(FieldError("eligibility", (
            f"No signed approval for {route}: a prescriber approves the route on the Eligibility tab "
            f"({reverse('patients:tab', args=[patient.pk, 'eligibility'])})."
        )))
    try:
        require_current_consent(patient, plan.route)
    except ConsentRequired:
        errors.append(FieldError("consent", (
            f"No current consent for {route}: the patient signs and a clinician countersigns it on the "
            f"Consent tab ({reverse('patients:tab', args=[patient.pk, 'consent'])})."
        )))
    return errors


def sign_plan(actor: Actor, plan_id: uuid.UUID | str) -> TreatmentPlan:
    """The prescriber signs the plan (SIGN_PLANS). ValidationFailed on `eligibility` / `consent` when
    the route is not approved or has no current consent, or when already signed or closed."""
    actor.require(Permission.SIGN_PLANS)
    if actor.user_id is None:
        raise Forbidden("A prescriber signs plans; the software cannot.")
    with transaction.atomic():
        plan: TreatmentPlan = (
            plans_of(actor.organization_id).select_for_update(of=("self",)).select_related("patient")
            .one(plan_id, "plan")
        )
        if plan.status == TreatmentPlan.Status.SIGNED:
            raise ValidationFailed.single(None, "This plan is already signed.")
        if not plan.is_open:
            ended = plan.get_phase_display().lower()
            raise ValidationFailed.single(None, f"This plan is {ended}; it cannot be signed.")
        patient = plan.patient
        errors = signing_errors(plan, patient)
        if errors:
            raise ValidationFailed(errors)
        plan.eligibility_decision = current_decision(patient, plan.route)
        plan.consent = require_current_consent(patient, plan.route)
        plan.status = TreatmentPlan.Status.SIGNED
        plan.signed_by_id = actor.user_id
        plan.signed_at = timezone.now()
        if plan.prescriber_id is None and actor.staff_id is not None:
            plan.prescriber_id = actor.staff_id
        plan.save()
        record(actor, Action.UPDATE, "TreatmentPlan", plan.pk, patient_id=patient.pk, detail={
            "event": "signed", "eligibility_decision": str(plan.eligibility_decision_id),
            "consent": str(plan.consent_id),
        })
        follow_stage(actor, plan)
    return plan


def follow_stage(actor: Actor, plan: TreatmentPlan) -> MeasurementPlan:
    """The patient's measurement stage follows the plan's phase, keeping its instruments and clinician."""
    current = MeasurementPlan.objects.for_organization(actor.organization_id).filter(
        patient_id=plan.patient_id
    ).first()
    clinician = current.responsible_clinician_id if current is not None else None
    return set_plan(
        actor, plan.patient_id, stage=plan.phase,
        responsible_clinician_id=clinician or plan.prescriber_id,
        instruments=list(current.instruments) if current is not None else None,
    )
