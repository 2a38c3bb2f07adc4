"""The patient intake through the API: issue, list, read, mark reviewed."""

from __future__ import annotations

import pytest
from django.core import mail

from ketaflow.accounts.roles import Role
from ketaflow.intake.models import Intake
from tests.integration.intake_factories import issue, submitted
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS


@pytest.fixture
def desk(practice):
    return api_as(practice.staff[Role.FRONT_DESK])


@pytest.fixture
def nurse(practice):
    return api_as(practice.staff[Role.NURSE])


def test_issuing_in_person_returns_the_link_once_and_front_desk_may_do_it(practice, desk):
    response = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "in_person"})
    body = response.json()
    assert response.status_code == 201
    assert body["url"].startswith("http") and "/intake/" in body["url"] and body["sent"] is None
    assert body["status"] == "invited" and body["channel"] == "in_person"
    intake = Intake.objects.get(pk=body["id"])
    assert body["url"].rstrip("/").rsplit("/", 1)[1] not in intake.token_hash


def test_issuing_by_email_sends_it_and_returns_no_link(practice, desk):
    practice.patient.email = "jordan.api@example.test"
    practice.patient.save()
    body = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "email"}).json()
    assert body["url"] is None and body["sent"] is True
    assert mail.outbox[0].to == ["jordan.api@example.test"]


def test_issuing_refuses_a_missing_contact_and_an_unknown_channel_on_channel(practice, desk):
    missing = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "email"})
    assert missing.status_code == 422 and "no email address" in field_errors(missing)["channel"]
    unknown = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "fax"})
    assert unknown.status_code == 422 and "channel" in field_errors(unknown)
    extra = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "email", "url": "x"})
    assert field_errors(extra)["url"] == "This field is not allowed here."
    assert not Intake.objects.exists()


def test_the_list_shows_statuses_without_answers_and_is_audited(practice, desk):
    submitted(practice)
    issue(practice)
    response = desk.get(f"/patients/{practice.patient.pk}/intakes")
    body = response.json()
    assert response.status_code == 200 and body["total"] == 2
    assert [item["status"] for item in body["items"]] == ["invited", "submitted"]
    assert "answers" not in body["items"][1] and "medical" in body["items"][1]["sections_answered"]
    assert audit_rows(practice.org.pk, action="read", object_type="Patient", detail__purpose="intakes")
    assert desk.get(f"/patients/{practice.patient.pk}/intakes", {"colour": "red"}).status_code == 422


def test_one_intake_has_its_answers_and_facts_and_the_read_is_audited(practice, nurse):
    intake = submitted(practice)
    response = nurse.get(f"/intakes/{intake.pk}")
    body = response.json()
    assert response.status_code == 200
    assert body["answers"]["medical"]["glaucoma"] == "yes"
    assert (
        body["facts"]["raised_intraocular_pressure"] is True and body["facts"]["psychotic_disorder"] is None
    )
    assert body["adequate_trials"] == 2 and body["medications_answered"] is True
    assert len(body["created_records"]["medications"]) == 2 and body["cssrs_response_id"]
    rows = audit_rows(practice.org.pk, action="read", object_type="Intake", object_id=str(intake.pk))
    assert rows and rows[-1].detail == {"purpose": "api"}


def test_front_desk_cannot_read_the_answers_and_no_read_is_recorded(practice, desk):
    intake = submitted(practice)
    assert desk.get(f"/intakes/{intake.pk}").status_code == 403
    assert not audit_rows(practice.org.pk, action="read", object_type="Intake")


def test_marking_reviewed_through_the_api(practice, nurse, desk):
    intake = submitted(practice)
    assert desk.post(f"/intakes/{intake.pk}/reviewed").status_code == 403
    body = nurse.post(f"/intakes/{intake.pk}/reviewed").json()
    assert body["reviewed_at"] and body["reviewed_by"]
    again = nurse.post(f"/intakes/{intake.pk}/reviewed")
    assert again.status_code == 422 and "already" in field_errors(again)[None]


def test_another_organizations_patient_and_intake_are_not_found(practice, stranger, nurse):
    theirs = submitted(stranger)
    for response in (
        nurse.post(f"/patients/{stranger.patient.pk}/intakes", {"channel": "in_person"}),
        nurse.post(f"/patients/{stranger.patient.pk}/intakes", {"channel": "sms"}),
        nurse.get(f"/patients/{stranger.patient.pk}/intakes"),
        nurse.get(f"/intakes/{theirs.pk}"),
        nurse.post(f"/intakes/{theirs.pk}/reviewed"),
        nurse.get("/intakes/not-a-uuid"),
    ):
        assert response.status_code == 404 and field_errors(response) == {None: "Not found."}
    assert Intake.objects.get(pk=theirs.pk).reviewed_at is None
    assert Intake.objects.filter(patient=practice.patient).count() == 0


def test_text_messages_not_set_up_is_a_422_on_the_channel_and_another_organizations_patient_a_404(
    practice, stranger, desk, settings
):
    settings.KETAFLOW_SMS_BACKEND = ""
    refused = desk.post(f"/patients/{practice.patient.pk}/intakes", {"channel": "sms"})
    assert refused.status_code == 422 and "not set up" in field_errors(refused)["channel"]
    assert desk.post(f"/patients/{stranger.patient.pk}/intakes", {"channel": "sms"}).status_code == 404
    assert not Intake.objects.exists()
