"""The scheduling settings a practice manager edits: appointment types, staff hours, closed days.

Every change needs MANAGE_CLINICS and is audited with what changed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.changes import announce
from ketaflow.clinics.models import Clinic
from ketaflow.validation import FieldError, ValidationFailed

from .booking import _uuid
from .calendar import local_midnight, zone_of
from .defaults import ensure_appointment_types
from .models import Appointment, AppointmentType, ClosedDay, StaffHours

TYPE_FIELDS = ("name", "minutes", "required_roles", "instructions", "is_active")


def types_for(actor: Actor) -> list[AppointmentType]:
    actor.require(Permission.VIEW_SCHEDULE)
    ensure_appointment_types(actor.organization_id)
    return list(AppointmentType.objects.for_organization(actor.organization_id).order_by("name"))


def update_type(
    actor: Actor,
    type_id: uuid.UUID | str,
    *,
    name: str,
    minutes: int,
    required_roles: Sequence[str],
    instructions: str,
    is_active: bool = True,
) -> AppointmentType:
    """Change a type's name, minutes (5 to 600, on the 5-minute grid), roles and instructions.
    Appointments already booked keep their times."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    if not (name or "").strip():
        errors.append(FieldError("name", "Give the type a name."))
    if not isinstance(minutes, int) or not 5 <= minutes <= 600 or minutes % 5:
        errors.append(FieldError("minutes", "Minutes are 5 to 600, in steps of 5."))
    roles = list(dict.fromkeys(required_roles))
    if any(r not in {x.value for x in Role} for r in roles):
        errors.append(FieldError("required_roles", "Choose roles from the list."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        kind: AppointmentType = AppointmentType.objects.for_organization(actor.organization_id).one(
            type_id, "appointment type"
        )
        before = {f: getattr(kind, f) for f in TYPE_FIELDS}
        kind.name, kind.minutes, kind.required_roles = name.strip()[:100], minutes, roles
        kind.instructions, kind.is_active = (instructions or "").strip(), is_active
        kind.save()
        after = {f: getattr(kind, f) for f in TYPE_FIELDS}
        changed = {f: {"from": before[f], "to": after[f]} for f in TYPE_FIELDS if before[f] != after[f]}
        if {"name", "instructions"} & changed.keys():  # FHIR Appointments carry both
            announce(Appointment, Appointment.objects.filter(appointment_type=kind))
        record(actor, Action.UPDATE, "AppointmentType", kind.pk, detail={"key": kind.key, "changed": changed})
    return kind


def _clinic(
    actor: Actor, clinic_id: object, errors: list[FieldError], field: str = "clinic_id"
) -> Clinic | None:
    clinic = Clinic.objects.for_organization(actor.organization_id).filter(pk=_uuid(clinic_id)).first()
    if clinic is None:
        errors.append(FieldError(field, "Choose one of your organization's clinics."))
    return clinic


def hours_of(actor: Actor, clinic: Clinic) -> list[StaffHours]:
    actor.require(Permission.VIEW_SCHEDULE)
    return list(
        StaffHours.objects.for_organization(actor.organization_id)
        .filter(clinic=clinic)
        .select_related("staff__user")
        .order_by("staff__user__last_name", "weekday", "starts")
    )


def add_staff_hours(
    actor: Actor,
    *,
    staff_id: uuid.UUID | str,
    clinic_id: uuid.UUID | str,
    weekday: int,
    starts: time,
    ends: time,
) -> StaffHours:
    """Add one working interval; refused when it overlaps the person's hours that day anywhere."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    clinic = _clinic(actor, clinic_id, errors)
    staff = StaffMember.objects.for_organization(actor.organization_id).filter(pk=_uuid(staff_id)).first()
    if staff is None:
        errors.append(FieldError("staff_id", "Choose a staff member of your organization."))
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        errors.append(FieldError("weekday", "Choose a weekday."))
    if ends <= starts:
        errors.append(FieldError("ends", "The end must be after the start."))
    elif staff is not None:
        overlap = StaffHours.objects.for_organization(actor.organization_id).filter(
            staff=staff, weekday=weekday, starts__lt=ends, ends__gt=starts
        )
        if overlap.exists():
            errors.append(FieldError("starts", f"{staff.display_name} already works then that day."))
    if errors or clinic is None or staff is None:
        raise ValidationFailed(errors)
    with transaction.atomic():
        row = StaffHours.objects.create(
            organization_id=actor.organization_id,
            staff=staff,
            clinic=clinic,
            weekday=weekday,
            starts=starts,
            ends=ends,
        )
        record(
            actor,
            Action.CREATE,
            "StaffHours",
            row.pk,
            detail={
                "staff": str(staff.pk),
                "clinic": str(clinic.pk),
                "weekday": weekday,
                "starts": f"{starts:%H:%M}",
                "ends": f"{ends:%H:%M}",
            },
        )
    return row


def remove_staff_hours(actor: Actor, hours_id: int | str) -> None:
    actor.require(Permission.MANAGE_CLINICS)
    with transaction.atomic():
        row = StaffHours.objects.for_organization(actor.organization_id).filter(pk=_int(hours_id)).first()
        if row is None:
            raise ValidationFailed.single("hours_id", "Those hours are already gone.")
        record(
            actor, Action.UPDATE, "StaffHours", row.pk, detail={"deleted": True, "staff": str(row.staff_id)}
        )
        row.delete()


def closed_days_of(actor: Actor, *, since: date) -> list[tuple[ClosedDay, int]]:
    """The closed days from `since` on, each with how many appointments are still booked on it (the
    day as each clinic's own clock reads it). Three queries whatever the number of days."""
    actor.require(Permission.VIEW_SCHEDULE)
    org = actor.organization_id
    days = list(ClosedDay.objects.for_organization(org).filter(day__gte=since).select_related("clinic"))
    zones = {c.pk: zone_of(c) for c in Clinic.objects.for_organization(org)}
    clinics = {d.pk: [d.clinic_id] if d.clinic_id else list(zones) for d in days}  # an empty one: all
    wanted = {(c, d.day) for d in days for c in clinics[d.pk]}
    windows = Q()
    for clinic_id, day in wanted:
        zone = zones[clinic_id]
        windows |= Q(
            clinic_id=clinic_id,
            starts_at__gte=local_midnight(day, zone),
            starts_at__lt=local_midnight(day + timedelta(days=1), zone),
        )
    booked: Counter[tuple[uuid.UUID, date]] = Counter()
    if wanted:
        rows = Appointment.objects.for_organization(org).filter(windows, status=Appointment.Status.BOOKED)
        for clinic_id, starts_at in rows.values_list("clinic_id", "starts_at"):
            booked[(clinic_id, starts_at.astimezone(zones[clinic_id]).date())] += 1
    return [(d, sum(booked[(c, d.day)] for c in clinics[d.pk])) for d in days]


def add_closed_day(
    actor: Actor, *, day: date, reason: str, clinic_id: uuid.UUID | str | None = None
) -> ClosedDay:
    """Close one clinic (or, with no clinic, every clinic) on `day`. Appointments already booked then
    stay booked and are listed on the page so staff can move them."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    clinic = _clinic(actor, clinic_id, errors) if clinic_id else None
    if not (reason or "").strip():
        errors.append(FieldError("reason", "Say why (a holiday, training day, ...)."))
    taken = ClosedDay.objects.for_organization(actor.organization_id).filter(day=day, clinic=clinic)
    if not errors and taken.exists():
        errors.append(FieldError("day", "That day is already closed."))
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            row = ClosedDay.objects.create(
                organization_id=actor.organization_id, clinic=clinic, day=day, reason=reason.strip()[:120]
            )
            record(
                actor,
                Action.CREATE,
                "ClosedDay",
                row.pk,
                detail={
                    "day": day.isoformat(),
                    "clinic": str(clinic.pk) if clinic else "all",
                },
            )
    except IntegrityError:
        raise ValidationFailed.single("day", "That day is already closed.") from None
    return row


def remove_closed_day(actor: Actor, closed_id: int | str) -> None:
    actor.require(Permission.MANAGE_CLINICS)
    with transaction.atomic():
        row = ClosedDay.objects.for_organization(actor.organization_id).filter(pk=_int(closed_id)).first()
        if row is None:
            raise ValidationFailed.single("closed_id", "That closed day is already gone.")
        record(
            actor, Action.UPDATE, "ClosedDay", row.pk, detail={"deleted": True, "day": row.day.isoformat()}
        )
        row.delete()


def _int(raw: object) -> int:
    try:
        return int(str(raw))
    except ValueError:
        return -1
