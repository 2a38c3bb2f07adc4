"""The practice's public page and self-screen, signed out: outcomes, crisis resources, leaving details."""

from __future__ import annotations

import html
import logging
import re

import pytest
from django.core.cache import cache
from django.test import Client

from ketaflow.audit.models import AuditEvent
from ketaflow.clinics.models import Clinic
from ketaflow.enquiries.models import Lead, LeadStatus
from ketaflow.measurement.library import settings_for
from tests.factories import ClinicFactory
from tests.integration.enquiries_factories import (
    CLEAR_ANSWERS,
    RISK_ANSWERS,
    answers,
    contact_data,
    form_data,
)
from tests.integration.pages import PAGE_TEST_MARKS, text_of

pytestmark = PAGE_TEST_MARKS

NOT_WATCHED = "This form is not watched in real time."


def words(response) -> str:
    """The page's text, entities decoded (so "&" reads as "&")."""
    return html.unescape(text_of(response))


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def visitor() -> Client:
    return Client()


@pytest.fixture
def org(practice):
    Clinic.objects.filter(pk=practice.clinic.pk).update(
        name="Harbor Downtown", address_line1="12 Example Street", city="Portland", region="OR",
        phone="+15035550100",
    )
    return practice.org


def screen_url(org) -> str:
    return f"/c/{org.slug}/self-screen/"


def contact_url(org) -> str:
    return f"/c/{org.slug}/self-screen/contact/"


def submit_screen(client: Client, org, given: dict) -> object:
    return client.post(screen_url(org), form_data(given))


def leave_details(client: Client, org, given: dict, **contact) -> object:
    return client.post(contact_url(org), {**form_data(given), **contact_data(**contact)})


def position(text: str, phrase: str) -> int:
    found = text.find(phrase)
    assert found >= 0, f"{phrase!r} not on the page"
    return found


# ---------- the public page ----------


def test_the_public_page_shows_the_practice_its_clinics_and_a_way_to_the_self_screen(visitor, org):
    response = visitor.get(f"/c/{org.slug}/")
    text = words(response)
    assert response.status_code == 200
    assert "Harbor Practice" in text
    assert "Harbor Downtown" in text and "12 Example Street, Portland, OR" in text
    assert "(503) 555-0100" in text
    assert "it is not right for everyone" in text
    assert f'href="/c/{org.slug}/self-screen/"' in response.content.decode()
    assert "988 Suicide & Crisis Lifeline" in text  # the footer's crisis resources
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_the_public_page_lists_only_open_clinics(visitor, org, practice):
    ClinicFactory(organization=org, name="Closed Annex", is_active=False)
    assert "Closed Annex" not in words(visitor.get(f"/c/{org.slug}/"))


def test_an_unknown_practice_is_not_found(visitor, org):
    assert visitor.get("/c/no-such-practice/").status_code == 404
    assert visitor.get("/c/no-such-practice/self-screen/").status_code == 404
    response = visitor.post("/c/no-such-practice/self-screen/contact/", {**form_data(CLEAR_ANSWERS),
                                                                         **contact_data()})
    assert response.status_code == 404
    assert not Lead.objects.exists()


def test_the_crisis_resources_are_the_practices_own(visitor, org):
    settings = settings_for(org.pk)
    settings.crisis_resources = [
        {"label": "Harbor Crisis Team", "contact": "Call 555-0199", "href": "tel:5550199"}
    ]
    settings.save()
    assert "Harbor Crisis Team" in words(visitor.get(screen_url(org)))


# ---------- the self-screen and its result ----------


def test_the_self_screen_asks_every_question_in_groups_with_large_options(visitor, org):
    response = visitor.get(screen_url(org))
    markup = response.content.decode()
    text = words(response)
    assert response.status_code == 200
    for heading in ("About you", "What you would like help with", "Treatments you have tried", "Your health",
                    "How you are right now"):
        assert heading in text
    assert "How many different antidepressant medicines" in text
    assert 'type="checkbox" id="q-conditions-depression" name="answers.conditions"' in markup
    assert 'type="radio" id="q-pregnancy-yes" name="answers.pregnancy"' in markup
    assert markup.count("<fieldset class=\"question") == 11
    assert "This is not a diagnosis" in text


