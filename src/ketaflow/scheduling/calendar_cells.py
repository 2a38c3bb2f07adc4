"""The HTML of the calendars' cells, built here rather than in the template.

A 20-chair clinic has about 800 quarter-hour cells a day and hundreds of appointments a week; the
template engine spends tens of microseconds on every variable, so a cell-by-cell template took
most of a second. Each cell is one `format_html` call instead (every value escaped), and the page
templates only loop over rows. The markup and its classes are those of calendar.css.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .calendar import Block, Cell, DayCalendar, GridRow
from .calendar_week import WeekCalendar

# Any id will do: it marks where each appointment's own id goes in the reversed address.
_STAND_IN = str(uuid.UUID(int=0))


def clock(moment: datetime) -> str:
    """'9:05 AM' (the moment's own zone)."""
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


@dataclass(frozen=True)
class Links:
    """Where blocks and free slots link: the appointment page and, for someone who may book, the
    patient search (booking starts from the patient).

    A busy week has hundreds of appointment links and `reverse()` costs tens of microseconds each
    (720 links: about 19 ms of the week page's 100 ms target, benchmarks/week_calendar.py), so the
    appointment page's address is reversed once, split around a stand-in id, and each block's id is
    put between the two halves."""

    before_id: str
    after_id: str
    book: str

    def appointment(self, appointment_id: uuid.UUID) -> str:
        return f"{self.before_id}{appointment_id}{self.after_id}"


def links(*, can_book: bool) -> Links:
    before, after = reverse("scheduling:appointment", args=[_STAND_IN]).split(_STAND_IN)
    return Links(before, after, reverse("patients:list") if can_book else "")


def _name(block: Block, text: str, to: Links) -> SafeString:
    return format_html('<a href="{}">{}</a>', to.appointment(block.id), text)


def _block_cell(cell: Cell, block: Block, to: Links) -> SafeString:
    staff = (
        format_html('<span class="cal-appt__staff"><span class="visually-hidden">Staff: </span>{}</span>',
                    block.staff_initials)
        if block.staff_initials else ""
    )
    return format_html(
        '<td rowspan="{}" class="cal-appt cal-appt--{} cal-appt--{}" data-appointment="{}" data-column="{}" '
        'data-starts="{}"><span class="cal-appt__name">{}</span><span class="cal-appt__type">{}</span>'
        '<span class="cal-appt__when">{}\N{EN DASH}{}</span>{}<span class="badge badge--{}">{}</span></td>',
        cell.rowspan, block.tone, block.status, block.id, cell.column.key, f"{cell.starts_at:%H:%M}",
        _name(block, block.patient_name, to), block.type_name, clock(block.starts_at), clock(block.ends_at),
        staff, block.tone, block.status_label,
    )


def _free_cell(cell: Cell, to: Links) -> SafeString:
    if not cell.is_open:
        return format_html('<td rowspan="{}" class="cal-slot cal-slot--closed"></td>', cell.rowspan)
    if not to.book:
        return format_html('<td rowspan="{}" class="cal-slot"></td>', cell.rowspan)
    what = f"Book {cell.column.label} at {clock(cell.starts_at)}"
    return format_html(
        '<td rowspan="{}" class="cal-slot"><a class="cal-slot__book" href="{}" title="{}: choose the patient '
        'first"><span class="visually-hidden">{}</span></a></td>',
        cell.rowspan, to.book, what, what,
    )


def _day_row(row: GridRow, to: Links) -> SafeString:
    label = (
        format_html('<th scope="row" rowspan="{}" class="cal-time">{}</th>', row.label_rows,
                    clock(row.starts_at))
        if row.label_rows else ""
    )
    cells = "".join(
        _block_cell(cell, cell.block, to) if cell.block is not None else _free_cell(cell, to)
        for cell in row.cells
    )
    return mark_safe(label + cells)  # every part above is format_html output


def day_rows(cal: DayCalendar, *, can_book: bool) -> list[tuple[bool, SafeString]]:
    """(starts a quarter hour, the row's cells) for each row of the day grid."""
    to = links(can_book=can_book)
    return [(bool(row.label_rows), _day_row(row, to)) for row in cal.rows]


def _mini(block: Block, to: Links) -> SafeString:
    staff = f" · {block.staff_initials}" if block.staff_initials else ""
    return format_html(
        '<li class="cal-mini cal-mini--{}" data-appointment="{}"><span class="cal-mini__when">{}</span> {} '
        '<span class="cal-mini__type">{}{}</span><span class="cal-mini__status">{}</span></li>',
        block.tone, block.id, clock(block.starts_at), _name(block, block.patient_short, to), block.type_name,
        staff, block.status_label,
    )


def week_rows(cal: WeekCalendar) -> list[SafeString]:
    """Each room's row of the week table: its header and a cell per day."""
    to = links(can_book=False)
    rows = []
    for row in cal.rows:
        head = format_html(
            '<th scope="row" class="cal-time">{}<span class="cal-room__kind">{} this week</span></th>',
            row.column.label, row.count,
        )
        cells = []
        for blocks, day in zip(row.days, cal.days, strict=True):
            closed = " cal-week__cell--closed" if day.closed_reason else ""
            if blocks:
                inner = format_html(
                    '<span class="cal-week__count">{}</span><ul class="cal-week__list">{}</ul>', len(blocks),
                    format_html_join("", "{}", ((_mini(b, to),) for b in blocks)),
                )
            else:
                inner = mark_safe('<span class="visually-hidden">None</span>')
            cells.append(format_html('<td class="cal-week__cell{}" data-column="{}">{}</td>', closed,
                                     row.column.key, inner))
        rows.append(mark_safe(head + "".join(cells)))
    return rows
