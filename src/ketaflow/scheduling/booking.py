"""Booking one appointment: every check a person would make, then the database's own guarantee.

`book` checks opening hours, closed days, staff hours and roles, the room kind, the 5-minute grid and
the plan, answering each problem on its own field; the database has the last word on double booking
(see models.py), and a lost race is answered like any taken slot ("Chair 3 is already booked at
10:15"). A treatment visit also writes a scheduled measurement `Treatment`, so the measurement
schedule knows it is coming.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import ROLE_LABELS, Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.changes import announce
from ketaflow.clinics.models import Clinic, Room
from ketaflow.measurement.models import Treatment
from ketaflow.measurement.schedule import refresh_due
from ketaflow.patients.services import _load
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .availability import Day, grid_minutes, load_day, on_grid, slots_of
from .calendar import zone_of
from .defaults import ensure_appointment_types
from .models import Appointment, AppointmentStaff, AppointmentType, Occupancy


def type_for(organization_id: uuid.UUID, key: str) -> AppointmentType | None:
    """The organization's active type with `key` (defaults are created on first use)."""
    ensure_appointment_types(organization_id)
    return AppointmentType.objects.for_organization(organization_id).filter(key=key, is_active=True).first()


def _hm(clinic: Clinic, moment: datetime) -> str:
    return f"{moment.astimezone(zone_of(clinic)):%H:%M}"


def _plan(
    actor: Actor, plan_id: Any, patient_id: uuid.UUID, errors: list[FieldError]
) -> TreatmentPlan | None:
    if not plan_id:
        return None
    try:
        plan: TreatmentPlan = TreatmentPlan.objects.for_organization(actor.organization_id).one(
            plan_id, "plan"
        )
    except NotFound:
        errors.append(FieldError("plan_id", "Choose one of this patient's plans."))
        return None
    if plan.patient_id != patient_id:
        errors.append(FieldError("plan_id", "Choose one of this patient's plans."))
    elif plan.status != TreatmentPlan.Status.SIGNED:
        errors.append(
            FieldError("plan_id", "The plan is not signed yet; a prescriber signs it before booking.")
        )
    elif plan.phase not in OPEN_PHASES:
        errors.append(
            FieldError(
                "plan_id", f"The plan is {plan.get_phase_display().lower()}; nothing more is booked on it."
            )
        )
    return plan


def _minutes(kind: AppointmentType, plan: TreatmentPlan | None) -> int:
    """The protocol's chair time when the plan's protocol has one, else the type's minutes."""
    if plan is not None and kind.is_treatment:
        chair = protocol_of(plan).chair_minutes
        if chair:
            return grid_minutes(chair)
    return grid_minutes(kind.minutes)


def _check_staff(
    day: Day,
    kind: AppointmentType,
    staff_ids: Sequence[Any],
    start: datetime,
    end: datetime,
    errors: list[FieldError],
) -> list[tuple[StaffMember, str]]:
    """The chosen staff with the role each fills; problems go on `staff_ids`."""
    chosen: list[StaffMember] = []
    for raw in staff_ids:
        member = day.staff.get(_uuid(raw))  # type: ignore[arg-type]
        if member is None or not member.user.is_active:
            errors.append(FieldError("staff_ids", "Choose active staff members of your organization."))
            return []
        if member not in chosen:
            chosen.append(member)
    for member in chosen:
        if not day.works(member.pk, start, end):
            errors.append(
                FieldError(
                    "staff_ids",
                    f"{member.display_name} is not working at {day.clinic.name} then "
                    f"({_hm(day.clinic, start)}-{_hm(day.clinic, end)}).",
                )
            )
    filled = _fill_roles(day, chosen, list(kind.required_roles))
    if filled is None:
        wanted = " and ".join(ROLE_LABELS[Role(r)].lower() for r in kind.required_roles)
        errors.append(
            FieldError("staff_ids", f"A {kind.name} needs a {wanted} on the booking, one person each.")
        )
        return []
    return filled


def _fill_roles(
    day: Day, chosen: list[StaffMember], roles: list[str]
) -> list[tuple[StaffMember, str]] | None:
    """Give each required role a distinct chosen person (small search); the rest keep no role."""

    def search(index: int, used: list[StaffMember]) -> list[StaffMember] | None:
        if index == len(roles):
            return used
        for member in chosen:
            if member not in used and roles[index] in day.roles.get(member.pk, set()):
                found = search(index + 1, [*used, member])
                if found is not None:
                    return found
        return None

    assigned = search(0, [])
    if assigned is None:
        return None
    pairs = list(zip(assigned, roles, strict=True))
    return pairs + [(m, "") for m in chosen if m not in assigned]


