"""The FHIR projection of measurement-based care and vital signs, written through the real services:
Questionnaires, QuestionnaireResponses, item and score Observations, vital-sign Observations."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.instruments import builtin_instruments, get_instrument, score_instrument
from ketaflow.fhir.mapping.measures import ORDINAL_VALUE
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.values import LOINC, questionnaire_url
from ketaflow.measurement import library, links
from ketaflow.measurement.models import QuestionnaireResponse, ScoreObservation
from ketaflow.measurement.responses import mark_entered_in_error, record_response, store_response
from ketaflow.patients.vital_signs import record_vitals
from ketaflow.validation import ValidationFailed
from tests.factories import actor_of
from tests.integration.fhir_support import stored, stored_one, validate

REPO_ROOT = Path(__file__).resolve().parents[2]
YBOCS_TEMPLATE = REPO_ROOT / "docs" / "examples" / "ybocs-template.json"
PHQ9_MILD = [1, 1, 2, 1, 0, 1, 1, 1, 0, 1]  # total 8 (mild); item 10, the unscored difficulty, answered
PHQ9_ITEM_CODES = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
PCL5 = [2] * 5 + [1] * 2 + [0] * 7 + [3] * 6  # B 10, C 2, D 0, E 18


@pytest.fixture
def actor(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


def valid_bodies(org_id: Any, resource_type: str) -> dict[str, dict[str, Any]]:
    """Every stored body of a type by id, each checked against the R4 model."""
    bodies = stored(org_id, resource_type)
    for body in bodies:
        validate(body)
    return {body["id"]: body for body in bodies}


def codes(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"]]


def resolves(org_id: Any, reference: dict[str, str]) -> dict[str, Any]:
    """The stored resource a literal reference points at (raises if there is none)."""
    resource_type, resource_id = reference["reference"].split("/")
    return stored_one(org_id, resource_type, resource_id)


def phq9_response(actor, practice) -> QuestionnaireResponse:
    return record_response(actor, practice.patient.pk, "phq9", PHQ9_MILD).response


def test_every_built_in_instrument_is_served_as_a_valid_questionnaire(practice):
    questionnaires = valid_bodies(practice.org.pk, "Questionnaire")

    expected = {f"{i.id.replace('_', '-')}-{i.version}": i for i in builtin_instruments().values()}
    assert set(questionnaires) == set(expected)
    for resource_id, instrument in expected.items():
        body = questionnaires[resource_id]
        assert (body["url"], body["version"]) == (questionnaire_url(instrument.id), instrument.version)
        assert body["status"] == "active"
        assert body["title"] == instrument.name
        assert [item["linkId"] for item in body["item"]] == list(instrument.item_ids)
    assert questionnaires["qids-sr16-1.0.0"]["name"] == "QIDSSR16"


def test_the_phq9_questionnaire_has_all_nine_scored_items_with_loinc_codes_and_scores_0_to_3(practice):
    body = stored_one(practice.org.pk, "Questionnaire", "phq9-1.0.0")

    assert body["code"] == [{"system": LOINC, "code": "44249-1"}]
    items = body["item"]
    assert [item["code"][0]["code"] for item in items] == [*PHQ9_ITEM_CODES, "69722-7"]
    item9 = items[8]
    assert item9["text"].startswith("Thoughts that you would be better off dead")
    assert item9["required"] is True and item9["type"] == "choice"
    options = [option["valueCoding"] for option in item9["answerOption"]]
    scores = [o["extension"] for o in options]
    assert scores == [[{"url": ORDINAL_VALUE, "valueDecimal": n}] for n in range(4)]
    labels = [o["display"] for o in options]
    assert labels == ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    assert [o["code"] for o in options] == ["0", "1", "2", "3"]
    assert all(len(item["answerOption"]) == 4 for item in items[:9])
    assert items[9]["required"] is False  # the difficulty question is asked, not scored


def test_the_gad7_questionnaire_carries_its_loinc_panel_and_item_codes(practice):
    body = stored_one(practice.org.pk, "Questionnaire", "gad7-1.0.0")

    assert body["code"][0]["code"] == "69737-5"
    assert [item["code"][0]["code"] for item in body["item"]] == [
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ]  # fmt: skip


def test_cssrs_follow_up_questions_are_enabled_only_by_a_yes_to_question_two(practice):
    body = stored_one(practice.org.pk, "Questionnaire", "cssrs-screener-1.0.0")
    items = {item["linkId"]: item for item in body["item"]}

    condition = items["3"]["enableWhen"][0]
    assert [condition["question"], condition["operator"], condition["answerCoding"]["code"]] == [
        "2",
        "=",
        "1",
    ]
    assert "enableWhen" not in items["2"]


def test_a_clinic_loaded_template_is_a_draft_without_placeholders_and_is_retired_when_replaced(practice):
    admin = actor_of(practice.staff[Role.OWNER])
    template = json.loads(YBOCS_TEMPLATE.read_text())
    library.load_clinic_instrument(admin, template)

    draft = stored_one(practice.org.pk, "Questionnaire", "ybocs-1.0.0")
    assert draft["status"] == "draft"
    assert "description" not in draft
    assert all("text" not in item for item in draft["item"])
    assert all("display" not in o["valueCoding"] for item in draft["item"] for o in item["answerOption"])

    licensed = {**template, "version": "1.1.0", "ships_text": True}
    licensed["items"] = [{**item, "text": f"Licensed wording {item['id']}"} for item in template["items"]]
    library.load_clinic_instrument(admin, licensed)

    questionnaires = valid_bodies(practice.org.pk, "Questionnaire")
    assert questionnaires["ybocs-1.0.0"]["status"] == "retired"
    assert questionnaires["ybocs-1.1.0"]["status"] == "active"
    assert questionnaires["ybocs-1.1.0"]["item"][0]["text"] == "Licensed wording 1"


def test_a_recorded_phq9_is_a_questionnaire_response_with_the_questionnaires_answer_codings(actor, practice):
    response = phq9_response(actor, practice)

    body = valid_bodies(practice.org.pk, "QuestionnaireResponse")[str(response.pk)]
    assert body["questionnaire"] == f"{questionnaire_url('phq9')}|1.0.0"
    assert body["status"] == "completed"
    assert body["subject"] == {"reference": f"Patient/{practice.patient.pk}"}
    assert body["author"] == {"reference": f"Practitioner/{practice.staff[Role.PRESCRIBER].pk}"}
    assert body["source"] == {"reference": f"Patient/{practice.patient.pk}"}  # a self-report scale
    questionnaire = stored_one(practice.org.pk, "Questionnaire", "phq9-1.0.0")
    options = {i["linkId"]: [o["valueCoding"] for o in i["answerOption"]] for i in questionnaire["item"]}
    assert [i["linkId"] for i in body["item"]] == [str(n) for n in range(1, 11)]
    for item, value in zip(body["item"], PHQ9_MILD, strict=True):
        assert item["answer"][0]["valueCoding"] == options[item["linkId"]][value]


def test_each_answer_is_an_item_observation_derived_from_its_response(actor, practice):
    response = phq9_response(actor, practice)

    observations = valid_bodies(practice.org.pk, "Observation")
    item3 = observations[f"{response.pk}-3"]
    assert codes(item3["code"]) == [(LOINC, "44259-0")]
    assert item3["category"][0]["coding"][0]["code"] == "survey"
    assert item3["valueCodeableConcept"]["coding"][0]["code"] == "2"
    assert item3["valueCodeableConcept"]["text"] == "More than half the days"
    assert item3["status"] == "final"
    assert resolves(practice.org.pk, item3["derivedFrom"][0])["id"] == str(response.pk)
    assert len([key for key in observations if key.startswith(f"{response.pk}-")]) == 10


def test_the_phq9_total_is_loinc_44261_6_and_its_members_and_source_resolve(actor, practice):
    response = phq9_response(actor, practice)
    total = ScoreObservation.objects.get(response=response, kind=ScoreObservation.Kind.TOTAL)

    body = valid_bodies(practice.org.pk, "Observation")[str(total.pk)]
    assert codes(body["code"]) == [(LOINC, "44261-6")]
    assert body["valueQuantity"]["value"] == 8
    assert body["interpretation"] == [{"text": "mild"}]
    assert body["effectiveDateTime"] == resolves(practice.org.pk, body["derivedFrom"][0])["authored"]
    members = [resolves(practice.org.pk, member) for member in body["hasMember"]]
    # The unscored difficulty item (69722-7) is not a member of the total.
    assert [codes(m["code"])[0][1] for m in members] == PHQ9_ITEM_CODES


def test_a_pcl5_cluster_score_has_only_its_cluster_items_as_members(actor, practice):
    response = record_response(actor, practice.patient.pk, "pcl5", PCL5).response
    cluster_b = ScoreObservation.objects.get(response=response, key="B")

    body = valid_bodies(practice.org.pk, "Observation")[str(cluster_b.pk)]
    assert body["valueQuantity"]["value"] == 10
    assert [m["reference"] for m in body["hasMember"]] == [
        f"Observation/{response.pk}-{n}" for n in range(1, 6)
    ]


def test_a_clinician_rated_scale_names_the_rater_as_its_source(actor, practice):
    response = record_response(actor, practice.patient.pk, "madrs", [2] * 10).response

    body = stored_one(practice.org.pk, "QuestionnaireResponse", str(response.pk))
    assert body["source"] == {"reference": f"Practitioner/{practice.staff[Role.PRESCRIBER].pk}"}
    item1 = stored_one(practice.org.pk, "Observation", f"{response.pk}-1")
    assert item1["code"]["coding"] == [{"system": "https://ketaflow.org/fhir/CodeSystem/madrs", "code": "1"}]


def test_a_response_through_the_patients_link_is_authored_by_the_patient(practice):
    instrument = get_instrument("gad7")
    patient_actor = links.patient_actor(practice.patient, "link")
    with transaction.atomic():
        recorded = store_response(
            patient_actor,
            practice.patient,
            instrument,
            score_instrument(instrument, [1] * 7),
            authored_at=timezone.now(),
            source=QuestionnaireResponse.Source.LINK,
        )

    body = valid_bodies(practice.org.pk, "QuestionnaireResponse")[str(recorded.response.pk)]
    assert body["author"] == body["source"] == {"reference": f"Patient/{practice.patient.pk}"}


def test_an_unfinished_answer_set_endorsing_item_nine_is_kept_as_an_in_progress_response(actor, practice):
    with pytest.raises(ValidationFailed):
        record_response(actor, practice.patient.pk, "phq9", {"1": 0, "9": 2})

    kept = QuestionnaireResponse.objects.get(patient=practice.patient)
    body = valid_bodies(practice.org.pk, "QuestionnaireResponse")[str(kept.pk)]
    assert body["status"] == "in-progress"
    item9 = stored_one(practice.org.pk, "Observation", f"{kept.pk}-9")
    assert (item9["status"], item9["valueCodeableConcept"]["coding"][0]["code"]) == ("final", "2")
    assert not ScoreObservation.objects.filter(response=kept).exists()


def test_marking_a_response_entered_in_error_withdraws_its_item_and_score_observations(actor, practice):
    response = phq9_response(actor, practice)
    mark_entered_in_error(actor, response.pk, "Recorded for the wrong patient")

    assert (
        stored_one(practice.org.pk, "QuestionnaireResponse", str(response.pk))["status"] == "entered-in-error"
    )
    built = StoredResource.objects.filter(organization_id=practice.org.pk, resource_type="Observation")
    statuses = {json.loads(row.body)["status"] for row in built}
    assert statuses == {"entered-in-error"}
    assert built.count() == 11  # ten answers and the total
    valid_bodies(practice.org.pk, "Observation")


def test_a_full_set_of_vitals_is_eight_vital_sign_observations_with_loinc_codes_and_ucum_units(
    actor, practice
):
    readings = {
        "systolic_bp": 128,
        "diastolic_bp": 82,
        "heart_rate": 72,
        "respiratory_rate": 14,
        "oxygen_saturation": 98,
        "temperature_c": "36.8",
        "weight_kg": "70.0",
        "height_cm": "175.0",
    }
    vitals = record_vitals(
        actor, practice.patient.pk, readings, measured_at=timezone.now() - timedelta(hours=1)
    )

    found = {
        key.removeprefix(f"{vitals.pk}-"): body
        for key, body in valid_bodies(practice.org.pk, "Observation").items()
    }
    assert set(found) == {
        "bp",
        "heart-rate",
        "respiratory-rate",
        "oxygen-saturation",
        "temperature",
        "weight",
        "height",
        "bmi",
    }
    for body in found.values():
        assert body["category"][0]["coding"][0]["code"] == "vital-signs"
        assert body["performer"] == [{"reference": f"Practitioner/{practice.staff[Role.PRESCRIBER].pk}"}]
        assert body["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]
    bp = found["bp"]
    assert codes(bp["code"]) == [(LOINC, "85354-9")] and "valueQuantity" not in bp
    assert [
        (codes(c["code"])[0][1], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
        for c in bp["component"]
    ] == [("8480-6", 128, "mm[Hg]"), ("8462-4", 82, "mm[Hg]")]
    assert [code for _, code in codes(found["oxygen-saturation"]["code"])] == ["2708-6", "59408-5"]
    units = {
        key: (codes(body["code"])[0][1], body["valueQuantity"]["value"], body["valueQuantity"]["code"])
        for key, body in found.items()
        if key != "bp"
    }
    assert units == {
        "heart-rate": ("8867-4", 72, "/min"),
        "respiratory-rate": ("9279-1", 14, "/min"),
        "oxygen-saturation": ("2708-6", 98, "%"),
        "temperature": ("8310-5", 36.8, "Cel"),
        "weight": ("29463-7", 70, "kg"),
        "height": ("8302-2", 175, "cm"),
        "bmi": ("39156-5", 22.9, "kg/m2"),
    }


def test_only_the_readings_taken_are_emitted(actor, practice):
    vitals = record_vitals(actor, practice.patient.pk, {"heart_rate": 64})

    assert list(valid_bodies(practice.org.pk, "Observation")) == [f"{vitals.pk}-heart-rate"]
