"""The FHIR projection of the practice and the patient record: what a FHIR client reads after each write."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Role
from ketaflow.accounts.services import update_staff
from ketaflow.clinics.services import update_clinic
from ketaflow.fhir import values
from ketaflow.fhir.models import ResourceToken, StoredResource
from ketaflow.patients.medications import add_medication, stop_medication
from ketaflow.patients.records import add_condition, set_condition_status
from ketaflow.patients.services import archive_patient, register_patient, restore_patient
from tests.factories import actor_of
from tests.integration.fhir_support import stored, stored_one, validate


def version_of(body):
    return body["meta"]["versionId"]


def full_patient(practice):
    actor = actor_of(practice.staff[Role.FRONT_DESK])
    data = {
        "legal_given_name": "Theodora",
        "legal_middle_name": "Quill",
        "legal_family_name": "Marchetti",
        "preferred_name": "Teddy",
        "date_of_birth": date(1981, 3, 9),
        "home_clinic_id": practice.clinic.pk,
        "sex_at_birth": "intersex",
        "gender_identity": "trans_man",
        "phone_mobile": "(503) 555-0141",
        "phone_home": "(503) 555-0142",
        "email": "teddy@example.test",
        "preferred_contact": "email",
        "address_line1": "12 Alder Lane",
        "city": "Springfield",
        "region": "OR",
        "postal_code": "97477",
        "emergency_contact_name": "Rosalind Marchetti",
        "emergency_contact_relationship": "Sister",
        "emergency_contact_phone": "(503) 555-0199",
        "primary_care_name": "Dr Outside",
    }
    return register_patient(actor, data, confirm_not_duplicate=True)


def test_a_registered_patient_reads_as_fhir_with_mrn_names_gender_and_contacts(practice):
    patient = full_patient(practice)
    body = stored_one(practice.org.pk, "Patient", str(patient.pk))
    validate(body)
    [mrn] = body["identifier"]
    assert mrn["system"] == values.mrn_system(practice.org.slug) and mrn["value"] == patient.mrn
    assert mrn["type"]["coding"][0] == {
        "system": values.IDENTIFIER_TYPE,
        "code": "MR",
        "display": "Medical record number",
    }
    assert body["name"] == [
        {"use": "official", "family": "Marchetti", "given": ["Theodora", "Quill"]},
        {"use": "usual", "family": "Marchetti", "given": ["Teddy"]},
    ]
    assert body["gender"] == "other" and body["birthDate"] == "1981-03-09" and body["active"] is True
    [identity] = body["extension"]
    assert identity["url"] == "http://hl7.org/fhir/StructureDefinition/patient-genderIdentity"
    assert identity["valueCodeableConcept"]["coding"][0]["code"] == "transgender-male"
    assert body["managingOrganization"] == {"reference": f"Organization/{practice.org.pk}"}
    assert "generalPractitioner" not in body


def test_the_preferred_way_of_contact_ranks_first_among_phones_and_email(practice):
    body = stored_one(practice.org.pk, "Patient", str(full_patient(practice).pk))
    assert [(t["system"], t.get("use"), t["value"], t["rank"]) for t in body["telecom"]] == [
        ("email", "home", "teddy@example.test", 1),
        ("phone", "mobile", "+15035550141", 2),
        ("phone", "home", "+15035550142", 3),
    ]
    assert body["address"] == [
        {
            "use": "home",
            "line": ["12 Alder Lane"],
            "city": "Springfield",
            "state": "OR",
            "postalCode": "97477",
        }
    ]
    [contact] = body["contact"]
    assert contact["relationship"][0]["coding"][0]["code"] == "C"
    assert contact["relationship"][1] == {"text": "Sister"}
    assert contact["name"] == {"text": "Rosalind Marchetti"}
    assert contact["telecom"] == [{"system": "phone", "value": "+15035550199"}]


def test_a_patient_is_searchable_by_mrn_and_name_tokens(practice):
    patient = full_patient(practice)
    tokens = set(
        ResourceToken.objects.filter(resource__resource_id=str(patient.pk)).values_list(
            "param", "system", "code"
        )
    )
    assert ("identifier", values.mrn_system(practice.org.slug), patient.mrn) in tokens
    assert {("family", "", "marchetti"), ("given", "", "teddy"), ("gender", "", "other")} <= tokens


def test_a_minimal_patient_has_one_official_name_and_no_extension_address_or_contact(practice):
    body = stored_one(practice.org.pk, "Patient", str(practice.patient.pk))
    validate(body)
    assert len(body["name"]) == 1 and body["name"][0]["use"] == "official"
    assert body["gender"] == "female"
    assert not {"extension", "address", "contact"} & set(body)
    assert body["telecom"] == [
        {"system": "phone", "value": practice.patient.phone_mobile, "use": "mobile", "rank": 1}
    ]


def test_archiving_makes_the_patient_inactive_in_a_new_version_and_restoring_reactivates(practice):
    actor = actor_of(practice.staff[Role.OWNER])
    patient_id = str(practice.patient.pk)
    practice.patient.save()  # no visible change: the version stays
    assert version_of(stored_one(practice.org.pk, "Patient", patient_id)) == "1"
    archive_patient(actor, patient_id, "Moved away")
    archived = stored_one(practice.org.pk, "Patient", patient_id)
    assert archived["active"] is False and version_of(archived) == "2"
    validate(archived)
    restore_patient(actor, patient_id)
    restored = stored_one(practice.org.pk, "Patient", patient_id)
    assert restored["active"] is True and version_of(restored) == "3"


def test_a_condition_carries_snomed_and_icd10_codes_the_problem_list_and_its_recorder(practice):
    prescriber = practice.staff[Role.PRESCRIBER]
    onset = timezone.localdate() - timedelta(days=400)
    condition = add_condition(
        actor_of(prescriber), practice.patient.pk, "ptsd", onset_date=onset, note="Since 2019"
    )
    body = stored_one(practice.org.pk, "Condition", str(condition.pk))
    validate(body)
    assert body["code"] == {
        "coding": [{"system": values.SNOMED, "code": "47505003"}, {"system": values.ICD10, "code": "F43.10"}],
        "text": condition.display,
    }
    assert body["clinicalStatus"]["coding"] == [{"system": values.CONDITION_CLINICAL, "code": "active"}]
    assert body["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert body["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert body["subject"] == {"reference": f"Patient/{practice.patient.pk}"}
    assert body["onsetDateTime"] == onset.isoformat()
    assert body["recordedDate"] == values.instant(condition.recorded_at)
    assert body["recorder"] == {"reference": f"Practitioner/{prescriber.pk}"}
    assert body["note"] == [{"text": "Since 2019"}]


def test_changing_a_condition_status_changes_the_clinical_status_in_a_new_version(practice):
    actor = actor_of(practice.staff[Role.PRESCRIBER])
    condition = add_condition(actor, practice.patient.pk, "mdd")
    for status, version in (("remission", "2"), ("resolved", "3")):
        set_condition_status(actor, condition.pk, status)
        body = stored_one(practice.org.pk, "Condition", str(condition.pk))
        validate(body)
        assert body["clinicalStatus"]["coding"][0]["code"] == status and version_of(body) == version


def test_a_condition_recorded_by_the_software_has_no_recorder_or_onset(practice):
    condition = add_condition(Actor.system(practice.org.pk), practice.patient.pk, "gad")
    body = stored_one(practice.org.pk, "Condition", str(condition.pk))
    validate(body)
    assert not {"recorder", "onsetDateTime", "note"} & set(body)


def test_a_catalogue_medication_reads_with_its_rxnorm_code_dose_and_clinician_source(practice):
    prescriber = practice.staff[Role.PRESCRIBER]
    medication = add_medication(
        actor_of(prescriber), practice.patient.pk, catalogue_id="sertraline", dose="50 mg daily"
    )
    body = stored_one(practice.org.pk, "MedicationStatement", str(medication.pk))
    validate(body)
    assert body["status"] == "active"
    assert body["medicationCodeableConcept"] == {
        "coding": [{"system": values.RXNORM, "code": "36437"}],
        "text": "Sertraline",
    }
    assert body["dosage"] == [{"text": "50 mg daily"}]
    assert body["subject"] == {"reference": f"Patient/{practice.patient.pk}"}
    assert body["informationSource"] == {"reference": f"Practitioner/{prescriber.pk}"}
    assert body["dateAsserted"] == values.instant(medication.recorded_at)
    assert "effectivePeriod" not in body


def test_a_patient_reported_free_text_medication_names_the_patient_as_its_source(practice):
    medication = add_medication(
        actor_of(practice.staff[Role.NURSE]), practice.patient.pk, name="Grandma's tonic", source="patient"
    )
    body = stored_one(practice.org.pk, "MedicationStatement", str(medication.pk))
    validate(body)
    assert body["medicationCodeableConcept"] == {"text": "Grandma's tonic"}
    assert body["informationSource"] == {"reference": f"Patient/{practice.patient.pk}"}
    assert "dosage" not in body


def test_stopping_a_medication_makes_it_stopped_with_an_end_date_in_a_new_version(practice):
    actor = actor_of(practice.staff[Role.PRESCRIBER])
    medication = add_medication(actor, practice.patient.pk, catalogue_id="sertraline")
    stopped_on = timezone.localdate() - timedelta(days=3)
    stop_medication(actor, medication.pk, stopped_on=stopped_on)
    body = stored_one(practice.org.pk, "MedicationStatement", str(medication.pk))
    validate(body)
    assert body["status"] == "stopped" and version_of(body) == "2"
    assert body["effectivePeriod"] == {"end": stopped_on.isoformat()}
    row = StoredResource.objects.get(resource_type="MedicationStatement", resource_id=str(medication.pk))
    assert row.date_start is None and row.date_end.date() == stopped_on


def test_the_practice_reads_as_an_organization_with_a_location_and_a_group_per_clinic(practice):
    owner = actor_of(practice.staff[Role.OWNER])
    update_clinic(
        owner,
        practice.clinic.pk,
        {"address_line1": "1 Harbor Way", "region": "OR", "postal_code": "97401", "phone": "(541) 555-0100"},
    )
    org = stored_one(practice.org.pk, "Organization", str(practice.org.pk))
    location = stored_one(practice.org.pk, "Location", str(practice.clinic.pk))
    group = stored_one(practice.org.pk, "Group", str(practice.clinic.pk))
    for body in (org, location, group):
        validate(body)
    assert org["identifier"] == [
        {"system": f"{values.KETAFLOW}/sid/organization", "value": practice.org.slug}
    ]
    assert org["name"] == "Harbor Practice" and org["active"] is True
    assert location["status"] == "active" and location["name"] == practice.clinic.name
    assert location["physicalType"]["coding"][0]["code"] == "bu"
    assert location["telecom"] == [{"system": "phone", "value": "+15415550100", "use": "work"}]
    assert location["address"]["line"] == ["1 Harbor Way"] and location["address"]["state"] == "OR"
    assert location["managingOrganization"] == {"reference": f"Organization/{practice.org.pk}"}
    assert (group["type"], group["actual"], group["name"]) == (
        "person",
        True,
        f"{practice.clinic.name} patients",
    )
    assert group["managingEntity"] == {"reference": f"Organization/{practice.org.pk}"}
    assert "member" not in group and "quantity" not in group
    update_clinic(owner, practice.clinic.pk, {"is_active": False})
    assert stored_one(practice.org.pk, "Location", str(practice.clinic.pk))["status"] == "inactive"


def test_staff_read_as_practitioners_with_npi_credential_and_licence(practice):
    prescriber = practice.staff[Role.PRESCRIBER]
    update_staff(
        actor_of(practice.staff[Role.OWNER]),
        prescriber.pk,
        {"npi": "1234567893", "licence_region": "OR", "phone": "(541) 555-0123"},
    )
    bodies = stored(practice.org.pk, "Practitioner")
    assert len(bodies) == len(Role)
    for body in bodies:
        validate(body)
    body = stored_one(practice.org.pk, "Practitioner", str(prescriber.pk))
    assert body["identifier"] == [{"system": values.NPI, "value": "1234567893"}]
    assert body["active"] is True
    assert body["name"][0]["family"] == prescriber.user.last_name
    [qualification] = body["qualification"]
    assert qualification["code"]["coding"][0]["code"] == "MD" and qualification["code"]["text"] == "MD"
    assert qualification["identifier"] == [{"value": "MD-12345", "assigner": {"display": "OR"}}]
    assert {"system": "email", "value": prescriber.user.email, "use": "work"} in body["telecom"]
    nurse = stored_one(practice.org.pk, "Practitioner", str(practice.staff[Role.NURSE].pk))
    assert not {"identifier", "qualification"} & set(nurse)


def test_deactivating_a_staff_member_marks_their_practitioner_inactive(practice):
    from ketaflow.accounts.services import set_staff_active

    nurse = practice.staff[Role.NURSE]
    set_staff_active(actor_of(practice.staff[Role.OWNER]), nurse.pk, False)

    assert stored_one(practice.org.pk, "Practitioner", str(nurse.pk))["active"] is False
