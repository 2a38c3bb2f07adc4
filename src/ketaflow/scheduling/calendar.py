"""One clinic's day calendar, and the parts the week calendar (calendar_week.py) shares.

`load_blocks` reads a clinic's appointments as plain values in one query (patient, type and room
joined) plus one for their staff, so a 20-chair week costs the same queries as an empty one.
`day_calendar` lays a day out and audits the read as a LIST with the count only (no names). Times
are the clinic's own wall-clock time. The day grid has a row per `SLOT_MINUTES` so every
appointment sits exactly where it starts; a time label spans each quarter hour. calendar_cells.py
turns the grid into HTML.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.validation import NotFound

from .models import ACTIVE, SLOT_MINUTES, Appointment, AppointmentStaff, ClosedDay, StaffHours

QUARTER = 15
ROWS_PER_LABEL = QUARTER // SLOT_MINUTES
NO_ROOM = "none"
# Status in words and a tone (never colour alone): the template shows both.
STATUS_TONES = {
    Appointment.Status.BOOKED: "brand",
    Appointment.Status.ARRIVED: "warn",
    Appointment.Status.COMPLETED: "ok",
    Appointment.Status.CANCELLED: "danger",
    Appointment.Status.NO_SHOW: "danger",
}


def zone_of(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def initials(first: str, last: str, fallback: str = "") -> str:
    letters = "".join(part[:1].upper() for part in (first, last) if part)
    return letters or fallback[:2].upper()


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str


@dataclass(frozen=True)
class Block:
    """One appointment as the calendar shows it (plain values: no model instances to build)."""

    id: uuid.UUID
    starts_at: datetime  # in the clinic's zone
    ends_at: datetime
    status: str
    room_id: uuid.UUID | None
    room: str
    patient_name: str
    patient_short: str
    type_name: str
    staff_initials: str = ""

    @property
    def status_label(self) -> str:
        return str(Appointment.Status(self.status).label)

    @property
    def tone(self) -> str:
        return STATUS_TONES.get(Appointment.Status(self.status), "brand")


FIELDS = (
    "pk", "starts_at", "ends_at", "status", "room_id", "room__name", "patient__preferred_name",
    "patient__legal_given_name", "patient__legal_family_name", "appointment_type__name",
)
STAFF_FIELDS = (
    "appointment_id", "staff__user__first_name", "staff__user__last_name", "staff__user__username",
)


def appointments_between(
    organization_id: uuid.UUID, clinic: Clinic, start: datetime, end: datetime,
    staff_id: uuid.UUID | None = None,
) -> QuerySet[Appointment]:
    """The clinic's appointments starting in [start, end) (with `staff_id` on them, if given)."""
    queryset = Appointment.objects.for_organization(organization_id).filter(
        clinic=clinic, starts_at__gte=start, starts_at__lt=end
    )
    if staff_id is not None:
        queryset = queryset.filter(staff_rows__staff_id=staff_id)
    return queryset


def load_blocks(organization_id: uuid.UUID, appointments: QuerySet[Appointment], tz: ZoneInfo) -> list[Block]:
    """The appointments as blocks: one query for them (patient, type and room joined) and one for
    their staff, whatever their number."""
    staff: dict[uuid.UUID, list[str]] = defaultdict(list)
    rows = (
        AppointmentStaff.objects.for_organization(organization_id)
        .filter(appointment__in=appointments.values("pk"))
        .order_by("appointment_id", "pk")
        .values_list(*STAFF_FIELDS)
    )
    found = list(appointments.order_by("starts_at", "pk").values_list(*FIELDS))
    if found:
        for appointment_id, first, last, username in rows:
            staff[appointment_id].append(initials(first, last, username))
    blocks = []
    for pk, starts, ends, status, room_id, room, preferred, given, family, kind in found:
        blocks.append(Block(
            id=pk, starts_at=starts.astimezone(tz), ends_at=ends.astimezone(tz), status=status,
            room_id=room_id,
            room=room or "No room", patient_name=f"{preferred or given} {family}",
            patient_short=f"{preferred or given} {family[:1]}.", type_name=kind,
            staff_initials=" ".join(staff.get(pk, ())),
        ))
    return blocks


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def today_in(clinic: Clinic, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zone_of(clinic)).date()


# ---------- choosing the clinic and the staff member ----------


