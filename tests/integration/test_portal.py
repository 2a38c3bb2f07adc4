"""The patient portal: invitation, activation, sign-in, questionnaires due, progress, and its walls."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.models import MeasureDue, QuestionnaireResponse, SafetyAlert
from ketaflow.measurement.responses import record_response
from ketaflow.measurement.schedule import record_treatment, set_plan
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import invite_to_portal
from ketaflow.validation import ValidationFailed
from tests.factories import actor_of
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of

pytestmark = PAGE_TEST_MARKS

PASSWORD = "a quiet lake at dawn 42"
PHQ9_MILD = {f"phq9.{i}": "1" for i in range(1, 10)} | {"phq9.9": "0"}


def invite(practice, email="avery.portal@example.test") -> str:
    """Give the practice's patient an email, invite them as a nurse, return the emailed link's path."""
    patient = practice.patient
    patient.email = email
    patient.save()
    mail.outbox.clear()
    invite_to_portal(actor_of(practice.staff[Role.NURSE]), patient.pk)
    link = re.search(r"https?://[^/\s]+(/portal/activate/[^/\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    return link.group(1)


def activated(practice, email="avery.portal@example.test") -> Client:
    """A patient who accepted the invitation and signed in."""
    path = invite(practice, email)
    Client().post(path, {"password": PASSWORD, "confirm": PASSWORD})
    client = Client()
    response = client.post("/portal/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/", text_of(response)
    return client


def with_history(practice) -> None:
    """PHQ-9 18 before the first treatment, 7 after; a MADRS (clinician-rated) too; PHQ-9 and GAD-7 due."""
    nurse = actor_of(practice.staff[Role.NURSE])
    patient = practice.patient
    now = timezone.now()
    record_response(nurse, patient.pk, "phq9", [3, 3, 2, 2, 2, 2, 2, 2, 0],
                    authored_at=now - timedelta(days=20))
    record_response(nurse, patient.pk, "madrs", [3] * 10, authored_at=now - timedelta(days=20))
    record_treatment(nurse, patient.pk, occurred_at=now - timedelta(days=19))
    record_response(nurse, patient.pk, "phq9", [1, 1, 1, 1, 1, 1, 1, 0, 0],
                    authored_at=now - timedelta(days=2))
    set_plan(nurse, patient.pk, stage="evaluation", instruments=["phq9", "gad7", "madrs"])


# ---------- invitation and activation ----------


def test_an_invitation_emails_a_single_use_link_and_stores_only_its_hash(practice):
    path = invite(practice)
    message = mail.outbox[0]
    assert message.to == ["avery.portal@example.test"]
    assert practice.clinic.name in message.body and "72 hours" in message.body
    assert practice.patient.legal_family_name not in message.body
    token = path.split("/")[3]
    account = PortalAccount.objects.get(patient=practice.patient)
    assert account.invite_token_hash and token not in account.invite_token_hash
    assert account.user.username == "avery.portal@example.test"
    assert not account.user.has_usable_password()
    assert not hasattr(account.user, "staff")
    assert account.invite_expires_at - timezone.now() > timedelta(hours=71)


def test_staff_invite_from_the_chart_and_return_to_it_with_a_message(practice):
    practice.patient.email = "casey.portal@example.test"
    practice.patient.save()
    client = signed_in(practice.staff[Role.FRONT_DESK])
    response = client.post(f"/portal/invite/{practice.patient.pk}/", follow=True)
    assert response.redirect_chain[0][0] == f"/patients/{practice.patient.pk}/"
    assert "Portal invitation emailed." in text_of(response)
    assert len(mail.outbox) == 1


def test_inviting_needs_edit_demographics_and_an_email_address(practice, stranger):
    therapist = signed_in(practice.staff[Role.THERAPIST])
    assert therapist.post(f"/portal/invite/{practice.patient.pk}/").status_code == 403
    nurse = signed_in(practice.staff[Role.NURSE])
    response = nurse.post(f"/portal/invite/{practice.patient.pk}/", follow=True)
    refused = "No invitation was sent: Add the patient&#x27;s email address before inviting them."
    assert refused in text_of(response)
    assert nurse.post(f"/portal/invite/{stranger.patient.pk}/").status_code == 404
    assert not PortalAccount.objects.exists()


def test_an_email_already_used_by_a_login_cannot_be_invited(practice):
    practice.patient.email = practice.staff[Role.NURSE].user.username
    practice.patient.save()
    with pytest.raises(ValidationFailed, match="already signs in"):
        invite_to_portal(actor_of(practice.staff[Role.NURSE]), practice.patient.pk)


def test_activation_applies_the_password_rules_then_spends_the_link(practice):
    path = invite(practice)
    page = Client().get(path)
    assert "avery.portal@example.test" in text_of(page)
    assert page["Referrer-Policy"] == "no-referrer"
    assert "Sign out" not in text_of(page)
    weak = Client().post(path, {"password": "short", "confirm": "short"})
    assert "This password is too short." in text_of(weak)
    mismatch = Client().post(path, {"password": PASSWORD, "confirm": PASSWORD + "x"})
    assert "The two passwords do not match." in text_of(mismatch)
    done = Client().post(path, {"password": PASSWORD, "confirm": PASSWORD}, follow=True)
    assert "Your password is set. Sign in with your email address." in text_of(done)
    again = Client().get(path)
    assert again.status_code == 410
    assert "This link has expired or has already been used." in text_of(again)
    assert practice.patient.legal_family_name not in again.content.decode()


def test_activation_works_from_a_browser_that_sends_a_null_origin(practice):
    path = invite(practice)
    client = Client(enforce_csrf_checks=True)
    done = client.post(path, {"password": PASSWORD, "confirm": PASSWORD}, headers={"Origin": "null"})
    assert done.status_code == 302 and done["Location"] == "/portal/login/"


def test_an_expired_invitation_cannot_set_a_password(practice):
    path = invite(practice)
    PortalAccount.objects.update(invite_expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().post(path, {"password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 410
    assert not PortalAccount.objects.get().user.has_usable_password()


# ---------- sign-in ----------


def test_the_portal_sign_in_page_asks_for_email_and_shows_crisis_resources(db):
    response = Client().get("/portal/login/")
    html = response.content.decode()
    assert '<label for="id_username">Email address' in html
    assert '<a class="crisis-link" href="tel:988">' in html
    assert "staff" not in text_of(response).lower()


def test_staff_cannot_sign_in_to_the_portal_and_patients_before_activation_cannot_either(practice):
    nurse = practice.staff[Role.NURSE]
    response = Client().post("/portal/login/", {"username": nurse.user.username,
                                                "password": "correct-horse-battery"})
    assert "That email address and password do not match a portal account." in text_of(response)
    invite(practice)
    pending = Client().post("/portal/login/", {"username": "avery.portal@example.test", "password": PASSWORD})
    assert "That email address and password do not match a portal account." in text_of(pending)


def test_repeated_failed_portal_sign_ins_lock_the_account_out(practice):
    invite(practice)
    client = Client()
    for _ in range(5):
        client.post("/portal/login/", {"username": "avery.portal@example.test", "password": "wrong"})
    locked = client.post("/portal/login/", {"username": "avery.portal@example.test", "password": PASSWORD})
    assert "Too many sign-in attempts" in text_of(locked)


# ---------- the signed-in patient ----------


def test_home_lists_only_the_patient_reported_questionnaires_due(practice):
    with_history(practice)
    client = activated(practice)
    response = client.get("/portal/")
    text = text_of(response)
    html = response.content.decode()
    assert f"Hello, {practice.patient.legal_given_name}" in text
    assert "Questionnaires due" in text
    assert 'href="/portal/questionnaires/phq9/"' in html and 'href="/portal/questionnaires/gad7/"' in html
    assert "madrs" not in html.lower()
    assert '<a class="crisis-link" href="tel:988">' in html
    assert "Sign out" in text


def test_my_progress_shows_the_chart_band_and_a_plain_language_change(practice):
    with_history(practice)
    response = activated(practice).get("/portal/progress/")
    text = text_of(response)
    html = response.content.decode()
    assert "Your PHQ-9 has gone from 18 to 7." in text
    assert "Latest score: 7 (mild)" in text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="kf-chart"' in html
    assert "MADRS" not in text and "Montgomery" not in text
    assert not re.search(r"\sstyle=", html)


def test_every_portal_read_is_audited_as_the_patient(practice):
    with_history(practice)
    client = activated(practice)
    client.get("/portal/")
    client.get("/portal/progress/")
    user_id = PortalAccount.objects.get().user_id
    reads = AuditEvent.objects.filter(patient_id=practice.patient.pk, user_id=user_id, action="read")
    purposes = {e.detail.get("purpose") for e in reads}
    assert {"portal:due", "portal:progress"} <= purposes
    assert {e.username for e in reads} == {"patient:portal"}
    assert AuditEvent.objects.filter(user_id=user_id, action="login").exists()


def test_answering_in_the_portal_stores_with_source_portal_and_shows_the_crisis_message(practice):
    with_history(practice)
    client = activated(practice)
    form = client.get("/portal/questionnaires/phq9/")
    assert 'name="phq9.9"' in form.content.decode()
    without_three = {k: v for k, v in PHQ9_MILD.items() if k != "phq9.3"}
    missing = client.post("/portal/questionnaires/phq9/", without_three)
    assert "PHQ-9 question 3: Please choose an answer to this question." in text_of(missing)
    done = client.post("/portal/questionnaires/phq9/", PHQ9_MILD | {"phq9.9": "1"})
    text = text_of(done)
    assert "Your answers are not read in real time." in text and "988" in text
    stored = QuestionnaireResponse.objects.filter(patient=practice.patient, source="portal").get()
    assert stored.instrument_id == "phq9"
    assert stored.recorded_by_id == PortalAccount.objects.get().user_id
    assert SafetyAlert.objects.filter(patient=practice.patient, response=stored).exists()
    assert not MeasureDue.objects.filter(patient=practice.patient, instrument_id="phq9",
                                         status="open", due_at__lte=timezone.now()).exists()
    assert client.get("/portal/questionnaires/phq9/").status_code == 404


def test_a_questionnaire_not_due_or_clinician_rated_cannot_be_answered(practice):
    with_history(practice)
    client = activated(practice)
    assert client.get("/portal/questionnaires/madrs/").status_code == 404
    assert client.post("/portal/questionnaires/pcl5/", {"pcl5.1": "1"}).status_code == 404
    assert not QuestionnaireResponse.objects.filter(source="portal").exists()


def test_signing_out_ends_the_portal_session(practice):
    client = activated(practice)
    response = client.post("/portal/logout/", follow=True)
    assert "You are signed out." in text_of(response)
    assert client.get("/portal/")["Location"].startswith("/portal/login/")


# ---------- the walls ----------


def test_a_patient_cannot_open_staff_pages_or_the_api(practice):
    client = activated(practice)
    for url in ("/", "/patients/", f"/patients/{practice.patient.pk}/", "/audit/", "/staff/",
                "/account/two-factor/setup/", f"/measures/patients/{practice.patient.pk}/summary.pdf"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert response["Location"] == "/portal/", url
    api = client.get("/api/v1/me")
    assert api.status_code in (401, 403)
    assert practice.patient.mrn not in api.content.decode()
    assert client.get("/api/v1/patients").status_code in (401, 403)
    assert client.post(f"/portal/invite/{practice.patient.pk}/").status_code in (302, 403)


def test_staff_signed_in_see_no_patient_data_in_the_portal(practice):
    with_history(practice)
    response = signed_in(practice.staff[Role.OWNER]).get("/portal/")
    assert response.status_code == 403
    assert "This is the patient portal" in text_of(response)
    assert practice.patient.legal_family_name not in response.content.decode()


def test_a_portal_user_sees_only_their_own_organizations_data(practice, stranger):
    with_history(practice)
    with_history(stranger)
    mine = activated(practice, "mine@example.test")
    activated(stranger, "theirs@example.test")
    home = mine.get("/portal/").content.decode() + mine.get("/portal/progress/").content.decode()
    assert stranger.clinic.name not in home and stranger.patient.legal_given_name + " " not in home
    assert practice.clinic.name in home
    mine.post("/portal/questionnaires/phq9/", PHQ9_MILD)
    assert QuestionnaireResponse.objects.filter(patient=practice.patient, source="portal").count() == 1
    assert not QuestionnaireResponse.objects.filter(patient=stranger.patient, source="portal").exists()
    theirs_events = AuditEvent.objects.filter(organization=stranger.org, username="patient:portal",
                                              action="read")
    my_user = PortalAccount.objects.get(patient=practice.patient).user_id
    assert not theirs_events.filter(user_id=my_user).exists()
