"""FHIR mappers for the patient record: Patient, Condition (problem list) and MedicationStatement.

Ids follow the contract: Patient/<patient pk>, Condition/<condition pk>, MedicationStatement/<medication
pk>. References to other rows carry no `display`, so renaming a patient or a staff member never leaves a
stale name in another row's resources.
"""

from __future__ import annotations

from typing import Any

from ketaflow.fhir import values
from ketaflow.fhir.projection import projects
from ketaflow.patients.models import (
    Condition,
    ContactMethod,
    GenderIdentity,
    Medication,
    Patient,
    SexAtBirth,
)

from .practice import practitioner_ref

GENDER_IDENTITY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/patient-genderIdentity"
GENDER_IDENTITY = "http://hl7.org/fhir/gender-identity"  # the R4 example code system the extension binds
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

ADMINISTRATIVE_GENDER: dict[str, str] = {
    SexAtBirth.FEMALE: "female",
    SexAtBirth.MALE: "male",
    SexAtBirth.INTERSEX: "other",
    SexAtBirth.UNKNOWN: "unknown",
}
GENDER_IDENTITY_CODES: dict[str, tuple[str, str]] = {
    GenderIdentity.WOMAN: ("female", "female"),
    GenderIdentity.MAN: ("male", "male"),
    GenderIdentity.NON_BINARY: ("non-binary", "non-binary"),
    GenderIdentity.TRANS_WOMAN: ("transgender-female", "transgender female"),
    GenderIdentity.TRANS_MAN: ("transgender-male", "transgender male"),
    GenderIdentity.SELF_DESCRIBED: ("other", "other"),
    GenderIdentity.UNDISCLOSED: ("non-disclose", "does not wish to disclose"),
}


def _names(patient: Patient) -> list[dict[str, Any]]:
    official = {
        "use": "official",
        "family": patient.legal_family_name,
        "given": [patient.legal_given_name, patient.legal_middle_name],
    }
    preferred = patient.preferred_name.strip()
    if not preferred or preferred == patient.legal_given_name:
        return [official]
    return [official, {"use": "usual", "family": patient.legal_family_name, "given": [preferred]}]


def _gender_identity(patient: Patient) -> list[dict[str, Any]]:
    """The R4 patient-genderIdentity extension, when a gender identity is recorded."""
    if patient.gender_identity not in GENDER_IDENTITY_CODES:
        return []
    code, display = GENDER_IDENTITY_CODES[patient.gender_identity]
    concept = values.concept(values.coding(GENDER_IDENTITY, code, display), text=patient.gender_label)
    return [{"url": GENDER_IDENTITY_EXTENSION, "valueCodeableConcept": concept}]


def _preferred_telecom(patient: Patient) -> str:
    """Which of mobile, home and email the patient prefers to be reached by ("" when not on file)."""
    if patient.preferred_contact == ContactMethod.EMAIL:
        return "email" if patient.email else ""
    if patient.preferred_contact == ContactMethod.SMS:
        return "mobile" if patient.phone_mobile else ""
    return "mobile" if patient.phone_mobile else "home" if patient.phone_home else ""


def _telecom(patient: Patient) -> list[dict[str, Any]]:
    """Phones and email, ranked: the preferred way of contact first (rank 1), the rest in order."""
    points = {
        "mobile": {"system": "phone", "value": patient.phone_mobile, "use": "mobile"},
        "home": {"system": "phone", "value": patient.phone_home, "use": "home"},
        "email": {"system": "email", "value": patient.email, "use": "home"},
    }
    present = [key for key, point in points.items() if point["value"]]
    preferred = _preferred_telecom(patient)
    ordered = sorted(present, key=lambda key: key != preferred)
    return [{**points[key], "rank": rank} for rank, key in enumerate(ordered, start=1)]


