"""The single-use questionnaire link pages a patient opens on their phone (no sign-in)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.library import settings_for
from ketaflow.measurement.links import issue_link
from ketaflow.measurement.models import Invitation, QuestionnaireResponse, SafetyAlert
from tests.factories import actor_of
from tests.integration.pages import PAGE_TEST_MARKS, text_of

pytestmark = PAGE_TEST_MARKS

PHQ9_NO_RISK = {f"phq9.{i}": "1" for i in range(1, 10)} | {"phq9.9": "0"}
CSSRS_ALL_NO = {"cssrs_screener.1": "0", "cssrs_screener.2": "0", "cssrs_screener.6": "0"}
UNAVAILABLE = "This link has expired or has already been used. Please contact your clinic for a new one."


@pytest.fixture
def link(practice):
    """A live link for PHQ-9 and the C-SSRS screener, issued by a nurse."""
    practice.clinic.name = "Juniper Ketamine Clinic"
    practice.clinic.save()
    return issue_link(actor_of(practice.staff[Role.NURSE]), practice.patient.pk, ["phq9", "cssrs_screener"])


def no_inline_code(html: str) -> bool:
    return not (re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) or re.search(r"\sstyle=", html)
                or re.search(r"\son[a-z]+=", html))


def test_the_link_page_names_the_clinic_only_and_asks_each_question_as_large_radio_options(practice, link):
    response = Client().get(link.path)
    html = response.content.decode()
    text = text_of(response)
    assert response.status_code == 200
    assert "Juniper Ketamine Clinic" in text
    patient = practice.patient
    for identifier in (patient.legal_family_name, patient.legal_given_name, patient.mrn, practice.org.name):
        assert identifier not in html
    assert "Over the last 2 weeks, how often have you been bothered" in text
    assert "Have you actually had any thoughts of killing yourself?" in text
    assert re.search(r'<fieldset class="question" id="q-phq9-9"[^>]*>\s*'
                     r'<legend class="question__text"><span class="question__number">9\.</span> '
                     r'Thoughts that you would be better off dead', html)
    assert ('<label class="choice" for="q-phq9-9-3"><input type="radio" id="q-phq9-9-3" name="phq9.9" '
            'value="3"> <span>Nearly every day</span></label>') in html
    assert html.count('type="submit"') == 1
    assert no_inline_code(html)


def test_the_link_page_is_never_cached_and_sends_no_referrer(link):
    response = Client().get(link.path)
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert '<meta name="referrer" content="no-referrer">' in response.content.decode()


def test_a_browser_posting_with_no_referrer_and_a_null_origin_is_accepted(practice, link):
    """With `Referrer-Policy: no-referrer` browsers send `Origin: null`; the token is the proof."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO, headers={"Origin": "null"})
    assert "Thank you, your answers have been sent." in text_of(response)


def test_conditional_cssrs_questions_say_to_answer_only_after_a_yes_to_question_two(link):
    html = Client().get(link.path).content.decode()
    for item in ("3", "4", "5"):
        block = html.split(f'id="q-cssrs_screener-{item}"')[1].split("</fieldset>")[0]
        assert "Answer only if you answered yes to question 2." in block
    first = html.split('id="q-cssrs_screener-1"')[1].split("</fieldset>")[0]
    assert "Answer only if" not in first


def test_answers_sent_through_the_form_are_stored_as_from_the_link_and_the_thanks_give_crisis_help(
    practice, link
):
    response = Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    text = text_of(response)
    assert response.status_code == 200
    assert "Thank you, your answers have been sent." in text
    assert ("Your answers are not read in real time. If you are thinking about harming yourself or are in "
            "danger, get help now:") in text
    assert "988 Suicide &amp; Crisis Lifeline Call or text 988" in text
    assert '<a class="crisis-link" href="tel:988">' in response.content.decode()
    stored = QuestionnaireResponse.objects.filter(patient=practice.patient).order_by("instrument_id")
    assert [(r.instrument_id, r.source) for r in stored] == [("cssrs_screener", "link"), ("phq9", "link")]
    phq9 = stored.get(instrument_id="phq9")
    assert phq9.observations.get(key="total").value == 8
    assert not SafetyAlert.objects.filter(patient=practice.patient).exists()
    assert Invitation.objects.get(pk=link.invitation.pk).used_at is not None


def test_the_thank_you_lists_the_clinics_own_crisis_resources(practice, link):
    config = settings_for(practice.org.pk)
    config.crisis_resources = [{"label": "Samaritans", "contact": "Call 116 123", "href": "tel:116123"},
                               {"label": "Bad link", "contact": "x", "href": "javascript:alert(1)"}]
    config.save()
    response = Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    html = response.content.decode()
    assert '<a class="crisis-link" href="tel:116123">' in html
    assert "Samaritans" in text_of(response)
    assert "javascript:" not in html


