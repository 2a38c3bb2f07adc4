"""The demo plans' appointments: a completed visit for every given treatment, a booked one for every
scheduled treatment, a few cancellations, one no-show and two waitlist entries.

`CalendarBook` places each visit in memory the way `scheduling.booking.book` checks it: on the 5-minute
grid, inside the clinic's opening hours (in its time zone) and its staff's working hours, never on a
closed day, with a free room of the type's kind and one free member of staff per required role. A
treatment whose time does not fit moves to the nearest time that does (the same day first, never
across `now`), and its measurement `Treatment` moves with it. The rows (Appointment, AppointmentStaff,
Occupancy) and their audit events are those the booking services write; they are bulk-inserted, and
the database's unique constraints still guard every claimed slot.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.measurement.models import Treatment
from ketaflow.scheduling.availability import grid_minutes
from ketaflow.scheduling.models import (
    SLOT_MINUTES,
    Appointment,
    AppointmentStaff,
    AppointmentType,
    ClosedDay,
    Occupancy,
    StaffHours,
    WaitlistEntry,
)

if TYPE_CHECKING:
    from .plans import Planned

TYPE_BY_ROUTE = {"iv": "iv", "im": "im", "esketamine": "esketamine", "sublingual_home": "home_checkin"}
SEARCH_DAYS = 10
CANCEL_REASONS = (
    "Patient unwell with a cold; rebooked for the following week.",
    "No driver available that day; rebooked.",
    "Clinic rescheduled: infusion pump serviced that morning.",
)
NO_SHOW_REASON = "Did not attend; no answer on two calls. Safety check with the emergency contact; rebooked."
WAITLIST_NOTE = "Would take an earlier slot at short notice (works from home)."
Placement = tuple[datetime, Room | None, list[tuple[StaffMember, str]]]


@dataclass
class ClinicDays:
    clinic: Clinic
    zone: ZoneInfo
    opening: dict[int, list[tuple[Any, Any]]]
    working: dict[int, list[tuple[StaffMember, Any, Any]]]
    rooms: dict[str, list[Room]]


class CalendarBook:
    """Every clinic's week and who is busy when, for placing visits without a query per visit."""

    def __init__(
        self, org_id: uuid.UUID, clinics: Sequence[Clinic], staff: dict[str, StaffMember], now: datetime
    ) -> None:
        self.org_id, self.now = org_id, now
        self.closed = set(ClosedDay.objects.for_organization(org_id).values_list("day", flat=True))
        members = {m.pk: m for m in staff.values()}
        self.roles = {m.pk: {r.role for r in m.role_rows.all()} for m in members.values()}
        self.clinics: list[ClinicDays] = []
        for clinic in clinics:
            opening: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
            for row in OpeningHours.objects.for_organization(org_id).filter(clinic=clinic):
                opening[row.weekday].append((row.opens, row.closes))
            working: dict[int, list[tuple[StaffMember, Any, Any]]] = defaultdict(list)
            for hours in (
                StaffHours.objects.for_organization(org_id).filter(clinic=clinic).order_by("staff_id")
            ):
                working[hours.weekday].append((members[hours.staff_id], hours.starts, hours.ends))
            rooms: dict[str, list[Room]] = defaultdict(list)
            for room in (
                Room.objects.for_organization(org_id).filter(clinic=clinic, is_active=True).order_by("name")
            ):
                rooms[room.kind].append(room)
            self.clinics.append(ClinicDays(clinic, ZoneInfo(clinic.timezone), opening, working, rooms))
        self.busy: dict[Any, set[datetime]] = defaultdict(set)  # room, staff or patient id -> slots

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
        across `now` (a past visit ends before it, a booked one starts after it)."""
        days = self.clinics[index]
        local = wanted.astimezone(days.zone)
        for shift in _day_shifts(past):
            on = local.date() + timedelta(days=shift)
            if on in self.closed or not days.opening.get(on.weekday()):
                continue
            found = self._on_day(days, on, local, patient_id, minutes, kind, past)
            if found is not None:
                return found
        return None

    def _on_day(
        self,
        days: ClinicDays,
        on: date,
        local: datetime,
        patient_id: uuid.UUID,
        minutes: int,
        kind: AppointmentType,
        past: bool,
    ) -> Placement | None:
        target = datetime.combine(on, local.time(), days.zone)
        step = timedelta(minutes=SLOT_MINUTES)
        target -= timedelta(
            minutes=target.minute % SLOT_MINUTES, seconds=target.second, microseconds=target.microsecond
        )
        starts = []
        for opens, closes in days.opening[on.weekday()]:
            first = datetime.combine(on, opens, days.zone)
            last = datetime.combine(on, closes, days.zone) - timedelta(minutes=minutes)
            moment = first
            while moment <= last:
                starts.append(moment)
                moment += step
        starts.sort(key=lambda s: (abs(s - target), s))
        length = timedelta(minutes=minutes)
        for start in starts:
            if (past and start + length > self.now) or (not past and start <= self.now):
                continue
            slots = [start + step * n for n in range(minutes // SLOT_MINUTES)]
            if self._taken(patient_id, slots):
                continue
            room = None
            if kind.room_kind:
                room = next(
                    (r for r in days.rooms.get(kind.room_kind, []) if not self._taken(r.pk, slots)), None
                )
                if room is None:
                    continue
            staffing = self._staff(days, on, start, start + length, slots, kind.required_roles)
            if staffing is not None:
                self._claim([patient_id, *([room.pk] if room else []), *(m.pk for m, _ in staffing)], slots)
                return start, room, staffing
        return None

    def _staff(
        self,
        days: ClinicDays,
        on: date,
        start: datetime,
        end: datetime,
        slots: list[datetime],
        roles: Sequence[str],
    ) -> list[tuple[StaffMember, str]] | None:
        chosen: list[tuple[StaffMember, str]] = []
        for role in roles:
            found = next(
                (
                    m
                    for m, a, b in days.working.get(on.weekday(), [])
                    if role in self.roles[m.pk]
                    and all(m is not c for c, _ in chosen)
                    and datetime.combine(on, a, days.zone) <= start
                    and end <= datetime.combine(on, b, days.zone)
                    and not self._taken(m.pk, slots)
                ),
                None,
            )
            if found is None:
                return None
            chosen.append((found, role))
        return chosen

    def _taken(self, key: Any, slots: list[datetime]) -> bool:
        busy = self.busy.get(key)
        return bool(busy) and any(s in busy for s in slots)  # type: ignore[operator]

    def _claim(self, keys: list[Any], slots: list[datetime]) -> None:
        for key in keys:
            self.busy[key].update(slots)

    def release(self, keys: list[Any], slots: list[datetime]) -> None:
        for key in keys:
            self.busy[key].difference_update(slots)


def _day_shifts(past: bool) -> list[int]:
    """0, then alternately earlier and later days (earlier first for a past visit)."""
    shifts = [0]
    for n in range(1, SEARCH_DAYS + 1):
        shifts += [-n, n] if past else [n, -n]
    return shifts


@dataclass
class Rows:
    appointments: list[Appointment]
    staff: list[AppointmentStaff]
    claims: list[Occupancy]
    entries: dict[int | None, tuple[Actor, list[Entry]]]

    def log(self, actor: Actor, entry: Entry) -> None:
        self.entries.setdefault(actor.user_id, (actor, []))[1].append(entry)


def _phase(description: str) -> tuple[str, int | None]:
    found = re.search(r"induction (\d+) of", description)
    if found:
        return "induction", int(found.group(1))
    return ("maintenance", None) if "maintenance" in description else ("", None)


def load_appointments(
    book: CalendarBook, planned: Sequence[Planned], actors: dict[str, Actor], rng: random.Random
) -> dict[str, int]:
    """Appointments for every plan's treatments, then cancellations, a no-show and the waitlist."""
    types = {t.key: t for t in AppointmentType.objects.for_organization(book.org_id)}
    rows = Rows([], [], [], {})
    moved: list[Treatment] = []
    unplaced = 0
    for item in planned:
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        minutes = grid_minutes(item.protocol.chair_minutes or kind.minutes)
        nurse = actors[("nurse", "nurse2")[item.clinic_index]]
        boosters = 0
        for treatment in item.treatments:
            past = treatment.status == Treatment.Status.GIVEN
            found = book.place(
                item.clinic_index, item.patient.pk, treatment.occurred_at, minutes, kind, past=past
            )
            if found is None:
                unplaced += 1
                continue
            start, room, staffing = found
            phase, number = _phase(treatment.description)
            if phase == "maintenance":
                boosters += 1
                number = boosters
            if start != treatment.occurred_at or item.protocol.key in _RELABELLED:
                treatment.occurred_at = start
                moved.append(treatment)
            status = Appointment.Status.COMPLETED if past else Appointment.Status.BOOKED
            _add(
                rows,
                nurse,
                item,
                kind,
                start,
                minutes,
                room,
                staffing,
                treatment,
                status,
                phase or item.plan.phase,
                number,
            )
    Treatment.objects.bulk_update(moved, ["occurred_at", "description"])
    extra = _cancellations(book, planned, types, actors, rows, rng)
    Appointment.objects.bulk_create(rows.appointments)
    AppointmentStaff.objects.bulk_create(rows.staff)
    Occupancy.objects.bulk_create(rows.claims, batch_size=2000)
    waitlist = _waitlist(book, planned, types, actors, rows)
    for actor, entries in rows.entries.values():
        record_many(actor, entries)
    counts: dict[str, int] = defaultdict(int)
    for appointment in rows.appointments:
        counts[f"appointments {appointment.status}"] += 1
    counts.update(
        {
            "treatments moved to a free slot": len(moved),
            "treatments not placed": unplaced,
            "waitlist entries": waitlist,
            "extra treatments": extra,
        }
    )
    return dict(counts)


