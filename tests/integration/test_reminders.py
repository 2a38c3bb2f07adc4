"""Reminders for due questionnaires (`send_due_reminders`, run by `ketaflow measures remind`)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.instruments import builtin_instruments
from ketaflow.measurement import links, schedule
from ketaflow.measurement.models import Invitation, MeasureDue, Reminder
from ketaflow.measurement.reminders import send_due_reminders
from ketaflow.measurement.sms import MemorySMSBackend, SMSError
from ketaflow.patients.models import ContactMethod
from tests.factories import PatientFactory, actor_of

MEMORY_SMS = "ketaflow.measurement.sms.MemorySMSBackend"
LINK = re.compile(r"/q/([A-Za-z0-9_-]+)/")


class RefusingSMSBackend:
    """A carrier that accepts nothing."""

    def send(self, to: str, body: str) -> None:
        raise SMSError("carrier refused the message")


@pytest.fixture
def sms_outbox(settings):
    settings.KETAFLOW_SMS_BACKEND = MEMORY_SMS
    MemorySMSBackend.outbox.clear()
    yield MemorySMSBackend.outbox
    MemorySMSBackend.outbox.clear()


@pytest.fixture
def actor(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


def emailed_patient(practice, **fields):
    values = {"email": "avery.test@example.test", "preferred_contact": ContactMethod.EMAIL, **fields}
    return PatientFactory(home_clinic=practice.clinic, **values)


def private_words(patient):
    """What must never appear in a reminder: who the patient is and what they are asked about."""
    words = [patient.legal_given_name, patient.legal_family_name, patient.mrn]
    for instrument in builtin_instruments().values():
        words += [instrument.name, instrument.short_name, instrument.id]
    return words


def test_one_email_per_patient_covers_everything_due_with_a_link_that_opens(practice, actor):
    patient = emailed_patient(practice)
    schedule.set_plan(actor, patient.pk, stage="evaluation")  # phq9, gad7 and the C-SSRS screener due now

    run = send_due_reminders(practice.org.id)

    assert (run.patients, run.sent, run.failed, run.skipped) == (1, 1, 0, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [patient.email]
    token = LINK.search(message.body).group(1)
    invitation, instruments = links.open_link(token)
    assert invitation.patient_id == patient.pk
    assert invitation.channel == Invitation.Channel.EMAIL
    assert sorted(i.id for i in instruments) == ["cssrs_screener", "gad7", "phq9"]
    reminder = Reminder.objects.get()
    assert (reminder.status, reminder.channel, reminder.invitation_id) == ("sent", "email", invitation.pk)
    assert set(MeasureDue.objects.filter(status="open").values_list("reminders_sent", flat=True)) == {1}


def test_a_reminder_names_the_clinic_but_no_questionnaire_score_or_patient(practice, actor):
    patient = emailed_patient(practice)
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    send_due_reminders(practice.org.id)

    message = mail.outbox[0]
    text = f"{message.subject}\n{message.body}"
    assert practice.clinic.name in message.subject and practice.clinic.name in message.body
    for word in private_words(patient):
        assert word not in text, word
    assert not re.search(r"\bscore|\btotal\b|\bband\b", text, re.IGNORECASE)
    assert "988" in message.body  # the crisis line goes with every message


def test_a_patient_who_prefers_text_messages_gets_an_sms_with_the_link(practice, actor, sms_outbox):
    patient = emailed_patient(practice, preferred_contact=ContactMethod.SMS, phone_mobile="+15035550199")
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    run = send_due_reminders(practice.org.id)

    assert (run.sent, len(mail.outbox), len(sms_outbox)) == (1, 0, 1)
    sms = sms_outbox[0]
    assert sms.to == "+15035550199"
    assert practice.clinic.name in sms.body
    for word in private_words(patient):
        assert word not in sms.body, word
    invitation, _ = links.open_link(LINK.search(sms.body).group(1))
    assert invitation.patient_id == patient.pk and invitation.channel == Invitation.Channel.SMS
    assert Reminder.objects.get().channel == Invitation.Channel.SMS


def test_a_patient_with_only_a_mobile_number_is_texted(practice, actor, sms_outbox):
    patient = emailed_patient(practice, email="", preferred_contact=ContactMethod.PHONE)
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    send_due_reminders(practice.org.id)

    assert [m.to for m in sms_outbox] == [patient.phone_mobile]
    assert mail.outbox == []


def test_with_sms_switched_off_a_patient_who_prefers_it_is_emailed(practice, actor, settings):
    settings.KETAFLOW_SMS_BACKEND = ""
    patient = emailed_patient(practice, preferred_contact=ContactMethod.SMS)
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    run = send_due_reminders(practice.org.id)

    assert run.sent == 1
    assert [m.to for m in mail.outbox] == [[patient.email]]


def test_a_second_run_within_the_reminder_interval_sends_nothing_and_one_after_it_sends_again(
    practice, actor,
):
    patient = emailed_patient(practice)
    schedule.set_plan(actor, patient.pk, stage="evaluation")
    now = timezone.now()

    first = send_due_reminders(practice.org.id, now=now)
    again = send_due_reminders(practice.org.id, now=now + timedelta(hours=47))
    later = send_due_reminders(practice.org.id, now=now + timedelta(hours=49))

    assert (first.sent, again.patients, again.sent, later.sent) == (1, 0, 0, 1)
    assert len(mail.outbox) == 2
    assert Reminder.objects.count() == 2
    first_token, second_token = (LINK.search(m.body).group(1) for m in mail.outbox)
    assert first_token != second_token


def test_a_patient_with_no_email_or_mobile_is_recorded_as_skipped(practice, actor, sms_outbox):
    patient = emailed_patient(practice, email="", phone_mobile="")
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    run = send_due_reminders(practice.org.id)

    assert (run.patients, run.sent, run.failed, run.skipped) == (1, 0, 0, 1)
    assert mail.outbox == [] and sms_outbox == []
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SKIPPED and reminder.invitation is None
    assert not Invitation.objects.exists()


def test_a_refused_text_message_is_recorded_as_failed(practice, actor, settings):
    settings.KETAFLOW_SMS_BACKEND = f"{__name__}.RefusingSMSBackend"
    patient = emailed_patient(practice, preferred_contact=ContactMethod.SMS)
    schedule.set_plan(actor, patient.pk, stage="evaluation")

    run = send_due_reminders(practice.org.id)

    assert (run.sent, run.failed) == (0, 1)
    reminder = Reminder.objects.get()
    assert (reminder.status, reminder.detail) == (Reminder.Status.FAILED, "SMSError")


def test_clinician_rated_instruments_never_trigger_a_reminder(practice, actor, sms_outbox):
    patient = emailed_patient(practice)
    schedule.set_plan(actor, patient.pk, stage="evaluation", instruments=["madrs", "ymrs", "cadss6"])
    assert MeasureDue.objects.filter(patient=patient, status="open").count() == 3

    run = send_due_reminders(practice.org.id)

    assert (run.patients, run.sent) == (0, 0)
    assert mail.outbox == [] and sms_outbox == []
    assert not Reminder.objects.exists()


def test_a_reminder_covers_only_the_patient_reported_measures_of_a_mixed_plan(practice, actor):
    patient = emailed_patient(practice)
    schedule.set_plan(actor, patient.pk, stage="evaluation", instruments=["madrs", "phq9"])

    send_due_reminders(practice.org.id)

    _, instruments = links.open_link(LINK.search(mail.outbox[0].body).group(1))
    assert [i.id for i in instruments] == ["phq9"]


def test_nothing_is_sent_for_measures_not_yet_due_or_for_archived_patients(practice, actor):
    waiting = emailed_patient(practice)
    schedule.set_plan(actor, waiting.pk, stage="maintenance")
    MeasureDue.objects.update(due_at=timezone.now() + timedelta(days=2))
    archived = emailed_patient(practice, email="archived@example.test")
    schedule.set_plan(actor, archived.pk, stage="evaluation")
    archived.archived_at = timezone.now()
    archived.save()

    run = send_due_reminders(practice.org.id)

    assert run.patients == 0 and mail.outbox == []


def test_each_organization_reminds_only_its_own_patients(practice, actor, stranger):
    ours = emailed_patient(practice)
    schedule.set_plan(actor, ours.pk, stage="evaluation")
    theirs = PatientFactory(home_clinic=stranger.clinic, email="theirs@example.test",
                            preferred_contact=ContactMethod.EMAIL)
    schedule.set_plan(actor_of(stranger.staff[Role.PRESCRIBER]), theirs.pk, stage="evaluation")

    run = send_due_reminders(practice.org.id)

    assert run.patients == 1
    assert [m.to for m in mail.outbox] == [[ours.email]]
    assert Reminder.objects.get().organization_id == practice.org.id
