"""The intake pages the patient uses: through the link and in the portal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ketaflow.audit.models import AuditEvent
from ketaflow.intake.models import Intake
from ketaflow.intake.services import MAX_IDENTITY_FAILURES
from ketaflow.measurement.models import SafetyAlert
from ketaflow.patients.models import Medication, Patient
from ketaflow.phones import display_phone
from tests.integration.intake_factories import ANSWERS, CSSRS_LOW, answer_all, issue, post_data, verified
from tests.integration.pages import PAGE_TEST_MARKS, text_of
from tests.integration.test_portal import activated

pytestmark = PAGE_TEST_MARKS


@pytest.fixture
def link(practice):
    return issue(practice)


def _unavailable(response) -> None:
    assert response.status_code == 410
    text = text_of(response)
    assert "This link has expired or has already been used." in text
    assert "Harborpatient" not in text and "Clinic" not in text.split("Need help now?")[0]


# ---------- the link: identity, unavailable links ----------


def test_the_link_asks_for_the_date_of_birth_before_showing_anything(practice, link):
    page = Client().get(link.path)
    text = text_of(page)
    assert page.status_code == 200 and "confirm your date of birth" in text
    assert practice.clinic.name in text
    assert practice.patient.legal_family_name not in text
    assert page["Referrer-Policy"] == "no-referrer" and "no-store" in page["Cache-Control"]
    section = Client().get(f"{link.path}s/medical/")
    assert "confirm your date of birth" in text_of(section) and "Glaucoma" not in text_of(section)


def test_a_wrong_date_of_birth_is_refused_and_counted_without_keeping_what_was_typed(practice, link):
    response = Client().post(link.path, {"step": "identity", "month": "1", "day": "2", "year": "1990"})
    assert "That date of birth does not match your clinic" in text_of(response)
    intake = Intake.objects.get(pk=link.intake.pk)
    assert intake.identity_failures == 1
    assert "1990" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_the_link_locks_after_five_wrong_dates_of_birth(practice, link):
    client = Client()
    for _ in range(MAX_IDENTITY_FAILURES - 1):
        client.post(link.path, {"step": "identity", "month": "1", "day": "2", "year": "1990"})
    _unavailable(client.post(link.path, {"step": "identity", "month": "1", "day": "2", "year": "1990"}))
    _unavailable(Client().get(link.path))
    assert AuditEvent.objects.filter(object_type="Intake", detail__event="link locked").exists()


def test_the_right_date_of_birth_opens_the_overview_for_this_browser_only(practice, link):
    client = verified(link.path, practice)
    page = client.get(link.path)
    text = text_of(page)
    assert "Your health form" in text and "0 of 9 pages done" in text and "Start" in text
    assert "works for 7 days" in text
    assert "confirm your date of birth" in text_of(Client().get(link.path))


def test_an_unknown_an_expired_and_a_used_link_show_the_same_unavailable_page(practice, link):
    _unavailable(Client().get("/intake/no-such-token/"))
    _unavailable(Client().get("/intake/no-such-token/s/medical/"))
    answer_all(link.token)
    client = verified(link.path, practice)
    client.post(f"{link.path}review/")
    _unavailable(client.get(link.path))
    _unavailable(client.get(f"{link.path}review/"))
    other = issue(practice)
    Intake.objects.filter(pk=other.intake.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    _unavailable(Client().get(other.path))


# ---------- the link: answering ----------


def test_a_section_page_shows_its_questions_as_large_options_and_saves(practice, link):
    client = verified(link.path, practice)
    page = client.get(f"{link.path}s/medical/")
    text = text_of(page)
    assert "Page 3 of 9" in text and "Glaucoma or raised pressure in the eyes" in text
    assert 'class="choice"' in page.content.decode() and "Not sure" in text
    response = client.post(f"{link.path}s/medical/", post_data("medical", ANSWERS["medical"]))
    assert response.status_code == 302 and response["Location"] == f"{link.path}s/medications/"
    assert Intake.objects.get(pk=link.intake.pk).answers["medical"]["glaucoma"] == "yes"
    again = text_of(client.get(f"{link.path}s/medical/"))
    assert 'value="128"' in client.get(f"{link.path}s/medical/").content.decode() and "Page 3" in again


def test_errors_are_shown_beside_their_questions_and_nothing_is_saved(practice, link):
    client = verified(link.path, practice)
    response = client.post(
        f"{link.path}s/medical/",
        {
            "home_bp_systolic": "20",
            "home_bp_diastolic": "80",
            "home_bp_date": "2099-01-01",
            "weight": "0",
            "weight_unit": "lb",
            "height_unit": "in",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200 and "this page is not saved yet" in text_of(response)
    systolic = re.search(r'id="q-home_bp_systolic-error">([^<]+)<', html)
    assert systolic and "Systolic blood pressure of 20 mmHg is not possible" in systolic.group(1)
    assert re.search(r'id="q-home_bp_date-error">The date cannot be in the future.<', html)
    assert re.search(r'id="q-weight-error">Your weight of 0 pounds is not possible', html)
    assert 'value="20"' in html  # the answers stay on the page
    assert Intake.objects.get(pk=link.intake.pk).answers == {}


def test_a_list_error_is_shown_on_its_row_and_more_rows_can_be_added(practice, link):
    client = verified(link.path, practice)
    data = {
        "medications-count": "2",
        "medications-0-name": "",
        "medications-0-dose": "5 mg",
        "no_known_allergies": "on",
    }
    html = client.post(f"{link.path}s/medications/", data).content.decode()
    assert re.search(r'id="q-medications-0-name-error">Enter the medicine, or clear this row.<', html)
    more = client.post(
        f"{link.path}s/medications/",
        {
            "medications-count": "1",
            "medications-0-name": "Lithium",
            "no_known_allergies": "on",
            "action": "more",
        },
    )
    assert more.status_code == 302 and "more=3" in more["Location"]
    page = client.get(more["Location"]).content.decode()
    assert 'value="Lithium"' in page and 'name="medications-4-name"' in page


def test_about_you_shows_the_record_read_only_and_prefills_the_contacts(practice, link):
    client = verified(link.path, practice)
    page = client.get(f"{link.path}s/about/")
    text = text_of(page)
    assert (
        practice.patient.legal_name in text
        and "June 15, 1985" in text
        and "ask the clinic to correct it" in text
    )
    shown = display_phone(practice.patient.phone_mobile, practice.org.country)  # as people write it
    assert f'value="{shown}"' in page.content.decode() and shown != practice.patient.phone_mobile
    assert 'name="date_of_birth"' not in page.content.decode()
    assert AuditEvent.objects.filter(
        object_type="Intake", action="read", detail__purpose="intake:about"
    ).exists()


def test_a_yes_to_thoughts_of_death_shows_the_crisis_resources_on_the_next_page(practice, link):
    client = verified(link.path, practice)
    data = post_data("mental_health", {**ANSWERS["mental_health"], "cssrs": CSSRS_LOW})
    response = client.post(f"{link.path}s/mental_health/", data, follow=True)
    text = text_of(response)
    assert "Your answers are not read in real time." in text
    assert "This form is not watched in real time." in text and "988" in text
    calm = issue(practice)  # renews the same intake's link
    client = verified(calm.path, practice)
    clear = client.get(f"{calm.path}s/medical/")
    assert "not watched in real time" in text_of(clear)  # the saved answers still endorse it


def test_the_crisis_panel_is_absent_when_the_screen_is_clear(practice, link):
    client = verified(link.path, practice)
    client.post(f"{link.path}s/mental_health/", post_data("mental_health", ANSWERS["mental_health"]))
    assert "This form is not watched in real time." not in text_of(client.get(f"{link.path}s/medical/"))


def test_the_male_record_skips_pregnancy(practice):
    Patient.objects.filter(pk=practice.patient.pk).update(sex_at_birth="male")
    link = issue(practice)
    client = verified(link.path, practice)
    assert "of 8 pages done" in text_of(client.get(link.path))
    assert client.get(f"{link.path}s/pregnancy/").status_code == 404
    response = client.post(f"{link.path}s/substances/", post_data("substances", ANSWERS["substances"]))
    assert response["Location"] == f"{link.path}s/home/"


def test_review_lists_every_answer_with_edit_links_and_submitting_writes_the_chart(practice, link):
    answer_all(link.token)
    client = verified(link.path, practice)
    review = client.get(f"{link.path}review/")
    text = text_of(review)
    assert "Check your answers" in text and "Glaucoma or raised pressure in the eyes Yes" in text
    assert "Xanax 0.5 mg · at night" in text and f'href="{link.path}s/medical/"' in review.content.decode()
    assert "for at least 6 weeks, from your answers: 2" in text
    done = client.post(f"{link.path}review/")
    assert "Thank you, your answers have been sent." in text_of(done)
    assert Intake.objects.get(pk=link.intake.pk).status == Intake.Status.SUBMITTED
    assert Medication.objects.filter(patient=practice.patient, catalogue_id="alprazolam").exists()


def test_submitting_with_pages_missing_names_them_and_sends_nothing(practice, link):
    answer_all(link.token, skip=("goals",))
    client = verified(link.path, practice)
    assert "Some pages are not answered yet." in text_of(client.get(f"{link.path}review/"))
    response = client.post(f"{link.path}review/")
    text = text_of(response)
    assert "Nothing was sent yet" in text and "Your goals: Answer the “Your goals” page first." in text
    assert Intake.objects.get(pk=link.intake.pk).status == Intake.Status.IN_PROGRESS


def test_a_high_risk_screen_through_the_page_raises_an_alert_at_once(practice, link):
    client = verified(link.path, practice)
    data = post_data(
        "mental_health",
        {**ANSWERS["mental_health"], "cssrs": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 0}},
    )
    client.post(f"{link.path}s/mental_health/", data)
    assert SafetyAlert.objects.filter(patient=practice.patient, status="open").count() == 1


def test_every_link_page_carries_the_crisis_footer_and_no_referrer(practice, link):
    client = verified(link.path, practice)
    for path in (link.path, f"{link.path}s/goals/", f"{link.path}review/"):
        page = client.get(path)
        assert "Need help now?" in text_of(page) and page["Referrer-Policy"] == "no-referrer", path


# ---------- the portal ----------


def test_the_portal_home_shows_the_intake_card_while_one_is_open(practice):
    client = activated(practice)
    assert "Complete your intake" not in text_of(client.get("/portal/"))
    issue(practice)
    home = text_of(client.get("/portal/"))
    assert "Complete your intake" in home and "Start" in home


def test_a_portal_patient_answers_and_submits_without_the_date_of_birth_step(practice):
    client = activated(practice)
    issue(practice)
    overview = client.get("/intake/portal/")
    assert "0 of 9 pages done" in text_of(overview) and "Sign out" in text_of(overview)
    for section_id, raw in ANSWERS.items():
        response = client.post(f"/intake/portal/s/{section_id}/", post_data(section_id, raw))
        assert response.status_code == 302, (section_id, text_of(response)[:400])
    assert "Check your answers" in text_of(client.get("/intake/portal/review/"))
    done = client.post("/intake/portal/review/")
    assert "your portal" in text_of(done)
    intake = Intake.objects.get(patient=practice.patient)
    assert intake.status == Intake.Status.SUBMITTED and intake.cssrs_response.source == "portal"
    assert "Complete your intake" not in text_of(client.get("/portal/"))
    assert "There is no form for you to fill in right now." in text_of(client.get("/intake/portal/"))


def test_the_portal_intake_pages_need_a_signed_in_patient(practice):
    issue(practice)
    assert Client().get("/intake/portal/")["Location"].startswith("/portal/login/")
    from ketaflow.accounts.roles import Role
    from tests.integration.pages import signed_in

    assert signed_in(practice.staff[Role.NURSE]).get("/intake/portal/").status_code == 403


def test_the_treatments_page_shows_the_adequate_trials_its_saved_answers_add_up_to(practice, link):
    client = verified(link.path, practice)
    client.post(f"{link.path}s/treatments/", post_data("treatments", ANSWERS["treatments"]))
    text = text_of(client.get(f"{link.path}s/treatments/"))
    expected = "From your saved answers: 2 antidepressant trials taken at the full dose for at least 6 weeks."
    assert expected in text


def test_a_refused_page_shows_the_record_and_answers_again_and_that_read_is_audited(practice, link):
    client = verified(link.path, practice)
    refused = client.post(f"{link.path}s/about/", {"email": "not an address"})
    text = text_of(refused)
    assert refused.status_code == 200 and practice.patient.legal_name in text and "June 15, 1985" in text
    assert 'value="not an address"' in refused.content.decode()
    reads = AuditEvent.objects.filter(object_type="Intake", action="read", patient_id=practice.patient.pk)
    assert [e.detail["purpose"] for e in reads] == ["intake:about"]
    assert "Nothing was sent yet" in text_of(client.post(f"{link.path}review/"))
    assert [e.detail["purpose"] for e in reads.order_by("seq")] == ["intake:about", "intake:review"]
    assert Intake.objects.get(pk=link.intake.pk).status == Intake.Status.INVITED