def clinics_of(actor: Actor) -> list[Clinic]:
    return list(Clinic.objects.for_organization(actor.organization_id).filter(is_active=True))


def choose_clinic(actor: Actor, clinic_id: str | None) -> Clinic | None:
    """The clinic asked for (NotFound when it is not the organization's), else the actor's first
    clinic, else the organization's first active clinic; None when it has none."""
    clinics = Clinic.objects.for_organization(actor.organization_id)
    if clinic_id:
        return clinics.one(clinic_id, "clinic")
    if actor.staff_id is not None:
        mine = clinics.filter(staff__pk=actor.staff_id, is_active=True).order_by("name").first()
        if mine is not None:
            return mine
    return clinics.filter(is_active=True).order_by("name").first()


def staff_choices(actor: Actor, clinic: Clinic) -> list[StaffMember]:
    """The clinic's staff (every staff member when none is assigned to a clinic)."""
    staff = StaffMember.objects.for_organization(actor.organization_id).select_related("user")
    at_clinic = list(staff.filter(clinics=clinic))
    return at_clinic or list(staff)


def choose_staff(actor: Actor, staff_id: str | None) -> StaffMember | None:
    if not staff_id:
        return None
    staff = StaffMember.objects.for_organization(actor.organization_id).select_related("user")
    return staff.one(staff_id, "staff member")


# ---------- opening hours, closures, rooms ----------


def hours_by_weekday(clinic: Clinic) -> dict[int, list[tuple[time, time]]]:
    found: dict[int, list[tuple[time, time]]] = defaultdict(list)
    rows = OpeningHours.objects.for_organization(clinic.organization_id).filter(clinic=clinic)
    for row in rows.order_by("weekday", "opens"):
        found[row.weekday].append((row.opens, row.closes))
    return found


def closures(organization_id: uuid.UUID, clinic: Clinic, first: date, last: date) -> dict[date, str]:
    """Day -> reason for the clinic's closed days (its own, or every clinic's) in [first, last]."""
    rows = ClosedDay.objects.for_organization(organization_id).filter(
        Q(clinic=clinic) | Q(clinic__isnull=True), day__gte=first, day__lte=last
    )
    return {row.day: row.reason for row in rows.order_by("day", "clinic_id")}


def closed_text(day: date, reasons: dict[date, str], hours: dict[int, list[tuple[time, time]]]) -> str:
    """Why the clinic is closed that day ("" when it is open)."""
    if day in reasons:
        return reasons[day]
    if not hours.get(day.weekday()):
        return "No opening hours on this day"
    return ""


def columns_for(clinic: Clinic, blocks: list[Block]) -> list[Column]:
    """The clinic's active rooms, plus any inactive room or 'no room' an appointment uses."""
    used = {b.room_id for b in blocks}
    rooms = Room.objects.for_organization(clinic.organization_id).filter(clinic=clinic)
    rooms = rooms.order_by("kind", "name")
    kept = [r for r in rooms if r.is_active or r.pk in used]
    columns = [Column(str(r.pk), r.name, r.get_kind_display()) for r in kept]
    if None in used:
        columns.append(Column(NO_ROOM, "No room", "Telehealth or unassigned"))
    return columns


def column_key(block: Block) -> str:
    return str(block.room_id) if block.room_id else NO_ROOM


# ---------- the day grid ----------


@dataclass(frozen=True)
class Cell:
    column: Column
    rowspan: int
    starts_at: datetime
    block: Block | None = None
    is_open: bool = False


@dataclass(frozen=True)
class GridRow:
    starts_at: datetime
    label_rows: int  # 0: no time label starts on this row
    cells: list[Cell]


