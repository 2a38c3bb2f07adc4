"""iCalendar (.ics) feeds: a secret URL per patient or staff member that a phone's calendar follows.

The token is 32 random bytes, shown once in the URL; only its SHA-256 is stored, and issuing a new
feed revokes the owner's old one. A feed carries the owner's appointments from `PAST_DAYS` back to
`AHEAD_DAYS` ahead, cancelled ones and no-shows as STATUS:CANCELLED so phones drop them. Calendars
sync to phones that others see, so a patient's feed says only the organization's
`patient_feed_title` ("Appointment at Harbor Clinic") and the clinic's address: no type, route or
diagnosis. A staff feed shows the type and the patient's initials, never a name. Every fetch is
audited as an EXPORT with the count.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.measurement.links import patient_actor
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import ValidationFailed

from .calendar import initials
from .models import ACTIVE, Appointment, CalendarFeed
from .reminders import scheduling_settings

PAST_DAYS = 30
AHEAD_DAYS = 365
PRODID = "-//ketaflow//scheduling//EN"
VIA = "ics"


class FeedUnavailable(Exception):
    """The feed token is unknown or revoked (or its owner left); which one is not said."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(token: str) -> str:
    """The full URL a calendar app subscribes to."""
    return f"{settings.KETAFLOW_BASE_URL}{reverse('scheduling:feed', kwargs={'token': token})}"


def active_feed(
    organization_id: uuid.UUID, *, patient_id: uuid.UUID | None = None, staff_id: uuid.UUID | None = None
) -> CalendarFeed | None:
    """The owner's feed that still works, or None."""
    feeds = CalendarFeed.objects.for_organization(organization_id).filter(revoked_at__isnull=True)
    if patient_id is not None:
        return feeds.filter(patient_id=patient_id).order_by("-created_at").first()
    return feeds.filter(staff_id=staff_id).order_by("-created_at").first()


def _owner(
    actor: Actor, patient_id: uuid.UUID | str | None, staff_id: uuid.UUID | str | None
) -> tuple[Patient | None, StaffMember | None]:
    """The feed's owner, after the permission check: EDIT_SCHEDULE for a patient's feed; a staff
    member's own feed needs VIEW_SCHEDULE, someone else's MANAGE_STAFF."""
    if (patient_id is None) == (staff_id is None):
        raise ValidationFailed.single(None, "Choose a patient or a staff member for the calendar feed.")
    if patient_id is not None:
        actor.require(Permission.EDIT_SCHEDULE)
        return _load(actor, patient_id), None
    actor.require(Permission.VIEW_SCHEDULE)
    if str(staff_id) != str(actor.staff_id):
        actor.require(Permission.MANAGE_STAFF)
    staff = StaffMember.objects.for_organization(actor.organization_id).one(staff_id, "staff member")
    return None, staff


def _revoke(actor: Actor, patient: Patient | None, staff: StaffMember | None, now: datetime) -> int:
    feeds = CalendarFeed.objects.for_organization(actor.organization_id).filter(revoked_at__isnull=True)
    feeds = feeds.filter(patient=patient) if patient is not None else feeds.filter(staff=staff)
    return feeds.update(revoked_at=now)


def _issue(actor: Actor, patient: Patient | None, staff: StaffMember | None) -> tuple[CalendarFeed, str]:
    """Inside the caller's transaction: revoke the owner's old feed, write the new one, audit it."""
    now = timezone.now()
    revoked = _revoke(actor, patient, staff, now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        organization_id=actor.organization_id, token_hash=token_hash(token), patient=patient, staff=staff,
        created_by_id=actor.user_id,
    )
    record(actor, Action.CREATE, "CalendarFeed", feed.pk, patient_id=patient.pk if patient else None,
           detail={"owner": "patient" if patient else "staff", "revoked": revoked,
                   **({"staff_id": str(staff.pk)} if staff else {})})
    return feed, feed_url(token)


def issue_feed(
    actor: Actor, *, patient_id: uuid.UUID | str | None = None, staff_id: uuid.UUID | str | None = None
) -> tuple[CalendarFeed, str]:
    """A new feed for the patient or the staff member and its URL (shown once; only the hash is
    kept). Revokes the owner's previous feed. Raises Forbidden, NotFound or ValidationFailed."""
    with transaction.atomic():
        patient, staff = _owner(actor, patient_id, staff_id)
        return _issue(actor, patient, staff)