def test_a_clear_screen_says_book_a_consultation_and_offers_to_leave_details(visitor, org):
    response = submit_screen(visitor, org, CLEAR_ANSWERS)
    text = words(response)
    assert response.status_code == 200
    assert "Your result Book a consultation" in text
    assert "only they can say whether ketamine therapy is right for you" in text
    assert "Leave your details and we will call you to book" in text
    assert "Please get support now" not in text
    assert not Lead.objects.exists()  # judging stores nothing


@pytest.mark.parametrize(("question", "answer", "phrase"), [
    ("age_group", "under_18", "You told us you are under 18"),
    ("pregnancy", "yes", "pregnant"),
    ("psychosis", "not_sure", "schizophrenia or psychosis"),
    ("heart_blood_pressure", "yes", "Ketamine raises blood pressure"),
    ("aneurysm_brain_bleed", "yes", "aneurysm"),
    ("ketamine_reaction", "yes", "allergic reaction"),
    ("substance_use", "yes", "alcohol or drug use"),
])
def test_each_red_flag_says_talk_to_your_doctor_first_and_still_offers_contact(visitor, org, question, answer,
                                                                              phrase):
    text = words(submit_screen(visitor, org, answers(**{question: answer})))
    assert "Your result Talk to your doctor first" in text
    assert phrase in text
    assert "Would you like the clinic to contact you?" in text
    assert "Please get support now" not in text


def test_thoughts_of_suicide_show_crisis_resources_first_with_the_not_watched_statement(visitor, org):
    text = words(submit_screen(visitor, org, RISK_ANSWERS))
    crisis = position(text, "Please get support now")
    assert position(text, NOT_WATCHED) > crisis
    assert position(text, "988 Suicide & Crisis Lifeline") < position(text, "Your result Talk")
    assert crisis < position(text, "Your result Talk to your doctor first")
    assert "thoughts of ending your life" in text


def test_an_incomplete_screen_names_each_unanswered_question_and_keeps_the_answers_given(visitor, org):
    given = {k: v for k, v in CLEAR_ANSWERS.items() if k not in ("pregnancy", "substance_use")}
    response = submit_screen(visitor, org, given)
    markup = response.content.decode()
    text = words(response)
    assert "2 questions need an answer" in text
    assert re.search(r'id="q-pregnancy-error">Please answer this question.<', markup)
    assert re.search(r'id="q-substance_use-error">Please answer this question.<', markup)
    assert 'id="q-age_group-adult" name="answers.age_group" value="adult" checked' in markup
    assert "Your result" not in text


def test_none_of_these_with_another_treatment_is_refused_beside_the_question(visitor, org):
    markup = submit_screen(visitor, org, answers(other_treatments=["none", "tms"])).content.decode()
    assert "“None of these” cannot be chosen together with other answers." in markup


def test_the_result_page_carries_the_answers_into_the_contact_form(visitor, org):
    markup = submit_screen(visitor, org, answers(conditions=["depression", "ptsd"])).content.decode()
    assert '<input type="hidden" name="answers.conditions" value="depression">' in markup
    assert '<input type="hidden" name="answers.conditions" value="ptsd">' in markup
    assert '<input type="hidden" name="answers.pregnancy" value="no">' in markup


# ---------- leaving details ----------


