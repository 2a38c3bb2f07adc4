"""The staff side of the intake: the chart tab, sending the link (front desk too), marking reviewed."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.intake.models import Intake
from ketaflow.measurement.sms import MemorySMSBackend
from tests.integration.intake_factories import CSSRS_LOW, answers, issue, submitted
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def tab(practice, role=Role.NURSE):
    return signed_in(practice.staff[role]).get(f"/patients/{practice.patient.pk}/intake/")


# ---------- the chart tab ----------


def test_the_tab_offers_to_send_the_form_when_none_was_sent(practice):
    response = tab(practice)
    text = text_of(response)
    assert response.status_code == 200
    assert "No intake form has been sent to this patient." in text
    assert "Send the intake link" in text and "The link works for 7 days" in text


def test_the_tab_shows_an_open_intake_with_its_expiry(practice):
    issue(practice)
    text = text_of(tab(practice))
    assert "Sent, not started" in text and "Link given in person on" in text and "works until" in text
    assert "Send the link again" in text


def test_the_tab_shows_the_submitted_answers_by_section_and_marks_patient_reported_entries(practice):
    submitted(practice)
    response = tab(practice)
    text = text_of(response)
    assert "Submitted on" in text and "Not reviewed yet" in text and "Mark the intake reviewed" in text
    assert "Physical health" in text and "Glaucoma or raised pressure in the eyes Yes" in text
    assert "Added to the chart from the intake" in text
    assert re.search(r"Xanax 0\.5 mg · at night Patient-reported benzodiazepine", text)
    assert "Penicillin · Hives Patient-reported" in text
    assert "Raised intraocular pressure Yes" in text and "Arteriovenous malformation Not known" in text
    assert "Adequate antidepressant trials reported: 2" in text
    to_check = text.split("Answers to check:")[1].split("What the patient reports")[0]
    assert "Glaucoma or raised pressure in the eyes: Yes" in to_check
    assert "responsible adult" not in to_check  # a "yes" to home support is not a concern
    read = AuditEvent.objects.filter(action="read", object_type="Intake", detail__purpose="chart:intake")
    assert read.count() == 1 and read[0].patient_id == practice.patient.pk


def test_the_tab_puts_a_yes_to_thoughts_of_death_first(practice):
    submitted(practice, answers(mental_health={"cssrs": dict(CSSRS_LOW)}))
    text = text_of(tab(practice))
    assert "C-SSRS screener (patient-reported): low risk." in text
    assert "answered yes to wishing to be dead or to thoughts of suicide" in text


def test_front_desk_sees_the_status_and_send_form_but_no_answers_and_cannot_mark_reviewed(practice):
    submitted(practice, answers(medications={"medications": [{"name": "Kumquatine 5 mg", "dose": ""}]}))
    front_desk_text = text_of(tab(practice, Role.FRONT_DESK))
    assert "Submitted" in front_desk_text and "Send the intake form" in front_desk_text
    assert "Kumquatine" not in front_desk_text and "Answers submitted" not in front_desk_text
    assert "Mark the intake reviewed" not in front_desk_text
    intake = Intake.objects.get()
    therapist_text = text_of(tab(practice, Role.THERAPIST))
    assert "Mark the intake reviewed" in therapist_text  # therapists hold EDIT_CLINICAL
    assert (
        signed_in(practice.staff[Role.FRONT_DESK]).post(f"/intake/reviewed/{intake.pk}/").status_code == 403
    )
    assert Intake.objects.get().reviewed_at is None


def test_marking_reviewed_returns_to_the_tab_with_who_and_when(practice):
    intake = submitted(practice)
    client = signed_in(practice.staff[Role.PRESCRIBER])
    response = client.post(f"/intake/reviewed/{intake.pk}/", follow=True)
    text = text_of(response)
    assert response.redirect_chain[0][0] == f"/patients/{practice.patient.pk}/intake/"
    assert "The intake is marked reviewed." in text and "Reviewed by" in text
    assert Intake.objects.get().reviewed_by_id == practice.staff[Role.PRESCRIBER].user_id


# ---------- sending the link ----------


def test_front_desk_sends_in_person_and_sees_the_link_and_qr_code_once(practice):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    response = client.post(f"/intake/patients/{practice.patient.pk}/issue/", {"channel": "in_person"})
    html = response.content.decode()
    text = text_of(response)
    assert response.status_code == 200 and "Give this link to the patient now" in text
    link = re.search(r'id="intake-issued-link">http://[^/]+(/intake/[^/<]+/)<', html)
    assert link and "<svg" in html and 'aria-label="QR code of the intake link"' in html
    intake = Intake.objects.get()
    assert link.group(1).split("/")[2] not in (intake.token_hash or "")
    assert "Glaucoma" not in text  # front desk sees no answers
    assert AuditEvent.objects.filter(action="create", object_type="Intake").count() == 1


def test_a_nurse_sends_by_email_from_the_tab_and_the_message_names_the_clinic_only(practice):
    practice.patient.email = "riley.intake@example.test"
    practice.patient.save()
    response = signed_in(practice.staff[Role.NURSE]).post(
        f"/intake/patients/{practice.patient.pk}/issue/", {"channel": "email"}
    )
    assert "The link was sent by email to the address on file." in text_of(response)
    assert "Intake form" in text_of(response)  # back on the chart's tab
    message = mail.outbox[0]
    assert message.to == ["riley.intake@example.test"] and practice.clinic.name in message.subject
    assert practice.patient.legal_family_name not in message.body and "7 days" in message.body
    assert re.search(r"http://[^/\s]+/intake/[^/\s]+/", message.body) and "988" in message.body


def test_sending_by_text_message_uses_the_sms_backend(practice, settings):
    settings.KETAFLOW_SMS_BACKEND = "ketaflow.measurement.sms.MemorySMSBackend"
    MemorySMSBackend.outbox.clear()
    response = signed_in(practice.staff[Role.FRONT_DESK]).post(
        f"/intake/patients/{practice.patient.pk}/issue/", {"channel": "sms"}
    )
    assert "sent by text message to the mobile number" in text_of(response)
    assert MemorySMSBackend.outbox[0].to == practice.patient.phone_mobile
    assert "/intake/" in MemorySMSBackend.outbox[0].body


def test_sending_without_the_contact_shows_the_reason_beside_the_choice(practice):
    response = signed_in(practice.staff[Role.FRONT_DESK]).post(
        f"/intake/patients/{practice.patient.pk}/issue/", {"channel": "email"}
    )
    html = response.content.decode()
    assert re.search(r'id="intake-channel-error"><li>There is no email address on file', html)
    assert not Intake.objects.exists()


def test_another_organizations_patient_and_intake_are_not_found(practice, stranger):
    client = signed_in(practice.staff[Role.NURSE])
    assert (
        client.post(f"/intake/patients/{stranger.patient.pk}/issue/", {"channel": "in_person"}).status_code
        == 404
    )
    assert (
        client.post(f"/intake/patients/{stranger.patient.pk}/issue/", {"channel": "sms"}).status_code == 404
    )
    theirs = submitted(stranger)
    assert client.post(f"/intake/reviewed/{theirs.pk}/").status_code == 404
    assert client.get(f"/patients/{stranger.patient.pk}/intake/").status_code == 404
    assert Intake.objects.filter(patient=practice.patient).count() == 0
    assert Intake.objects.get(pk=theirs.pk).reviewed_at is None


def test_sending_needs_a_post(practice):
    assert (
        signed_in(practice.staff[Role.NURSE])
        .get(f"/intake/patients/{practice.patient.pk}/issue/")
        .status_code
        == 405
    )


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.THERAPIST])
def test_every_role_with_demographics_may_send_the_form(practice, role):
    response = signed_in(practice.staff[role]).post(
        f"/intake/patients/{practice.patient.pk}/issue/", {"channel": "in_person"}
    )
    assert response.status_code == 200 and "Give this link to the patient now" in text_of(response)
