"""What each patient is due to complete, and when, from their care stage (clinical schedule data).

One open `MeasureDue` row per patient and instrument; it is recomputed whenever something it depends
on changes (a response, the stage, a treatment date), so the due list is a plain indexed query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.measurement_schedule import load_schedule, next_due
from ketaflow.patients.models import Condition, Patient
from ketaflow.patients.services import _load
from ketaflow.validation import FieldError, ValidationFailed

from .library import instruments_for, settings_for
from .models import MeasureDue, MeasurementPlan, QuestionnaireResponse, Stage, Treatment


def plan_for(patient: Patient) -> MeasurementPlan | None:
    return MeasurementPlan.objects.for_organization(patient.organization_id).filter(patient=patient).first()


def instruments_planned(patient: Patient, plan: MeasurementPlan) -> tuple[str, ...]:
    """The plan's own list, or the schedule's defaults for the stage and the patient's conditions."""
    if plan.instruments:
        return tuple(plan.instruments)
    groups = []
    rows = Condition.objects.for_organization(patient.organization_id).filter(patient=patient)
    for condition in rows.exclude(status=Condition.Status.RESOLVED):
        try:
            groups.append(catalogue().get(condition.catalogue_id).group)
        except KeyError:
            continue
    available = instruments_for(patient.organization_id)
    # The schedule may name a licensed scale (Y-BOCS for OCD) that only clinics who loaded it have.
    return tuple(i for i in load_schedule().instruments_for(plan.stage, groups) if i in available)


def set_plan(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    stage: str,
    responsible_clinician_id: uuid.UUID | str | None = None,
    instruments: list[str] | None = None,
) -> MeasurementPlan:
    """Create or change a patient's measurement plan; a new stage restarts its cadence now."""
    actor.require(Permission.EDIT_CLINICAL)
    errors = []
    if stage not in Stage.values:
        errors.append(FieldError("stage", "Choose a care stage."))
    known = instruments_for(actor.organization_id)
    unknown = [i for i in instruments or [] if i not in known]
    if unknown:
        errors.append(FieldError("instruments", f"Unknown instrument: {', '.join(unknown)}."))
    clinician = None
    if responsible_clinician_id:
        clinician = _prescriber(actor, responsible_clinician_id)
        if clinician is None:
            errors.append(
                FieldError("responsible_clinician_id", "Choose an active clinician of your organization.")
            )
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        plan = plan_for(patient)
        now = timezone.now()
        if plan is None:
            plan = MeasurementPlan(
                organization_id=actor.organization_id, patient=patient, stage_started_at=now
            )
        elif plan.stage != stage:
            plan.stage_started_at = now
        before = {"stage": plan.stage, "clinician": str(plan.responsible_clinician_id or "")}
        plan.stage = stage
        plan.responsible_clinician = clinician
        plan.instruments = list(dict.fromkeys(instruments or []))
        plan.save()
        record(
            actor,
            Action.UPDATE,
            "MeasurementPlan",
            plan.pk,
            patient_id=patient.pk,
            detail={"before": before, "stage": stage, "instruments": plan.instruments},
        )
        refresh_due(patient)
    return plan


def _prescriber(actor: Actor, staff_id: uuid.UUID | str) -> StaffMember | None:
    try:
        key = uuid.UUID(str(staff_id))
    except ValueError:
        return None
    clinical = (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST)
    return (
        StaffMember.objects.for_organization(actor.organization_id)
        .filter(pk=key, user__is_active=True, role_rows__role__in=clinical)
        .first()
    )


def clinicians_for(organization_id: uuid.UUID) -> QuerySet[StaffMember]:
    """Who may be a responsible clinician: active prescribers, nurses and therapists."""
    return (
        StaffMember.objects.for_organization(organization_id)
        .filter(user__is_active=True, role_rows__role__in=(Role.PRESCRIBER, Role.NURSE, Role.THERAPIST))
        .select_related("user")
        .distinct()
    )


def record_treatment(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    occurred_at: datetime,
    status: str = Treatment.Status.GIVEN,
    description: str = "",
) -> Treatment:
    """Record a treatment date (given or scheduled) that outcomes and the induction cadence read."""
    actor.require(Permission.EDIT_CLINICAL)
    if status not in Treatment.Status.values:
        raise ValidationFailed.single("status", "Choose given, scheduled or cancelled.")
    if timezone.is_naive(occurred_at):
        raise ValidationFailed.single("occurred_at", "Give a time zone with the time.")
    if status == Treatment.Status.GIVEN and occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationFailed.single("occurred_at", "A treatment given cannot be in the future.")
    with transaction.atomic():
        patient = _load(actor, patient_id)
        treatment = Treatment.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            occurred_at=occurred_at,
            status=status,
            description=(description or "").strip()[:120],
        )
        record(
            actor, Action.CREATE, "Treatment", treatment.pk, patient_id=patient.pk, detail={"status": status}
        )
        refresh_due(patient)
    return treatment