def test_leaving_details_with_consent_creates_one_lead_with_the_answers_and_outcome(visitor, org, caplog):
    caplog.set_level(logging.DEBUG)
    response = leave_details(visitor, org, answers(pregnancy="yes"))
    assert "Thank you, your details have been sent." in words(response)
    lead = Lead.objects.get()
    assert lead.organization_id == org.pk
    assert lead.name == "Robin Examplewood"
    assert lead.phone == "+15035550188"  # E.164
    assert lead.email == "robin.examplewood@example.test"
    assert lead.consent_to_contact is True
    assert lead.status == LeadStatus.NEW
    assert lead.outcome == "talk_to_doctor"
    assert lead.red_flags == ["pregnancy"]
    assert lead.answers["pregnancy"] == "yes" and lead.answers["conditions"] == ["depression"]
    assert lead.risk_endorsed is False
    event = AuditEvent.objects.get(organization=org, object_type="Lead")
    assert (event.action, event.object_id, event.user_id) == ("create", str(lead.pk), None)
    assert (event.via, event.username, event.ip_address) == ("public", "public:self-screen", "127.0.0.1")
    assert "Robin" not in str(event.detail) and "pregnan" not in str(event.detail)
    assert "Examplewood" not in caplog.text and "pregnancy" not in caplog.text


def test_a_lead_that_endorsed_risk_is_flagged_and_the_thanks_page_repeats_the_crisis_resources(visitor, org):
    text = words(leave_details(visitor, org, RISK_ANSWERS))
    assert Lead.objects.get().risk_endorsed is True
    assert position(text, "Please get support now") < position(text, "Thank you, your details")


def test_a_preferred_clinic_is_offered_when_there_are_several(visitor, org, practice):
    uptown = ClinicFactory(organization=org, name="Harbor Uptown")
    result = submit_screen(visitor, org, CLEAR_ANSWERS)
    assert "Which clinic suits you best?" in words(result)
    leave_details(visitor, org, CLEAR_ANSWERS, preferred_clinic_id=str(uptown.pk))
    assert Lead.objects.get().preferred_clinic_id == uptown.pk


def test_another_practices_clinic_cannot_be_chosen(visitor, org, stranger):
    response = leave_details(visitor, org, CLEAR_ANSWERS, preferred_clinic_id=str(stranger.clinic.pk))
    assert "Choose one of the practice" in words(response)
    assert not Lead.objects.exists()


def error_for(response, field: str) -> str:
    page = response.content.decode()
    block = re.search(rf'<ul class="errorlist"[^>]*id="id_{field}_error"[^>]*>(.*?)</ul>', page, re.S)
    assert block, f"no error shown for {field}"
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"consent_to_contact": ""}, "consent_to_contact", "Tick the box to let the clinic contact you"),
    ({"phone": "12"}, "phone", "Enter a phone number with its area code"),
    ({"email": "robin@"}, "email", "Enter an email address like name@example.com."),
    ({"phone": "", "email": ""}, "phone", "Give a phone number or an email address"),
    ({"name": "  "}, "name", "Tell us your name"),
    ({"phone": "", "preferred_contact": "sms"}, "phone", "You asked to be called or texted"),
    ({"preferred_contact": "fax"}, "preferred_contact", "Choose phone call, text message or email."),
    ({"name": "R" * 201}, "name", "Use at most 200 characters."),
])
def test_bad_contact_details_are_named_beside_their_field_and_nothing_is_saved(visitor, org, changes, field,
                                                                              message):
    response = leave_details(visitor, org, CLEAR_ANSWERS, **changes)
    assert message in error_for(response, field)
    text = words(response)
    assert "Please check your details; nothing was sent yet" in text
    assert "Your result Book a consultation" in text  # the result stays in view
    assert not Lead.objects.exists()
    assert not AuditEvent.objects.filter(object_type="Lead").exists()


def test_altered_hidden_answers_send_the_person_back_to_the_questions(visitor, org):
    given = answers(pregnancy="perhaps")
    response = leave_details(visitor, org, given)
    assert "Choose one of the answers shown." in words(response)
    assert "Send my details" not in words(response)
    assert not Lead.objects.exists()


def test_the_trap_field_filled_in_by_a_program_stores_nothing_but_looks_like_success(visitor, org):
    response = leave_details(visitor, org, CLEAR_ANSWERS, website="http://spam.example")
    assert "Thank you, your details have been sent." in words(response)
    assert not Lead.objects.exists()
    markup = submit_screen(visitor, org, CLEAR_ANSWERS).content.decode()
    assert re.search(r'<div class="enquiry-trap" aria-hidden="true">.*?name="website"', markup, re.S)


