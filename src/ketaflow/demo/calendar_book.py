"""Placing the demo's visits in memory, checked the way `scheduling.booking.book` checks them.

`CalendarBook` builds one `scheduling.availability.Day` per clinic date from hours read once, and
shares one set of busy slots across them, so each placement uses the booking services' own room and
staff choice (`Day.free_room`, `Day.free_staff`) without a query per visit. A visit lands on the
5-minute grid, inside the clinic's opening hours (in its time zone) and its staff's working hours,
never on a closed day, with a free room of the type's kind, one free member of staff per required
role, and the patient free too. A time that does not fit moves to the nearest one that does (the
same day first, never across `now`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.scheduling.availability import Day, slots_of
from ketaflow.scheduling.models import SLOT_MINUTES, AppointmentType, ClosedDay, StaffHours

SEARCH_DAYS = 10
Placement = tuple[datetime, Room | None, list[tuple[StaffMember, str]]]
Hours = list[tuple[time, time]]


@dataclass
class ClinicWeek:
    """A clinic's opening and staff hours by weekday, and its active rooms."""

    clinic: Clinic
    zone: ZoneInfo
    opening: dict[int, Hours]
    working: dict[int, dict[uuid.UUID, Hours]]
    rooms: list[Room]


class CalendarBook:
    """Every clinic's week and who is busy when, for placing visits without a query per visit."""

    def __init__(
        self, org_id: uuid.UUID, clinics: Sequence[Clinic], staff: dict[str, StaffMember], now: datetime
    ) -> None:
        self.org_id, self.now = org_id, now
        self.closed = set(ClosedDay.objects.for_organization(org_id).values_list("day", flat=True))
        self.members = {m.pk: m for m in staff.values()}
        self.roles = {pk: {r.role for r in m.role_rows.all()} for pk, m in self.members.items()}
        self.busy_rooms: dict[uuid.UUID, set[datetime]] = defaultdict(set)
        self.busy_staff: dict[uuid.UUID, set[datetime]] = defaultdict(set)
        self.busy_patients: dict[uuid.UUID, set[datetime]] = defaultdict(set)
        self.clinics = [self._week(clinic) for clinic in clinics]
        self._days: dict[tuple[int, date], Day] = {}

    def _week(self, clinic: Clinic) -> ClinicWeek:
        opening: dict[int, Hours] = defaultdict(list)
        for row in OpeningHours.objects.for_organization(self.org_id).filter(clinic=clinic):
            opening[row.weekday].append((row.opens, row.closes))
        working: dict[int, dict[uuid.UUID, Hours]] = defaultdict(lambda: defaultdict(list))
        for hours in StaffHours.objects.for_organization(self.org_id).filter(clinic=clinic):
            working[hours.weekday][hours.staff_id].append((hours.starts, hours.ends))
        rooms = list(
            Room.objects.for_organization(self.org_id).filter(clinic=clinic, is_active=True).order_by("name")
        )
        return ClinicWeek(clinic, ZoneInfo(clinic.timezone), opening, working, rooms)

    def day(self, index: int, on: date) -> Day:
        """Clinic `index` on `on`, sharing this book's busy slots."""
        key = (index, on)
        if key not in self._days:
            week = self.clinics[index]

            def at(clock: time) -> datetime:
                return datetime.combine(on, clock, week.zone)

            working = week.working.get(on.weekday(), {})
            self._days[key] = Day(
                clinic=week.clinic,
                on=on,
                zone=week.zone,
                opening=[(at(a), at(b)) for a, b in week.opening.get(on.weekday(), [])],
                closed_reason="closed" if on in self.closed else "",
                rooms=week.rooms,
                staff={pk: self.members[pk] for pk in working},
                roles=self.roles,
                working={pk: [(at(a), at(b)) for a, b in hours] for pk, hours in working.items()},
                busy_rooms=self.busy_rooms,
                busy_staff=self.busy_staff,
            )
        return self._days[key]

    def place(
        self,
        index: int,
        patient_id: uuid.UUID,
        wanted: datetime,
        minutes: int,
        kind: AppointmentType,
        *,
        past: bool,
    ) -> Placement | None:
        """The nearest free placement to `wanted`: the same day first, then the days around it, never
        across `now` (a past visit ends before it, a booked one starts after it). The placement is
        claimed."""
        local = wanted.astimezone(self.clinics[index].zone)
        for shift in _day_shifts(past):
            day = self.day(index, local.date() + timedelta(days=shift))
            if day.closed_reason or not day.opening:
                continue
            found = self._on_day(day, local.time(), patient_id, minutes, kind, past)
            if found is not None:
                return found
        return None

    def _on_day(
        self, day: Day, clock: time, patient_id: uuid.UUID, minutes: int, kind: AppointmentType, past: bool
    ) -> Placement | None:
        target = day.at(clock.replace(second=0, microsecond=0))
        target -= timedelta(minutes=target.minute % SLOT_MINUTES)
        length, step = timedelta(minutes=minutes), timedelta(minutes=SLOT_MINUTES)
        starts = [
            opens + step * n
            for opens, closes in day.opening
            for n in range((closes - length - opens) // step + 1)
        ]
        starts.sort(key=lambda s: (abs(s - target), s))
        for start in starts:
            if (past and start + length > self.now) or (not past and start <= self.now):
                continue
            slots = slots_of(start, minutes)
            if self.busy_patients[patient_id].intersection(slots):
                continue
            room = day.free_room(kind.room_kind, slots) if kind.room_kind else None
            if kind.room_kind and room is None:
                continue
            staff = day.free_staff(kind.required_roles, start, start + length, slots)
            if staff is not None:
                staffing = list(zip(staff, kind.required_roles, strict=True))
                self._mark(patient_id, room, staffing, slots, busy=True)
                return start, room, staffing
        return None

    def release(
        self,
        patient_id: uuid.UUID,
        room: Room | None,
        staffing: list[tuple[StaffMember, str]],
        slots: list[datetime],
    ) -> None:
        """Free a placement's slots again (a cancelled visit)."""
        self._mark(patient_id, room, staffing, slots, busy=False)

    def _mark(
        self,
        patient_id: uuid.UUID,
        room: Room | None,
        staffing: list[tuple[StaffMember, str]],
        slots: list[datetime],
        *,
        busy: bool,
    ) -> None:
        sets = [self.busy_patients[patient_id], *(self.busy_staff[m.pk] for m, _ in staffing)]
        if room is not None:
            sets.append(self.busy_rooms[room.pk])
        for taken in sets:
            if busy:
                taken.update(slots)
            else:
                taken.difference_update(slots)


def _day_shifts(past: bool) -> list[int]:
    """0, then alternately earlier and later days (earlier first for a past visit)."""
    shifts = [0]
    for n in range(1, SEARCH_DAYS + 1):
        shifts += [-n, n] if past else [n, -n]
    return shifts