def _uuid(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def book(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    clinic_id: uuid.UUID | str,
    type_key: str,
    starts_at: datetime,
    room_id: uuid.UUID | str | None = None,
    staff_ids: Sequence[uuid.UUID | str] = (),
    plan_id: uuid.UUID | str | None = None,
    series_number: int | None = None,
    phase: str = "",
    notes: str = "",
    prefer_room: Sequence[uuid.UUID] = (),
    prefer_staff: Sequence[uuid.UUID] = (),
    rescheduled_from: Appointment | None = None,
    loaded: Day | None = None,
) -> Appointment:
    """Book one appointment; a free room and staff are chosen when none are given (preferring
    `prefer_*`). Raises ValidationFailed (nothing written) naming each field at fault.

    `loaded` reuses the clinic's `Day` just read for the same date (a series booking); a slot taken
    since then is still refused, by the Occupancy constraint."""
    actor.require(Permission.EDIT_SCHEDULE)
    patient = _load(actor, patient_id)
    errors: list[FieldError] = []
    clinic = Clinic.objects.for_organization(actor.organization_id).filter(pk=_uuid(clinic_id)).first()
    if clinic is None:
        errors.append(FieldError("clinic_id", "Choose one of your organization's clinics."))
    kind = type_for(actor.organization_id, type_key or "")
    if kind is None:
        errors.append(FieldError("type_key", "Choose an appointment type."))
    if not isinstance(starts_at, datetime) or timezone.is_naive(starts_at):
        errors.append(FieldError("starts_at", "Give a date and time with a time zone."))
    elif not on_grid(starts_at):
        errors.append(FieldError("starts_at", "Start on a 5-minute mark (10:00, 10:05, ...)."))
    plan = _plan(actor, plan_id, patient.pk, errors)
    if kind is not None and kind.is_treatment:
        if plan is None and not plan_id:
            errors.append(FieldError("plan_id", f"A {kind.name} is booked on the patient's signed plan."))
        elif plan is not None and plan.route != kind.route:
            errors.append(
                FieldError(
                    "type_key",
                    f"The plan's route is {plan.get_route_display()}; "
                    f"book a {plan.get_route_display()} visit.",
                )
            )
    if errors or clinic is None or kind is None:
        raise ValidationFailed(errors)
    minutes = _minutes(kind, plan)
    start = starts_at.astimezone(zone_of(clinic))
    end = start + timedelta(minutes=minutes)
    slots = slots_of(start, minutes)
    wanted_staff = [s for s in (_uuid(x) for x in staff_ids) if s is not None]
    if (
        loaded is not None
        and loaded.clinic.pk == clinic.pk
        and loaded.on == start.date()
        and all(s in loaded.staff for s in wanted_staff)
    ):
        day = loaded
    else:
        day = load_day(actor.organization_id, clinic, start.date(), extra_staff=wanted_staff)
    if day.closed_reason:
        errors.append(
            FieldError("starts_at", f"The clinic is closed on {start:%a %d %b %Y}: {day.closed_reason}.")
        )
    elif not day.is_open(start, end):
        hours = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in sorted(day.opening)) or "closed all day"
        errors.append(
            FieldError(
                "starts_at",
                f"{start:%H:%M}-{end:%H:%M} is outside opening hours ({start:%A}: {hours}).",
            )
        )
    room = _room(day, kind, room_id, slots, prefer_room, errors)
    if staff_ids:
        staffing = _check_staff(day, kind, staff_ids, start, end, errors)
    else:
        auto = day.free_staff(kind.required_roles, start, end, slots, prefer=prefer_staff)
        if auto is None and not errors:
            roles = " and ".join(ROLE_LABELS[Role(r)].lower() for r in kind.required_roles)
            errors.append(
                FieldError("staff_ids", f"No {roles} is working and free then; choose another time.")
            )
        staffing = list(zip(auto or (), kind.required_roles, strict=False))
    if not errors:
        _taken(day, room, staffing, slots, errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        appointment = _write(
            actor,
            patient,
            clinic,
            kind,
            plan,
            start,
            end,
            room,
            staffing,
            slots,
            series_number=series_number,
            phase=phase or (plan.phase if plan else ""),
            notes=notes,
            rescheduled_from=rescheduled_from,
        )
    return appointment


def _room(
    day: Day,
    kind: AppointmentType,
    room_id: Any,
    slots: list[datetime],
    prefer: Sequence[uuid.UUID],
    errors: list[FieldError],
) -> Room | None:
    if room_id:
        room = next((r for r in day.rooms if r.pk == _uuid(room_id)), None)
        if room is None:
            errors.append(FieldError("room_id", f"Choose an active room of {day.clinic.name}."))
        elif kind.room_kind and room.kind != kind.room_kind:
            errors.append(
                FieldError(
                    "room_id",
                    f"A {kind.name} needs a {Room.Kind(kind.room_kind).label.lower()}; "
                    f"{room.name} is a {room.get_kind_display().lower()}.",
                )
            )
        return room
    if not kind.room_kind:
        return None
    room = day.free_room(kind.room_kind, slots, prefer)
    if room is None and not errors:
        label = Room.Kind(kind.room_kind).label.lower()
        errors.append(
            FieldError("starts_at", f"No {label} is free at {slots[0]:%H:%M}; choose another time.")
        )
    return room


def _taken(
    day: Day,
    room: Room | None,
    staffing: list[tuple[StaffMember, str]],
    slots: list[datetime],
    errors: list[FieldError],
) -> None:
    if room is not None and (hit := day.room_taken(room.pk, slots)) is not None:
        errors.append(
            FieldError("starts_at", f"{room.name} is already booked at {hit.astimezone(day.zone):%H:%M}.")
        )
    for member, _role in staffing:
        if (hit := day.staff_taken(member.pk, slots)) is not None:
            errors.append(
                FieldError(
                    "starts_at",
                    f"{member.display_name} is already booked at {hit.astimezone(day.zone):%H:%M}.",
                )
            )


def _write(
    actor: Actor,
    patient: Any,
    clinic: Clinic,
    kind: AppointmentType,
    plan: TreatmentPlan | None,
    start: datetime,
    end: datetime,
    room: Room | None,
    staffing: list[tuple[StaffMember, str]],
    slots: list[datetime],
    *,
    series_number: int | None,
    phase: str,
    notes: str,
    rescheduled_from: Appointment | None,
) -> Appointment:
    org = actor.organization_id
    treatment = None
    if kind.is_treatment:
        treatment = Treatment.objects.create(
            organization_id=org,
            patient=patient,
            recorded_by_id=actor.user_id,
            occurred_at=start,
            status=Treatment.Status.SCHEDULED,
            description=kind.name[:120],
        )
    appointment = Appointment.objects.create(
        organization_id=org,
        patient=patient,
        recorded_by_id=actor.user_id,
        clinic=clinic,
        appointment_type=kind,
        plan=plan,
        phase=phase,
        series_number=series_number,
        starts_at=start,
        ends_at=end,
        room=room,
        treatment=treatment,
        notes=(notes or "").strip()[:300],
        rescheduled_from=rescheduled_from,
    )
    AppointmentStaff.objects.bulk_create(
        AppointmentStaff(organization_id=org, appointment=appointment, staff=m, role=role)
        for m, role in staffing
    )
    announce(Appointment, [appointment])  # its staff rows are written after its own save
    claims = [
        Occupancy(organization_id=org, appointment=appointment, room=room, slot=s) for s in slots if room
    ]
    claims += [
        Occupancy(organization_id=org, appointment=appointment, staff=m, slot=s)
        for m, _r in staffing
        for s in slots
    ]
    try:
        with transaction.atomic():
            Occupancy.objects.bulk_create(claims)
    except IntegrityError:
        raise ValidationFailed.single("starts_at", _conflict(org, room, staffing, slots, clinic)) from None
    record(
        actor,
        Action.CREATE,
        "Appointment",
        appointment.pk,
        patient_id=patient.pk,
        detail={
            "type": kind.key,
            "clinic": str(clinic.pk),
            "starts_at": start.isoformat(),
            "room": str(room.pk) if room else "",
            "staff": [str(m.pk) for m, _r in staffing],
            "plan": str(plan.pk) if plan else "",
            "series_number": series_number,
            "rescheduled_from": str(rescheduled_from.pk) if rescheduled_from else "",
        },
    )
    if treatment is not None:
        record(
            actor,
            Action.CREATE,
            "Treatment",
            treatment.pk,
            patient_id=patient.pk,
            detail={"status": treatment.status, "appointment": str(appointment.pk)},
        )
        refresh_due(patient)
    return appointment


def _conflict(
    org: uuid.UUID,
    room: Room | None,
    staffing: list[tuple[StaffMember, str]],
    slots: list[datetime],
    clinic: Clinic,
) -> str:
    """What another booking took meanwhile, named for the person booking."""
    taken = Occupancy.objects.for_organization(org).filter(slot__in=slots)
    if room is not None and (hit := taken.filter(room=room).order_by("slot").first()):
        return f"{room.name} is already booked at {_hm(clinic, hit.slot)}."
    for member, _role in staffing:
        if hit := taken.filter(staff=member).order_by("slot").first():
            return f"{member.display_name} is already booked at {_hm(clinic, hit.slot)}."
    return "That time was booked by someone else just now; choose another."
