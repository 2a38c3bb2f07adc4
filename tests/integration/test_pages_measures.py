"""The measurement pages: the Measures chart tab, questionnaire entry, worklists, alerts and settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import Action, AuditEvent
from ketaflow.measurement.models import (
    Invitation,
    MeasureDue,
    MeasurementSettings,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    Treatment,
)
from ketaflow.measurement.responses import record_response
from ketaflow.measurement.schedule import record_treatment, set_plan
from ketaflow.measurement.sms import MemorySMSBackend
from tests.factories import ClinicFactory, PatientFactory, actor_of
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of

pytestmark = PAGE_TEST_MARKS

ITEM9 = "Thoughts that you would be better off dead or of hurting yourself in some way"


def phq9(total: int, item9: int = 0) -> dict[str, int]:
    """PHQ-9 answers adding up to `total`, with item 9 as given."""
    answers = {str(i): 0 for i in range(1, 10)}
    answers["9"] = item9
    left = total - item9
    for item in range(1, 9):
        answers[str(item)] = min(3, left)
        left -= answers[str(item)]
    assert left == 0
    return answers


def phq9_post(total: int, item9: int = 0, **overrides: str) -> dict[str, str]:
    data = {"instrument": "phq9"} | {f"item_{k}": str(v) for k, v in phq9(total, item9).items()}
    return data | overrides


def measures_tab(patient) -> str:
    return f"/patients/{patient.pk}/measures/"


def item_error(html: str, legend_start: str) -> str:
    """The error shown in the fieldset whose legend starts with `legend_start`."""
    match = re.search(
        rf"<legend>{re.escape(legend_start)}[^<]*</legend>.*?"
        r'<ul class="errorlist"[^>]*>(.*?)</ul>\s*<div class="checks">',
        html, re.S,
    )
    assert match, f"no error next to {legend_start!r}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def nurse(practice):
    return practice.staff[Role.NURSE]


@pytest.fixture
def prescriber(practice):
    return practice.staff[Role.PRESCRIBER]


@pytest.fixture
def treated(practice, nurse):
    """A patient with a PHQ-9 baseline of 18, three treatments and a follow-up of 8 (a response)."""
    actor = actor_of(nurse)
    patient = practice.patient
    now = timezone.now()
    record_response(actor, patient.pk, "phq9", phq9(18), authored_at=now - timedelta(days=30))
    for days in (29, 27, 25):
        record_treatment(actor, patient.pk, occurred_at=now - timedelta(days=days))
    record_response(actor, patient.pk, "phq9", phq9(8), authored_at=now - timedelta(days=20))
    return patient


# ---------- The chart tab ----------

def test_the_measures_tab_draws_the_trajectory_and_gives_each_outcome_with_its_reason_and_rule(
    practice, nurse, treated
):
    response = signed_in(nurse).get(measures_tab(treated))
    assert response.status_code == 200
    html = response.content.decode()
    chart = re.search(r'<figure class="measures-chart"><svg\b.*?</svg>', html, re.S)
    assert chart and "PHQ-9" in chart.group(0)
    text = text_of(response)
    assert "Latest 8 mild" in text
    assert "Baseline 18" in text
    assert "Change -10 (-56%)" in text
    assert "Response line 9 or lower" in text
    assert re.search(r"Response Yes PHQ-9 8 on .+? is 56% below the baseline of 18 "
                     r"\(response needs at least 50%, i\.e\. 9 or lower\)", text)
    assert "Rule: at least 50% reduction from baseline, i.e. 9 or lower here." in text
    assert "Remission No PHQ-9 8 on" in text and "is above the remission cut-off of 4." in text
    assert text.count("Remission is PHQ-9 below 5 (clinical reference §6)") == 1
    assert "Relapse No Still responding" in text
    assert "Non-response No Responded on" in text
    assert "Sanacora" in text  # the non-response rule's source
    assert "Questionnaire history" in text and "Entered by staff" in text


def test_the_tab_lists_open_safety_alerts_first_each_linking_to_its_alert(practice, nurse):
    recorded = record_response(actor_of(nurse), practice.patient.pk, "phq9", phq9(12, item9=1))
    html = signed_in(nurse).get(measures_tab(practice.patient)).content.decode()
    panel = html.split('class="measures-alerts"')[1].split("</section>")[0]
    assert "Open safety alert (1)" in panel
    assert f'href="/measures/alerts/{recorded.alert.pk}/"' in panel
    assert "PHQ-9 item 9 endorsed" in panel
    assert html.index("measures-alerts") < html.index("Questionnaire history")


def test_the_tab_links_the_progress_summary_pdf(practice, nurse):
    html = signed_in(nurse).get(measures_tab(practice.patient)).content.decode()
    assert f'href="/measures/patients/{practice.patient.pk}/summary.pdf"' in html


def test_front_desk_neither_sees_nor_opens_the_measures_tab(practice):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    chart = client.get(f"/patients/{practice.patient.pk}/").content.decode()
    assert ">Measures</a></li>" not in chart.split('aria-label="Chart sections"')[1].split("</nav>")[0]
    assert client.get(measures_tab(practice.patient)).status_code == 403
    assert client.get(f"/measures/patients/{practice.patient.pk}/enter/?instrument=phq9").status_code == 403


# ---------- Entering a questionnaire ----------

def test_choosing_an_instrument_shows_each_item_with_its_options_as_radio_buttons(practice, nurse):
    url = f"/measures/patients/{practice.patient.pk}/enter/"
    response = signed_in(nurse).get(url, {"instrument": "madrs"})
    html = response.content.decode()
    assert "Enter MADRS" in text_of(response)
    assert html.count('type="radio" name="item_') == 10 * 7  # 10 items, 0-6 each
    assert re.search(r'<input type="radio" name="item_10" value="6"', html)


def test_a_phq9_with_item_nine_endorsed_raises_the_alert_shows_the_banner_and_rings_the_bell(
    practice, nurse, prescriber
):
    patient = practice.patient
    set_plan(actor_of(nurse), patient.pk, stage="induction", responsible_clinician_id=prescriber.pk)
    response = signed_in(nurse).post(f"/measures/patients/{patient.pk}/enter/", phq9_post(14, item9=2),
                                     follow=True)
    alert = SafetyAlert.objects.get(patient=patient)
    assert alert.assigned_to == prescriber and alert.status == SafetyAlert.Status.OPEN
    text = text_of(response)
    assert "Saved. PHQ-9 total 14 (moderate)." in text
    assert "Safety alert: act now" in text
    assert "PHQ-9 item 9 endorsed" in text
    assert f'href="/measures/alerts/{alert.pk}/"' in response.content.decode()
    assert "Nearly every day" not in text.split("Safety alert: act now")[0]
    bell = signed_in(prescriber).get("/").content.decode()
    assert re.search(r'id="unread-notifications">1</span>', bell)
    assert 'aria-label="Notifications: 1 unread"' in bell


def test_an_out_of_range_answer_is_shown_next_to_its_item_and_nothing_is_stored(practice, nurse):
    response = signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/enter/",
                                     phq9_post(10, item_9="7"))
    assert response.status_code == 200
    assert "out of range" in item_error(response.content.decode(), "9. Thoughts")
    assert QuestionnaireResponse.objects.count() == 0
    assert SafetyAlert.objects.count() == 0


def test_a_missing_answer_is_shown_next_to_its_item_and_nothing_is_stored(practice, nurse):
    data = phq9_post(10)
    data.pop("item_3")
    response = signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/enter/", data)
    assert item_error(response.content.decode(), "3. Trouble falling") == "PHQ-9 item 3 needs an answer."
    assert "There is a problem; nothing was saved" in text_of(response)
    assert QuestionnaireResponse.objects.count() == 0


def test_an_incomplete_form_with_item_nine_endorsed_warns_at_once(practice, nurse):
    data = phq9_post(10, item9=1)
    data.pop("item_2")
    text = text_of(signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/enter/", data))
    assert "Safety answer given: assess the patient now" in text
    assert "Nothing is saved (and no alert is sent) until every item is answered." in text


def test_a_response_entered_at_a_local_time_is_stored_in_the_clinics_zone(practice, nurse):
    signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/enter/",
                          phq9_post(6, authored_at="2025-03-04T09:30"))
    stored = QuestionnaireResponse.objects.get()
    assert stored.authored_at.isoformat() == "2025-03-04T16:30:00+00:00"  # America/Denver, MST


def test_the_answers_of_a_response_show_item_text_label_and_value(practice, nurse):
    recorded = record_response(actor_of(nurse), practice.patient.pk, "phq9", phq9(5))
    text = text_of(signed_in(nurse).get(f"/measures/responses/{recorded.response.pk}/"))
    assert "1 Little interest or pleasure in doing things Nearly every day 3" in text
    assert f"9 {ITEM9} Not at all 0" in text


def test_marking_a_response_entered_in_error_needs_a_reason_and_takes_it_out_of_the_trajectory(
    practice, nurse
):
    recorded = record_response(actor_of(nurse), practice.patient.pk, "phq9", phq9(5))
    client = signed_in(nurse)
    url = f"/measures/responses/{recorded.response.pk}/entered-in-error/"
    refused = client.post(url, {"reason": " "})
    assert "Say why this response was entered in error." in text_of(refused)
    done = client.post(url, {"reason": "Wrong patient"}, follow=True)
    assert "The response is marked as entered in error." in text_of(done)
    assert "No questionnaire scores yet." in text_of(done)
    recorded.response.refresh_from_db()
    assert recorded.response.status == QuestionnaireResponse.Status.ENTERED_IN_ERROR


def test_an_owner_without_a_clinical_role_cannot_open_the_tab(practice):
    assert signed_in(practice.staff[Role.OWNER]).get(measures_tab(practice.patient)).status_code == 403


# ---------- Plan, treatments and links ----------

def test_the_plan_shows_the_schedule_defaults_and_saves_a_stage_and_clinician(practice, nurse, prescriber):
    client = signed_in(nurse)
    before = text_of(client.get(measures_tab(practice.patient)))
    assert "No plan yet" in before
    assert "PHQ-9, GAD-7, C-SSRS screener (the schedule's defaults" in before
    response = client.post(f"/measures/patients/{practice.patient.pk}/plan/", {
        "plan-stage": "maintenance", "plan-responsible_clinician_id": str(prescriber.pk),
    }, follow=True)
    text = text_of(response)
    assert "The measurement plan is saved." in text
    assert "Care stage Maintenance" in text
    assert prescriber.user.get_full_name() in text
    assert "Due questionnaires PHQ-9 Due now" in text


def test_recording_a_treatment_date_counts_it_in_the_plan(practice, nurse):
    client = signed_in(nurse)
    response = client.post(f"/measures/patients/{practice.patient.pk}/treatments/", {
        "treatment-occurred_at": "2025-01-10T10:00", "treatment-status": "given",
    }, follow=True)
    assert "The treatment date is recorded." in text_of(response)
    assert "Treatments given 1 last 01/10/2025" in text_of(response)
    assert Treatment.objects.get().occurred_at.isoformat() == "2025-01-10T17:00:00+00:00"
    url = f"/measures/patients/{practice.patient.pk}/treatments/"
    missing = client.post(url, {"treatment-status": "given"})
    assert "Give the date and time of the treatment." in text_of(missing)


def test_an_in_person_link_is_shown_once_with_its_qr_code(practice, nurse, settings):
    settings.KETAFLOW_BASE_URL = "https://clinic.example.test"
    client = signed_in(nurse)
    response = client.post(f"/measures/patients/{practice.patient.pk}/link/", {
        "link-instruments": ["phq9", "gad7"], "link-channel": "in_person",
    })
    html = response.content.decode()
    link = re.search(r'id="issued-link">(https://clinic\.example\.test/q/[A-Za-z0-9_-]{40,}/)<', html)
    assert link, "the absolute link is shown"
    assert re.search(r'<div class="qr"[^>]*><svg', html)
    assert not re.search(r"\sstyle=|<style|<script(?![^>]*\bsrc=)", html), "the QR code passes the CSP"
    again = client.get(measures_tab(practice.patient)).content.decode()
    assert link.group(1) not in again


def test_an_emailed_link_is_sent_and_the_page_says_so(practice, nurse):
    patient = practice.patient
    patient.email = "avery@example.test"
    patient.save()
    response = signed_in(nurse).post(f"/measures/patients/{patient.pk}/link/", {
        "link-instruments": ["phq9"], "link-channel": "email",
    })
    assert "The link was sent by email to the address on file." in text_of(response)
    assert mail.outbox[-1].to == ["avery@example.test"]
    assert "/q/" in mail.outbox[-1].body


def test_a_texted_link_goes_to_the_mobile_number_and_names_no_questionnaire(practice, nurse, settings):
    settings.KETAFLOW_SMS_BACKEND = "ketaflow.measurement.sms.MemorySMSBackend"
    MemorySMSBackend.outbox.clear()
    response = signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/link/", {
        "link-instruments": ["phq9"], "link-channel": "sms",
    })
    assert "The link was sent by text message to the mobile number on file." in text_of(response)
    [sent] = MemorySMSBackend.outbox
    assert sent.to == practice.patient.phone_mobile
    assert "/q/" in sent.body and "PHQ" not in sent.body


def test_a_link_by_email_without_an_address_on_file_is_refused(practice, nurse):
    response = signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/link/", {
        "link-instruments": ["phq9"], "link-channel": "email",
    })
    assert "There is no email address on file" in text_of(response)
    assert not Invitation.objects.exists()


def test_a_link_cannot_carry_a_clinician_rated_scale(practice, nurse):
    response = signed_in(nurse).post(f"/measures/patients/{practice.patient.pk}/link/", {
        "link-instruments": ["madrs"], "link-channel": "in_person",
    })
    assert "Select a valid choice. madrs is not one of the available choices." in text_of(response)


# ---------- Worklists ----------

@pytest.fixture
def due_and_overdue(practice, nurse):
    actor = actor_of(nurse)
    due_patient = PatientFactory(home_clinic=practice.clinic, legal_family_name="Duenow")
    late_patient = PatientFactory(home_clinic=practice.clinic, legal_family_name="Latecomer")
    set_plan(actor, due_patient.pk, stage="evaluation", instruments=["phq9"])
    MeasureDue.objects.create(organization=practice.org, patient=late_patient, instrument_id="gad7",
                              due_at=timezone.now() - timedelta(days=5), reason="weekly in maintenance")
    return due_patient, late_patient


def test_the_due_list_shows_patients_due_now_and_links_to_their_measures_tab(practice, due_and_overdue):
    due_patient, _late = due_and_overdue
    response = signed_in(practice.staff[Role.FRONT_DESK]).get("/measures/")
    text = text_of(response)
    assert "Duenow" in text and "PHQ-9" in text
    assert "Latecomer" not in text
    assert f'href="/patients/{due_patient.pk}/measures/"' in response.content.decode()
    assert "Safety alerts" not in text  # front desk has no clinical access


def test_the_overdue_list_shows_late_patients_with_how_late(practice, nurse, due_and_overdue):
    response = signed_in(nurse).get("/measures/", {"tab": "overdue"})
    text = text_of(response)
    assert "Latecomer" in text and "GAD-7" in text and "5 days late" in text
    assert "Duenow" not in text


def test_reading_a_worklist_is_audited_with_the_patients_shown(practice, nurse, due_and_overdue):
    due_patient, _late = due_and_overdue
    signed_in(nurse).get("/measures/")
    event = AuditEvent.objects.filter(action=Action.LIST, object_type="MeasureDue").latest("seq")
    assert event.detail["patients"] == [str(due_patient.pk)]
    assert event.username == nurse.user.username


def test_the_worklist_filters_by_clinic(practice, nurse, due_and_overdue):
    other = ClinicFactory(organization=practice.org, name="Northside")
    text = text_of(signed_in(nurse).get("/measures/", {"tab": "due", "clinic": str(other.pk)}))
    assert "Duenow" not in text and "Nothing due now." in text


def test_front_desk_cannot_open_the_alerts_list(practice):
    assert signed_in(practice.staff[Role.FRONT_DESK]).get("/measures/", {"tab": "alerts"}).status_code == 403


def test_the_alerts_list_shows_open_alerts_first_and_filters_to_mine(practice, nurse, prescriber):
    actor = actor_of(nurse)
    other = PatientFactory(home_clinic=practice.clinic, legal_family_name="Otherclin")
    set_plan(actor, practice.patient.pk, stage="induction", responsible_clinician_id=prescriber.pk)
    set_plan(actor, other.pk, stage="induction", responsible_clinician_id=nurse.pk)
    record_response(actor, practice.patient.pk, "phq9", phq9(9, item9=1))
    theirs = record_response(actor, other.pk, "phq9", phq9(9, item9=1)).alert
    client = signed_in(prescriber)
    client.post(f"/measures/alerts/{theirs.pk}/acknowledge/",
                {"action": "known_reviewed", "note": "Reviewed."})
    text = text_of(client.get("/measures/", {"tab": "alerts"}))
    assert text.index(practice.patient.legal_family_name) < text.index("Otherclin")
    assert "Open" in text and "Acknowledged" in text
    only_mine = text_of(client.get("/measures/", {"tab": "alerts", "mine": "on"}))
    assert practice.patient.legal_family_name in only_mine and "Otherclin" not in only_mine


# ---------- The alert page ----------

@pytest.fixture
def alert(practice, nurse, prescriber):
    set_plan(actor_of(nurse), practice.patient.pk, stage="induction", responsible_clinician_id=prescriber.pk)
    return record_response(actor_of(nurse), practice.patient.pk, "phq9", phq9(16, item9=3)).alert


def test_the_alert_page_shows_who_to_call_what_was_answered_and_who_was_notified(practice, nurse, alert):
    patient = practice.patient
    response = signed_in(nurse).get(f"/measures/alerts/{alert.pk}/")
    text = text_of(response)
    assert f"{patient.legal_given_name} {patient.legal_family_name}" in text
    assert patient.mrn in text
    assert f'href="tel:{patient.phone_mobile}"' in response.content.decode()
    assert "PHQ-9 item 9 endorsed" in text and "(item 9, answer 3)" in text
    assert f"{ITEM9} Nearly every day 3" in text
    assert "not yet read" in text
    reads = AuditEvent.objects.filter(action=Action.READ, object_type="SafetyAlert", object_id=str(alert.pk))
    assert reads.exists()


def test_opening_the_alert_marks_the_viewers_notification_read(practice, prescriber, alert):
    client = signed_in(prescriber)
    assert re.search(r'id="unread-notifications">1<', client.get("/").content.decode())
    client.get(f"/measures/alerts/{alert.pk}/")
    assert Notification.objects.get(safety_alert=alert).read_at is not None
    assert re.search(r'id="unread-notifications">0<', client.get("/").content.decode())


def test_acknowledging_needs_an_action_and_a_note_then_shows_who_did_what(practice, prescriber, alert):
    client = signed_in(prescriber)
    refused = client.post(f"/measures/alerts/{alert.pk}/acknowledge/", {"action": "", "note": ""})
    text = text_of(refused)
    assert "Choose the action you took." in text
    assert "Document what you did and found." in text
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.OPEN
    done = client.post(f"/measures/alerts/{alert.pk}/acknowledge/", {
        "action": "contacted_safety_plan", "note": "Called; safety plan reviewed, no plan or intent.",
    }, follow=True)
    text = text_of(done)
    assert "The alert is acknowledged." in text
    assert f"By {prescriber.user.get_full_name()}" in text
    assert "Action Contacted the patient; risk assessed and safety plan reviewed" in text
    assert "Note Called; safety plan reviewed, no plan or intent." in text
    assert "Acknowledge the alert" not in text


def test_another_organizations_alert_is_not_found(practice, stranger, prescriber):
    stranger_nurse = stranger.staff[Role.NURSE]
    other = record_response(actor_of(stranger_nurse), stranger.patient.pk, "phq9", phq9(10, item9=1)).alert
    client = signed_in(prescriber)
    assert client.get(f"/measures/alerts/{other.pk}/").status_code == 404
    posted = client.post(f"/measures/alerts/{other.pk}/acknowledge/",
                         {"action": "known_reviewed", "note": "x"})
    assert posted.status_code == 404
    other.refresh_from_db()
    assert other.status == SafetyAlert.Status.OPEN


# ---------- Settings ----------

def settings_post(**overrides: str) -> dict[str, str]:
    data = {
        "crisis-TOTAL_FORMS": "3", "crisis-INITIAL_FORMS": "2", "crisis-MIN_NUM_FORMS": "0",
        "crisis-MAX_NUM_FORMS": "8",
        "crisis-0-label": "988 Suicide & Crisis Lifeline", "crisis-0-contact": "Call or text 988",
        "crisis-0-href": "tel:988",
        "crisis-1-label": "Emergency", "crisis-1-contact": "Call 911", "crisis-1-href": "tel:911",
        "crisis-2-label": "", "crisis-2-contact": "", "crisis-2-href": "",
        "link_ttl_hours": "72", "response_reduction_percent": "50", "relapse_consecutive": "2",
        "non_response_after": "3", "overdue_after_days": "2", "reminder_every_hours": "48",
    }
    return data | overrides


def test_the_settings_page_shows_each_default_with_its_source(practice):
    text = text_of(signed_in(practice.staff[Role.OWNER]).get("/measures/settings/"))
    assert "Default: 50%. Source: Response is at least a 50% reduction" in text
    assert "Default: 3 treatments. Source: Few patients respond after more than 3 infusions" in text
    assert "Default: 2 days." in text and "[verify]: clinic-configurable; conservative default" in text
    assert "PHQ-9 remission at most (default: its definition: at most 4)" in text


def test_saving_the_settings_changes_them_and_audits_the_fields(practice):
    client = signed_in(practice.staff[Role.OWNER])
    response = client.post("/measures/settings/", settings_post(
        response_reduction_percent="40", remission_madrs="12",
        **{"crisis-2-label": "Local crisis team", "crisis-2-contact": "Call 555-0100",
           "crisis-2-href": "tel:5550100"},
    ), follow=True)
    assert "The measurement settings are saved." in text_of(response)
    config = MeasurementSettings.objects.get(organization=practice.org)
    assert config.response_reduction_percent == 40
    assert config.remission_overrides == {"madrs": 12.0}
    assert config.crisis_resources[-1] == {"label": "Local crisis team", "contact": "Call 555-0100",
                                           "href": "tel:5550100"}
    event = AuditEvent.objects.filter(object_type="MeasurementSettings").latest("seq")
    assert event.action == Action.UPDATE
    assert event.detail == {
        "fields": ["crisis_resources", "remission_overrides", "response_reduction_percent"]
    }


def test_a_bad_setting_is_named_next_to_its_field_and_nothing_is_saved(practice):
    client = signed_in(practice.staff[Role.OWNER])
    response = client.post("/measures/settings/", settings_post(
        response_reduction_percent="0", **{"crisis-1-href": "javascript:alert(1)"}
    ))
    text = text_of(response)
    assert "Give a whole number from 1 to 100 %." in text
    assert "Start the link with tel:, sms:, https:// or mailto:." in text
    assert MeasurementSettings.objects.get(organization=practice.org).response_reduction_percent == 50
    assert not AuditEvent.objects.filter(object_type="MeasurementSettings").exists()


def test_only_practice_managers_open_the_settings(practice):
    assert signed_in(practice.staff[Role.NURSE]).get("/measures/settings/").status_code == 403


def test_the_navigation_offers_measures_to_roles_that_see_the_schedule(practice):
    for role in (Role.FRONT_DESK, Role.NURSE, Role.OWNER):
        nav = signed_in(practice.staff[role]).get("/").content.decode().split('class="site-nav"')[1]
        assert ">Measures</a>" in nav.split("</nav>")[0]


def test_the_alerts_tab_lists_my_unread_notices_that_are_not_safety_alerts_and_audits_the_read(practice):
    from ketaflow.measurement.models import Notification

    prescriber = practice.staff[Role.PRESCRIBER]
    patient = practice.patient
    Notification.objects.create(
        organization=practice.org, recipient=prescriber.user, patient=patient,
        title=f"Eligibility re-opened: IV infusion for {patient.mrn}",
        link=f"/patients/{patient.pk}/eligibility/",
    )
    Notification.objects.create(
        organization=practice.org, recipient=practice.staff[Role.NURSE].user, patient=patient,
        title="Someone else's notice", link="/",
    )
    page = text_of(signed_in(prescriber).get("/measures/?tab=alerts"))
    assert f"Eligibility re-opened: IV infusion for {patient.mrn}" in page
    assert "Someone else's notice" not in page
    event = AuditEvent.objects.filter(organization=practice.org, object_type="Notification").get()
    assert event.action == Action.LIST and event.detail["patients"] == [str(patient.pk)]
