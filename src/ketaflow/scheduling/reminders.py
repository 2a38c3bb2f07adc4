"""Appointment reminders carrying the pre-session instructions (fasting, escort, playlist).

`send_appointment_reminders` is run by `ketaflow schedule remind` (cron, say every 15 minutes). Each
booked appointment starting within the organization's `reminder_hours_before` gets one message, by
the patient's preferred channel, claimed first through `reminder_sent_at` so two runs never send it
twice. A failed send releases the claim so a later run retries. Messages say the clinic, the time in
the clinic's zone, its address and what to do before the visit; never the diagnosis, the treatment
or the route, since phones and mailboxes are read by others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.protocols import ProtocolError
from ketaflow.measurement.models import Invitation
from ketaflow.measurement.patient_views import crisis_sentence
from ketaflow.measurement.reminders import channel_for
from ketaflow.measurement.sms import send_to_patient, sms_backend
from ketaflow.plans.snapshot import protocol_of

from .models import Appointment, SchedulingSettings

VIA = "appt-rem"  # the audit trail's `via` holds 10 characters
ESCORT_LINE = (
    "An adult must take you home afterwards (no driving until the next day after sleep); "
    "please tell us their name when you arrive."
)
PLAYLIST_LINE = "You are welcome to bring headphones and a calming music playlist for your session."
ESCORT_WORDS = ("escort", "drive you home", "ride home", "take you home")
PLAYLIST_WORDS = ("playlist", "music")


def scheduling_settings(organization_id: uuid.UUID) -> SchedulingSettings:
    """The organization's settings row, or the defaults (unsaved) when it has none."""
    found = SchedulingSettings.objects.for_organization(organization_id).first()
    return found or SchedulingSettings(organization_id=organization_id)


def protocol_instructions(appointment: Appointment) -> str:
    """The plan's protocol instructions (esketamine: fasting and no driving), "" without a plan."""
    if appointment.plan is None:
        return ""
    try:
        return protocol_of(appointment.plan).instructions
    except ProtocolError:
        return str(appointment.plan.protocol.get("instructions", ""))


def instruction_lines(appointment: Appointment) -> list[str]:
    """What the patient does before the visit: the type's instructions (the clinic's own wording),
    or the plan's protocol instructions when the type has none, and for a treatment in the clinic an
    escort line and a playlist line unless the instructions already say so (no line twice)."""
    kind = appointment.appointment_type
    text = kind.instructions or protocol_instructions(appointment)
    shown: list[str] = []
    for line in (part.strip() for part in text.splitlines()):
        if line and line not in shown:
            shown.append(line)
    if kind.is_treatment and kind.room_kind and not kind.telehealth:
        said = " ".join(shown).lower()
        if not any(word in said for word in ESCORT_WORDS):
            shown.append(ESCORT_LINE)
        if not any(word in said for word in PLAYLIST_WORDS):
            shown.append(PLAYLIST_LINE)
    return shown


def when_text(moment: datetime, zone: str) -> str:
    """'Tuesday, March 4, 2025 at 9:00 AM MST' in the clinic's time zone."""
    local = moment.astimezone(ZoneInfo(zone))
    hour = local.hour % 12 or 12
    return f"{local:%A, %B} {local.day}, {local.year} at {hour}:{local:%M %p} {local.tzname()}"


def message_for(appointment: Appointment) -> tuple[str, str]:
    """(subject, body) naming the clinic, the time, the place and the instructions only."""
    clinic = appointment.clinic
    when = when_text(appointment.starts_at, clinic.timezone)
    lines = [f"{clinic.name}: a reminder of your appointment on {when}.", ""]
    lines.append(f"Where: {clinic.name}" + (f", {clinic.address}" if clinic.address else ""))
    steps = instruction_lines(appointment)
    if steps:
        lines += ["", "Before your visit:", *[f"- {step}" for step in steps]]
    if clinic.phone:
        lines += ["", f"To change or cancel, call {clinic.phone}."]
    lines += ["", crisis_sentence(appointment.organization_id)]
    subject = f"{clinic.name}: your appointment on {when}"
    return subject, "\n".join(lines)


@dataclass(frozen=True)
class ReminderRun:
    due: int
    sent: int
    failed: int
    skipped: int


def _claim(actor: Actor, appointment: Appointment, now: datetime, channel: str) -> bool:
    with transaction.atomic():
        claimed = (
            Appointment.objects.for_organization(actor.organization_id)
            .filter(pk=appointment.pk, status=Appointment.Status.BOOKED, reminder_sent_at__isnull=True)
            .update(reminder_sent_at=now)
        )
        if claimed:
            record(actor, Action.EXPORT, "Appointment", appointment.pk, patient_id=appointment.patient_id,
                   detail={"event": "reminder", "channel": str(channel)})
    return bool(claimed)


def _release(actor: Actor, appointment: Appointment, channel: str) -> None:
    with transaction.atomic():
        Appointment.objects.for_organization(actor.organization_id).filter(pk=appointment.pk).update(
            reminder_sent_at=None
        )
        record(actor, Action.UPDATE, "Appointment", appointment.pk, patient_id=appointment.patient_id,
               detail={"event": "reminder_failed", "channel": str(channel)})


def send_appointment_reminders(organization_id: uuid.UUID, *, now: datetime | None = None) -> ReminderRun:
    """Send each booked appointment starting within the reminder window its one reminder.

    Cancelled, no-show and archived patients' appointments are skipped; a patient without a
    usable contact is counted as skipped and tried again on the next run.
    """
    now = now or timezone.now()
    config = scheduling_settings(organization_id)
    if not config.reminders_enabled:
        return ReminderRun(0, 0, 0, 0)
    due = list(
        Appointment.objects.for_organization(organization_id)
        .filter(
            status=Appointment.Status.BOOKED, reminder_sent_at__isnull=True, starts_at__gt=now,
            starts_at__lte=now + timedelta(hours=config.reminder_hours_before),
            patient__archived_at__isnull=True,
        )
        .select_related("patient", "clinic", "appointment_type", "plan")
        .order_by("starts_at")
    )
    actor = Actor.system(organization_id, via=VIA)
    has_sms = sms_backend() is not None
    sent = failed = skipped = 0
    for appointment in due:
        patient = appointment.patient
        channel = channel_for(patient)
        if channel == Invitation.Channel.SMS and not has_sms:
            channel = Invitation.Channel.EMAIL if patient.email else None
        if channel is None:
            skipped += 1
            continue
        if not _claim(actor, appointment, now, channel):
            continue  # another run sent it, or it changed meanwhile
        subject, body = message_for(appointment)
        if send_to_patient(patient.phone_mobile, patient.email, by_sms=channel == Invitation.Channel.SMS,
                           subject=subject, body=body, what="appointment reminder"):
            sent += 1
        else:
            _release(actor, appointment, channel)
            failed += 1
    return ReminderRun(len(due), sent, failed, skipped)
