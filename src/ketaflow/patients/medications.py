"""The medication list: add (from the catalogue or as free text), stop, and read.

Each write is audited in its transaction. Catalogue entries carry their RxNorm code and the
interacting classes eligibility reads; free text is kept but counted as unclassified.
"""

from __future__ import annotations

import uuid
from datetime import date
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.medications import MedicationDefinition, medication_catalogue
from ketaflow.validation import ValidationFailed

from .models import Medication, Patient
from .records import _child, _text
from .services import _load


def add_medication(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    name: str = "",
    catalogue_id: str = "",
    dose: str = "",
    source: str = Medication.Source.CLINICIAN,
) -> Medication:
    """Add a current medication. With `catalogue_id` the name and codes come from the catalogue;
    otherwise `name` is matched against it (brand names too) and kept as free text if unmatched.
    Raises ValidationFailed (`catalogue_id`, `name`, `dose`, `source`), NotFound or Forbidden."""
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        patient = _load(actor, patient_id)
        return create_medication(
            actor, patient, name=name, catalogue_id=catalogue_id, dose=dose, source=source
        )


def create_medication(
    actor: Actor, patient: Patient, *, name: str, catalogue_id: str, dose: str, source: str
) -> Medication:
    """Inside the caller's transaction (the intake uses it for patient-reported medications)."""
    catalogue = medication_catalogue()
    if source not in Medication.Source.values:
        raise ValidationFailed.single("source", "Choose patient or clinician.")
    definition: MedicationDefinition | None
    if catalogue_id:
        try:
            definition = catalogue.get(catalogue_id)
        except KeyError as exc:
            raise ValidationFailed.single("catalogue_id", "Choose a medication from the list.") from exc
    else:
        name = _text(name, "name", required=True, limit=120)
        definition = catalogue.match(name)
    dose = _text(dose, "dose", required=False, limit=120)
    medication = Medication.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        recorded_by_id=actor.user_id,
        catalogue_id=definition.id if definition else "",
        name=definition.display if definition and catalogue_id else name,
        rxnorm_code=definition.rxnorm if definition else "",
        classes=sorted(definition.classes) if definition else [],
        dose=dose,
        source=source,
    )
    record(actor, Action.CREATE, "Medication", medication.pk, patient_id=patient.pk)
    return medication


def stop_medication(
    actor: Actor, medication_id: uuid.UUID | str, *, stopped_on: date | None = None
) -> Medication:
    """Mark a medication stopped (today unless given; not in the future), "today" being the date at
    the patient's home clinic, not the server's."""
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        medication = _child(actor, Medication, medication_id)
        if medication.status == Medication.Status.STOPPED:
            raise ValidationFailed.single(None, "This medication is already stopped.")
        clinic = _load(actor, medication.patient_id).home_clinic
        today = timezone.localdate(timezone=ZoneInfo(clinic.timezone))
        stopped_on = stopped_on or today
        if stopped_on > today:
            raise ValidationFailed.single("stopped_on", "A medication cannot be stopped in the future.")
        medication.status = Medication.Status.STOPPED
        medication.stopped_on = stopped_on
        medication.save(update_fields=["status", "stopped_on"])
        record(actor, Action.UPDATE, "Medication", medication.pk, patient_id=medication.patient_id,
               detail={"fields": ["status", "stopped_on"]})
    return medication


def current_medications(patient: Patient) -> list[Medication]:
    """Active medications, by name. The caller audits the read with the rest of its page."""
    return list(
        Medication.objects.for_organization(patient.organization_id)
        .filter(patient=patient, status=Medication.Status.ACTIVE)
        .order_by("name")
    )