def _minute(moment: datetime, day: date) -> int:
    """Minutes from the day's local midnight to `moment` (wall clock), clipped to the day."""
    delta = moment.replace(tzinfo=None) - datetime.combine(day, time.min)
    return max(0, min(24 * 60, int(delta.total_seconds() // 60)))


def grid_rows(
    day: date, tz: ZoneInfo, columns: list[Column], blocks: list[Block], spans: list[tuple[time, time]],
    *, closed: bool,
) -> tuple[list[GridRow], list[Block]]:
    """The table rows of the day grid, and the blocks that overlap another in the same column."""
    minutes = [(o.hour * 60 + o.minute, c.hour * 60 + c.minute) for o, c in spans]
    edges = [m for pair in minutes for m in pair]
    edges += [m for b in blocks for m in (_minute(b.starts_at, day), _minute(b.ends_at, day))]
    if not edges:
        return [], []
    first = min(edges) // QUARTER * QUARTER
    last = -(-max(edges) // QUARTER) * QUARTER
    count = (last - first) // SLOT_MINUTES
    starts: dict[tuple[str, int], tuple[Block, int]] = {}
    unplaced: list[Block] = []
    taken: dict[str, int] = defaultdict(int)  # column -> first free row
    for block in sorted(blocks, key=lambda b: b.starts_at):
        key = column_key(block)
        row = (_minute(block.starts_at, day) - first) // SLOT_MINUTES
        end = -(-(_minute(block.ends_at, day) - first) // SLOT_MINUTES)
        if row < taken[key] or end <= row:
            unplaced.append(block)
            continue
        starts[(key, row)] = (block, end - row)
        taken[key] = end
    midnight = local_midnight(day, tz)
    covered: set[tuple[str, int]] = set()
    rows: list[GridRow] = []
    for r in range(count):
        at = first + r * SLOT_MINUTES
        cells: list[Cell] = []
        for column in columns:
            if (column.key, r) in covered:
                continue
            moment = midnight + timedelta(minutes=at)
            if (column.key, r) in starts:
                block, span = starts[(column.key, r)]
                cells.append(Cell(column, span, moment, block))
                covered.update((column.key, r + i) for i in range(span))
                continue
            span = 1
            while r + span < count and (r + span) % ROWS_PER_LABEL and (column.key, r + span) not in starts:
                span += 1
            is_open = not closed and any(o <= at < c for o, c in minutes)
            cells.append(Cell(column, span, moment, None, is_open))
            covered.update((column.key, r + i) for i in range(span))
        label = min(ROWS_PER_LABEL, count - r) if r % ROWS_PER_LABEL == 0 else 0
        rows.append(GridRow(midnight + timedelta(minutes=at), label, cells))
    return rows, unplaced


@dataclass
class DayCalendar:
    clinic: Clinic
    day: date
    today: date
    closed_reason: str
    hours: list[tuple[time, time]]
    columns: list[Column]
    rows: list[GridRow]
    blocks: list[Block]
    inactive: list[Block]  # cancelled and no-shows, listed under the grid
    unplaced: list[Block]
    staff: StaffMember | None = None
    staff_hours: list[StaffHours] = field(default_factory=list)

    @property
    def previous(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next(self) -> date:
        return self.day + timedelta(days=1)


def day_calendar(
    actor: Actor, clinic: Clinic, day: date, *, staff: StaffMember | None = None, now: datetime | None = None
) -> DayCalendar:
    """One clinic's day; audited as a LIST of appointments with the count shown."""
    actor.require(Permission.VIEW_SCHEDULE)
    if clinic.organization_id != actor.organization_id:
        raise NotFound("clinic")
    tz = zone_of(clinic)
    staff_id = staff.pk if staff else None
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    with transaction.atomic():
        queryset = appointments_between(actor.organization_id, clinic, start, end, staff_id)
        blocks = load_blocks(actor.organization_id, queryset, tz)
        record(actor, Action.LIST, "Appointment", detail={
            "view": "day", "clinic_id": str(clinic.pk), "date": day.isoformat(), "count": len(blocks),
            **({"staff_id": str(staff.pk)} if staff else {}),
        })
    active = [b for b in blocks if b.status in ACTIVE]
    hours = hours_by_weekday(clinic).get(day.weekday(), [])
    reasons = closures(actor.organization_id, clinic, day, day)
    closed = closed_text(day, reasons, {day.weekday(): hours})
    columns = columns_for(clinic, active)
    rows, unplaced = grid_rows(day, tz, columns, active, [] if day in reasons else hours, closed=bool(closed))
    staff_hours = []
    if staff is not None:
        staff_hours = list(
            StaffHours.objects.for_organization(actor.organization_id).filter(
                staff=staff, clinic=clinic, weekday=day.weekday()
            )
        )
    return DayCalendar(
        clinic=clinic, day=day, today=today_in(clinic, now), closed_reason=closed, hours=hours,
        columns=columns, rows=rows, blocks=active, inactive=[b for b in blocks if b.status not in ACTIVE],
        unplaced=unplaced, staff=staff, staff_hours=staff_hours,
    )