_RELABELLED = {"iv-chronic-pain", "im-depression", "esketamine-trd", "sublingual-home"}


def _add(
    rows: Rows,
    actor: Actor,
    item: Planned,
    kind: AppointmentType,
    start: datetime,
    minutes: int,
    room: Room | None,
    staffing: list[tuple[StaffMember, str]],
    treatment: Treatment,
    status: str,
    phase: str,
    number: int | None,
    reason: str = "",
) -> Appointment:
    """One appointment with its staff rows, its claims (while active) and the services' audit events."""
    assert item.plan is not None
    end = start + timedelta(minutes=minutes)
    changed = end if status == Appointment.Status.COMPLETED else start - timedelta(days=1)
    appointment = Appointment(
        id=uuid.uuid4(),
        organization_id=item.plan.organization_id,
        patient_id=item.patient.pk,
        recorded_by_id=actor.user_id,
        clinic=item.plan.clinic,
        appointment_type=kind,
        plan=item.plan,
        phase=phase,
        series_number=number,
        starts_at=start,
        ends_at=end,
        room=room,
        status=status,
        treatment=treatment,
        status_reason=reason,
        status_changed_at=None if status == Appointment.Status.BOOKED else changed,
    )
    rows.appointments.append(appointment)
    org = appointment.organization_id
    rows.staff += [
        AppointmentStaff(organization_id=org, appointment=appointment, staff=m, role=role)
        for m, role in staffing
    ]
    slots = [start + timedelta(minutes=m) for m in range(0, minutes, SLOT_MINUTES)]
    if status in (Appointment.Status.BOOKED, Appointment.Status.COMPLETED):
        rows.claims += [
            Occupancy(organization_id=org, appointment=appointment, room=room, slot=s) for s in slots if room
        ]
        rows.claims += [
            Occupancy(organization_id=org, appointment=appointment, staff=m, slot=s)
            for m, _ in staffing
            for s in slots
        ]
    patient_id = item.patient.pk
    rows.log(
        actor,
        Entry(
            Action.CREATE,
            "Appointment",
            str(appointment.pk),
            patient_id,
            {
                "type": kind.key,
                "clinic": str(item.plan.clinic_id),
                "starts_at": start.isoformat(),
                "room": str(room.pk) if room else "",
                "staff": [str(m.pk) for m, _ in staffing],
                "plan": str(item.plan.pk),
                "series_number": number,
                "rescheduled_from": "",
            },
        ),
    )
    if status == Appointment.Status.COMPLETED:
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Treatment",
                str(treatment.pk),
                patient_id,
                {"status": "given", "appointment": str(appointment.pk)},
            ),
        )
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Appointment",
                str(appointment.pk),
                patient_id,
                {"from": "booked", "to": "completed"},
            ),
        )
    elif status != Appointment.Status.BOOKED:
        rows.log(
            actor,
            Entry(
                Action.CREATE,
                "Treatment",
                str(treatment.pk),
                patient_id,
                {"status": "scheduled", "appointment": str(appointment.pk)},
            ),
        )
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Appointment",
                str(appointment.pk),
                patient_id,
                {"from": "booked", "to": status, "reason": reason},
            ),
        )
    return appointment