def test_item_nine_answered_above_zero_raises_a_safety_alert(practice, link):
    Client().post(link.path, PHQ9_NO_RISK | {"phq9.9": "2"} | CSSRS_ALL_NO)
    alert = SafetyAlert.objects.get(patient=practice.patient)
    assert alert.instrument_id == "phq9"
    assert alert.flags[0]["item"] == "9" and alert.flags[0]["value"] == 2


def test_a_missing_answer_names_the_item_keeps_the_answers_and_stores_nothing(practice, link):
    answers = PHQ9_NO_RISK | CSSRS_ALL_NO
    del answers["phq9.9"]
    response = Client().post(link.path, answers)
    html = response.content.decode()
    text = text_of(response)
    assert "One question needs an answer; nothing was sent yet" in text
    assert "PHQ-9 question 9: Please choose an answer to this question." in text
    block = html.split('id="q-phq9-9"')[1].split("</fieldset>")[0]
    error = '<p class="question__error" id="q-phq9-9-error">Please choose an answer to this question.</p>'
    assert error in block
    assert 'id="q-phq9-1-1" name="phq9.1" value="1" checked' in html
    assert 'id="q-cssrs_screener-2-0" name="cssrs_screener.2" value="0" checked' in html
    assert not QuestionnaireResponse.objects.filter(patient=practice.patient).exists()
    assert Invitation.objects.get(pk=link.invitation.pk).used_at is None
    assert no_inline_code(html)


def test_an_answer_that_is_not_one_of_the_options_is_refused_beside_its_question(practice, link):
    response = Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO | {"phq9.4": "7", "phq9.5": "lots"})
    text = text_of(response)
    assert "PHQ-9 question 4: Please choose one of the answers shown." in text
    assert not QuestionnaireResponse.objects.filter(patient=practice.patient).exists()


def test_a_yes_to_question_two_makes_questions_three_to_five_required(practice, link):
    response = Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO | {"cssrs_screener.2": "1"})
    text = text_of(response)
    for number in (3, 4, 5):
        assert f"C-SSRS screener question {number}: Please choose an answer to this question." in text
    assert not QuestionnaireResponse.objects.filter(patient=practice.patient).exists()


def unavailable_page_hides_everything(practice, response) -> None:
    html = response.content.decode()
    assert response.status_code == 410
    assert UNAVAILABLE in text_of(response)
    patient = practice.patient
    for secret in (patient.legal_family_name, patient.mrn, practice.clinic.name, practice.org.name):
        assert secret not in html
    assert '<a class="crisis-link" href="tel:988">' in html
    assert '<a class="crisis-link" href="tel:911">' in html


def test_a_used_link_shows_the_same_unavailable_page_naming_no_one(practice, link):
    Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    unavailable_page_hides_everything(practice, Client().get(link.path))
    again = Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    unavailable_page_hides_everything(practice, again)
    assert QuestionnaireResponse.objects.filter(patient=practice.patient).count() == 2


def test_an_expired_link_shows_the_same_unavailable_page(practice, link):
    Invitation.objects.filter(pk=link.invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    unavailable_page_hides_everything(practice, Client().get(link.path))
    unavailable_page_hides_everything(practice, Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO))
    assert not QuestionnaireResponse.objects.filter(patient=practice.patient).exists()


def test_an_unknown_link_shows_the_same_unavailable_page(practice):
    response = Client().get("/q/not-a-real-token/")
    unavailable_page_hides_everything(practice, response)
    assert response["Referrer-Policy"] == "no-referrer"


def test_answering_by_link_is_audited_as_the_patient(practice, link):
    Client().post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    events = AuditEvent.objects.filter(patient_id=practice.patient.pk, object_type="QuestionnaireResponse")
    assert {e.username for e in events} == {"patient:patient-link"}


@pytest.mark.parametrize("page", ["form", "error", "thanks", "unavailable"])
def test_every_link_page_carries_the_crisis_footer(practice, link, page):
    client = Client()
    if page == "form":
        response = client.get(link.path)
    elif page == "error":
        response = client.post(link.path, {})
    elif page == "thanks":
        response = client.post(link.path, PHQ9_NO_RISK | CSSRS_ALL_NO)
    else:
        response = client.get("/q/unknown/")
    html = response.content.decode()
    footer = html.split('<footer class="crisis-footer"')[1]
    assert "Need help now?" in footer
    assert 'href="tel:988"' in footer
    assert no_inline_code(html)
