"""What happens to an appointment after it is booked: arrive, complete, cancel, no-show, reschedule.

`book` lives in booking.py and is re-exported here, so other apps call `scheduling.services` only.
Cancelling or a no-show frees the slots and cancels the scheduled treatment; completing gives it.
After either, the plan's review points are refreshed. Every write and read is audited in its own
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.measurement.models import Treatment
from ketaflow.measurement.schedule import refresh_due
from ketaflow.plans.models import TreatmentPlan
from ketaflow.plans.reviews import refresh_review_points
from ketaflow.validation import ValidationFailed

from .booking import book, type_for
from .calendar import zone_of
from .defaults import ensure_appointment_types
from .models import OPEN, Appointment, Occupancy
from .waitlist import add_to_waitlist, book_from_waitlist, offers_for, remove_from_waitlist

__all__ = [
    "add_to_waitlist",
    "book",
    "book_from_waitlist",
    "cancel",
    "complete",
    "ensure_appointment_types",
    "mark_arrived",
    "mark_no_show",
    "offers_for",
    "open_appointment",
    "remove_from_waitlist",
    "reschedule",
    "type_for",
]

REASON_LIMIT = 300


def appointments_of(organization_id: uuid.UUID) -> QuerySet[Appointment]:
    return Appointment.objects.for_organization(organization_id)


def open_appointment(actor: Actor, appointment_id: uuid.UUID | str, *, purpose: str = "view") -> Appointment:
    """One appointment with its type, clinic, room, staff and patient; the read is audited."""
    actor.require(Permission.VIEW_SCHEDULE)
    with transaction.atomic():
        appointment: Appointment = (
            appointments_of(actor.organization_id)
            .select_related("appointment_type", "clinic", "room", "patient", "plan", "treatment")
            .prefetch_related("staff_rows__staff__user")
            .one(appointment_id, "appointment")  # type: ignore[attr-defined]
        )
        record(
            actor,
            Action.READ,
            "Appointment",
            appointment.pk,
            patient_id=appointment.patient_id,
            detail={"purpose": purpose},
        )
    return appointment


def _locked(actor: Actor, appointment_id: uuid.UUID | str) -> Appointment:
    appointment: Appointment = (
        appointments_of(actor.organization_id)
        .select_for_update(of=("self",))
        .select_related("appointment_type", "clinic", "patient", "plan", "treatment")
        .one(appointment_id, "appointment")  # type: ignore[attr-defined]
    )
    return appointment


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed.single("reason", "Give a reason; it is kept with the appointment.")
    if len(text) > REASON_LIMIT:
        raise ValidationFailed.single("reason", f"Keep the reason under {REASON_LIMIT} characters.")
    return text


def _refresh_plan(plan: TreatmentPlan | None) -> None:
    if plan is not None:
        refresh_review_points(plan)


def _release(actor: Actor, appointment: Appointment, status: str, reason: str) -> Appointment:
    """Cancel or mark a no-show: free the slots, cancel the scheduled treatment (in the caller's
    transaction)."""
    if appointment.status not in OPEN:
        raise ValidationFailed.single(
            "status", f"This appointment is {appointment.get_status_display().lower()}; it cannot change now."
        )
    before = appointment.status
    appointment.status = status
    appointment.status_reason = reason
    appointment.status_changed_at = timezone.now()
    appointment.save(update_fields=["status", "status_reason", "status_changed_at"])
    Occupancy.objects.filter(appointment=appointment).delete()
    treatment = appointment.treatment
    if treatment is not None and treatment.status == Treatment.Status.SCHEDULED:
        treatment.status = Treatment.Status.CANCELLED
        treatment.save(update_fields=["status"])
    record(
        actor,
        Action.UPDATE,
        "Appointment",
        appointment.pk,
        patient_id=appointment.patient_id,
        detail={"from": before, "to": status, "reason": reason},
    )
    if treatment is not None:
        refresh_due(appointment.patient)
    return appointment


def cancel(actor: Actor, appointment_id: uuid.UUID | str, *, reason: str) -> Appointment:
    """Cancel a booked or arrived appointment (reason required); its slots are free again."""
    return _end(actor, appointment_id, Appointment.Status.CANCELLED, reason)


def mark_no_show(actor: Actor, appointment_id: uuid.UUID | str, *, reason: str) -> Appointment:
    """Record that the patient did not come (reason required); its slots are free again."""
    return _end(actor, appointment_id, Appointment.Status.NO_SHOW, reason)


def _end(actor: Actor, appointment_id: uuid.UUID | str, status: str, reason: str) -> Appointment:
    actor.require(Permission.EDIT_SCHEDULE)
    text = _reason(reason)
    with transaction.atomic():
        appointment = _release(actor, _locked(actor, appointment_id), status, text)
        _refresh_plan(appointment.plan)
    return appointment


def mark_arrived(actor: Actor, appointment_id: uuid.UUID | str) -> Appointment:
    """The patient is here: booked -> arrived."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        appointment = _locked(actor, appointment_id)
        if appointment.status != Appointment.Status.BOOKED:
            raise ValidationFailed.single("status", "Only a booked appointment can be marked arrived.")
        appointment.status = Appointment.Status.ARRIVED
        appointment.status_changed_at = timezone.now()
        appointment.save(update_fields=["status", "status_changed_at"])
        record(
            actor,
            Action.UPDATE,
            "Appointment",
            appointment.pk,
            patient_id=appointment.patient_id,
            detail={"from": "booked", "to": "arrived"},
        )
    return appointment


