"""FHIR writes: create, update and Bundles go through ketaflow's services, and every refusal names
the FHIR element at fault."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.fhir import inbound
from ketaflow.fhir.outcome import FhirError
from ketaflow.fhir.values import CONDITION_CLINICAL, ICD10, LOINC, RXNORM, SNOMED, UCUM, questionnaire_url
from ketaflow.measurement.models import QuestionnaireResponse, SafetyAlert, ScoreObservation
from ketaflow.patients.models import Condition, Medication, Patient, VitalSigns
from tests.factories import actor_of
from tests.integration.fhir_support import FhirClient, stored_one, validate

pytestmark = pytest.mark.django_db

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VITALS = [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}]
NEW = "urn:uuid:5d9a2f0e-6c1b-4a8e-9f57-0c3b8d1e2a44"  # the fullUrl of a Patient created in a Bundle


def paths(error: FhirError) -> list[str]:
    return [path for issue in error.issues for path in issue.expression]


def post(resource: dict[str, Any], method: str = "POST", **extra: Any) -> dict[str, Any]:
    """A Bundle entry creating `resource`."""
    return {"resource": resource, "request": {"method": method, "url": resource["resourceType"]}, **extra}


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def new_patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "Quillfeather", "given": ["Ada"]}],
        "birthDate": "1980-02-29",
        "gender": "female",
        "telecom": [{"system": "phone", "value": "(503) 555-0142", "use": "mobile"}],
        **extra,
    }


def vital(patient: Patient | str, code: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    subject = patient if isinstance(patient, str) else f"Patient/{patient.pk}"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": VITALS,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2025-03-04T09:30:00-07:00",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **extra,
    }


def blood_pressure(subject: str, systolic: int, diastolic: int) -> dict[str, Any]:
    body = vital(subject, "85354-9", 0, "mm[Hg]")
    del body["valueQuantity"]
    body["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }
        for code, value in (("8480-6", systolic), ("8462-4", diastolic))
    ]
    return body


def phq9(patient: Patient, answers: list[int]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": f"{questionnaire_url('phq9')}|1.0.0",
        "subject": {"reference": f"Patient/{patient.pk}"},
        "authored": "2025-03-04T10:00:00Z",
        "item": [
            {"linkId": str(i), "answer": [{"valueInteger": value}]} for i, value in enumerate(answers, 1)
        ],
    }


@pytest.fixture
def prescriber(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


def test_a_created_patient_is_registered_at_the_first_clinic_with_a_ketaflow_mrn(practice, prescriber):
    body = new_patient(identifier=[{"system": "urn:oid:1.2.3", "value": "ELSEWHERE-9"}], id="their-id")
    row = inbound.create(prescriber, body)
    patient = Patient.objects.get(pk=row.resource_id)
    names = patient.legal_given_name, patient.legal_family_name
    assert (names, patient.sex_at_birth) == (("Ada", "Quillfeather"), "female")
    assert patient.home_clinic == practice.clinic
    assert patient.phone_mobile == "+15035550142"
    assert patient.mrn.startswith(practice.org.mrn_prefix) and patient.mrn != "ELSEWHERE-9"
    validate(row.body)
    assert AuditEvent.objects.filter(
        action="create", object_type="Patient", object_id=row.resource_id
    ).exists()


@pytest.mark.parametrize(
    ("change", "status", "path"),
    [
        ({"birthDate": "1980-02-30"}, 400, "Patient.birthDate"),
        ({"name": [{"given": [7]}]}, 400, "Patient.name[0].given[0]"),
        ({"shoeSize": 44}, 400, "Patient.shoeSize"),
        ({"birthDate": "1980"}, 400, "Patient.birthDate"),
        ({"telecom": [{"system": "phone", "value": "12", "use": "mobile"}]}, 422, "Patient.telecom[0].value"),
        ({"name": [{"use": "official", "given": ["Ada"]}]}, 422, "Patient.name[0].family"),
    ],
)
def test_an_invalid_patient_is_refused_naming_the_element_and_nothing_is_written(
    prescriber, change, status, path
):
    before = Patient.objects.count()
    with pytest.raises(FhirError) as refused:
        inbound.create(prescriber, {**new_patient(), **change})
    assert refused.value.status == status
    assert path in paths(refused.value)
    assert Patient.objects.count() == before


def test_a_patient_update_replaces_the_mapped_fields_and_never_creates(practice, prescriber):
    row = inbound.create(prescriber, new_patient())
    body = {
        **json.loads(row.body),
        "name": [{"use": "official", "family": "Quillfeather", "given": ["Ada", "M"]}],
        "telecom": [],
    }
    inbound.update(prescriber, "Patient", row.resource_id, body)
    patient = Patient.objects.get(pk=row.resource_id)
    assert (patient.legal_middle_name, patient.phone_mobile) == ("M", "")
    assert stored_one(practice.org.pk, "Patient", row.resource_id)["meta"]["versionId"] == "2"
    missing = str(uuid.uuid4())
    with pytest.raises(FhirError) as refused:
        inbound.update(prescriber, "Patient", missing, {**body, "id": missing})
    assert refused.value.status == 404


def test_a_condition_is_coded_from_the_catalogue_and_only_its_status_can_change(practice, prescriber):
    trd = [{"system": SNOMED, "code": "370143000"}, {"system": ICD10, "code": "F33.2"}]
    body = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{practice.patient.pk}"},
        "code": {"coding": trd},
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "remission"}]},
        "onsetDateTime": "2019-05",
    }
    with pytest.raises(FhirError) as partial:
        inbound.create(prescriber, body)
    assert paths(partial.value) == ["Condition.onsetDateTime"]
    row = inbound.create(prescriber, {**body, "onsetDateTime": "2019-05-01"})
    condition = Condition.objects.get(pk=row.resource_id)
    assert (condition.catalogue_id, condition.status, str(condition.onset_date)) == (
        "trd",
        "remission",
        "2019-05-01",
    )
    resolved = json.loads(row.body)
    resolved["clinicalStatus"]["coding"][0]["code"] = "resolved"
    inbound.update(prescriber, "Condition", row.resource_id, resolved)
    assert Condition.objects.get(pk=row.resource_id).status == "resolved"
    recoded = {**resolved, "code": {"coding": [{"system": SNOMED, "code": "47505003"}]}}
    with pytest.raises(FhirError) as refused:
        inbound.update(prescriber, "Condition", row.resource_id, recoded)
    assert (refused.value.status, paths(refused.value)) == (422, ["Condition.code"])


@pytest.mark.parametrize(
    ("code", "value", "unit", "field", "stored", "key"),
    [
        ("29463-7", 185, "[lb_av]", "weight_kg", Decimal("83.9"), "weight"),
        ("29463-7", 70500, "g", "weight_kg", Decimal("70.5"), "weight"),
        ("8302-2", 70, "[in_i]", "height_cm", Decimal("177.8"), "height"),
        ("8310-5", 98.6, "[degF]", "temperature_c", Decimal("37.0"), "temperature"),
        ("59408-5", 97, "%", "oxygen_saturation", 97, "oxygen-saturation"),
    ],
)
def test_a_vital_sign_is_converted_from_ucum_into_one_vitals_row(
    practice, prescriber, code, value, unit, field, stored, key
):
    row = inbound.create(prescriber, vital(practice.patient, code, value, unit))
    vitals = VitalSigns.objects.get(patient=practice.patient)
    assert getattr(vitals, field) == stored
    assert row.resource_id == f"{vitals.pk}-{key}"
    validate(row.body)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {"valueQuantity": {"value": 900, "unit": "kg", "system": UCUM, "code": "kg"}},
            "Observation.valueQuantity.value",
        ),
        (
            {"valueQuantity": {"value": 80, "unit": "stone", "system": UCUM, "code": "[stone_av]"}},
            "Observation.valueQuantity.code",
        ),
        ({"code": {"coding": [{"system": LOINC, "code": "39156-5"}]}}, "Observation.code"),
        ({"code": {"coding": [{"system": LOINC, "code": "44261-6"}]}}, "Observation.code"),
        ({"category": [{"coding": [{"system": CATEGORY, "code": "survey"}]}]}, "Observation.category"),
        ({"effectiveDateTime": None}, "Observation.effective[x]"),
        ({"valueString": "heavy"}, "Observation.value[x]"),
    ],
)
def test_an_observation_ketaflow_cannot_store_is_refused_naming_the_element(
    practice, prescriber, change, path
):
    body = {
        k: v for k, v in {**vital(practice.patient, "29463-7", 80, "kg"), **change}.items() if v is not None
    }
    with pytest.raises(FhirError) as refused:
        inbound.create(prescriber, body)
    assert path in paths(refused.value)
    assert refused.value.status in (400, 422)
    assert not VitalSigns.objects.exists()


def test_a_reference_to_another_organizations_patient_is_refused(practice, stranger, prescriber):
    with pytest.raises(FhirError) as refused:
        inbound.create(prescriber, vital(stranger.patient, "8867-4", 70, "/min"))
    assert (refused.value.status, paths(refused.value)) == (422, ["Observation.subject"])
    assert not VitalSigns.objects.exists()


def test_a_phq9_response_is_scored_and_item_nine_raises_a_safety_alert(practice, prescriber):
    row = inbound.create(prescriber, phq9(practice.patient, [2, 2, 1, 1, 0, 1, 1, 0, 1]))
    response = QuestionnaireResponse.objects.get(pk=row.resource_id)
    assert (response.source, response.instrument_id) == ("api", "phq9")
    assert ScoreObservation.objects.get(response=response, key="total").value == 9
    assert SafetyAlert.objects.get(patient=practice.patient).response == response
    validate(row.body)


def test_an_unfinished_phq9_endorsing_item_nine_alerts_when_sent_alone_and_is_refused_plainly_in_a_bundle(
    practice, prescriber
):
    unfinished = phq9(practice.patient, [1, 1, 1, 0, 0, 0, 0, 0, 2])
    del unfinished["item"][0]
    with pytest.raises(FhirError) as in_bundle:
        inbound.process_bundle(prescriber, bundle("transaction", post(unfinished)))
    assert "no safety alert was raised" in str(in_bundle.value)
    assert paths(in_bundle.value) == ["Bundle.entry[0].resource.item[7].answer[0]"]
    assert not SafetyAlert.objects.exists()
    with pytest.raises(FhirError) as alone:
        inbound.create(prescriber, unfinished)
    assert (alone.value.status, paths(alone.value)) == (422, ["QuestionnaireResponse.item"])
    assert SafetyAlert.objects.get(patient=practice.patient).response.status == "in-progress"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"questionnaire": "http://example.org/Questionnaire/mood"}, "QuestionnaireResponse.questionnaire"),
        ({"questionnaire": f"{questionnaire_url('phq9')}|0.9"}, "QuestionnaireResponse.questionnaire"),
        (
            {"item": [{"linkId": "11", "answer": [{"valueInteger": 1}]}]},
            "QuestionnaireResponse.item[0].linkId",
        ),
        (
            {"item": [{"linkId": "1", "answer": [{"valueInteger": 5}]}]},
            "QuestionnaireResponse.item[0].answer[0]",
        ),
    ],
)
def test_a_response_ketaflow_cannot_score_is_refused_naming_the_element(practice, prescriber, change, path):
    with pytest.raises(FhirError) as refused:
        inbound.create(prescriber, {**phq9(practice.patient, [0] * 9), **change})
    assert (refused.value.status, path in paths(refused.value)) == (422, True)
    assert not QuestionnaireResponse.objects.exists()


def test_a_medication_statement_is_matched_to_the_catalogue_and_stopped_by_update(practice, prescriber):
    body = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "36437"}], "text": "Zoloft"},
        "subject": {"reference": f"Patient/{practice.patient.pk}"},
        "dosage": [{"text": "50 mg daily"}],
    }
    row = inbound.create(prescriber, body)
    medication = Medication.objects.get(pk=row.resource_id)
    coded = medication.catalogue_id, medication.rxnorm_code
    assert (coded, medication.dose) == (("sertraline", "36437"), "50 mg daily")
    stopped = {**json.loads(row.body), "status": "stopped", "effectivePeriod": {"end": "2025-01-15"}}
    validate(inbound.update(prescriber, "MedicationStatement", row.resource_id, stopped).body)
    medication.refresh_from_db()
    assert (medication.status, str(medication.stopped_on)) == ("stopped", "2025-01-15")


def test_roles_and_read_only_types_are_refused(practice, prescriber):
    desk = actor_of(practice.staff[Role.FRONT_DESK])
    with pytest.raises(FhirError) as forbidden:
        inbound.create(desk, vital(practice.patient, "8867-4", 70, "/min"))
    with pytest.raises(FhirError) as create_only:
        inbound.update(prescriber, "Observation", "x", {"resourceType": "Observation", "id": "x"})
    with pytest.raises(FhirError) as unknown:
        inbound.create(prescriber, {"resourceType": "Encounter", "status": "planned"})
    assert (forbidden.value.status, create_only.value.status, unknown.value.status) == (403, 405, 405)


def transaction_bundle(last_weight: float) -> dict[str, Any]:
    return bundle(
        "transaction",
        post(new_patient(), fullUrl=NEW),
        post(blood_pressure(NEW, 121, 79)),
        post(vital(NEW, "29463-7", last_weight, "kg")),
    )


def test_a_transaction_with_a_bad_last_entry_writes_nothing_then_succeeds_once_fixed(practice, prescriber):
    counts = Patient.objects.count(), VitalSigns.objects.count(), AuditEvent.objects.count()
    with pytest.raises(FhirError) as refused:
        inbound.process_bundle(prescriber, transaction_bundle(last_weight=3))
    assert paths(refused.value) == ["Bundle.entry[2].resource.valueQuantity.value"]
    assert (Patient.objects.count(), VitalSigns.objects.count(), AuditEvent.objects.count()) == counts
    reply = inbound.process_bundle(prescriber, transaction_bundle(last_weight=72.5))
    assert reply["type"] == "transaction-response"
    assert [e["response"]["status"] for e in reply["entry"]] == ["201 Created"] * 3
    patient_id = reply["entry"][0]["response"]["location"].split("/")[1]
    readings = VitalSigns.objects.filter(patient_id=patient_id)
    pressure, weight = readings.get(systolic_bp__isnull=False), readings.get(weight_kg__isnull=False)
    assert (pressure.systolic_bp, pressure.diastolic_bp, weight.weight_kg) == (121, 79, Decimal("72.5"))
    assert reply["entry"][1]["response"]["location"].startswith(f"Observation/{pressure.pk}-bp/")
    validate(reply)


def test_a_batch_writes_each_good_entry_and_answers_each_bad_one(practice, prescriber):
    good = vital(practice.patient, "8867-4", 64, "/min")
    bad = vital(practice.patient, "8867-4", 640, "/min")
    reply = inbound.process_bundle(prescriber, bundle("batch", post(good), post(bad), post(good, "DELETE")))
    statuses = [e["response"]["status"] for e in reply["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "400 Bad Request"]
    issue = reply["entry"][1]["response"]["outcome"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert list(VitalSigns.objects.values_list("heart_rate", flat=True)) == [64]
    validate(reply)


def test_a_patient_posted_over_http_is_created_with_its_location(practice):
    client = FhirClient(practice.staff[Role.PRESCRIBER])
    reply = client.post("Patient", new_patient())
    assert reply.status_code == 201
    body = json.loads(reply.content)
    assert reply["Location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert Patient.objects.get(pk=body["id"]).legal_family_name == "Quillfeather"
    refused = client.post("Observation", vital(practice.patient, "8867-4", 640, "/min"))
    assert refused.status_code == 422
    assert json.loads(refused.content)["issue"][0]["expression"] == ["Observation.valueQuantity.value"]
