"""Importing FHIR files: the official R4 examples land as ketaflow records, each file is all or
nothing, and whatever is not imported is reported with its reason and place."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import AuditEvent
from ketaflow.fhir.imports import import_files
from ketaflow.fhir.models import ImportedId
from ketaflow.fhir.values import LOINC, UCUM, questionnaire_url
from ketaflow.measurement.models import QuestionnaireResponse, SafetyAlert
from ketaflow.patients.models import Patient, VitalSigns
from tests.integration.fhir_support import stored, validate

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "fhir" / "r4-examples"
STORED = [
    "Observation-blood-pressure.json",
    "Observation-heart-rate.json",
    "Observation-respiratory-rate.json",
    "Observation-body-temperature.json",
    "Observation-body-height.json",
    "Observation-example.json",
    "Observation-satO2.json",
]
SKIPPED = [
    "Observation-bmi.json",
    "Observation-vitals-panel.json",
    "Observation-head-circumference.json",
    "Observation-blood-pressure-cancel.json",
]
REFUSED = ["Observation-blood-pressure-dar.json", "Observation-body-length.json"]


@pytest.fixture
def importer(practice) -> Actor:
    practice.org.country = "AU"  # the example patient's phone numbers are Australian
    practice.org.save()
    return Actor.system(practice.org.pk)  # as the CLI acts (audit `via` holds 10 characters)


def write_ndjson(path: Path, resources: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def test_the_official_r4_examples_import_with_units_converted_and_the_rest_reported(practice, importer):
    seen: list[Path] = []
    files = [EXAMPLES / "Patient-example.json", *(EXAMPLES / name for name in STORED + SKIPPED + REFUSED)]
    report = import_files(importer, files, progress=seen.append)
    assert seen == files
    patient = Patient.objects.get(legal_family_name="Chalmers")
    assert (patient.legal_given_name, patient.legal_middle_name, patient.preferred_name) == (
        "Peter",
        "James",
        "Jim",
    )
    assert (str(patient.date_of_birth), patient.phone_mobile, patient.mrn != "12345") == (
        "1974-12-25",
        "+61334105613",
        True,
    )
    contact = (
        patient.emergency_contact_name,
        patient.emergency_contact_relationship,
        patient.emergency_contact_phone,
    )
    assert contact == ("Bénédicte du Marché", "Next of kin", "+33237998327")
    assert (patient.address_line1, patient.city, patient.region) == ("534 Erewhon St", "PleasantVille", "Vic")
    readings = {
        field: value
        for row in VitalSigns.objects.filter(patient=patient).values()
        for field, value in row.items()
        if field
        in {
            "systolic_bp",
            "diastolic_bp",
            "heart_rate",
            "respiratory_rate",
            "oxygen_saturation",
            "temperature_c",
            "weight_kg",
            "height_cm",
        }
        and value is not None
    }
    assert readings == {
        "systolic_bp": 107,
        "diastolic_bp": 60,
        "heart_rate": 44,
        "respiratory_rate": 26,
        "oxygen_saturation": 95,
        "temperature_c": Decimal("36.5"),
        "weight_kg": Decimal("83.9"),
        "height_cm": Decimal("169.9"),
    }
    assert report.created == {"Patient": 1, "Observation": 7}
    assert report.skipped == {"Observation": 4}
    assert any("derives it from a weight and a height" in str(skip) for skip in report.skips)
    assert sorted(str(e) for e in report.errors) == [
        f"{EXAMPLES / 'Observation-blood-pressure-dar.json'}: Observation.component[1].valueQuantity.value: "
        "Enter both the systolic and the diastolic pressure.",
        f"{EXAMPLES / 'Observation-body-length.json'}: Observation.valueQuantity.value: "
        "Height of 25.0 cm is not possible; enter a value from 100 to 250 cm.",
    ]
    observations = stored(practice.org.pk, "Observation", patient_ref=str(patient.pk))
    assert len(observations) == 7
    for body in observations:
        validate(body)
    audit = AuditEvent.objects.filter(object_type="FhirImport")
    assert audit.count() == len(STORED) + len(SKIPPED) + 1
    assert "Chalmers" not in json.dumps(list(audit.values_list("detail", flat=True)))


def test_an_ndjson_file_with_one_bad_line_writes_nothing_and_names_the_line(practice, importer, tmp_path):
    subject = {"reference": "Patient/p1"}
    pulse = {
        "resourceType": "Observation",
        "status": "final",
        "subject": subject,
        "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
        "effectiveDateTime": "2024-06-01",
        "valueQuantity": {"value": 61, "unit": "/min", "system": UCUM, "code": "/min"},
    }
    patient = json.loads((EXAMPLES / "Patient-example.json").read_text())
    lines = [
        {"resourceType": "Encounter", "status": "finished"},
        {**pulse, "id": "hr1"},
        {**patient, "id": "p1"},
        {**pulse, "id": "hr2", "valueQuantity": {**pulse["valueQuantity"], "value": "x"}},
    ]
    before = Patient.objects.count(), VitalSigns.objects.count(), ImportedId.objects.count()
    report = import_files(importer, [write_ndjson(tmp_path / "mixed.ndjson", lines)])
    (problem,) = report.errors
    assert (problem.line, problem.paths) == (4, ("Observation.valueQuantity.value",))
    assert (Patient.objects.count(), VitalSigns.objects.count(), ImportedId.objects.count()) == before
    fixed = write_ndjson(tmp_path / "fixed.ndjson", lines[:3])
    report = import_files(importer, [fixed])
    assert (report.created, report.skipped) == ({"Patient": 1, "Observation": 1}, {"Encounter": 1})
    again = import_files(importer, [fixed])
    assert (again.updated, again.skipped) == ({"Patient": 1}, {"Encounter": 1, "Observation": 1})
    assert VitalSigns.objects.filter(heart_rate=61).count() == 1


def test_an_imported_phq9_response_is_scored_and_raises_the_safety_alert(practice, importer, tmp_path):
    answers = [1, 1, 1, 1, 1, 1, 1, 1, 2]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:0b8f5c3e-2d7a-4e61-9b0c-5a4d3e2f1c10",
                "resource": {
                    "resourceType": "QuestionnaireResponse",
                    "status": "completed",
                    "questionnaire": "http://loinc.org/q/44249-1",
                    "authored": "2024-11-02T15:20:00-05:00",
                    "subject": {"reference": f"Patient/{practice.patient.pk}"},
                    "item": [
                        {"linkId": str(i), "answer": [{"valueInteger": v}]} for i, v in enumerate(answers, 1)
                    ],
                },
            },
        ],
    }
    path = tmp_path / "responses.json"
    path.write_text(json.dumps(bundle))
    report = import_files(importer, [path])
    assert report.created == {"QuestionnaireResponse": 1}
    response = QuestionnaireResponse.objects.get(patient=practice.patient)
    assert (response.source, str(response.authored_at)) == ("import", "2024-11-02 20:20:00+00:00")
    alert = SafetyAlert.objects.get(patient=practice.patient)
    assert [flag["item"] for flag in alert.flags] == ["9"]
    (body,) = stored(practice.org.pk, "QuestionnaireResponse")
    assert body["questionnaire"] == f"{questionnaire_url('phq9')}|1.0.0"
    validate(body)