def _address(patient: Patient) -> list[dict[str, Any]]:
    parts = (patient.address_line1, patient.address_line2, patient.city, patient.region, patient.postal_code)
    if not any(parts):
        return []
    return [
        {
            "use": "home",
            "line": [patient.address_line1, patient.address_line2],
            "city": patient.city,
            "state": patient.region,
            "postalCode": patient.postal_code,
        }
    ]


def _emergency_contact(patient: Patient) -> list[dict[str, Any]]:
    if not (patient.emergency_contact_name or patient.emergency_contact_phone):
        return []
    role = values.concept(values.coding(CONTACT_ROLE, "C", "Emergency Contact"))
    relationship = values.concept(text=patient.emergency_contact_relationship)
    phone = patient.emergency_contact_phone
    return [
        {
            "relationship": [role, relationship],
            "name": {"text": patient.emergency_contact_name},
            "telecom": [{"system": "phone", "value": phone}] if phone else [],
        }
    ]


@projects(Patient, select_related=("organization",))
def patient(row: Patient) -> list[dict[str, Any]]:
    mrn_type = values.concept(values.coding(values.IDENTIFIER_TYPE, "MR", "Medical record number"))
    return [
        values.compact(
            {
                "resourceType": "Patient",
                "id": str(row.pk),
                "extension": _gender_identity(row),
                "identifier": [
                    {
                        "use": "usual",
                        "type": mrn_type,
                        "system": values.mrn_system(row.organization.slug),
                        "value": row.mrn,
                    }
                ],
                "active": row.archived_at is None,
                "name": _names(row),
                "telecom": _telecom(row),
                "gender": ADMINISTRATIVE_GENDER.get(row.sex_at_birth, "unknown"),
                "birthDate": values.date(row.date_of_birth),
                "address": _address(row),
                "contact": _emergency_contact(row),
                "managingOrganization": values.ref("Organization", row.organization_id),
            }
        )
    ]


@projects(Condition, select_related=("recorded_by__staff",))
def condition(row: Condition) -> list[dict[str, Any]]:
    clinical = values.coding(values.CONDITION_CLINICAL, row.status)
    category = values.coding(values.CONDITION_CATEGORY, "problem-list-item", "Problem List Item")
    return [
        values.compact(
            {
                "resourceType": "Condition",
                "id": str(row.pk),
                "clinicalStatus": values.concept(clinical),
                "verificationStatus": values.concept(values.coding(CONDITION_VERIFICATION, "confirmed")),
                "category": [values.concept(category)],
                "code": values.concept(
                    values.coding(values.SNOMED, row.snomed_code),
                    values.coding(values.ICD10, row.icd10_code),
                    text=row.display,
                ),
                "subject": values.ref("Patient", row.patient_id),
                "onsetDateTime": values.date(row.onset_date) if row.onset_date else None,
                "recordedDate": values.instant(row.recorded_at),
                "recorder": practitioner_ref(row.recorded_by),
                "note": [{"text": row.note}] if row.note else [],
            }
        )
    ]


def _information_source(row: Medication) -> dict[str, str] | None:
    if row.source == Medication.Source.PATIENT:
        return values.ref("Patient", row.patient_id)
    return practitioner_ref(row.recorded_by)


@projects(Medication, select_related=("recorded_by__staff",))
def medication_statement(row: Medication) -> list[dict[str, Any]]:
    stopped = row.status == Medication.Status.STOPPED
    return [
        values.compact(
            {
                "resourceType": "MedicationStatement",
                "id": str(row.pk),
                "status": "stopped" if stopped else "active",
                "medicationCodeableConcept": values.concept(
                    values.coding(values.RXNORM, row.rxnorm_code), text=row.name
                ),
                "subject": values.ref("Patient", row.patient_id),
                "effectivePeriod": {"end": values.date(row.stopped_on)} if stopped and row.stopped_on else {},
                "dateAsserted": values.instant(row.recorded_at),
                "informationSource": _information_source(row),
                "dosage": [{"text": row.dose}] if row.dose else [],
            }
        )
    ]
