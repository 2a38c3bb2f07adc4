"""Measurement-based care through the API: instruments, responses, alerts, progress, plans and links."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Role
from ketaflow.measurement import library
from ketaflow.measurement.models import (
    Invitation,
    MeasureDue,
    MeasurementPlan,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
    Treatment,
)
from tests.factories import ClinicFactory, PatientFactory
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS

YBOCS_TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ybocs-template.json"
CALM = [0, 1, 0, 1, 0, 0, 1, 0, 0]  # PHQ-9 total 3: minimal, no safety answer


def phq9(total: int, *, item9: int = 0) -> list[int]:
    """Nine PHQ-9 answers adding up to `total`, with item 9 as given."""
    answers = [0] * 8 + [item9]
    left = total - item9
    for index in range(8):
        answers[index] = min(3, left)
        left -= answers[index]
    assert left == 0
    return answers


@pytest.fixture
def nurse(practice):
    return api_as(practice.staff[Role.NURSE])


@pytest.fixture
def desk(practice):
    return api_as(practice.staff[Role.FRONT_DESK])


def responses_url(practice: Any) -> str:
    return f"/patients/{practice.patient.pk}/responses"


def record(api: Any, practice: Any, answers: Any, **extra: Any) -> Any:
    response = api.post(responses_url(practice), {"instrument_id": "phq9", "answers": answers, **extra})
    assert response.status_code == 201, response.json()
    return response.json()


def nothing_stored(practice: Any) -> bool:
    return (
        not QuestionnaireResponse.objects.exists()
        and not ScoreObservation.objects.exists()
        and not SafetyAlert.objects.exists()
        and not audit_rows(practice.org.pk, action="create")
    )


# Instruments ------------------------------------------------------------------------------------


def test_the_instrument_list_gives_each_scale_its_range_bands_safety_rule_and_codes(practice, nurse):
    body = nurse.get("/instruments").json()
    by_id = {i["id"]: i for i in body["items"]}
    assert {"phq9", "gad7", "pcl5", "cssrs_screener"} <= set(by_id)
    phq = by_id["phq9"]
    assert (phq["short_name"], phq["respondent"], phq["total_range"]) == (
        "PHQ-9",
        "patient",
        {"min": 0, "max": 27},
    )
    assert [b["label"] for b in phq["bands"]][:3] == ["minimal", "mild", "moderate"]
    assert (phq["loinc_panel"], phq["loinc_total"]) == ("44249-1", "44261-6")
    assert [(s["flag"], s["item"], s["above"]) for s in phq["safety"]] == [("phq9_item9_self_harm", "9", 0)]
    assert phq["remission"]["at_most"] == 4 and phq["ships_text"] is True and phq["built_in"] is True
    assert "Pfizer" in phq["licence"] and "items" not in phq


def test_an_instrument_definition_lists_items_with_codes_and_options(practice, nurse):
    body = nurse.get("/instruments/phq9").json()
    item9 = next(i for i in body["items"] if i["id"] == "9")
    assert "better off dead" in item9["text"] and item9["loinc"] == "44260-8"
    assert [o["value"] for o in item9["options"]] == [0, 1, 2, 3]
    assert item9["options"][3]["label"] == "Nearly every day"
    difficulty = next(i for i in body["items"] if i["id"] == "10")
    assert (difficulty["scored"], difficulty["required"]) == (False, False)
    assert body["instructions"].startswith("Over the last 2 weeks")
    assert nurse.get("/instruments/no_such_scale").status_code == 404


def test_a_licensed_scale_loaded_by_the_clinic_is_listed_without_its_wording(practice, nurse, stranger):
    library.load_clinic_instrument(Actor.system(practice.org.pk), json.loads(YBOCS_TEMPLATE.read_text()))
    body = nurse.get("/instruments/ybocs").json()
    assert (body["ships_text"], body["built_in"], body["respondent"]) == (False, False, "clinician")
    assert body["instructions"] is None and len(body["items"]) == 10
    assert all(item["text"] is None for item in body["items"])
    assert "licensed wording" not in json.dumps(body)
    assert "ybocs" in {i["id"] for i in nurse.get("/instruments").json()["items"]}
    assert api_as(stranger.staff[Role.NURSE]).get("/instruments/ybocs").status_code == 404


# Responses ------------------------------------------------------------------------------------


def test_a_response_is_scored_stored_with_its_item_codes_and_audited(practice, nurse):
    body = record(nurse, practice, [1, 1, 2, 1, 0, 1, 1, 0, 0])
    assert body["instrument"] == {"id": "phq9", "version": "1.0.0", "short_name": "PHQ-9"}
    assert (body["source"], body["status"], body["patient_id"]) == (
        "api",
        "completed",
        str(practice.patient.pk),
    )
    assert body["score"] == {"total": 7, "band": "mild", "subscores": {}, "findings": [], "safety_flags": []}
    assert body["answers"][2] == {
        "item": "3",
        "code": "44259-0",
        "value": 2,
        "display": "More than half the days",
    }
    assert len(body["answers"]) == 9 and body["safety_alert_id"] is None
    stored = QuestionnaireResponse.objects.get(pk=body["id"])
    assert (stored.source, stored.patient_id, stored.recorded_by_id) == (
        "api",
        practice.patient.pk,
        practice.staff[Role.NURSE].user_id,
    )
    total = ScoreObservation.objects.get(response=stored)
    assert (total.code, total.value, total.band) == ("44261-6", 7.0, "mild")
    [event] = audit_rows(practice.org.pk, action="create", object_type="QuestionnaireResponse")
    assert (event.object_id, event.patient_id) == (body["id"], practice.patient.pk)
    assert not SafetyAlert.objects.exists()


def test_answers_may_be_sent_by_item_id_with_a_time_they_were_given(practice, nurse):
    answered = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    answers = {str(n): 0 for n in range(1, 10)} | {"2": 3, "10": 1}
    body = record(nurse, practice, answers, authored_at=answered.isoformat())
    assert body["score"]["total"] == 3 and body["score"]["band"] == "minimal"
    assert body["answers"][-1] == {
        "item": "10",
        "code": "69722-7",
        "value": 1,
        "display": "Somewhat difficult",
    }
    assert QuestionnaireResponse.objects.get(pk=body["id"]).authored_at == answered


@pytest.mark.parametrize(
    ("answers", "field", "words"),
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 4], "answers.9", "out of range"),
        (
            {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0, "9": -1},
            "answers.9",
            "out of range",
        ),
        ({"1": 1, "11": 1}, "answers.11", "unknown item"),
        ([0, 0, 0, 0, 0, 0, 0, 0], "answers.9", "item 9 needs an answer"),
        ([0, 0, 0, None, 0, 0, 0, 0, 0], "answers.4", "item 4 needs an answer"),
        ([True, 0, 0, 0, 0, 0, 0, 0, 0], "answers.1", "out of range"),
        (["2", 0, 0, 0, 0, 0, 0, 0, 0], "answers.1", "out of range"),
        ([0] * 11, "answers", "unknown item at position 11"),
        ("0,0,0", "answers", "list in item order"),
    ],
)
def test_a_bad_or_missing_answer_is_refused_naming_the_item_and_nothing_is_stored(
    practice, nurse, answers, field, words
):
    response = nurse.post(responses_url(practice), {"instrument_id": "phq9", "answers": answers})
    # Answers that cannot be scored are a 400; a body of the wrong shape is the schema's 422.
    assert response.status_code == (422 if isinstance(answers, str) else 400)
    errors = field_errors(response)
    assert field in errors and words in errors[field], errors
    assert nothing_stored(practice)


def test_a_missing_safety_item_is_named_even_when_the_rest_is_complete(practice, nurse):
    response = nurse.post(responses_url(practice), {"instrument_id": "phq9", "answers": {"1": 3, "2": 3}})
    assert response.status_code == 400
    assert set(field_errors(response)) == {f"answers.{n}" for n in range(3, 10)}
    assert nothing_stored(practice)


@pytest.mark.parametrize(
    ("extra", "field", "status"),
    [
        ({"instrument_id": "phq99"}, "instrument_id", 400),
        ({"authored_at": "2024-05-01T10:00:00"}, "authored_at", 422),
        ({"authored_at": "yesterday"}, "authored_at", 422),
        ({"authored_at": "2999-01-01T00:00:00Z"}, "authored_at", 400),
        ({"score": 12}, "score", 422),
    ],
)
def test_a_bad_instrument_or_time_is_refused_naming_the_field(practice, nurse, extra, field, status):
    body = {"instrument_id": "phq9", "answers": CALM, **extra}
    response = nurse.post(responses_url(practice), body)
    assert response.status_code == status and field in field_errors(response), response.json()
    assert nothing_stored(practice)


def test_responses_are_listed_newest_first_filtered_and_each_read_is_audited(practice, nurse):
    older = record(nurse, practice, CALM, authored_at=(timezone.now() - timedelta(days=7)).isoformat())
    newer = record(nurse, practice, phq9(12))
    gad = nurse.post(responses_url(practice), {"instrument_id": "gad7", "answers": [1, 1, 1, 1, 1, 1, 1]})
    assert gad.status_code == 201 and gad.json()["score"]["band"] == "mild"
    listed = nurse.get(responses_url(practice), {"instrument_id": "phq9"}).json()
    assert [r["id"] for r in listed["items"]] == [newer["id"], older["id"]] and listed["total"] == 2
    assert listed["items"][0]["score"]["band"] == "moderate"
    assert nurse.get(responses_url(practice)).json()["total"] == 3
    one = nurse.get(f"/responses/{older['id']}")
    assert one.status_code == 200 and one.json()["score"]["total"] == 3
    reads = audit_rows(practice.org.pk, action="read")
    assert [(e.object_type, e.detail.get("purpose")) for e in reads] == [
        ("Patient", "responses"),
        ("Patient", "responses"),
        ("QuestionnaireResponse", None),
    ]
    assert reads[-1].object_id == older["id"] and reads[-1].patient_id == practice.patient.pk
    unknown = nurse.get(responses_url(practice), {"instrument": "phq9"})
    assert unknown.status_code == 422 and "instrument" in field_errors(unknown)


def test_a_response_entered_in_error_leaves_the_list_and_progress_but_stays_on_file(practice, nurse):
    body = record(nurse, practice, phq9(15))
    refused = nurse.post(f"/responses/{body['id']}/entered-in-error", {"reason": "  "})
    assert refused.status_code == 422 and "reason" in field_errors(refused)
    response = nurse.post(f"/responses/{body['id']}/entered-in-error", {"reason": "Wrong patient"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["score"]["total"]) == ("entered-in-error", 15)
    assert nurse.get(responses_url(practice)).json()["items"] == []
    kept = nurse.get(responses_url(practice), {"include_entered_in_error": "true"}).json()["items"]
    assert [r["id"] for r in kept] == [body["id"]]
    assert nurse.get(f"/patients/{practice.patient.pk}/progress").json()["instruments"] == []
    again = nurse.post(f"/responses/{body['id']}/entered-in-error", {"reason": "Twice"})
    assert again.status_code == 422


# Safety alerts --------------------------------------------------------------------------------


def test_phq9_item_nine_raises_an_open_alert_for_the_responsible_clinician_with_a_notification(
    practice, nurse
):
    clinician = practice.staff[Role.PRESCRIBER]
    plan = nurse.put(
        f"/patients/{practice.patient.pk}/measurement-plan",
        {"stage": "induction", "responsible_clinician_id": str(clinician.pk), "instruments": ["phq9"]},
    )
    assert plan.status_code == 200, plan.json()
    assert plan.json()["responsible_clinician"] == {"id": str(clinician.pk), "name": clinician.display_name}
    body = record(nurse, practice, phq9(11, item9=2))
    assert body["score"]["safety_flags"] == ["phq9_item9_self_harm"] and body["safety_alert_id"]
    alert = SafetyAlert.objects.get(pk=body["safety_alert_id"])
    assert (alert.status, alert.assigned_to_id, str(alert.response_id)) == ("open", clinician.pk, body["id"])
    assert alert.flags == [
        {"name": "phq9_item9_self_harm", "message": alert.flags[0]["message"], "item": "9", "value": 2}
    ]
    [note] = Notification.objects.filter(safety_alert=alert)
    assert note.recipient_id == clinician.user_id and note.read_at is None
    assert practice.patient.mrn in note.title

    shown = nurse.get("/safety-alerts", {"status": "open"}).json()
    assert [a["id"] for a in shown["items"]] == [str(alert.pk)]
    item = shown["items"][0]
    assert item["patient"] == {
        "id": str(practice.patient.pk),
        "mrn": practice.patient.mrn,
        "name": practice.patient.display_name,
    }
    assert item["assigned_to"]["id"] == str(clinician.pk) and item["flags"][0]["value"] == 2
    assert nurse.get("/safety-alerts", {"status": "acknowledged"}).json()["total"] == 0
    [listed] = audit_rows(practice.org.pk, action="list", object_type="SafetyAlert")[:1]
    assert listed.detail["shown"] == [str(alert.pk)] and listed.detail["patients"] == [
        str(practice.patient.pk)
    ]
    detail = nurse.get(f"/safety-alerts/{alert.pk}")
    assert detail.status_code == 200 and detail.json()["status"] == "open"
    [read] = audit_rows(practice.org.pk, action="read", object_type="SafetyAlert")
    assert (read.object_id, read.patient_id) == (str(alert.pk), practice.patient.pk)


def test_acknowledging_an_alert_needs_an_action_and_a_note(practice, nurse):
    alert_id = record(nurse, practice, phq9(6, item9=1))["safety_alert_id"]
    url = f"/safety-alerts/{alert_id}/acknowledge"
    refused = nurse.post(url, {})
    assert refused.status_code == 422 and {"action", "note"} <= set(field_errors(refused))
    refused = nurse.post(url, {"action": "phoned", "note": "Spoke to her"})
    assert refused.status_code == 422 and set(field_errors(refused)) == {"action"}
    refused = nurse.post(url, {"action": "contacted_safety_plan", "note": " "})
    assert refused.status_code == 422 and set(field_errors(refused)) == {"note"}
    assert SafetyAlert.objects.get(pk=alert_id).status == "open"

    done = nurse.post(url, {"action": "contacted_safety_plan", "note": "Called; safety plan reviewed."})
    assert done.status_code == 200, done.json()
    body = done.json()
    assert (body["status"], body["action"], body["action_note"]) == (
        "acknowledged",
        "contacted_safety_plan",
        "Called; safety plan reviewed.",
    )
    assert body["acknowledged_at"] and body["acknowledged_by"]
    assert not Notification.objects.filter(safety_alert_id=alert_id, read_at__isnull=True).exists()
    assert nurse.get("/safety-alerts", {"status": "open"}).json()["items"] == []
    assert nurse.post(url, {"action": "known_reviewed", "note": "Again"}).status_code == 422


# Front desk -----------------------------------------------------------------------------------


def test_front_desk_is_refused_every_clinical_endpoint_and_nothing_is_read_or_written(practice, nurse, desk):
    body = record(nurse, practice, phq9(8, item9=1))
    before = audit_rows(practice.org.pk)
    patient = f"/patients/{practice.patient.pk}"
    for path in (
        f"{patient}/responses",
        f"{patient}/progress",
        f"{patient}/measurement-plan",
        f"/responses/{body['id']}",
        "/safety-alerts",
        f"/safety-alerts/{body['safety_alert_id']}",
    ):
        response = desk.get(path)
        assert response.status_code == 403, path
        assert "clinical.view" in field_errors(response)[None]
    for method, path, payload in (
        ("post", f"{patient}/responses", {"instrument_id": "phq9", "answers": CALM}),
        ("put", f"{patient}/measurement-plan", {"stage": "induction"}),
        ("post", f"{patient}/treatments", {"occurred_at": timezone.now().isoformat()}),
        ("post", f"/responses/{body['id']}/entered-in-error", {"reason": "No"}),
        (
            "post",
            f"/safety-alerts/{body['safety_alert_id']}/acknowledge",
            {"action": "known_reviewed", "note": "x"},
        ),
    ):
        response = desk.send(method, path, payload)
        assert response.status_code == 403, path
        assert "clinical.edit" in field_errors(response)[None]
    assert audit_rows(practice.org.pk) == before
    assert QuestionnaireResponse.objects.count() == 1 and not Treatment.objects.exists()
    assert not MeasurementPlan.objects.exists() and SafetyAlert.objects.get().status == "open"


# Progress, plans and treatments ---------------------------------------------------------------


def test_progress_judges_response_and_remission_against_the_baseline_with_reasons(practice, nurse):
    now = timezone.now()
    record(nurse, practice, phq9(18), authored_at=(now - timedelta(days=10)).isoformat())
    treated = nurse.post(
        f"/patients/{practice.patient.pk}/treatments",
        {"occurred_at": (now - timedelta(days=9)).isoformat(), "description": "IV ketamine 0.5 mg/kg"},
    )
    assert treated.status_code == 201, treated.json()
    assert (treated.json()["status"], treated.json()["description"]) == ("given", "IV ketamine 0.5 mg/kg")
    record(nurse, practice, phq9(4), authored_at=(now - timedelta(days=1)).isoformat())

    response = nurse.get(f"/patients/{practice.patient.pk}/progress")
    assert response.status_code == 200
    [phq] = response.json()["instruments"]
    assert phq["instrument"]["id"] == "phq9"
    assert [(p["value"], p["band"]) for p in phq["points"]] == [(18, "moderately severe"), (4, "minimal")]
    assert (phq["baseline"]["value"], phq["latest"]["value"], phq["change"]) == (18, 4, -14)
    assert phq["percent_change"] == pytest.approx(-77.78, abs=0.01)
    assert phq["response_threshold"] == 9 and phq["treatments_given"] == 1
    assert phq["response"]["value"] is True and "18" in phq["response"]["reason"]
    assert phq["remission"]["value"] is True and "4" in phq["remission"]["reason"]
    assert phq["relapse"]["value"] is False and phq["non_response"]["value"] is False
    assert phq["rules"]["response_reduction_percent"] == 50 and phq["rules"]["remission_at_most"] == 4
    assert "below 5" in phq["rules"]["sources"]["remission"] and "baseline" in phq["rules"]["sources"]
    assert any("baseline: PHQ-9 18" in reason for reason in phq["reasons"])
    [read] = audit_rows(practice.org.pk, action="read")
    assert (read.patient_id, read.detail) == (practice.patient.pk, {"purpose": "progress"})


def test_progress_before_any_treatment_cannot_judge_and_says_why(practice, nurse):
    record(nurse, practice, phq9(16))
    [phq] = nurse.get(f"/patients/{practice.patient.pk}/progress").json()["instruments"]
    assert phq["response"] == {"value": None, "reason": "no treatment given yet"}
    assert phq["baseline"]["value"] == 16 and phq["change"] == 0


def test_a_treatment_needs_a_zoned_past_time_and_a_known_status(practice, nurse):
    url = f"/patients/{practice.patient.pk}/treatments"
    later = (timezone.now() + timedelta(days=2)).isoformat()
    for payload, field in (
        ({"occurred_at": later}, "occurred_at"),
        ({"occurred_at": "2025-01-05T09:00:00"}, "occurred_at"),
        ({"occurred_at": timezone.now().isoformat(), "status": "done"}, "status"),
        ({}, "occurred_at"),
    ):
        response = nurse.post(url, payload)
        assert response.status_code == 422 and field in field_errors(response), payload
    assert not Treatment.objects.exists()
    scheduled = nurse.post(url, {"occurred_at": later, "status": "scheduled"})
    assert scheduled.status_code == 201 and scheduled.json()["status"] == "scheduled"


def test_the_measurement_plan_is_empty_until_set_then_lists_what_is_due(practice, nurse):
    url = f"/patients/{practice.patient.pk}/measurement-plan"
    empty = nurse.get(url).json()
    assert empty == {
        "patient_id": str(practice.patient.pk),
        "is_set": False,
        "stage": None,
        "stage_started_at": None,
        "responsible_clinician": None,
        "instruments": [],
        "instruments_planned": [],
        "updated_at": None,
        "due": [],
    }
    body = nurse.put(url, {"stage": "evaluation"}).json()
    assert body["is_set"] and body["stage"] == "evaluation" and body["instruments"] == []
    assert body["instruments_planned"] == ["phq9", "gad7", "cssrs_screener"]
    assert sorted(d["instrument_id"] for d in body["due"]) == ["cssrs_screener", "gad7", "phq9"]
    assert nurse.get(url).json()["due"] == body["due"]
    [event] = audit_rows(practice.org.pk, action="update", object_type="MeasurementPlan")
    assert event.patient_id == practice.patient.pk
    reads = audit_rows(practice.org.pk, action="read", object_type="Patient")
    assert [e.detail for e in reads] == [{"purpose": "measurement plan"}] * 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"stage": "phase-two"}, "stage"),
        ({"stage": "induction", "instruments": ["phq9", "beck"]}, "instruments"),
        ({"stage": "induction", "responsible_clinician_id": "not-an-id"}, "responsible_clinician_id"),
        (
            {"stage": "induction", "responsible_clinician_id": "0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b"},
            "responsible_clinician_id",
        ),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(practice, nurse, payload, field):
    response = nurse.put(f"/patients/{practice.patient.pk}/measurement-plan", payload)
    assert response.status_code == 422 and field in field_errors(response), response.json()
    assert not MeasurementPlan.objects.exists()


def test_front_desk_cannot_be_the_responsible_clinician(practice, nurse):
    desk_member = practice.staff[Role.FRONT_DESK]
    response = nurse.put(
        f"/patients/{practice.patient.pk}/measurement-plan",
        {"stage": "induction", "responsible_clinician_id": str(desk_member.pk)},
    )
    assert response.status_code == 422 and "responsible_clinician_id" in field_errors(response)


# The due list ----------------------------------------------------------------------------------


def test_the_due_list_names_patient_and_instrument_and_separates_overdue(practice, nurse, desk):
    nurse.put(
        f"/patients/{practice.patient.pk}/measurement-plan", {"stage": "evaluation", "instruments": ["phq9"]}
    )
    late = PatientFactory(home_clinic=ClinicFactory(organization=practice.org))
    nurse.put(f"/patients/{late.pk}/measurement-plan", {"stage": "evaluation", "instruments": ["gad7"]})
    MeasureDue.objects.filter(patient=late).update(due_at=timezone.now() - timedelta(days=5))

    due = desk.get("/measures/due")
    assert due.status_code == 200
    [row] = due.json()["items"]
    assert row["patient"] == {
        "id": str(practice.patient.pk),
        "mrn": practice.patient.mrn,
        "name": practice.patient.display_name,
    }
    assert (row["instrument_id"], row["instrument"]) == ("phq9", "PHQ-9") and "evaluation" in row["reason"]
    overdue = desk.get("/measures/due", {"overdue": "true"}).json()["items"]
    assert [(r["patient"]["id"], r["instrument"]) for r in overdue] == [(str(late.pk), "GAD-7")]
    here = desk.get("/measures/due", {"overdue": "true", "clinic_id": str(practice.clinic.pk)}).json()
    assert here["items"] == []
    events = audit_rows(practice.org.pk, action="list", object_type="MeasureDue")
    assert [e.detail["patients"] for e in events] == [[str(practice.patient.pk)], [str(late.pk)], []]
    record(nurse, practice, CALM)
    assert desk.get("/measures/due").json()["items"] == []


# Links ----------------------------------------------------------------------------------------


def test_a_questionnaire_link_is_shown_once_works_and_only_its_hash_is_kept(practice, desk):
    response = desk.post(
        f"/patients/{practice.patient.pk}/questionnaire-links",
        {"instrument_ids": ["phq9", "gad7"], "channel": "sms"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["url"].startswith(f"{settings.KETAFLOW_BASE_URL}/q/") and body["instruments"] == [
        "phq9",
        "gad7",
    ]
    path = urlsplit(body["url"]).path
    token = path.removeprefix("/q/").strip("/")
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (invitation.patient_id, invitation.channel, invitation.used_at) == (
        practice.patient.pk,
        "sms",
        None,
    )
    assert token not in json.dumps(list(Invitation.objects.values()), default=str)
    assert token not in json.dumps([e.detail for e in audit_rows(practice.org.pk)])
    assert abs((invitation.expires_at - timezone.now()) - timedelta(hours=72)) < timedelta(minutes=1)
    [event] = audit_rows(practice.org.pk, action="create", object_type="Invitation")
    assert event.patient_id == practice.patient.pk


def test_the_issued_link_opens_the_patients_questionnaire_page(practice, nurse):
    url = nurse.post(f"/patients/{practice.patient.pk}/questionnaire-links", {"instrument_ids": ["phq9"]})
    page = Client().get(urlsplit(url.json()["url"]).path)
    assert page.status_code == 200 and "better off dead" in page.content.decode()
    assert Invitation.objects.get().used_at is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instrument_ids": []}, "instrument_ids"),
        ({"instrument_ids": ["phq9", "beck"]}, "instrument_ids"),
        ({"instrument_ids": ["madrs"]}, "instrument_ids"),
        ({"instrument_ids": ["phq9"], "channel": "pigeon"}, "channel"),
    ],
)
def test_a_link_for_an_unknown_or_clinician_rated_scale_is_refused(practice, desk, payload, field):
    response = desk.post(f"/patients/{practice.patient.pk}/questionnaire-links", payload)
    assert response.status_code == 422 and field in field_errors(response), response.json()
    assert not Invitation.objects.exists()