def _cancellations(
    book: CalendarBook,
    planned: Sequence[Planned],
    types: dict[str, AppointmentType],
    actors: dict[str, Actor],
    rows: Rows,
    rng: random.Random,
) -> int:
    """A few past visits cancelled and one no-show, each with its reason and its cancelled treatment;
    their slots are released, as `scheduling.services.cancel` releases them."""
    open_plans = [p for p in planned if p.plan is not None and p.plan.is_open and len(p.treatments) >= 3]
    chosen = rng.sample(open_plans, min(len(CANCEL_REASONS) + 1, len(open_plans)))
    treatments = []
    for index, item in enumerate(chosen):
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        minutes = grid_minutes(item.protocol.chair_minutes or kind.minutes)
        given = [t for t in item.treatments if t.status == Treatment.Status.GIVEN]
        wanted = given[-1].occurred_at - timedelta(days=2)
        found = book.place(item.clinic_index, item.patient.pk, wanted, minutes, kind, past=True)
        if found is None:
            continue
        start, room, staffing = found
        slots = [start + timedelta(minutes=m) for m in range(0, minutes, SLOT_MINUTES)]
        book.release([item.patient.pk, *([room.pk] if room else []), *(m.pk for m, _ in staffing)], slots)
        treatment = Treatment(
            id=uuid.uuid4(),
            organization_id=item.plan.organization_id,
            patient_id=item.patient.pk,
            recorded_by_id=actors["frontdesk"].user_id,
            occurred_at=start,
            status=Treatment.Status.CANCELLED,
            description=kind.name[:120],
        )
        treatments.append(treatment)
        no_show = index == len(CANCEL_REASONS)
        status = Appointment.Status.NO_SHOW if no_show else Appointment.Status.CANCELLED
        reason = NO_SHOW_REASON if no_show else CANCEL_REASONS[index]
        _add(
            rows,
            actors["frontdesk"],
            item,
            kind,
            start,
            minutes,
            room,
            staffing,
            treatment,
            status,
            item.plan.phase if item.plan.phase != "completed" else "maintenance",
            None,
            reason,
        )
    Treatment.objects.bulk_create(treatments)
    return len(treatments)


def _waitlist(
    book: CalendarBook,
    planned: Sequence[Planned],
    types: dict[str, AppointmentType],
    actors: dict[str, Actor],
    rows: Rows,
) -> int:
    """Two patients in induction waiting for an earlier slot."""
    today = book.now.date()
    entries = []
    for item in [p for p in planned if p.plan is not None and p.plan.phase == "induction"][:2]:
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        entry = WaitlistEntry(
            organization_id=item.plan.organization_id,
            patient_id=item.patient.pk,
            recorded_by_id=actors["frontdesk"].user_id,
            clinic=item.plan.clinic,
            appointment_type=kind,
            plan=item.plan,
            earliest=today,
            latest=today + timedelta(days=14),
            notes=WAITLIST_NOTE,
        )
        entries.append(entry)
        rows.log(
            actors["frontdesk"],
            Entry(
                Action.CREATE,
                "WaitlistEntry",
                str(entry.pk),
                item.patient.pk,
                {"type": kind.key, "clinic": str(item.plan.clinic_id)},
            ),
        )
    WaitlistEntry.objects.bulk_create(entries)
    return len(entries)
