"""The evaluation, vital-signs and medication endpoints of the JSON API."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.evaluation.models import Evaluation
from ketaflow.patients.models import Medication, VitalSigns
from tests.factories import ConditionFactory
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS


@pytest.fixture
def nurse(practice):
    return api_as(practice.staff[Role.NURSE])


@pytest.fixture
def prescriber(practice):
    return api_as(practice.staff[Role.PRESCRIBER])


def under(patient, path: str = "evaluation") -> str:
    return f"/patients/{patient.pk}/{path}"


# ---------- The evaluation ----------

def test_before_an_evaluation_the_body_says_what_is_needed_and_the_read_is_audited(practice, nurse):
    response = nurse.get(under(practice.patient))
    assert response.status_code == 200
    body = response.json()
    assert body["evaluation"] is None
    staging = body["staging"]
    assert (staging["stage"], staging["label"], staging["is_trd"]) == (0, "Stage 0", False)
    assert "Thase ME, Rush AJ" in staging["source"]
    assert [i["test"] for i in body["indications"]] == ["ecg", "liver_tests", "urine_drug_screen"]
    assert {p["field"] for p in body["completion_problems"]} == {None, "diagnoses", "vital_signs"}
    [read] = audit_rows(practice.org.pk, action="read")
    assert (read.patient_id, read.detail) == (practice.patient.pk, {"purpose": "evaluation"})


def test_put_saves_the_sections_sent_and_returns_the_stage(practice, nurse):
    taken = (timezone.localdate() - timedelta(days=2)).isoformat()
    response = nurse.put(under(practice.patient), {
        "facts": {"pregnant": False, "hepatic_impairment": "none", "home_bp_cuff": None},
        "trials": [{"drug": "Prozac", "adequate": True, "outcome": "no_response"},
                   {"drug": "Remeron", "adequate": True, "outcome": "no_response"},
                   {"drug_class": "tca", "adequate": False, "outcome": "not_tolerated"}],
        "ect_failed": None, "ecg_date": taken, "ecg_result": "normal", "notes": "First evaluation.",
    })
    assert response.status_code == 200, response.json()
    record = response.json()["evaluation"]
    assert record["status"] == "draft"
    assert record["facts"] == {"pregnant": False, "hepatic_impairment": "none"}
    assert [(t["drug"], t["drug_class"], t["failed"]) for t in record["trials"]] == [
        ("fluoxetine", "ssri", True), ("mirtazapine", "mirtazapine", True), ("", "tca", False)]
    assert (record["trd_stage"], record["ecg_date"], record["ecg_result"]) == (2, taken, "normal")
    assert response.json()["staging"]["label"] == "Stage II"
    # A later PUT with only the notes leaves the rest alone.
    again = nurse.put(under(practice.patient), {"notes": "Revised."}).json()["evaluation"]
    assert again["notes"] == "Revised." and again["trd_stage"] == 2 and again["ecg_result"] == "normal"
    assert Evaluation.objects.count() == 1


@pytest.mark.parametrize(("body", "field", "phrase"), [
    ({"facts": {"age_years": 30}}, "facts.age_years", "comes from the date of birth"),
    ({"facts": {"systolic_bp": 120}}, "facts.systolic_bp", "comes from the vital signs"),
    ({"facts": {"xylophone": True}}, "facts.xylophone", "not an eligibility fact"),
    ({"trials": [{"drug": "Zoloft", "drug_class": "tca", "adequate": True, "outcome": "no_response"}]},
     "trials[0].drug_class", "Sertraline is an SSRI, not a Tricyclic (TCA)."),
    ({"trials": [{"drug": "Zoloft", "adequate": True}]}, "trials[0].outcome", "required"),
    ({"ecg_date": "2099-01-01", "ecg_result": "normal"}, "ecg_date", "cannot be in the future"),
    ({"liver_tests_result": "normal"}, "liver_tests_date", "Enter the date of the liver tests."),
    ({"ecg_date": "01/02/2026"}, "ecg_date", "YYYY-MM-DD"),
    ({"colour": "blue"}, "colour", "not allowed"),
    ({"facts": None}, "facts", "cannot be null"),
])
def test_a_bad_evaluation_is_refused_naming_the_field_and_nothing_is_saved(
    practice, nurse, body, field, phrase
):
    response = nurse.put(under(practice.patient), body)
    assert response.status_code == 422
    errors = field_errors(response)
    assert field in errors and phrase in errors[field], errors
    assert not Evaluation.objects.exists()


def test_completing_needs_a_prescriber_then_the_missing_parts_then_succeeds(practice, nurse, prescriber):
    nurse.put(under(practice.patient), {"notes": "Seen."})
    refused = nurse.post(under(practice.patient, "evaluation/complete"))
    assert refused.status_code == 403
    missing = prescriber.post(under(practice.patient, "evaluation/complete"))
    assert missing.status_code == 422
    assert set(field_errors(missing)) == {"diagnoses", "vital_signs"}
    ConditionFactory(patient=practice.patient)
    assert nurse.post(under(practice.patient, "vital-signs"),
                      {"systolic_bp": 126, "diastolic_bp": 78}).status_code == 201
    done = prescriber.post(under(practice.patient, "evaluation/complete"))
    assert done.status_code == 200, done.json()
    record = done.json()["evaluation"]
    assert record["status"] == "completed" and record["completed_at"] and record["completed_by"]
    assert done.json()["completion_problems"] == [
        {"field": None, "message": "There is no evaluation in progress to complete."}]


def test_front_desk_cannot_read_the_evaluation_and_no_read_is_recorded(practice):
    desk = api_as(practice.staff[Role.FRONT_DESK])
    for path in ("evaluation", "vital-signs", "medications"):
        assert desk.get(under(practice.patient, path)).status_code == 403
    assert desk.put(under(practice.patient), {"notes": "x"}).status_code == 403
    assert audit_rows(practice.org.pk, action="read") == []


# ---------- Vital signs ----------

@pytest.mark.parametrize(("body", "field"), [
    ({"systolic_bp": 20, "diastolic_bp": 10}, "systolic_bp"),
    ({"systolic_bp": 400, "diastolic_bp": 80}, "systolic_bp"),
    ({"weight_kg": 0}, "weight_kg"),
    ({"systolic_bp": 120}, "diastolic_bp"),
    ({"heart_rate": 72.5}, "heart_rate"),
])
def test_impossible_vital_signs_are_refused_with_422_and_nothing_is_stored(practice, nurse, body, field):
    response = nurse.post(under(practice.patient, "vital-signs"), body)
    assert response.status_code == 422
    assert field in field_errors(response)
    assert not VitalSigns.objects.exists()


def test_vital_signs_in_the_future_or_without_a_time_zone_are_refused(practice, nurse):
    later = (timezone.now() + timedelta(hours=3)).isoformat()
    future = nurse.post(under(practice.patient, "vital-signs"), {"heart_rate": 70, "measured_at": later})
    assert field_errors(future) == {"measured_at": "The time of the readings cannot be in the future."}
    naive = nurse.post(under(practice.patient, "vital-signs"),
                       {"heart_rate": 70, "measured_at": "2026-11-20T10:00:00"})
    assert "measured_at" in field_errors(naive)
    assert not VitalSigns.objects.exists()


def test_recorded_vital_signs_carry_the_bmi_and_are_listed_newest_first(practice, nurse):
    earlier = (timezone.now() - timedelta(days=1)).isoformat()
    first = nurse.post(under(practice.patient, "vital-signs"),
                       {"systolic_bp": 118, "diastolic_bp": 74, "measured_at": earlier})
    second = nurse.post(under(practice.patient, "vital-signs"),
                        {"weight_kg": 92.3, "height_cm": 181, "temperature_c": 36.8})
    assert first.status_code == second.status_code == 201
    shown = second.json()
    assert (shown["bmi"], shown["weight_kg"], shown["temperature_c"]) == (28.2, 92.3, 36.8)
    listed = nurse.get(under(practice.patient, "vital-signs"))
    assert [item["id"] for item in listed.json()["items"]] == [second.json()["id"], first.json()["id"]]
    assert audit_rows(practice.org.pk, action="read")[-1].detail == {"purpose": "vital_signs"}


# ---------- Medications ----------

def test_medications_from_the_catalogue_by_brand_and_as_free_text(practice, nurse):
    by_id = nurse.post(under(practice.patient, "medications"), {"catalogue_id": "lisdexamfetamine"})
    by_brand = nurse.post(under(practice.patient, "medications"),
                          {"name": "Ambien 10 mg", "source": "patient"})
    free = nurse.post(under(practice.patient, "medications"), {"name": "Herbal sleep mix"})
    assert (by_id.status_code, by_brand.status_code, free.status_code) == (201, 201, 201)
    assert (by_id.json()["rxnorm_code"], by_id.json()["classes"], by_id.json()["unclassified"]) == (
        "700810", ["psychostimulant"], False)
    assert (by_brand.json()["catalogue_id"], by_brand.json()["classes"], by_brand.json()["source"]) == (
        "zolpidem", ["sedative_hypnotic"], "patient")
    assert (free.json()["classes"], free.json()["unclassified"], free.json()["rxnorm_code"]) == ([], True, "")


def test_a_medication_not_in_the_catalogue_by_id_or_without_a_name_is_refused(practice, nurse):
    unknown = nurse.post(under(practice.patient, "medications"), {"catalogue_id": "unobtainium"})
    assert field_errors(unknown) == {"catalogue_id": "Choose a medication from the list."}
    assert field_errors(nurse.post(under(practice.patient, "medications"), {"name": ""})) == {
        "name": "This field is required."}
    assert not Medication.objects.exists()


def test_stopping_a_medication_and_listing_with_and_without_stopped_ones(practice, nurse):
    kept = nurse.post(under(practice.patient, "medications"), {"catalogue_id": "lithium"}).json()
    gone = nurse.post(under(practice.patient, "medications"), {"catalogue_id": "lamotrigine"}).json()
    stopped = nurse.post(f"/medications/{gone['id']}/stop", {})
    assert stopped.status_code == 200
    today = timezone.localdate(timezone=ZoneInfo(practice.patient.home_clinic.timezone)).isoformat()
    assert (stopped.json()["status"], stopped.json()["stopped_on"]) == ("stopped", today)
    current = nurse.get(under(practice.patient, "medications")).json()
    assert [item["id"] for item in current["items"]] == [kept["id"]]
    everything = nurse.get(under(practice.patient, "medications"), {"include_inactive": "true"}).json()
    assert {item["id"] for item in everything["items"]} == {kept["id"], gone["id"]}
    assert field_errors(nurse.post(f"/medications/{gone['id']}/stop", {})) == {
        None: "This medication is already stopped."}


def test_the_medication_catalogue_lists_codes_brands_and_classes(practice, nurse):
    body = nurse.get("/medication-catalogue").json()
    alprazolam = next(item for item in body["items"] if item["id"] == "alprazolam")
    assert alprazolam == {"id": "alprazolam", "display": "Alprazolam", "rxnorm": "596",
                          "classes": ["benzodiazepine"], "brands": ["xanax"]}
    assert body["classes"]["maoi"].startswith("Monoamine oxidase inhibitor")


# ---------- Tenancy ----------

def test_another_organizations_records_are_not_found_on_every_endpoint(practice, stranger, prescriber):
    theirs = api_as(stranger.staff[Role.NURSE])
    medication = theirs.post(under(stranger.patient, "medications"), {"catalogue_id": "lithium"}).json()
    calls = [
        ("get", under(stranger.patient), None),
        ("put", under(stranger.patient), {"notes": "Hijacked"}),
        ("post", under(stranger.patient, "evaluation/complete"), None),
        ("get", under(stranger.patient, "vital-signs"), None),
        ("post", under(stranger.patient, "vital-signs"), {"heart_rate": 70}),
        ("get", under(stranger.patient, "medications"), None),
        ("post", under(stranger.patient, "medications"), {"catalogue_id": "sertraline"}),
        ("post", f"/medications/{medication['id']}/stop", {}),
    ]
    for method, path, body in calls:
        response = prescriber.get(path) if method == "get" else prescriber.send(method, path, body)
        assert response.status_code == 404, (method, path, response.content[:200])
        assert response.json() == {"errors": [{"field": None, "message": "Not found."}]}
    assert not Evaluation.objects.exists() and not VitalSigns.objects.exists()
    assert Medication.objects.get().status == Medication.Status.ACTIVE
