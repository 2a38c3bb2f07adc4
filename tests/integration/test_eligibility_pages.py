"""The Eligibility chart tab, signing from it, and the eligibility settings page."""

from __future__ import annotations

import html as entities
import re
from datetime import timedelta

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.eligibility.decisions import sign_decision
from ketaflow.eligibility.models import EligibilityDecision, EligibilitySettings
from ketaflow.measurement.models import Notification
from tests.factories import ConditionFactory, actor_of
from tests.integration.eligibility_factories import chart_all_clear, medication, vitals
from tests.integration.pages import PAGE_TEST_MARKS, field_error, htmx, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def tab(patient) -> str:
    return f"/patients/{patient.pk}/eligibility/"


def sign_url(patient, route: str) -> str:
    return f"/eligibility/patients/{patient.pk}/{route}/sign/"


def card(html: str, route: str) -> str:
    """The text of one route's card."""
    match = re.search(rf'<section class="card eligibility-route" id="route-{route}".*?</section>', html, re.S)
    assert match, f"no card for {route}"
    return plain(match.group(0))


def plain(html: str) -> str:
    """Text with tags removed, entities decoded and whitespace collapsed."""
    return " ".join(entities.unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def prescriber(practice):
    return practice.staff[Role.PRESCRIBER]


def test_the_tab_shows_every_route_with_its_status_in_words_and_what_is_missing_as_questions(
    practice, prescriber
):
    response = signed_in(prescriber).get(tab(practice.patient))
    assert response.status_code == 200
    html = response.content.decode()
    for route, label in (("iv", "IV infusion"), ("im", "Intramuscular"),
                         ("sublingual_home", "Sublingual at home"), ("esketamine", "Esketamine nasal spray")):
        assert f"{label} ? Needs review" in card(html, route)
    iv = card(html, "iv")
    # A rule left open by a missing fact: the question to ask and where to answer it.
    assert "Ask: Is the patient pregnant, or could they be? · Evaluation: the clinician's answers" in iv
    assert f'href="/patients/{practice.patient.pk}/evaluation/#facts"' in html
    assert "Ask: A baseline blood-pressure reading · Evaluation: vital signs" in iv
    assert f'href="/patients/{practice.patient.pk}/evaluation/#vitals"' in html
    assert "Ask: A recent suicide-risk screen (C-SSRS or PHQ-9 item 9) · Measures" in iv
    assert "Age 41 years date of birth 1985-06-15" in iv
    assert "Systolic blood pressure (mmHg) Not known no blood-pressure reading recorded" in iv
    # The numbers the rules use, each with its default, source and a [verify] note.
    assert "Systolic pressure read as uncontrolled hypertension 160 mmHg Default 160 mmHg." in iv
    assert "[verify]: confirm for your clinic" in iv
    assert "Sign decision for IV infusion" in iv


def test_a_fired_rule_shows_its_severity_message_source_the_facts_read_and_a_verify_tag(practice, prescriber):
    patient = chart_all_clear(practice)
    ConditionFactory(patient=patient, catalogue_id="schizophrenia", display="Schizophrenia",
                     icd10_code="F20.9")
    vitals(patient, 172, 104, ago=timedelta(minutes=5))
    html = signed_in(prescriber).get(tab(patient)).content.decode()
    iv = card(html, "iv")
    assert "IV infusion ✕ Not eligible" in iv
    assert ("Exclusion The baseline blood pressure is at or above the clinic's limit for uncontrolled "
            "hypertension; treat the blood pressure first. [verify]") in iv
    assert ("Facts read: Systolic blood pressure (mmHg): 172 mmHg; "
            "Diastolic blood pressure (mmHg): 104 mmHg") in iv
    assert "Source: Ketamine clinics' published patient material (clinical reference §3) · rule " \
           "blood-pressure-uncontrolled-reading" in iv
    assert ("Needs prescriber review Schizophrenia or another psychotic disorder: symptoms may worsen.") in iv
    assert "Facts read: Schizophrenia or another psychotic disorder: Yes" in iv
    assert "problem list: Schizophrenia (F20.9)" in iv
    assert "badge badge--danger" in html  # colour as well as the words


def test_an_all_clear_chart_reads_eligible_with_no_rule_in_the_way(practice, prescriber):
    patient = chart_all_clear(practice)
    iv = card(signed_in(prescriber).get(tab(patient)).content.decode(), "iv")
    assert "IV infusion ✓ Eligible" in iv
    assert "No rule stands in the way of this route." in iv
    assert ("Interacting medication classes None of the interacting classes medication list "
            "(reviewed in the evaluation") in iv


def test_reading_the_tab_is_audited(practice, prescriber):
    signed_in(prescriber).get(tab(practice.patient))
    event = AuditEvent.objects.filter(organization_id=practice.org.pk, action="read",
                                      object_type="Patient").latest("seq")
    assert event.patient_id == practice.patient.pk
    assert event.detail == {"purpose": "chart:eligibility"}
    assert event.user_id == prescriber.user_id


def test_a_nurse_reads_the_tab_without_a_sign_form_and_cannot_post_one(practice):
    nurse = signed_in(practice.staff[Role.NURSE])
    patient = chart_all_clear(practice)
    text = text_of(nurse.get(tab(patient)))
    assert "IV infusion ✓ Eligible" in text
    assert "Only a prescriber signs eligibility decisions." in text
    assert "Sign decision for" not in text
    response = nurse.post(sign_url(patient, "iv"),
                          {"iv-decision": "approve", "iv-assessed_status": "eligible"})
    assert response.status_code == 403
    assert not EligibilityDecision.objects.exists()


def test_front_desk_cannot_open_the_tab(practice):
    chart_all_clear(practice)
    response = signed_in(practice.staff[Role.FRONT_DESK]).get(tab(practice.patient))
    assert response.status_code == 403 and "IV infusion" not in text_of(response)
    assert not AuditEvent.objects.filter(action="read", detail__purpose="chart:eligibility").exists()


def test_approving_a_not_eligible_route_without_a_reason_shows_the_error_beside_the_reason(
    practice, prescriber
):
    patient = chart_all_clear(practice)
    vitals(patient, 172, 104, ago=timedelta(minutes=5))
    response = signed_in(prescriber).post(sign_url(patient, "iv"), {
        "iv-decision": "approve", "iv-override_reason": "", "iv-assessed_status": "not_eligible",
    })
    assert response.status_code == 200
    shown = field_error(response, "id_iv-override_reason")
    assert "You are approving a route assessed as not eligible: write why" in shown
    assert "There is a problem; nothing was signed" in text_of(response)
    assert not EligibilityDecision.objects.exists()


def test_approving_with_a_reason_signs_and_the_tab_shows_who_when_and_why(practice, prescriber):
    patient = chart_all_clear(practice)
    vitals(patient, 172, 104, ago=timedelta(minutes=5))
    client = signed_in(prescriber)
    response = client.post(sign_url(patient, "iv"), {
        "iv-decision": "approve", "iv-override_reason": "Cardiology review: controlled at home readings.",
        "iv-assessed_status": "not_eligible",
    })
    assert response.status_code == 302 and response["Location"] == tab(patient)
    decision = EligibilityDecision.objects.get()
    assert (decision.route, decision.decision, decision.assessed_status) == ("iv", "approve", "not_eligible")
    iv = card(client.get(tab(patient)).content.decode(), "iv")
    name = prescriber.user.get_full_name()
    assert f"Signed Approved by {name} on " in iv
    assert "assessed then as not eligible override" in iv
    assert "Reason: Cardiology review: controlled at home readings." in iv


def test_signing_through_htmx_answers_with_the_tab_fragment(practice, prescriber):
    patient = chart_all_clear(practice)
    response = signed_in(prescriber).post(sign_url(patient, "iv"), {
        "iv-decision": "approve", "iv-assessed_status": "eligible",
    }, headers=htmx("chart-body"))
    assert response.status_code == 200
    assert "Your decision for IV infusion is signed." in text_of(response)
    assert "Signed Approved by" in card(response.content.decode(), "iv")


def test_a_reopened_decision_is_shown_prominently_with_the_change_and_the_notice_is_read(
    practice, prescriber
):
    patient = chart_all_clear(practice)
    sign_decision(actor_of(prescriber), patient.pk, "iv", decision="approve")
    medication(practice, "phenelzine")
    assert Notification.objects.get(recipient_id=prescriber.user_id).read_at is None
    html = signed_in(prescriber).get(tab(patient)).content.decode()
    text = plain(html)
    assert "Re-opened decision: sign again" in text
    assert ("IV infusion : re-opened" in text
            and "because: Interacting medication classes changed from None of the interacting classes to "
                "Monoamine oxidase inhibitor (MAOI) (+ Phenelzine (MAOI))." in text)
    assert html.index("Re-opened decision") < html.index('id="route-iv"')
    assert "Re-opened Approved by" in card(html, "iv")
    assert Notification.objects.get(recipient_id=prescriber.user_id).read_at is not None


def test_another_organizations_patient_is_not_found_on_every_eligibility_page(practice, stranger, prescriber):
    client = signed_in(prescriber)
    assert client.get(tab(stranger.patient)).status_code == 404
    response = client.post(sign_url(stranger.patient, "iv"), {
        "iv-decision": "approve", "iv-override_reason": "x", "iv-assessed_status": "needs_review"})
    assert response.status_code == 404
    assert client.post(sign_url(practice.patient, "oral"), {}).status_code == 404
    assert not EligibilityDecision.objects.exists()


def test_the_settings_page_shows_each_number_with_its_default_source_and_a_verify_note(practice, prescriber):
    response = signed_in(prescriber).get("/eligibility/settings/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Systolic pressure that asks for prescriber review (mmHg)" in text
    assert ("Default: 140 mmHg. Source: Spravato REMS: above about 140/90 weigh delaying "
            "(clinical reference §4) [verify]: confirm for your clinic") in text
    assert "Blood-pressure reading counts for (days)" in text and "Default: 90 days." in text
    assert text.count("[verify]: confirm for your clinic") == 9  # 6 parameters + 3 windows


def test_saving_the_settings_changes_the_chart_and_is_audited(practice, prescriber):
    patient = chart_all_clear(practice)
    client = signed_in(prescriber)
    form = {f"param_{n}": "" for n in ("bp_review_systolic", "bp_review_diastolic", "bp_exclude_systolic",
                                       "bp_exclude_diastolic", "adult_age", "older_adult_age")}
    form |= {"param_bp_review_systolic": "120", "vitals_window_days": "90", "tests_window_days": "365",
             "screen_window_days": "30"}
    response = client.post("/eligibility/settings/", form)
    assert response.status_code == 302
    config = EligibilitySettings.objects.get(organization=practice.org)
    assert config.parameters == {"bp_review_systolic": 120}
    event = AuditEvent.objects.get(organization_id=practice.org.pk, object_type="EligibilitySettings")
    assert event.detail["changes"] == [{"field": "parameters.bp_review_systolic", "old": 140, "new": 120}]
    iv = card(client.get(tab(patient)).content.decode(), "iv")
    assert "IV infusion ? Needs review" in iv
    assert "Systolic pressure that asks for prescriber review 120 mmHg clinic setting Default 140 mmHg." in iv


def test_a_threshold_above_its_exclusion_limit_is_refused_beside_its_field(practice, prescriber):
    form = {"param_bp_review_systolic": "170", "vitals_window_days": "90", "tests_window_days": "365",
            "screen_window_days": "30"}
    response = signed_in(prescriber).post("/eligibility/settings/", form)
    assert response.status_code == 200
    assert "Keep this below the systolic pressure read as uncontrolled hypertension" in field_error(
        response, "id_param_bp_review_systolic")
    assert not AuditEvent.objects.filter(object_type="EligibilitySettings").exists()


def test_only_prescribers_open_the_settings_page(practice):
    for role in (Role.NURSE, Role.OWNER, Role.FRONT_DESK):
        assert signed_in(practice.staff[role]).get("/eligibility/settings/").status_code == 403
