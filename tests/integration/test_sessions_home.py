"""At-home sessions in the portal: a high blood pressure blocks the session and tells the prescriber,
the full flow (monitor, dose, check-in), and a missed check-in alerts staff once."""

from __future__ import annotations

from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from django.urls import reverse
from django.utils import timezone

import ketaflow.sessions.home_cards  # noqa: F401  (registers the portal card, as the app does when ready)
from ketaflow import cli
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.models import Notification
from ketaflow.portal.models import PortalAccount
from ketaflow.sessions.commands_home import check_home
from ketaflow.sessions.home import (
    alert_missed_check_ins,
    attest_monitor,
    record_dose_taken,
    start_home_session,
)
from ketaflow.sessions.models import DoseEvent, HomeSession, SessionVitals, TreatmentSession
from ketaflow.validation import ValidationFailed
from tests.integration.consent_factories import portal_patient
from tests.integration.pages import PAGE_TEST_MARKS, text_of
from tests.integration.plans_factories import signed_plan

pytestmark = PAGE_TEST_MARKS


@pytest.fixture
def home_patient(practice):
    """The practice's patient on a signed at-home plan, signed in to the portal."""
    plan = signed_plan(practice, "sublingual_home")
    return plan, portal_patient(practice)


def test_an_at_home_session_is_blocked_by_a_high_blood_pressure(practice, home_patient):
    plan, client = home_patient
    started = client.post(
        reverse("sessions:home_start"), {"systolic_bp": "152", "diastolic_bp": "96"}, follow=True
    )
    text = unescape(text_of(started))
    assert "Do not take your dose today." in text
    assert (
        "Systolic blood pressure 152 mmHg is outside this protocol's pre-dose limit (at most 140 mmHg)"
        in text
    )
    assert (
        "Diastolic blood pressure 96 mmHg is outside this protocol's pre-dose limit (at most 90 mmHg)" in text
    )
    assert f"Contact {practice.clinic.name}" in text and "your prescriber has been told" in text
    assert "If you are in crisis: 988 Suicide & Crisis Lifeline" in text

    session = TreatmentSession.objects.get(patient=practice.patient)
    assert (session.status, session.setting, session.appointment_id) == ("blocked", "home", None)
    assert session.readiness["ready"] is False and "152" in session.status_reason
    assert session.pre_dose_vitals.systolic_bp == 152 and session.pre_dose_vitals.context == "session"
    assert SessionVitals.objects.get(session=session).phase == "pre_dose"
    notice = Notification.objects.get(patient=practice.patient)
    assert notice.recipient_id == practice.staff[Role.PRESCRIBER].user_id == plan.prescriber.user_id
    assert notice.title == f"Home session blocked: blood pressure 152/96 for {practice.patient.mrn}"
    assert notice.link == f"/sessions/{session.pk}/"

    account = PortalAccount.objects.get(patient=practice.patient)
    with pytest.raises(ValidationFailed, match="blocked by your blood pressure"):
        record_dose_taken(account, session.pk, dose_mg="40")
    assert not DoseEvent.objects.filter(session=session).exists()
    # No second try the same day: the portal points back to the advice, and the service refuses.
    assert "do not take a dose today" in text_of(client.get(reverse("portal:home")))
    retry = client.post(reverse("sessions:home_start"), {"systolic_bp": "128", "diastolic_bp": "80"})
    assert retry["Location"] == reverse("sessions:home_session", kwargs={"session_id": session.pk})
    with pytest.raises(ValidationFailed, match="too high for a session earlier today"):
        start_home_session(account, None, systolic_bp=128, diastolic_bp=80)
    assert TreatmentSession.objects.filter(patient=practice.patient).count() == 1
    created = AuditEvent.objects.get(object_type="TreatmentSession", action="create")
    assert created.via == "portal" and created.detail["status"] == "blocked"


