"""Who and what is free when: opening hours, closed days, staff hours and what is already booked.

A `Day` is everything about one clinic on one date, loaded in a handful of queries (opening hours,
closed days, rooms, staff with their hours and roles, the day's occupancy), so offering slots or
checking one booking never queries per slot. Times are the clinic's own (its time zone); occupancy is
compared as aware datetimes, so a slot is the same instant whatever zone it is written in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic, OpeningHours, Room

from .models import SLOT_MINUTES, AppointmentType, ClosedDay, Occupancy, StaffHours

OFFER_MINUTES = 15
"""Offered start times fall every 15 minutes; a time entered by hand may be any 5-minute slot."""

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    room: Room | None
    staff: tuple[StaffMember, ...]

    @property
    def staff_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(s.pk for s in self.staff)


def grid_minutes(minutes: int) -> int:
    """`minutes` rounded up to whole slots."""
    return -(-minutes // SLOT_MINUTES) * SLOT_MINUTES


def slots_of(starts_at: datetime, minutes: int) -> list[datetime]:
    """The slot instants an appointment of `minutes` from `starts_at` occupies."""
    return [starts_at + timedelta(minutes=m) for m in range(0, grid_minutes(minutes), SLOT_MINUTES)]


def on_grid(moment: datetime) -> bool:
    return (
        moment.second == 0 and moment.microsecond == 0 and int(moment.timestamp()) % (SLOT_MINUTES * 60) == 0
    )


@dataclass
class Day:
    """One clinic's date: opening intervals, the closure (if any), rooms, working staff, busy slots."""

    clinic: Clinic
    on: date
    zone: ZoneInfo
    opening: list[Interval]
    closed_reason: str
    rooms: list[Room]
    staff: dict[uuid.UUID, StaffMember]
    roles: dict[uuid.UUID, set[str]]
    working: dict[uuid.UUID, list[Interval]]
    busy_rooms: dict[uuid.UUID, set[datetime]] = field(default_factory=dict)
    busy_staff: dict[uuid.UUID, set[datetime]] = field(default_factory=dict)

    def at(self, clock: time) -> datetime:
        return datetime.combine(self.on, clock, tzinfo=self.zone)

    def is_open(self, starts_at: datetime, ends_at: datetime) -> bool:
        return not self.closed_reason and any(a <= starts_at and ends_at <= b for a, b in self.opening)

    def works(self, staff_id: uuid.UUID, starts_at: datetime, ends_at: datetime) -> bool:
        return any(a <= starts_at and ends_at <= b for a, b in self.working.get(staff_id, []))

    def room_taken(self, room_id: uuid.UUID, slots: Iterable[datetime]) -> datetime | None:
        busy = self.busy_rooms.get(room_id, set())
        return next((s for s in slots if s in busy), None)

    def staff_taken(self, staff_id: uuid.UUID, slots: Iterable[datetime]) -> datetime | None:
        busy = self.busy_staff.get(staff_id, set())
        return next((s for s in slots if s in busy), None)

    def free_room(
        self, kind: str, slots: Sequence[datetime], prefer: Sequence[uuid.UUID] = ()
    ) -> Room | None:
        """A free room of `kind` for all `slots` (a preferred one first), or None."""
        rooms = sorted((r for r in self.rooms if r.kind == kind), key=lambda r: r.pk not in prefer)
        return next((r for r in rooms if self.room_taken(r.pk, slots) is None), None)

    def free_staff(
        self,
        roles: Sequence[str],
        starts_at: datetime,
        ends_at: datetime,
        slots: Sequence[datetime],
        prefer: Sequence[uuid.UUID] = (),
    ) -> tuple[StaffMember, ...] | None:
        """One distinct, working, free staff member per role (preferred ones first), or None."""
        chosen: list[StaffMember] = []
        candidates = sorted(self.staff.values(), key=lambda s: (s.pk not in prefer, str(s)))
        for role in roles:
            found = next(
                (
                    s
                    for s in candidates
                    if role in self.roles.get(s.pk, set())
                    and s not in chosen
                    and self.works(s.pk, starts_at, ends_at)
                    and self.staff_taken(s.pk, slots) is None
                ),
                None,
            )
            if found is None:
                return None
            chosen.append(found)
        return tuple(chosen)


