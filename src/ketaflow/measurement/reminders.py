"""Reminders: a link to what is due, sent by the patient's preferred channel.

`send_due_reminders` is run by `ketaflow measures remind` (cron, say every hour). A patient gets one
message covering everything due for them, at most once per `reminder_every_hours`. Messages name the
clinic, never a questionnaire or a score, since phones and mailboxes are read by others.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.patients.models import ContactMethod, Patient

from .library import instruments_for, settings_for
from .links import IssuedLink, create_link
from .models import Invitation, MeasureDue, Reminder
from .patient_views import crisis_sentence
from .sms import SMSError, sms_backend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReminderRun:
    patients: int
    sent: int
    failed: int
    skipped: int


def message_for(patient: Patient, link: IssuedLink, ttl_hours: int) -> tuple[str, str]:
    clinic = patient.home_clinic.name
    url = f"{settings.KETAFLOW_BASE_URL}{link.path}"
    subject = f"{clinic}: your check-in questionnaire"
    body = (
        f"{clinic} asks you to complete a short check-in before your next visit.\n\n{url}\n\n"
        f"The link works once and for {ttl_hours} hours. {crisis_sentence(patient.organization_id)}"
    )
    return subject, body


def channel_for(patient: Patient) -> str | None:
    """SMS when the patient prefers it (or has only a mobile), email otherwise; None without contacts."""
    prefers_sms = patient.preferred_contact == ContactMethod.SMS
    if patient.phone_mobile and (prefers_sms or not patient.email):
        return Invitation.Channel.SMS
    if patient.email:
        return Invitation.Channel.EMAIL
    return None


def send_due_reminders(organization_id: uuid.UUID, *, now: datetime | None = None) -> ReminderRun:
    """Send one reminder per patient with patient-reported measures due and not recently reminded."""
    now = now or timezone.now()
    config = settings_for(organization_id)
    quiet = now - timedelta(hours=config.reminder_every_hours)
    patient_reported = {
        i
        for i, inst in instruments_for(organization_id).items()
        if inst.respondent == "patient" and inst.ships_text
    }
    due = (
        MeasureDue.objects.for_organization(organization_id)
        .filter(
            status=MeasureDue.Status.OPEN,
            due_at__lte=now,
            instrument_id__in=patient_reported,
            patient__archived_at__isnull=True,
        )
        .exclude(last_reminded_at__gt=quiet)
        .select_related("patient__home_clinic")
    )
    by_patient: dict[uuid.UUID, list[MeasureDue]] = defaultdict(list)
    for row in due:
        by_patient[row.patient_id].append(row)
    sent = failed = skipped = 0
    backend = sms_backend()
    for rows in by_patient.values():
        patient = rows[0].patient
        channel = channel_for(patient)
        if channel == Invitation.Channel.SMS and backend is None:
            channel = Invitation.Channel.EMAIL if patient.email else None
        actor = Actor.system(organization_id, via="reminders")
        # First commit the link and claim the due rows (a concurrent run finds them claimed and skips
        # the patient); only then send, so a patient never holds a link that was rolled back.
        with transaction.atomic():
            claimed = list(
                MeasureDue.objects.select_for_update()
                .filter(pk__in=[r.pk for r in rows])
                .exclude(last_reminded_at__gt=quiet)
                .values_list("pk", flat=True)
            )
            if not claimed:
                continue
            MeasureDue.objects.filter(pk__in=claimed).update(
                last_reminded_at=now, reminders_sent=F("reminders_sent") + 1
            )
            instruments = [r.instrument_id for r in rows if r.pk in claimed]
            link = create_link(actor, patient, instruments, channel=channel) if channel else None
        status, detail = Reminder.Status.SKIPPED, "no email or mobile number on file"
        if link is not None:
            subject, body = message_for(patient, link, config.link_ttl_hours)
            try:
                if channel == Invitation.Channel.SMS:
                    assert backend is not None
                    backend.send(patient.phone_mobile, body)
                else:
                    send_mail(subject, body, None, [patient.email])
                status, detail = Reminder.Status.SENT, ""
            except (SMSError, OSError) as exc:
                status, detail = Reminder.Status.FAILED, type(exc).__name__
                log.warning("reminder to a patient failed (%s)", type(exc).__name__)
        Reminder.objects.create(
            organization_id=organization_id,
            patient=patient,
            channel=channel or Invitation.Channel.EMAIL,
            invitation=link.invitation if link else None,
            status=status,
            detail=detail,
            sent_at=now,
        )
        sent += status == Reminder.Status.SENT
        failed += status == Reminder.Status.FAILED
        skipped += status == Reminder.Status.SKIPPED
    return ReminderRun(len(by_patient), sent, failed, skipped)