def response_recorded(patient: Patient, instrument_id: str, response: QuestionnaireResponse) -> None:
    """Close the due row this response satisfies and schedule the next (inside the caller's transaction)."""
    MeasureDue.objects.for_organization(patient.organization_id).filter(
        patient=patient, instrument_id=instrument_id, status=MeasureDue.Status.OPEN
    ).update(status=MeasureDue.Status.COMPLETED, response=response, closed_at=timezone.now())
    refresh_due(patient, only=instrument_id)


def refresh_due(patient: Patient, *, only: str | None = None, now: datetime | None = None) -> None:
    """Recompute the open due rows of one patient (or one instrument); inside the caller's transaction."""
    now = now or timezone.now()
    org = patient.organization_id
    open_rows = MeasureDue.objects.for_organization(org).filter(
        patient=patient, status=MeasureDue.Status.OPEN
    )
    if only:
        open_rows = open_rows.filter(instrument_id=only)
    current = {row.instrument_id: row for row in open_rows}
    plan = plan_for(patient)
    if plan is None:
        _cancel(current.values(), now)
        return
    wanted = instruments_planned(patient, plan)
    if only:
        wanted = tuple(i for i in wanted if i == only)
    rule = load_schedule().stages[plan.stage]
    upcoming = (
        Treatment.objects.for_organization(org)
        .filter(patient=patient, status=Treatment.Status.SCHEDULED, occurred_at__gte=now)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    for instrument_id in wanted:
        last = (
            QuestionnaireResponse.objects.for_organization(org)
            .filter(
                patient=patient, instrument_id=instrument_id, status=QuestionnaireResponse.Status.COMPLETED
            )
            .order_by("-authored_at")
            .values_list("authored_at", flat=True)
            .first()
        )
        decision = next_due(
            rule,
            stage_started_at=plan.stage_started_at,
            last_completed_at=last,
            upcoming_treatment_at=upcoming,
        )
        row = current.pop(instrument_id, None)
        if decision is None:
            if row is not None:
                _cancel([row], now)
            continue
        if row is None:
            MeasureDue.objects.create(
                organization_id=org,
                patient=patient,
                instrument_id=instrument_id,
                due_at=decision.due_at,
                reason=decision.reason[:200],
            )
        elif row.due_at != decision.due_at or row.reason != decision.reason[:200]:
            row.due_at, row.reason = decision.due_at, decision.reason[:200]
            row.save(update_fields=["due_at", "reason"])
    _cancel(current.values(), now)


def _cancel(rows: Iterable[MeasureDue], now: datetime) -> None:
    keys = [row.pk for row in rows]
    if keys:
        MeasureDue.objects.filter(pk__in=keys).update(status=MeasureDue.Status.CANCELLED, closed_at=now)


@dataclass(frozen=True)
class DueWindow:
    """The cut-offs of the due list: due now (at or before `now`), overdue (before `overdue_before`)."""

    now: datetime
    overdue_before: datetime


def due_window(organization_id: uuid.UUID, now: datetime | None = None) -> DueWindow:
    now = now or timezone.now()
    return DueWindow(now, now - timedelta(days=settings_for(organization_id).overdue_after_days))


def due_measures(actor: Actor, *, overdue: bool, clinic_id: uuid.UUID | None = None) -> QuerySet[MeasureDue]:
    """Open due rows: those due now but not yet overdue, or (overdue=True) those overdue."""
    actor.require(Permission.VIEW_SCHEDULE)
    window = due_window(actor.organization_id)
    rows = MeasureDue.objects.for_organization(actor.organization_id).filter(status=MeasureDue.Status.OPEN)
    rows = (
        rows.filter(due_at__lt=window.overdue_before)
        if overdue
        else rows.filter(due_at__lte=window.now, due_at__gte=window.overdue_before)
    )
    if clinic_id:
        rows = rows.filter(patient__home_clinic_id=clinic_id)
    return rows.filter(patient__archived_at__isnull=True).select_related("patient", "patient__home_clinic")
