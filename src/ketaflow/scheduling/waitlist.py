"""The waitlist: patients waiting for a slot of a type at a clinic between two dates.

When a cancellation or a no-show frees a slot, `offers_for` lists the entries that fit it (oldest
first), and `book_from_waitlist` books one of them into exactly that time, room and staff.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic
from ketaflow.patients.services import _load
from ketaflow.plans.models import TreatmentPlan
from ketaflow.validation import FieldError, ValidationFailed

from .booking import _uuid, book, type_for
from .calendar import zone_of
from .models import Appointment, WaitlistEntry

FREED = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
OFFERS_SHOWN = 10


def waiting(organization_id: uuid.UUID) -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.for_organization(organization_id)
        .filter(status=WaitlistEntry.Status.WAITING)
        .select_related("patient", "clinic", "appointment_type", "plan")
    )


def list_waitlist(actor: Actor, *, clinic_id: uuid.UUID | str | None = None) -> list[WaitlistEntry]:
    """Everyone waiting (at one clinic, if given), oldest first; the read is audited."""
    actor.require(Permission.VIEW_SCHEDULE)
    rows = waiting(actor.organization_id)
    if clinic_id:
        clinic = _uuid(clinic_id)
        rows = rows.filter(clinic_id=clinic) if clinic else rows.none()
    with transaction.atomic():
        found = list(rows.order_by("recorded_at"))
        record(actor, Action.LIST, "WaitlistEntry", detail={"count": len(found)})
    return found


def add_to_waitlist(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    clinic_id: uuid.UUID | str,
    type_key: str,
    earliest: date,
    latest: date | None = None,
    plan_id: uuid.UUID | str | None = None,
    notes: str = "",
) -> WaitlistEntry:
    """Put the patient on the waitlist for a type at a clinic, between `earliest` and `latest`."""
    actor.require(Permission.EDIT_SCHEDULE)
    patient = _load(actor, patient_id)
    errors: list[FieldError] = []
    clinic = Clinic.objects.for_organization(actor.organization_id).filter(pk=_uuid(clinic_id)).first()
    if clinic is None:
        errors.append(FieldError("clinic_id", "Choose one of your organization's clinics."))
    kind = type_for(actor.organization_id, type_key or "")
    if kind is None:
        errors.append(FieldError("type_key", "Choose an appointment type."))
    if latest is not None and latest < earliest:
        errors.append(FieldError("latest", "The last date cannot be before the first."))
    plan = None
    if plan_id:
        plan = (
            TreatmentPlan.objects.for_organization(actor.organization_id)
            .filter(pk=_uuid(plan_id), patient=patient)
            .first()
        )
        if plan is None:
            errors.append(FieldError("plan_id", "Choose one of this patient's plans."))
    if errors or clinic is None or kind is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        entry = WaitlistEntry.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            clinic=clinic,
            appointment_type=kind,
            plan=plan,
            earliest=earliest,
            latest=latest,
            notes=(notes or "").strip()[:300],
        )
        record(
            actor,
            Action.CREATE,
            "WaitlistEntry",
            entry.pk,
            patient_id=patient.pk,
            detail={"type": kind.key, "clinic": str(clinic.pk)},
        )
    return entry


def _entry(actor: Actor, entry_id: uuid.UUID | str) -> WaitlistEntry:
    entry: WaitlistEntry = (
        WaitlistEntry.objects.for_organization(actor.organization_id)
        .select_for_update(of=("self",))
        .one(entry_id, "waitlist entry")
    )
    if entry.status != WaitlistEntry.Status.WAITING:
        raise ValidationFailed.single("entry_id", "This patient is no longer waiting.")
    return entry


def remove_from_waitlist(actor: Actor, entry_id: uuid.UUID | str, *, reason: str = "") -> WaitlistEntry:
    """Take an entry off the waitlist (the reason, if any, goes to the audit trail)."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        entry = _entry(actor, entry_id)
        entry.status = WaitlistEntry.Status.REMOVED
        entry.closed_at = timezone.now()
        entry.save(update_fields=["status", "closed_at"])
        record(
            actor,
            Action.UPDATE,
            "WaitlistEntry",
            entry.pk,
            patient_id=entry.patient_id,
            detail={"to": "removed", "reason": (reason or "").strip()[:300]},
        )
    return entry


def _fitting(appointment: Appointment) -> QuerySet[WaitlistEntry]:
    """Waiting entries that fit a freed appointment's slot: same clinic and type, the date in their
    window, not the same patient; none unless the appointment was cancelled or missed and is still
    ahead."""
    rows = waiting(appointment.organization_id)
    if appointment.status not in FREED or appointment.starts_at <= timezone.now():
        return rows.none()
    on = appointment.starts_at.astimezone(zone_of(appointment.clinic)).date()
    return rows.filter(
        Q(latest__isnull=True) | Q(latest__gte=on),
        clinic_id=appointment.clinic_id,
        appointment_type_id=appointment.appointment_type_id,
        earliest__lte=on,
    ).exclude(patient_id=appointment.patient_id)


def offers_for(appointment: Appointment) -> list[WaitlistEntry]:
    """The first `OFFERS_SHOWN` entries that fit the freed slot (see `_fitting`), oldest first."""
    return list(_fitting(appointment).order_by("recorded_at")[:OFFERS_SHOWN])


def book_from_waitlist(
    actor: Actor, entry_id: uuid.UUID | str, appointment_id: uuid.UUID | str
) -> Appointment:
    """Book the waiting patient into the freed appointment's time, room and staff; the entry is
    closed as booked. Refused (nothing written) if the slot was taken again meanwhile."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        entry = _entry(actor, entry_id)
        freed: Appointment = (
            Appointment.objects.for_organization(actor.organization_id)
            .select_related("appointment_type", "clinic")
            .one(appointment_id, "appointment")
        )
        if not _fitting(freed).filter(pk=entry.pk).exists():
            raise ValidationFailed.single("entry_id", "This patient's request does not fit that slot.")
        staff = list(freed.staff_rows.values_list("staff_id", flat=True))
        appointment = book(
            actor,
            entry.patient_id,
            clinic_id=freed.clinic_id,
            type_key=freed.appointment_type.key,
            starts_at=freed.starts_at,
            room_id=freed.room_id,
            staff_ids=staff,
            plan_id=entry.plan_id,
            phase=entry.plan.phase if entry.plan else "",
            notes=entry.notes,
        )
        entry.status = WaitlistEntry.Status.BOOKED
        entry.appointment = appointment
        entry.closed_at = timezone.now()
        entry.save(update_fields=["status", "appointment", "closed_at"])
        record(
            actor,
            Action.UPDATE,
            "WaitlistEntry",
            entry.pk,
            patient_id=entry.patient_id,
            detail={"to": "booked", "appointment": str(appointment.pk)},
        )
    return appointment