def closed_reason(organization_id: uuid.UUID, clinic: Clinic, on: date) -> str:
    """Why the clinic is closed on `on` (its own or an organization-wide closed day), or ""."""
    row = (
        ClosedDay.objects.for_organization(organization_id)
        .filter(Q(clinic=clinic) | Q(clinic__isnull=True), day=on)
        .first()
    )
    return row.reason if row else ""


def load_day(
    organization_id: uuid.UUID, clinic: Clinic, on: date, *, extra_staff: Iterable[uuid.UUID] = ()
) -> Day:
    """Everything `free_slots` and a booking check need for one clinic date (a fixed number of
    queries). `extra_staff` adds staff who hold no hours here, so a check can name them."""
    zone = ZoneInfo(clinic.timezone)
    weekday = on.weekday()
    hours = OpeningHours.objects.for_organization(organization_id).filter(clinic=clinic, weekday=weekday)
    opening = [(_at(on, h.opens, zone), _at(on, h.closes, zone)) for h in hours]
    rooms = list(Room.objects.for_organization(organization_id).filter(clinic=clinic, is_active=True))
    working: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    rows = StaffHours.objects.for_organization(organization_id).filter(
        clinic=clinic, weekday=weekday, staff__user__is_active=True
    )
    for row in rows:
        working[row.staff_id].append((_at(on, row.starts, zone), _at(on, row.ends, zone)))
    staff_ids = set(working) | set(extra_staff)
    members = (
        StaffMember.objects.for_organization(organization_id)
        .filter(pk__in=staff_ids)
        .select_related("user")
        .prefetch_related("role_rows")
    )
    staff = {s.pk: s for s in members}
    roles = {s.pk: {r.role for r in s.role_rows.all()} for s in staff.values()}
    day = Day(
        clinic=clinic,
        on=on,
        zone=zone,
        opening=opening,
        closed_reason=closed_reason(organization_id, clinic, on),
        rooms=rooms,
        staff=staff,
        roles=roles,
        working=dict(working),
    )
    start = datetime.combine(on, time.min, tzinfo=zone)
    busy = Occupancy.objects.for_organization(organization_id).filter(
        Q(room__in=[r.pk for r in rooms]) | Q(staff__in=list(staff)),
        slot__gte=start,
        slot__lt=start + timedelta(days=1, hours=1),
    )
    for room_id, staff_id, slot in busy.values_list("room_id", "staff_id", "slot"):
        if room_id:
            day.busy_rooms.setdefault(room_id, set()).add(slot)
        else:
            day.busy_staff.setdefault(staff_id, set()).add(slot)
    return day


def _at(on: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(on, clock, tzinfo=zone)


def free_slots(
    organization_id: uuid.UUID,
    clinic: Clinic,
    appointment_type: AppointmentType,
    day: date,
    *,
    minutes: int | None = None,
    loaded: Day | None = None,
    after: datetime | None = None,
) -> list[Slot]:
    """Every start on the 15-minute grid when a room of the type's kind and one working, free staff
    member per required role are free for the whole visit (`minutes`, default the type's). Empty on
    a closed day. `loaded` reuses a `Day` already read; `after` drops starts before it (now, say)."""
    known = loaded or load_day(organization_id, clinic, day)
    if known.closed_reason:
        return []
    length = grid_minutes(minutes or appointment_type.minutes)
    found: list[Slot] = []
    for opens, closes in sorted(known.opening):
        start = opens
        while start + timedelta(minutes=length) <= closes:
            end = start + timedelta(minutes=length)
            if after is not None and start < after:
                start += timedelta(minutes=OFFER_MINUTES)
                continue
            slots = slots_of(start, length)
            room = known.free_room(appointment_type.room_kind, slots) if appointment_type.room_kind else None
            if room is not None or not appointment_type.room_kind:
                staff = known.free_staff(appointment_type.required_roles, start, end, slots)
                if staff is not None:
                    found.append(Slot(start, room, staff))
            start += timedelta(minutes=OFFER_MINUTES)
    return found
