"""The week calendar of one clinic: Monday to Sunday, per room, the count and the appointments.

One query for the week's appointments and one for their staff (see `calendar.load_blocks`), the
read audited as a LIST with the count only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic
from ketaflow.validation import NotFound

from .calendar import (
    Block,
    Column,
    appointments_between,
    closed_text,
    closures,
    column_key,
    columns_for,
    hours_by_weekday,
    load_blocks,
    local_midnight,
    today_in,
    zone_of,
)
from .models import ACTIVE


@dataclass(frozen=True)
class WeekDay:
    day: date
    closed_reason: str
    count: int


@dataclass(frozen=True)
class WeekRow:
    column: Column
    days: list[list[Block]]

    @property
    def count(self) -> int:
        return sum(len(blocks) for blocks in self.days)


@dataclass
class WeekCalendar:
    clinic: Clinic
    start: date
    today: date
    days: list[WeekDay]
    rows: list[WeekRow]
    count: int
    staff: StaffMember | None = None

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.start + timedelta(days=7)


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def week_calendar(
    actor: Actor, clinic: Clinic, day: date, *, staff: StaffMember | None = None, now: datetime | None = None
) -> WeekCalendar:
    """Monday to Sunday of `day`'s week, per room and day; audited as a LIST with the count."""
    actor.require(Permission.VIEW_SCHEDULE)
    if clinic.organization_id != actor.organization_id:
        raise NotFound("clinic")
    tz = zone_of(clinic)
    staff_id = staff.pk if staff else None
    first = week_start(day)
    dates = [first + timedelta(days=i) for i in range(7)]
    start, end = local_midnight(first, tz), local_midnight(first + timedelta(days=7), tz)
    with transaction.atomic():
        queryset = appointments_between(actor.organization_id, clinic, start, end, staff_id)
        blocks = load_blocks(actor.organization_id, queryset.filter(status__in=ACTIVE), tz)
        record(actor, Action.LIST, "Appointment", detail={
            "view": "week", "clinic_id": str(clinic.pk), "date": first.isoformat(), "count": len(blocks),
            **({"staff_id": str(staff.pk)} if staff else {}),
        })
    hours = hours_by_weekday(clinic)
    reasons = closures(actor.organization_id, clinic, dates[0], dates[-1])
    cells: dict[tuple[str, date], list[Block]] = defaultdict(list)
    for block in blocks:
        cells[(column_key(block), block.starts_at.date())].append(block)
    per_day: dict[date, int] = defaultdict(int)
    for block in blocks:
        per_day[block.starts_at.date()] += 1
    columns = columns_for(clinic, blocks)
    return WeekCalendar(
        clinic=clinic, start=first, today=today_in(clinic, now),
        days=[WeekDay(d, closed_text(d, reasons, hours), per_day[d]) for d in dates],
        rows=[WeekRow(c, [cells[(c.key, d)] for d in dates]) for c in columns],
        count=len(blocks), staff=staff,
    )
