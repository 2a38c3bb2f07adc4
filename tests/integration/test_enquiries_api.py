"""Leads and the public self-screen through the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.enquiries.models import Lead, LeadStatus
from ketaflow.patients.models import Patient
from tests.factories import PatientFactory, StaffFactory
from tests.integration.enquiries_factories import (
    CLEAR_ANSWERS,
    RISK_ANSWERS,
    LeadFactory,
    answers,
    received_at,
)
from tests.integration.test_api_support import API_TEST_MARKS, Api, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS
NOT_FOUND = {"errors": [{"field": None, "message": "Not found."}]}


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def desk(practice):
    return api_as(practice.staff[Role.FRONT_DESK])


@pytest.fixture
def anonymous() -> Api:
    return Api()


def lead_rows(org) -> list:
    return audit_rows(org.pk, object_type="Lead")


# ---------- staff ----------


def test_the_list_is_paged_call_today_first_and_audited_by_ids(practice, desk):
    now = timezone.now()
    calm = received_at(LeadFactory(organization=practice.org, name="Cal Calm"), now - timedelta(hours=1))
    risky = received_at(LeadFactory(organization=practice.org, name="Ria Risky", answers=RISK_ANSWERS),
                        now - timedelta(days=1))
    response = desk.get("/leads", {"page_size": 1})
    body = response.json()
    assert response.status_code == 200
    assert (body["total"], body["pages"], body["page"]) == (2, 2, 1)
    first = body["items"][0]
    assert (first["id"], first["name"], first["call_today"], first["outcome"]) == (
        str(risky.pk), "Ria Risky", True, "talk_to_doctor")
    assert "answers" not in first  # the list is a summary
    assert "status=open" not in body["next"] and "page=2" in body["next"]
    assert desk.get("/leads", {"page": 2, "page_size": 1}).json()["items"][0]["id"] == str(calm.pk)
    shown = [row.detail["shown"] for row in lead_rows(practice.org) if row.action == "list"]
    assert shown == [[str(risky.pk)], [str(calm.pk)]]


def test_the_list_filters_by_status_and_refuses_an_unknown_filter(practice, desk):
    LeadFactory(organization=practice.org, status=LeadStatus.BOOKED)
    LeadFactory(organization=practice.org, status=LeadStatus.CLOSED, closed_reason="Moved away")
    assert [i["status"] for i in desk.get("/leads", {"status": "closed"}).json()["items"]] == ["closed"]
    assert desk.get("/leads").json()["total"] == 1
    assert desk.get("/leads", {"status": "all"}).json()["total"] == 2
    response = desk.get("/leads", {"status": "lost"})
    assert response.status_code == 422 and "status" in field_errors(response)
    response = desk.get("/leads", {"stauts": "closed"})
    assert field_errors(response) == {"stauts": "Unknown query parameter."}


def test_one_lead_carries_its_answers_and_reasons_and_the_read_is_audited(practice, desk):
    lead = LeadFactory(organization=practice.org, answers=answers(substance_use="yes"),
                       preferred_clinic=practice.clinic)
    response = desk.get(f"/leads/{lead.pk}")
    body = response.json()
    assert response.status_code == 200
    assert body["answers"]["substance_use"] == "yes"
    assert body["red_flags"] == ["substance-use"]
    assert body["outcome"] == "talk_to_doctor"
    assert any("alcohol or drug use" in r for r in body["reasons"])
    assert body["preferred_clinic"] == {"id": str(practice.clinic.pk), "name": practice.clinic.name}
    read = lead_rows(practice.org)[-1]
    assert (read.action, read.object_id, read.detail) == ("read", str(lead.pk), {"purpose": "api"})


def test_changing_status_and_assignee_is_audited_by_field_name(practice, desk):
    lead = LeadFactory(organization=practice.org)
    nurse = practice.staff[Role.NURSE]
    response = desk.patch(f"/leads/{lead.pk}", {"status": "booked", "assigned_to_id": str(nurse.pk),
                                                "notes": "Consultation on Tuesday"})
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["assigned_to"]["id"], body["notes"]) == (
        "booked", str(nurse.pk), "Consultation on Tuesday")
    assert body["contacted_at"] is not None
    update = lead_rows(practice.org)[-1]
    assert update.action == "update"
    assert update.detail == {"fields": ["assigned_to_id", "contacted_at", "notes", "status"]}
    cleared = desk.patch(f"/leads/{lead.pk}", {"assigned_to_id": None}).json()
    assert cleared["assigned_to"] is None


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"status": "converted"}, "status", "Use “Register as patient” to convert a lead."),
    ({"status": "closed"}, "closed_reason", "Say why the lead is closed."),
    ({"status": "lost"}, "status", "Choose new, contacted, booked or closed."),
    ({"assigned_to_id": "not-an-id"}, "assigned_to_id", "Enter an id (a UUID)."),
    ({"name": "Renamed"}, "name", "This field is not allowed here."),
])
def test_a_bad_change_is_refused_naming_the_field_and_nothing_changes(practice, desk, body, field, message):
    lead = LeadFactory(organization=practice.org)
    response = desk.patch(f"/leads/{lead.pk}", body)
    assert response.status_code == 422
    assert field_errors(response)[field] == message
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    assert not [row for row in lead_rows(practice.org) if row.action == "update"]


def test_a_therapist_reads_leads_but_cannot_change_them(practice):
    therapist = api_as(practice.staff[Role.THERAPIST])
    lead = LeadFactory(organization=practice.org)
    assert therapist.get(f"/leads/{lead.pk}").status_code == 200
    response = therapist.patch(f"/leads/{lead.pk}", {"notes": "x"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.notes == ""


REGISTRATION = {
    "legal_given_name": "Robin", "legal_family_name": "Examplewood", "date_of_birth": "1990-04-12",
    "phone_mobile": "503-555-0177",
}


def test_converting_registers_the_patient_once_and_links_the_lead(practice, desk):
    lead = LeadFactory(organization=practice.org)
    body = {**REGISTRATION, "home_clinic_id": str(practice.clinic.pk)}
    response = desk.post(f"/leads/{lead.pk}/convert", body)
    assert response.status_code == 201, response.json()
    patient = Patient.objects.get(legal_family_name="Examplewood")
    assert response.json()["patient_id"] == str(patient.pk)
    assert response.json()["status"] == "converted"
    again = desk.post(f"/leads/{lead.pk}/convert", {**body, "confirm_not_duplicate": True})
    assert again.status_code == 422
    assert field_errors(again) == {None: "This lead is already registered as a patient."}
    assert Patient.objects.filter(legal_family_name="Examplewood").count() == 1


def test_converting_a_possible_duplicate_answers_409_with_the_candidates(practice, desk):
    existing = PatientFactory(home_clinic=practice.clinic, legal_given_name="Robin",
                              legal_family_name="Examplewood", date_of_birth="1990-04-12")
    lead = LeadFactory(organization=practice.org)
    body = {**REGISTRATION, "home_clinic_id": str(practice.clinic.pk)}
    response = desk.post(f"/leads/{lead.pk}/convert", body)
    assert response.status_code == 409
    assert [d["id"] for d in response.json()["duplicates"]] == [str(existing.pk)]
    lead.refresh_from_db()
    assert lead.patient_id is None
    assert audit_rows(practice.org.pk, object_type="Patient", action="list")


def test_another_organizations_lead_is_not_found_for_every_operation(practice, stranger, desk):
    theirs = LeadFactory(organization=stranger.org, name="Zed Strangerlead")
    owner = api_as(StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER]))
    for caller in (desk, owner):
        assert caller.get(f"/leads/{theirs.pk}").json() == NOT_FOUND
        assert caller.patch(f"/leads/{theirs.pk}", {"notes": "x"}).json() == NOT_FOUND
        convert = {**REGISTRATION, "home_clinic_id": str(practice.clinic.pk), "confirm_not_duplicate": True}
        assert caller.post(f"/leads/{theirs.pk}/convert", convert).json() == NOT_FOUND
        assert "Zed Strangerlead" not in json.dumps(caller.get("/leads", {"status": "all"}).json())
    assert desk.get("/leads/not-a-uuid").json() == NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.notes == "" and theirs.patient_id is None
    assert not Patient.objects.filter(legal_family_name="Examplewood").exists()
    assert not audit_rows(stranger.org.pk, object_type="Lead")


def test_staff_operations_need_authentication(practice, anonymous):
    lead = LeadFactory(organization=practice.org)
    assert anonymous.get("/leads").status_code == 401
    assert anonymous.get(f"/leads/{lead.pk}").status_code == 401


# ---------- public ----------


def screen_body(org, given=None, **contact) -> dict:
    return {"organization": org.slug, "answers": given or CLEAR_ANSWERS, **contact}


def test_the_public_definition_lists_every_question_without_authentication(anonymous):
    response = anonymous.get("/public/self-screen")
    body = response.json()
    assert response.status_code == 200
    questions = [q for s in body["sections"] for q in s["questions"]]
    assert len(questions) == 11
    conditions = next(q for q in questions if q["id"] == "conditions")
    assert conditions["kind"] == "multi" and conditions["exclusive"] == ["not_sure"]
    assert body["outcomes"] == {"book": "Book a consultation", "talk_to_doctor": "Talk to your doctor first"}


def test_a_public_screen_returns_the_outcome_and_reasons_and_stores_nothing(practice, anonymous):
    response = anonymous.post("/public/self-screen", screen_body(practice.org))
    body = response.json()
    assert response.status_code == 200
    assert (body["outcome"], body["risk_endorsed"], body["lead_received"]) == ("book", False, False)
    assert body["reasons"][0].startswith("Nothing in your answers suggests")
    assert body["crisis_resources"][0]["label"] == "988 Suicide & Crisis Lifeline"
    assert body["not_watched"].startswith("This form is not watched in real time.")
    assert not Lead.objects.exists()
    assert not audit_rows(practice.org.pk, object_type="Lead")


def test_a_public_screen_endorsing_risk_says_so_with_the_crisis_resources(practice, anonymous):
    body = anonymous.post("/public/self-screen", screen_body(practice.org, RISK_ANSWERS)).json()
    assert (body["outcome"], body["risk_endorsed"]) == ("talk_to_doctor", True)
    assert "crisis services" in body["reasons"][0]
    assert [r["href"] for r in body["crisis_resources"]] == ["tel:988", "tel:911"]


def test_a_public_screen_with_details_and_consent_leaves_a_lead(practice, anonymous):
    response = anonymous.post("/public/self-screen", screen_body(
        practice.org, answers(heart_blood_pressure="not_sure"), name="Robin Examplewood",
        phone="503-555-0188", consent_to_contact=True, preferred_clinic_id=str(practice.clinic.pk),
    ))
    assert response.status_code == 201
    assert response.json()["lead_received"] is True
    lead = Lead.objects.get()
    assert (lead.organization_id, lead.phone) == (practice.org.pk, "+15035550188")
    assert lead.outcome == "talk_to_doctor"
    assert lead.preferred_clinic_id == practice.clinic.pk
    created = lead_rows(practice.org)[-1]
    assert (created.action, created.via, created.user_id) == ("create", "public-api", None)


@pytest.mark.parametrize(("extra", "given", "expected"), [
    ({}, answers(pregnancy="maybe"), {"answers.pregnancy": "Choose one of the answers shown."}),
    ({}, {"age_group": "adult"}, {"answers.conditions": "Please answer this question."}),
    ({"name": "Robin"}, CLEAR_ANSWERS, {"consent_to_contact": "Tick the box to let the clinic contact you, "
                                                              "or leave your details out."}),
    ({"name": "Robin", "phone": "123", "consent_to_contact": True}, CLEAR_ANSWERS,
     {"phone": "Enter a phone number with its area code, for example (503) 555-0142."}),
    ({"name": "Robin", "email": "robin@", "consent_to_contact": True}, CLEAR_ANSWERS,
     {"email": "Enter an email address like name@example.com."}),
    ({"name": "Robin", "consent_to_contact": True}, CLEAR_ANSWERS,
     {"phone": "Give a phone number or an email address so the clinic can reach you."}),
    ({"consent_to_contact": "yes"}, CLEAR_ANSWERS, {"consent_to_contact": "Input should be a valid boolean"}),
    ({"favourite": 1}, CLEAR_ANSWERS, {"favourite": "This field is not allowed here."}),
])
def test_a_bad_public_screen_names_each_field_and_stores_nothing(practice, anonymous, extra, given, expected):
    response = anonymous.post("/public/self-screen", screen_body(practice.org, given, **extra))
    assert response.status_code == 422
    found = field_errors(response)
    for field, message in expected.items():
        assert found[field] == message
    assert not Lead.objects.exists()


def test_an_unknown_practice_is_not_found(anonymous, practice):
    body = {"organization": "nobody-here", "answers": CLEAR_ANSWERS}
    response = anonymous.post("/public/self-screen", body)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_public_screen_is_throttled_per_address(practice, anonymous, settings):
    settings.KETAFLOW_PUBLIC_FORM_LIMITS = {"screen": (2, 3600)}
    for _ in range(2):
        assert anonymous.post("/public/self-screen", screen_body(practice.org)).status_code == 200
    response = anonymous.post("/public/self-screen", screen_body(practice.org))
    assert response.status_code == 429
    assert field_errors(response)[None].startswith("Too many forms have been sent from this connection")


def test_the_public_screen_needs_no_csrf_token_even_from_a_signed_in_browser(practice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(practice.staff[Role.FRONT_DESK].user)
    response = browser.post("/api/v1/public/self-screen", json.dumps(screen_body(practice.org)),
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["outcome"] == "book"
    staff_call = browser.patch(f"/api/v1/leads/{LeadFactory(organization=practice.org).pk}",
                               json.dumps({"notes": "x"}), content_type="application/json")
    # The session still needs its CSRF token for staff operations.
    assert staff_call.status_code == 403 and "CSRF" in field_errors(staff_call)[None]