def revoke_feed(
    actor: Actor, *, patient_id: uuid.UUID | str | None = None, staff_id: uuid.UUID | str | None = None
) -> int:
    """Stop the owner's feed; returns how many feeds were revoked (0 when none was active)."""
    with transaction.atomic():
        patient, staff = _owner(actor, patient_id, staff_id)
        revoked = _revoke(actor, patient, staff, timezone.now())
        if revoked:
            record(actor, Action.UPDATE, "CalendarFeed", "", patient_id=patient.pk if patient else None,
                   detail={"event": "revoked", "owner": "patient" if patient else "staff", "revoked": revoked,
                           **({"staff_id": str(staff.pk)} if staff else {})})
    return revoked


def issue_portal_feed(account: PortalAccount, ip_address: str | None = None) -> tuple[CalendarFeed, str]:
    """The signed-in patient's own new feed (revoking their old one) and its URL, shown once."""
    actor = portal_actor(account, ip_address)
    with transaction.atomic():
        patient = Patient.objects.for_organization(account.organization_id).get(pk=account.patient_id)
        return _issue(actor, patient, None)


def revoke_portal_feed(account: PortalAccount, ip_address: str | None = None) -> int:
    actor = portal_actor(account, ip_address)
    with transaction.atomic():
        revoked = _revoke(actor, account.patient, None, timezone.now())
        if revoked:
            record(actor, Action.UPDATE, "CalendarFeed", "", patient_id=account.patient_id,
                   detail={"event": "revoked", "owner": "patient", "revoked": revoked})
    return revoked


# ---------- the feed itself ----------


def _reader(feed: CalendarFeed) -> Actor:
    """Who the audit trail says read the feed: the patient, or the staff member, via "ics"."""
    if feed.patient is not None:
        return patient_actor(feed.patient, VIA)
    staff = feed.staff
    assert staff is not None
    return Actor(user_id=staff.user_id, username=staff.user.username, organization_id=staff.organization_id,
                 roles=staff.roles, staff_id=staff.pk, via=VIA)


def _event(appointment: Appointment, feed: CalendarFeed, title: str, stamp: datetime) -> Event:
    clinic = appointment.clinic
    zone = ZoneInfo(clinic.timezone)
    event = Event()
    event.add("uid", f"{appointment.pk}@ketaflow")
    event.add("dtstamp", stamp)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("status", "CONFIRMED" if appointment.status in ACTIVE else "CANCELLED")
    place = f"{clinic.name}, {clinic.address}" if clinic.address else clinic.name
    if feed.patient is not None:
        event.add("summary", title.replace("{clinic}", clinic.name))
        event.add("location", place)
        if clinic.phone:
            event.add("description", f"To change or cancel, call {clinic.phone}.")
    else:
        patient = appointment.patient
        who = initials(patient.preferred_name or patient.legal_given_name, patient.legal_family_name)
        event.add("summary", f"{appointment.appointment_type.name} · {who}")
        event.add("location", f"{place} · {appointment.room.name}" if appointment.room else place)
        event.add("description", f"Status: {appointment.get_status_display()}")
    return event


def feed_document(token: str, *, now: datetime | None = None) -> bytes:
    """The iCalendar text for the feed of `token`. Raises FeedUnavailable for an unknown or revoked
    token, an archived patient or a deactivated staff login."""
    now = now or timezone.now()
    feed = (
        CalendarFeed.objects.select_related("patient__home_clinic", "staff__user")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None:
        raise FeedUnavailable
    if (feed.patient is not None and feed.patient.archived_at is not None) or (
        feed.staff is not None and not feed.staff.user.is_active
    ):
        raise FeedUnavailable
    appointments = (
        Appointment.objects.for_organization(feed.organization_id)
        .filter(starts_at__gte=now - timedelta(days=PAST_DAYS))
        .filter(starts_at__lte=now + timedelta(days=AHEAD_DAYS))
        .select_related("clinic", "appointment_type", "room", "patient")
        .order_by("starts_at", "pk")
    )
    if feed.patient is not None:
        appointments = appointments.filter(patient=feed.patient)
        name = f"{feed.patient.home_clinic.name} appointments"
    else:
        assert feed.staff is not None
        appointments = appointments.filter(staff_rows__staff=feed.staff)
        name = f"My ketaflow schedule ({feed.staff.user.get_full_name() or feed.staff.user.username})"
    title = scheduling_settings(feed.organization_id).patient_feed_title
    stamp = now.astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    rows = list(appointments)
    for appointment in rows:
        calendar.add_component(_event(appointment, feed, title, stamp))
    calendar.add_missing_timezones()
    with transaction.atomic():
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
        record(_reader(feed), Action.EXPORT, "CalendarFeed", feed.pk,
               patient_id=feed.patient_id, detail={"format": "ics", "count": len(rows)})
    return bytes(calendar.to_ical())
