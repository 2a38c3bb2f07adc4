"""Appointment reminders: once per appointment, in the clinic's time, with the clinic's address and
the pre-session instructions (fasting from the plan's protocol, escort, playlist), never clinical
words; cancelled and far-off appointments get none; a failed send is retried on the next run."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from django.core import mail
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.sms import MemorySMSBackend, SMSError
from ketaflow.scheduling.commands import schedule
from ketaflow.scheduling.models import Appointment, SchedulingSettings
from ketaflow.scheduling.reminders import ESCORT_LINE, PLAYLIST_LINE, send_appointment_reminders
from tests.factories import ConditionFactory
from tests.integration.calendar_factories import IV_FASTING, book, esketamine_plan, open_clinic

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 4, 15, 0, tzinfo=ZoneInfo("UTC"))  # Monday 8:00 AM in Denver


class FailingSMS:
    def send(self, to: str, body: str) -> None:
        raise SMSError("carrier refused")


@pytest.fixture
def sms(settings):
    settings.KETAFLOW_SMS_BACKEND = "ketaflow.measurement.sms.MemorySMSBackend"
    MemorySMSBackend.outbox.clear()
    yield MemorySMSBackend.outbox
    MemorySMSBackend.outbox.clear()


@pytest.fixture
def clinic(practice):
    clinic = practice.clinic
    clinic.name, clinic.address_line1 = "Harbor Clinic", "12 Quay Lane"
    clinic.city, clinic.region = "Portland", "OR"
    clinic.phone = "+15035550100"
    clinic.save()
    practice.patient.preferred_contact = "sms"
    practice.patient.save()
    return clinic


def test_an_esketamine_reminder_carries_the_protocols_fasting_and_ride_home_and_a_playlist(
    practice, clinic, sms
):
    chairs = open_clinic(clinic)
    ConditionFactory(patient=practice.patient)  # major depressive disorder, F33.9
    plan = esketamine_plan(practice.patient, practice.staff[Role.PRESCRIBER])
    book(practice.patient, NOW + timedelta(hours=18), room=chairs[0], key="esketamine", plan=plan,
         series_number=1, phase="induction")

    run = send_appointment_reminders(practice.org.pk, now=NOW)

    assert (run.due, run.sent, run.failed, run.skipped) == (1, 1, 0, 0)
    assert [m.to for m in sms] == [practice.patient.phone_mobile]
    body = sms[0].body
    assert "No food for 2 hours and no liquids for 30 minutes before the dose." in body
    assert "Arrange a ride home: no driving until the next day after sleep." in body
    assert ESCORT_LINE not in body  # the protocol already says it: once is enough
    assert PLAYLIST_LINE in body
    assert "Tuesday, March 5, 2030 at 2:00 AM MST" in body  # 09:00 UTC in Denver
    assert "Harbor Clinic, 12 Quay Lane, Portland, OR" in body
    assert "call +15035550100" in body
    for clinical in ("depress", "F33", "ketamine", "Spravato", "esketamine", "TRD", "nasal"):
        assert clinical.lower() not in body.lower()


def test_an_infusion_reminder_by_email_has_the_types_own_instructions(practice, clinic, settings):
    settings.KETAFLOW_SMS_BACKEND = ""
    practice.patient.email, practice.patient.preferred_contact = "quinn@example.test", "email"
    practice.patient.save()
    chairs = open_clinic(clinic)
    book(practice.patient, NOW + timedelta(hours=3), room=chairs[0], key="iv")
    mail.outbox.clear()

    run = send_appointment_reminders(practice.org.pk, now=NOW)

    assert run.sent == 1 and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["quinn@example.test"]
    assert message.subject.startswith("Harbor Clinic: your appointment on Monday, March 4, 2030")
    assert IV_FASTING in message.body and ESCORT_LINE in message.body
    assert "IV" not in message.body and "infusion" not in message.body.lower()


def test_each_appointment_is_reminded_once(practice, clinic, sms):
    chairs = open_clinic(clinic)
    appointment = book(practice.patient, NOW + timedelta(hours=5), room=chairs[0])

    first = send_appointment_reminders(practice.org.pk, now=NOW)
    second = send_appointment_reminders(practice.org.pk, now=NOW + timedelta(minutes=15))

    assert (first.sent, second.sent, second.due) == (1, 0, 0)
    assert len(sms) == 1
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at == NOW
    event = AuditEvent.objects.get(organization=practice.org, object_id=str(appointment.pk), action="export")
    assert event.via == "appt-rem" and event.detail == {"event": "reminder", "channel": "sms"}


def test_cancelled_far_off_and_other_organizations_appointments_get_no_reminder(
    practice, clinic, stranger, sms
):
    chairs = open_clinic(clinic)
    book(practice.patient, NOW + timedelta(hours=2), room=chairs[0], status=Appointment.Status.CANCELLED)
    book(practice.patient, NOW + timedelta(hours=30), room=chairs[1])
    book(practice.patient, NOW - timedelta(hours=1), room=chairs[2])
    theirs = open_clinic(stranger.clinic)
    book(stranger.patient, NOW + timedelta(hours=2), room=theirs[0])

    run = send_appointment_reminders(practice.org.pk, now=NOW)

    assert (run.due, run.sent) == (0, 0) and sms == []


def test_the_organizations_reminder_window_and_switch_are_respected(practice, clinic, sms):
    chairs = open_clinic(clinic)
    book(practice.patient, NOW + timedelta(hours=30), room=chairs[0])
    config = SchedulingSettings.objects.create(organization=practice.org, reminder_hours_before=48)

    assert send_appointment_reminders(practice.org.pk, now=NOW).sent == 1
    config.reminders_enabled = False
    config.save()
    book(practice.patient, NOW + timedelta(hours=20), room=chairs[1])
    assert send_appointment_reminders(practice.org.pk, now=NOW).due == 0


def test_a_failed_send_releases_the_claim_so_the_next_run_retries(practice, clinic, settings):
    settings.KETAFLOW_SMS_BACKEND = "tests.integration.test_scheduling_reminders.FailingSMS"
    chairs = open_clinic(clinic)
    appointment = book(practice.patient, NOW + timedelta(hours=5), room=chairs[0])

    run = send_appointment_reminders(practice.org.pk, now=NOW)

    appointment.refresh_from_db()
    assert (run.sent, run.failed) == (0, 1) and appointment.reminder_sent_at is None
    settings.KETAFLOW_SMS_BACKEND = "ketaflow.measurement.sms.MemorySMSBackend"
    MemorySMSBackend.outbox.clear()
    assert send_appointment_reminders(practice.org.pk, now=NOW).sent == 1
    MemorySMSBackend.outbox.clear()


def test_a_patient_without_contact_details_is_skipped_and_not_marked_reminded(practice, clinic, sms):
    practice.patient.phone_mobile, practice.patient.email = "", ""
    practice.patient.save()
    chairs = open_clinic(clinic)
    appointment = book(practice.patient, NOW + timedelta(hours=5), room=chairs[0])

    run = send_appointment_reminders(practice.org.pk, now=NOW)

    appointment.refresh_from_db()
    assert (run.skipped, run.sent) == (1, 0) and appointment.reminder_sent_at is None


def test_the_schedule_remind_command_prints_the_counts_per_organization(practice, clinic, sms):
    chairs = open_clinic(clinic)
    book(practice.patient, timezone.now() + timedelta(hours=2), room=chairs[0])

    result = CliRunner().invoke(schedule, ["remind", "--organization", practice.org.slug])

    assert result.exit_code == 0, result.output
    assert f"{practice.org.slug}: 1 due, 1 sent, 0 failed, 0 skipped" in result.output
    assert len(sms) == 1
