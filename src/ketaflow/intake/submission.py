"""Submitting the intake: final, and all or nothing.

Every section is checked again first (the record may have changed since it was saved), so an answer
that is no longer valid is named before anything is written. Then, in one transaction: the contact
details the patient changed go on their record, their medications and allergies join the chart as
patient-reported, the C-SSRS answers are stored through measurement's `store_response` (scores,
safety alert), the intake is marked submitted and its link spent, and each of those is audited.
Signed eligibility decisions are rechecked once, against everything the submission wrote.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import Score
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.eligibility.recheck import rechecks_deferred
from ketaflow.measurement.library import instrument_for
from ketaflow.measurement.responses import RecordedResponse, checked_score, store_response
from ketaflow.patients.medications import create_medication
from ketaflow.patients.models import Allergy, AllergyStatus, Medication, Patient, PatientAlert
from ketaflow.validation import FieldError, ValidationFailed

from . import form
from .models import Intake
from .services import Respondent, endorses_ideation, locked

IDEATION_ALERT = (
    "Intake: the patient answered yes to wishing to be dead or to thoughts of suicide in the past month "
    "(C-SSRS screener). Review the intake and assess safety."
)


def cleaned_answers(respondent: Respondent, answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every section the patient answers, checked again; ValidationFailed names each problem (a section
    never saved is named by its id)."""
    errors: list[FieldError] = []
    cleaned: dict[str, dict[str, Any]] = {}
    for section in form.sections_for(respondent.patient.sex_at_birth):
        if section.id not in answers:
            errors.append(FieldError(section.id, f"Answer the “{section.title}” page first."))
            continue
        try:
            cleaned[section.id] = form.clean_section(section.id, answers[section.id],
                                                     **respondent.clean_kwargs())
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def submit_intake(respondent: Respondent) -> Intake:
    """Submit the intake. Raises ValidationFailed with nothing written, or IntakeUnavailable."""
    cleaned = cleaned_answers(respondent, respondent.intake.answers)
    instrument = instrument_for(respondent.intake.organization_id,
                                form.section(form.SAFETY_SECTION).question(form.SAFETY_QUESTION).instrument)
    safety_answers = cleaned[form.SAFETY_SECTION][form.SAFETY_QUESTION]
    result = checked_score(instrument, safety_answers, prefix=f"{form.SAFETY_SECTION}.{form.SAFETY_QUESTION}")
    actor = respondent.actor
    with transaction.atomic(), rechecks_deferred():
        intake = locked(respondent)
        if intake.answers != respondent.intake.answers:  # saved again elsewhere meanwhile: check that
            cleaned = cleaned_answers(respondent, intake.answers)
            safety_answers = cleaned[form.SAFETY_SECTION][form.SAFETY_QUESTION]
            result = checked_score(instrument, safety_answers,
                                   prefix=f"{form.SAFETY_SECTION}.{form.SAFETY_QUESTION}")
        scope = Patient.objects.for_organization(intake.organization_id).select_for_update(of=("self",))
        patient = scope.get(pk=intake.patient_id)
        now = timezone.now()
        changed = apply_contact_details(actor, patient, cleaned["about"])
        medications = add_medications(actor, patient, cleaned["medications"])
        allergies = add_allergies(actor, patient, cleaned["medications"])
        recorded = _store_screen(respondent, patient, instrument, result, now)
        alerts = []
        if recorded.alert is None and endorses_ideation(safety_answers):
            alerts.append(str(_ideation_alert(actor, patient).pk))
        intake.answers = cleaned
        intake.status = Intake.Status.SUBMITTED
        intake.submitted_at = now
        intake.token_hash = None
        intake.form_version = form.FORM_VERSION
        intake.cssrs_response = recorded.response
        intake.created_records = {"medications": medications, "allergies": allergies, "alerts": alerts,
                                  "patient_fields": changed}
        intake.save()
        record(actor, Action.UPDATE, "Intake", intake.pk, patient_id=patient.pk, detail={
            "event": "submitted", "sections": sorted(cleaned), "medications": len(medications),
            "allergies": len(allergies), "patient_fields": changed,
        })
    return intake


def apply_contact_details(actor: Actor, patient: Patient, about: dict[str, Any]) -> list[str]:
    """Put the changed contact fields on the record, audited as an UPDATE naming the fields."""
    changed = sorted(name for name, value in about.items() if getattr(patient, name) != value)
    if not changed:
        return []
    for name in changed:
        setattr(patient, name, about[name])
    patient.save(update_fields=[*changed, "updated_at"])
    record(actor, Action.UPDATE, "Patient", patient.pk, patient_id=patient.pk,
           detail={"fields": changed, "via": "intake"})
    return changed