def complete(actor: Actor, appointment_id: uuid.UUID | str) -> Appointment:
    """The visit happened: booked/arrived -> completed, its treatment given (at the start time, or
    now when completed early), then the plan's review points are refreshed. A visit of a later day
    cannot be completed."""
    actor.require(Permission.EDIT_SCHEDULE)
    now = timezone.now()
    with transaction.atomic():
        appointment = _locked(actor, appointment_id)
        if appointment.status not in OPEN:
            raise ValidationFailed.single("status", "Only a booked or arrived appointment can be completed.")
        zone = zone_of(appointment.clinic)
        if appointment.starts_at.astimezone(zone).date() > now.astimezone(zone).date():
            raise ValidationFailed.single(
                "status", "This appointment is on a later day; complete it on the day."
            )
        before = appointment.status
        appointment.status = Appointment.Status.COMPLETED
        appointment.status_changed_at = now
        appointment.save(update_fields=["status", "status_changed_at"])
        treatment = appointment.treatment
        if treatment is not None:
            treatment.status = Treatment.Status.GIVEN
            treatment.occurred_at = min(now, appointment.starts_at)
            treatment.save(update_fields=["status", "occurred_at"])
            record(
                actor,
                Action.UPDATE,
                "Treatment",
                treatment.pk,
                patient_id=appointment.patient_id,
                detail={"status": "given", "appointment": str(appointment.pk)},
            )
            refresh_due(appointment.patient)
        record(
            actor,
            Action.UPDATE,
            "Appointment",
            appointment.pk,
            patient_id=appointment.patient_id,
            detail={"from": before, "to": "completed"},
        )
        _refresh_plan(appointment.plan)
    return appointment


def reschedule(
    actor: Actor,
    appointment_id: uuid.UUID | str,
    *,
    starts_at: datetime,
    room_id: uuid.UUID | str | None = None,
    staff_ids: Sequence[uuid.UUID | str] | None = None,
    reason: str,
) -> Appointment:
    """Move a booked appointment: a new one (pointing back with `rescheduled_from`) and the old one
    cancelled with the reason, together or not at all. With no room or staff given, the old ones are
    kept when free, else free ones are chosen."""
    actor.require(Permission.EDIT_SCHEDULE)
    text = _reason(reason)
    with transaction.atomic():
        old = _locked(actor, appointment_id)
        if old.status != Appointment.Status.BOOKED:
            raise ValidationFailed.single("status", "Only a booked appointment can be rescheduled.")
        keep_staff = list(old.staff_rows.values_list("staff_id", flat=True))
        _release(actor, old, Appointment.Status.CANCELLED, f"Rescheduled: {text}")
        new = book(
            actor,
            old.patient_id,
            clinic_id=old.clinic_id,
            type_key=old.appointment_type.key,
            starts_at=starts_at,
            room_id=room_id,
            staff_ids=staff_ids or (),
            plan_id=old.plan_id,
            series_number=old.series_number,
            phase=old.phase,
            notes=old.notes,
            prefer_room=[old.room_id] if old.room_id else [],
            prefer_staff=keep_staff,
            rescheduled_from=old,
        )
    return new
