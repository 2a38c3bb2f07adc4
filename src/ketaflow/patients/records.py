"""The chart's clinical foundation: problem list, allergies and alerts, and the chart header.

Front desk (no clinical permission) sees administrative alerts only and no problems or allergies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.conditions import catalogue
from ketaflow.validation import FieldError, ValidationFailed

from .models import Allergy, AllergyStatus, Condition, Patient, PatientAlert
from .services import _load


def _text(value: Any, field: str, *, required: bool, limit: int) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise ValidationFailed.single(field, "Enter text.")
    if required and not text:
        raise ValidationFailed.single(field, "This field is required.")
    if len(text) > limit:
        raise ValidationFailed.single(field, f"Keep this to {limit} characters.")
    return text


def add_condition(
    actor: Actor,
    patient_id: uuid.UUID | str,
    catalogue_id: str,
    *,
    onset_date: date | None = None,
    note: str = "",
) -> Condition:
    actor.require(Permission.EDIT_CLINICAL)
    try:
        definition = catalogue().get(catalogue_id)
    except KeyError as exc:
        raise ValidationFailed.single("catalogue_id", "Choose a condition from the list.") from exc
    if onset_date and onset_date > timezone.localdate():
        raise ValidationFailed.single("onset_date", "Onset cannot be in the future.")
    note = _text(note, "note", required=False, limit=300)
    with transaction.atomic():
        patient = _load(actor, patient_id)
        condition = Condition.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            catalogue_id=definition.id,
            display=definition.display,
            snomed_code=definition.snomed,
            icd10_code=definition.icd10,
            onset_date=onset_date,
            note=note,
        )
        record(actor, Action.CREATE, "Condition", condition.pk, patient_id=patient.pk)
    return condition


def set_condition_status(actor: Actor, condition_id: uuid.UUID | str, status: str) -> Condition:
    actor.require(Permission.EDIT_CLINICAL)
    if status not in Condition.Status.values:
        raise ValidationFailed.single("status", "Choose active, remission or resolved.")
    with transaction.atomic():
        condition = _child(actor, Condition, condition_id)
        condition.status = status
        condition.save(update_fields=["status"])
        record(
            actor,
            Action.UPDATE,
            "Condition",
            condition.pk,
            patient_id=condition.patient_id,
            detail={"fields": ["status"]},
        )
    return condition


def add_allergy(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    substance: str,
    category: str = "medication",
    reaction: str = "",
    severity: str = "unknown",
) -> Allergy:
    actor.require(Permission.EDIT_CLINICAL)
    errors: list[FieldError] = []
    if category not in Allergy.Category.values:
        errors.append(FieldError("category", "Choose medication, food, environment or other."))
    if severity not in Allergy.Severity.values:
        errors.append(FieldError("severity", "Choose mild, moderate, severe or unknown."))
    if errors:
        raise ValidationFailed(errors)
    substance = _text(substance, "substance", required=True, limit=120)
    reaction = _text(reaction, "reaction", required=False, limit=200)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        allergy = Allergy.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            substance=substance,
            category=category,
            reaction=reaction,
            severity=severity,
        )
        if patient.allergy_status != AllergyStatus.RECORDED:
            patient.allergy_status = AllergyStatus.RECORDED
            patient.save(update_fields=["allergy_status", "updated_at"])
        record(actor, Action.CREATE, "Allergy", allergy.pk, patient_id=patient.pk)
    return allergy


def deactivate_allergy(actor: Actor, allergy_id: uuid.UUID | str) -> Allergy:
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        allergy = _child(actor, Allergy, allergy_id)
        allergy.is_active = False
        allergy.save(update_fields=["is_active"])
        record(
            actor,
            Action.UPDATE,
            "Allergy",
            allergy.pk,
            patient_id=allergy.patient_id,
            detail={"fields": ["is_active"]},
        )
    return allergy


def alert_permission(category: str) -> Permission:
    """Administrative alerts are demographic-level; safety and clinical ones are clinical."""
    if category == PatientAlert.Category.ADMINISTRATIVE:
        return Permission.EDIT_DEMOGRAPHICS
    return Permission.EDIT_CLINICAL


def add_alert(actor: Actor, patient_id: uuid.UUID | str, *, category: str, message: str) -> PatientAlert:
    if category not in PatientAlert.Category.values:
        raise ValidationFailed.single("category", "Choose safety, clinical or administrative.")
    actor.require(alert_permission(category))
    message = _text(message, "message", required=True, limit=300)
    with transaction.atomic():
        patient = _load(actor, patient_id)
        alert = PatientAlert.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            category=category,
            message=message,
        )
        record(actor, Action.CREATE, "PatientAlert", alert.pk, patient_id=patient.pk)
    return alert


def resolve_alert(actor: Actor, alert_id: uuid.UUID | str) -> PatientAlert:
    with transaction.atomic():
        alert = _child(actor, PatientAlert, alert_id)
        actor.require(alert_permission(alert.category))
        alert.is_active = False
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["is_active", "resolved_at"])
        record(
            actor,
            Action.UPDATE,
            "PatientAlert",
            alert.pk,
            patient_id=alert.patient_id,
            detail={"fields": ["is_active"]},
        )
    return alert


def _child(actor: Actor, model: Any, pk: uuid.UUID | str) -> Any:
    return model.objects.for_organization(actor.organization_id).select_for_update().one(pk, model.__name__)


@dataclass(frozen=True)
class ChartHeader:
    """What the chart header shows this actor; clinical parts are None when the role hides them."""

    patient: Patient
    alerts: list[PatientAlert]
    allergies: list[Allergy] | None
    conditions: list[Condition] | None
    shows_clinical: bool


def chart_header(actor: Actor, patient: Patient) -> ChartHeader:
    """Header content for a patient already opened (and audited) by `open_patient`."""
    clinical = actor.can(Permission.VIEW_CLINICAL)
    alerts = PatientAlert.objects.for_organization(actor.organization_id).filter(
        patient=patient, is_active=True
    )
    if not clinical:
        alerts = alerts.filter(category=PatientAlert.Category.ADMINISTRATIVE)
    allergies = conditions = None
    if clinical:
        allergies = list(
            Allergy.objects.for_organization(actor.organization_id).filter(patient=patient, is_active=True)
        )
        conditions = list(
            Condition.objects.for_organization(actor.organization_id)
            .filter(patient=patient)
            .exclude(status=Condition.Status.RESOLVED)
        )
    return ChartHeader(patient, list(alerts), allergies, conditions, clinical)