def add_medications(actor: Actor, patient: Patient, section: dict[str, Any]) -> list[str]:
    """Each listed medication as a patient-reported entry (matched to the catalogue, brand names too),
    unless the same medicine is already on the active list. Returns the ids created."""
    catalogue = medication_catalogue()
    current = Medication.objects.for_organization(patient.organization_id).filter(
        patient=patient, status=Medication.Status.ACTIVE
    )
    known_ids = {m.catalogue_id for m in current if m.catalogue_id}
    known_names = {m.name.casefold() for m in current}
    created = []
    for index, row in enumerate(section.get("medications") or ()):
        match = catalogue.match(row["name"])
        if (match and match.id in known_ids) or row["name"].casefold() in known_names:
            continue
        try:
            medication = create_medication(actor, patient, name=row["name"], catalogue_id="",
                                           dose=row.get("dose", ""), source=Medication.Source.PATIENT)
        except ValidationFailed as exc:
            where = f"medications.medications[{index}]"
            raise ValidationFailed(FieldError(f"{where}.{e.field or 'name'}", e.message)
                                   for e in exc.errors) from exc
        if match:
            known_ids.add(match.id)
        known_names.add(row["name"].casefold())
        created.append(str(medication.pk))
    return created


def add_allergies(actor: Actor, patient: Patient, section: dict[str, Any]) -> list[str]:
    """Each listed allergy (not already active on the chart), audited; the record then says allergies
    are recorded. "No known allergies" changes nothing: a clinician confirms that."""
    active = Allergy.objects.for_organization(patient.organization_id).filter(patient=patient, is_active=True)
    current = {allergy.substance.casefold() for allergy in active}
    created = []
    for index, row in enumerate(section.get("allergies") or ()):
        if row["substance"].casefold() in current:
            continue
        allergy = create_allergy(actor, patient, row, f"medications.allergies[{index}]")
        current.add(row["substance"].casefold())
        created.append(str(allergy.pk))
    if created and patient.allergy_status != AllergyStatus.RECORDED:
        patient.allergy_status = AllergyStatus.RECORDED
        patient.save(update_fields=["allergy_status", "updated_at"])
        record(actor, Action.UPDATE, "Patient", patient.pk, patient_id=patient.pk,
               detail={"fields": ["allergy_status"], "via": "intake"})
    return created


def create_allergy(actor: Actor, patient: Patient, row: dict[str, Any], field: str) -> Allergy:
    """One patient-reported allergy, inside the caller's transaction (the patient has no staff
    permission, so `patients.records.add_allergy` is not theirs to call)."""
    substance = (row.get("substance") or "").strip()
    reaction = (row.get("reaction") or "").strip()
    category = row.get("category") or Allergy.Category.OTHER
    errors = []
    if not substance or len(substance) > _limit("substance"):
        errors.append(FieldError(f"{field}.substance",
                                 "Enter what you are allergic to (up to 120 characters)."))
    if len(reaction) > _limit("reaction"):
        errors.append(FieldError(f"{field}.reaction", "Keep this to 200 characters."))
    if category not in Allergy.Category.values:
        errors.append(FieldError(f"{field}.category", "Choose one of the answers shown."))
    if errors:
        raise ValidationFailed(errors)
    allergy = Allergy.objects.create(
        organization_id=patient.organization_id, patient=patient, recorded_by_id=actor.user_id,
        substance=substance, reaction=reaction, category=category, severity=Allergy.Severity.UNKNOWN,
    )
    record(actor, Action.CREATE, "Allergy", allergy.pk, patient_id=patient.pk, detail={"via": "intake"})
    return allergy


def _limit(name: str) -> int:
    return int(getattr(Allergy._meta.get_field(name), "max_length", 0) or 0)


def _store_screen(
    respondent: Respondent, patient: Patient, instrument: Any, result: Score, now: Any
) -> RecordedResponse:
    return store_response(respondent.actor, patient, instrument, result, authored_at=now,
                          source=respondent.source)


def _ideation_alert(actor: Actor, patient: Patient) -> PatientAlert:
    """A safety flag in the chart header when the screen endorses ideation below the C-SSRS alert levels
    (moderate and high raise measurement's own safety alert instead)."""
    alert = PatientAlert.objects.create(
        organization_id=patient.organization_id, patient=patient, recorded_by_id=actor.user_id,
        category=PatientAlert.Category.SAFETY, message=IDEATION_ALERT,
    )
    record(actor, Action.CREATE, "PatientAlert", alert.pk, patient_id=patient.pk, detail={"via": "intake"})
    return alert
