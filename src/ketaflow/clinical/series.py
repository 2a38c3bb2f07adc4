"""From a protocol phase to session dates, then into free slots.

`series_targets` turns a phase's blocks into target dates (the layout is `Phase.session_days`): a
`per_week` block puts its sessions at day round(k x 7 / per_week) of each week (twice weekly: days 0
and 4, Monday and Friday style); an `every_days` block puts one every `every_days` days, the first
`first_gap_days` after the block starts. Blocks follow one another: a weekly block ends after its
weeks, an interval block one interval after its last session. The esketamine label schedule
therefore lands on days 0, 4, 7, 11, 14, 18, 21, 25 (weeks 1-4), 28, 35, 42, 49 (weeks 5-8), and 56
onwards (week 9).

`place_series` fits targets into real slots. For each target it tries the target day, then one day
later, one earlier, two later and so on within the phase's tolerance, never closer than
`min_gap_days` to the session before, and takes the slot whose time of day is nearest the anchor's:
`after` (the last session already booked) when given, else the first placed session (patients keep a
regular time). A target it cannot place is reported with the reason (days before `not_before`, too
close to the session before, closed or fully booked), never silently dropped. Availability is a
function the caller passes in, so the core stays pure; give it datetimes in the clinic's time zone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .protocols import Phase

Slots = Callable[[date], Sequence[datetime]]


@dataclass(frozen=True)
class Target:
    """Where a session should fall: its number in the phase, its day offset from the phase start,
    the date, the block it belongs to and the week of the phase (1-based)."""

    number: int
    day: int
    on: date
    block: str

    @property
    def week(self) -> int:
        return self.day // 7 + 1


@dataclass(frozen=True)
class Placed:
    target: Target
    starts_at: datetime

    @property
    def days_off_target(self) -> int:
        return (self.starts_at.date() - self.target.on).days


@dataclass(frozen=True)
class Unplaced:
    target: Target
    reason: str


@dataclass(frozen=True)
class Placement:
    placed: tuple[Placed, ...]
    unplaced: tuple[Unplaced, ...]

    @property
    def complete(self) -> bool:
        return not self.unplaced


def series_targets(
    phase: Phase, start: date, *, limit: int | None = None, every_days: int | None = None
) -> list[Target]:
    """Target dates for the phase from `start`. Open-ended blocks stop at `limit` sessions in all
    (required when the phase is open-ended); `every_days` replaces an open-ended block's interval
    with one of the phase's `options_every_days` (esketamine week 9 on: weekly or every 2 weeks)."""
    if phase.session_count is None and limit is None:
        raise ValueError("limit: an open-ended phase needs a number of sessions to lay out")
    if every_days is not None and every_days not in phase.options_every_days:
        raise ValueError(f"every_days: {every_days} is not one of this phase's options")
    days = itertools.islice(phase.session_days(every_days=every_days), limit)
    return [_target(number, day, start, block.label) for number, (day, block) in enumerate(days, start=1)]


def phase_span_days(phase: Phase) -> int | None:
    """Days from the phase's start to where the next phase begins (56 for the esketamine
    induction), or None for an open-ended phase."""
    if phase.session_count is None:
        return None
    days = 0
    for block in phase.blocks:
        if block.weeks is not None:
            days += block.weeks * 7
        else:
            days += block.first_gap_days + (block.sessions or 0) * (block.every_days or 1)
    return days


def _target(number: int, day: int, start: date, block: str) -> Target:
    return Target(number, day, start + timedelta(days=day), block)


def _search_days(target: date, tolerance: int) -> list[date]:
    days = [target]
    for step in range(1, tolerance + 1):
        days += [target + timedelta(days=step), target - timedelta(days=step)]
    return days


def place_series(
    targets: Sequence[Target],
    slots: Slots,
    *,
    min_gap_days: int,
    tolerance_days: int,
    after: datetime | None = None,
    not_before: date | None = None,
) -> Placement:
    """Fit each target into a free slot (see the module docstring). `after` is the last session
    already given or booked, which the first new one keeps its gap from; nothing goes before
    `not_before` (today, say)."""
    placed: list[Placed] = []
    unplaced: list[Unplaced] = []
    previous = after
    anchor: datetime | None = after
    for target in targets:
        chosen = None
        early = close = full = 0
        for day in _search_days(target.on, tolerance_days):
            if not_before is not None and day < not_before:
                early += 1
                continue
            if previous is not None and (day - previous.date()).days < min_gap_days:
                close += 1
                continue
            free = [s for s in slots(day) if previous is None or s > previous]
            if free:
                chosen = min(free, key=lambda s: (_minutes_apart(s, anchor), s))
                break
            full += 1
        if chosen is None:
            why = _why(early, close, full, min_gap_days, not_before)
            unplaced.append(Unplaced(target, _reason(target, tolerance_days, why)))
            continue
        placed.append(Placed(target, chosen))
        previous = chosen
        anchor = anchor or chosen
    return Placement(tuple(placed), tuple(unplaced))


def _minutes_apart(slot: datetime, anchor: datetime | None) -> int:
    if anchor is None:
        return 0
    return abs((slot.hour * 60 + slot.minute) - (anchor.hour * 60 + anchor.minute))


def _why(early: int, close: int, full: int, gap: int, not_before: date | None) -> str:
    parts = []
    if early:
        parts.append(f"{_days(early)} before {not_before:%a %d %b}")
    if close:
        parts.append(f"{_days(close)} within {gap} day(s) of the session before")
    if full:
        parts.append(f"{_days(full)} closed or fully booked")
    return "; ".join(parts)


def _days(count: int) -> str:
    return f"{count} day" + ("" if count == 1 else "s")


def _reason(target: Target, tolerance: int, why: str) -> str:
    window = (
        f"on {target.on:%a %d %b}"
        if tolerance == 0
        else f"within {tolerance} day(s) either side of {target.on:%a %d %b}"
    )
    return f"session {target.number}: no free slot {window} ({why}); book it by hand or widen the search"