def test_the_full_home_flow_from_blood_pressure_to_check_in(practice, home_patient):
    plan, client = home_patient
    assert "Start a home session" in text_of(client.get(reverse("portal:home")))
    bad = client.post(reverse("sessions:home_start"), {"systolic_bp": "80", "diastolic_bp": "95"})
    assert bad.status_code == 422 and "The diastolic pressure must be lower than the systolic." in text_of(
        bad
    )

    monitor_page = client.post(
        reverse("sessions:home_start"),
        {"systolic_bp": "128", "diastolic_bp": "82", "heart_rate": "70"},
        follow=True,
    )
    assert "Your treatment monitor" in text_of(monitor_page)
    session = TreatmentSession.objects.get(patient=practice.patient)
    assert session.status == "checked_in" and session.planned_mg == plan.dose_mg
    assert session.monitoring["pre_dose"] == {"systolic_bp": {"high": "140"}, "diastolic_bp": {"high": "90"}}
    account = PortalAccount.objects.get(patient=practice.patient)
    with pytest.raises(ValidationFailed, match="monitor must confirm"):
        record_dose_taken(account, session.pk, dose_mg=str(plan.dose_mg))

    monitor = reverse("sessions:home_monitor", kwargs={"session_id": session.pk})
    assert (
        client.post(monitor, {"monitor_name": "Jordan Partner"}).status_code == 422
    )  # "I will stay" unticked
    dose_page = client.post(monitor, {"monitor_name": "Jordan Partner", "stays": "on"}, follow=True)
    assert "Take your dose" in text_of(
        dose_page
    ) and "Your monitor, Jordan Partner, stays with you." in text_of(dose_page)
    dose = reverse("sessions:home_dose", kwargs={"session_id": session.pk})
    above = client.post(dose, {"dose_mg": str(plan.dose_mg + 20)})
    assert above.status_code == 422 and "more than your prescribed dose" in text_of(above)
    check_in_page = client.post(dose, {"dose_mg": str(plan.dose_mg)}, follow=True)
    home = HomeSession.objects.get(session=session)
    due = timezone.localtime(home.check_in_due_at, timezone=ZoneInfo(practice.clinic.timezone))
    assert f"Please check in by {due:%H:%M}" in text_of(check_in_page)
    assert home.check_in_due_at - home.dose_taken_at == timedelta(hours=4)  # the protocol's window
    assert "Check in now" in text_of(client.get(reverse("portal:home")))

    check_in = reverse("sessions:home_check_in", kwargs={"session_id": session.pk})
    done = client.post(check_in, {"feeling": "7", "notes": "Calm; a little dizzy at first."}, follow=True)
    assert "Your session is complete" in text_of(done) and "feeling 7 of 10" in text_of(done)
    home.refresh_from_db()
    session.refresh_from_db()
    assert (home.monitor_name, home.dose_taken_mg, home.feeling) == ("Jordan Partner", plan.dose_mg, 7)
    assert home.experience_notes == "Calm; a little dizzy at first."
    assert (session.status, session.delivered_mg) == ("discharged", plan.dose_mg)
    assert DoseEvent.objects.get(session=session).note == "Taken at home"
    events = list(
        AuditEvent.objects.filter(object_type="HomeSession")
        .order_by("pk")
        .values_list("detail__event", "via")
    )
    assert events == [("monitor attested", "portal"), ("dose taken", "portal"), ("checked in", "portal")]
    assert not Notification.objects.filter(patient=practice.patient).exists()


@pytest.fixture
def django_already_set_up(monkeypatch):
    monkeypatch.setattr(cli, "_django", lambda mode=None: None)


def test_a_missed_check_in_alerts_the_prescriber_once(practice, home_patient, django_already_set_up):
    plan, _client = home_patient
    account = PortalAccount.objects.get(patient=practice.patient)
    session = start_home_session(account, None, systolic_bp=126, diastolic_bp=80)
    attest_monitor(account, session.pk, monitor_name="Jordan Partner")
    home = record_dose_taken(account, session.pk, dose_mg=plan.dose_mg)
    assert alert_missed_check_ins(timezone.now()) == 0  # not due yet

    later = home.check_in_due_at + timedelta(minutes=1)
    assert alert_missed_check_ins(later) == 1
    assert alert_missed_check_ins(later + timedelta(hours=1)) == 0  # once only
    run = CliRunner().invoke(check_home, [], catch_exceptions=False)
    assert run.exit_code == 0 and f"{practice.org.slug}: 0 missed check-in(s) alerted" in run.output
    notice = Notification.objects.get(patient=practice.patient)
    assert notice.title == f"Missed home check-in for {practice.patient.mrn}"
    assert notice.recipient_id == practice.staff[Role.PRESCRIBER].user_id
    home.refresh_from_db()
    assert home.missed_alerted_at == later
    assert AuditEvent.objects.get(detail__event="missed check-in alerted").username == "system:cli"