def test_too_many_details_from_one_address_are_refused_with_a_clear_message(visitor, org, settings):
    settings.KETAFLOW_PUBLIC_FORM_LIMITS = {"lead": (2, 3600)}
    for _ in range(2):
        assert leave_details(visitor, org, CLEAR_ANSWERS).status_code == 200
    response = leave_details(visitor, org, CLEAR_ANSWERS)
    assert response.status_code == 429
    assert "Too many forms have been sent from this connection" in words(response)
    assert "(503) 555-0100" in words(response)  # the clinic's phone instead
    assert Lead.objects.count() == 2
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert leave_details(other, org, CLEAR_ANSWERS).status_code == 200  # another address is not affected
    assert Lead.objects.count() == 3


def test_too_many_screens_from_one_address_are_refused(visitor, org, settings):
    settings.KETAFLOW_PUBLIC_FORM_LIMITS = {"screen": (1, 3600)}
    assert "Your result" in words(submit_screen(visitor, org, CLEAR_ANSWERS))
    response = submit_screen(visitor, org, CLEAR_ANSWERS)
    assert response.status_code == 429
    assert "Please try again later" in words(response)


def test_the_refusal_names_the_window_the_practice_set(visitor, org, settings):
    settings.KETAFLOW_PUBLIC_FORM_LIMITS = {"screen": (1, 900)}
    submit_screen(visitor, org, CLEAR_ANSWERS)
    response = submit_screen(visitor, org, CLEAR_ANSWERS)
    assert response.status_code == 429
    assert "sent from this connection in the last 15 minutes." in words(response)


def test_the_contact_address_sends_a_plain_visit_back_to_the_questions(visitor, org):
    response = visitor.get(contact_url(org))
    assert response.status_code == 302 and response["Location"] == screen_url(org)


def test_the_forms_need_their_csrf_token_like_every_other_form(org):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(screen_url(org), form_data(CLEAR_ANSWERS)).status_code == 403
    page = strict.get(screen_url(org))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = strict.post(screen_url(org), {**form_data(CLEAR_ANSWERS), "csrfmiddlewaretoken": token})
    assert "Your result" in words(response)


def test_a_signed_in_staff_member_sees_the_same_public_pages(org, practice, client_as):
    from ketaflow.accounts.roles import Role

    staff = client_as(Role.FRONT_DESK)
    assert "Your result Book a consultation" in words(submit_screen(staff, org, CLEAR_ANSWERS))


def test_visiting_and_screening_write_nothing_at_all(visitor, org):
    from ketaflow.measurement.models import MeasurementSettings

    before = (AuditEvent.objects.count(), MeasurementSettings.objects.count())
    visitor.get(f"/c/{org.slug}/")
    text = words(submit_screen(visitor, org, RISK_ANSWERS))
    assert "988 Suicide & Crisis Lifeline" in text  # the defaults, without creating settings
    assert (AuditEvent.objects.count(), MeasurementSettings.objects.count()) == before
    assert not Lead.objects.exists()


def test_the_public_pages_carry_no_inline_script_style_or_event_handlers(visitor, org):
    pages = [
        visitor.get(f"/c/{org.slug}/"),
        visitor.get(screen_url(org)),
        submit_screen(visitor, org, {}),
        submit_screen(visitor, org, RISK_ANSWERS),
        leave_details(visitor, org, CLEAR_ANSWERS, phone="1"),
        leave_details(visitor, org, RISK_ANSWERS),
    ]
    for response in pages:
        markup = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", markup)
        assert not re.search(r"\sstyle=", markup)
        assert not re.search(r"\son[a-z]+=", markup)
        assert '<meta name="robots" content="noindex, nofollow">' in markup
        assert 'href="/static/enquiries/enquiries.css"' in markup
