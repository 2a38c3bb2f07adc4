"""From a protocol's phases to session dates, and into free slots (clinical.series)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.protocols import builtin_protocols, find
from ketaflow.clinical.series import Target, phase_span_days, place_series, series_targets

MONDAY = date(2026, 1, 5)


def phase(key: str, name: str = "induction") -> Any:
    protocol = find(builtin_protocols(), key)
    assert protocol is not None
    return protocol.phases[name]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


def weekdays(*hours: int) -> Any:
    """Slots at the given hours on Monday to Friday; nothing at weekends."""

    def slots(day: date) -> Sequence[datetime]:
        return [] if day.weekday() >= 5 else [at(day, h) for h in hours]

    return slots


def every_day(*hours: int) -> Any:
    return lambda day: [at(day, h) for h in hours]


def test_esketamine_induction_falls_twice_weekly_in_weeks_1_to_4_then_weekly_in_weeks_5_to_8():
    targets = series_targets(phase("esketamine-trd"), MONDAY)
    assert [t.day for t in targets] == [0, 4, 7, 11, 14, 18, 21, 25, 28, 35, 42, 49]
    assert [t.week for t in targets] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8]
    assert [t.number for t in targets] == list(range(1, 13))
    assert [t.on for t in targets[:4]] == [
        date(2026, 1, 5),
        date(2026, 1, 9),
        date(2026, 1, 12),
        date(2026, 1, 16),
    ]
    assert targets[8].on == date(2026, 2, 2) and targets[-1].on == date(2026, 2, 23)
    assert {t.block for t in targets[:8]} == {"weeks 1-4, twice weekly"}
    assert {t.block for t in targets[8:]} == {"weeks 5-8, once weekly"}


def test_esketamine_maintenance_starts_in_week_9_weekly_or_every_two_weeks():
    induction = phase("esketamine-trd")
    span = phase_span_days(induction)
    assert span == 56
    week9 = MONDAY + timedelta(days=span)
    assert week9 == date(2026, 3, 2)
    weekly = series_targets(phase("esketamine-trd", "maintenance"), week9, limit=3)
    assert [t.on for t in weekly] == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert [(t.on - MONDAY).days // 7 + 1 for t in weekly] == [9, 10, 11]
    fortnightly = series_targets(phase("esketamine-trd", "maintenance"), week9, limit=3, every_days=14)
    assert [t.on for t in fortnightly] == [date(2026, 3, 2), date(2026, 3, 16), date(2026, 3, 30)]


def test_an_interval_the_phase_does_not_offer_is_refused():
    with pytest.raises(ValueError, match="every_days"):
        series_targets(phase("esketamine-trd", "maintenance"), MONDAY, limit=3, every_days=10)


def test_an_open_ended_phase_needs_a_number_of_sessions():
    with pytest.raises(ValueError, match="limit"):
        series_targets(phase("iv-depression", "maintenance"), MONDAY)


def test_suicidal_ideation_induction_is_eight_sessions_in_four_weeks():
    targets = series_targets(phase("esketamine-suicidal-ideation"), MONDAY)
    assert [t.day for t in targets] == [0, 4, 7, 11, 14, 18, 21, 25]
    assert phase_span_days(phase("esketamine-suicidal-ideation")) == 28


def test_iv_induction_is_six_infusions_within_21_days_even_at_the_edge_of_the_tolerance():
    induction = phase("iv-depression")
    targets = series_targets(induction, MONDAY)
    assert [t.day for t in targets] == [0, 4, 7, 11, 14, 18]
    worst = targets[-1].day - targets[0].day + 2 * induction.tolerance_days
    assert worst < induction.within_days == 21
    assert phase_span_days(induction) == 21


def test_iv_maintenance_tapers_from_every_two_to_every_four_weeks():
    targets = series_targets(phase("iv-depression", "maintenance"), MONDAY, limit=7)
    days = [t.day for t in targets]
    assert days == [14, 28, 42, 63, 84, 112, 140]
    assert [b - a for a, b in itertools.pairwise(days)] == [14, 14, 21, 21, 28, 28]
    assert targets[-1].block == "booster every 4 weeks"


def test_the_crps_regimen_is_ten_weekday_infusions_over_two_weeks():
    targets = series_targets(phase("iv-crps-daily"), MONDAY)
    assert [t.on.weekday() for t in targets] == [0, 1, 2, 3, 4] * 2
    placement = place_series(targets, weekdays(8), min_gap_days=1, tolerance_days=0)
    assert placement.complete and len(placement.placed) == 10


def test_a_limit_cuts_a_fixed_phase_short():
    assert [t.day for t in series_targets(phase("iv-depression"), MONDAY, limit=2)] == [0, 4]


def test_every_session_lands_on_its_target_when_the_clinic_is_free():
    targets = series_targets(phase("iv-depression"), MONDAY)
    placement = place_series(targets, weekdays(9, 13), min_gap_days=2, tolerance_days=1)
    assert placement.complete
    assert [p.starts_at for p in placement.placed] == [at(t.on, 9) for t in targets]
    assert all(p.days_off_target == 0 for p in placement.placed)


def test_a_session_on_a_holiday_moves_a_day_later_first():
    targets = series_targets(phase("iv-depression"), MONDAY)
    holiday = targets[2].on  # Monday 12 Jan

    def slots(day: date) -> Sequence[datetime]:
        return [] if day == holiday else weekdays(9)(day)

    placement = place_series(targets, slots, min_gap_days=2, tolerance_days=1)
    assert placement.complete
    assert placement.placed[2].starts_at == at(date(2026, 1, 13), 9)
    assert placement.placed[2].days_off_target == 1


def test_a_session_moves_a_day_earlier_when_the_day_after_is_full_too():
    targets = series_targets(phase("iv-depression"), MONDAY)
    closed = {date(2026, 1, 16), date(2026, 1, 17)}  # Friday holiday, Saturday closed

    def slots(day: date) -> Sequence[datetime]:
        return [] if day in closed else every_day(9)(day)

    placement = place_series(targets, slots, min_gap_days=2, tolerance_days=1)
    assert placement.placed[3].starts_at == at(date(2026, 1, 15), 9)
    assert placement.placed[3].days_off_target == -1


def test_a_session_with_no_day_in_its_window_is_reported_with_the_reason_and_the_rest_still_placed():
    targets = series_targets(phase("iv-depression"), MONDAY)
    full = {date(2026, 1, 11), date(2026, 1, 12), date(2026, 1, 13)}

    def slots(day: date) -> Sequence[datetime]:
        return [] if day in full else every_day(9)(day)

    placement = place_series(targets, slots, min_gap_days=2, tolerance_days=1)
    assert not placement.complete
    assert [u.target.number for u in placement.unplaced] == [3]
    assert placement.unplaced[0].reason == (
        "session 3: no free slot within 1 day(s) either side of Mon 12 Jan "
        "(3 days closed or fully booked); book it by hand or widen the search"
    )
    assert [p.target.number for p in placement.placed] == [1, 2, 4, 5, 6]


def test_the_minimum_gap_keeps_a_moved_session_away_from_the_one_before():
    # Target days 0 and 1 with a 2-day gap: the second cannot be on day 1 or day 0; day 2 is free.
    targets = [Target(1, 0, MONDAY, "b"), Target(2, 1, MONDAY + timedelta(days=1), "b")]
    placement = place_series(targets, every_day(9), min_gap_days=2, tolerance_days=1)
    assert [p.starts_at.date() for p in placement.placed] == [MONDAY, MONDAY + timedelta(days=2)]


def test_a_session_that_cannot_keep_the_gap_says_so():
    targets = [Target(1, 0, MONDAY, "b"), Target(2, 1, MONDAY + timedelta(days=1), "b")]
    placement = place_series(targets, every_day(9), min_gap_days=3, tolerance_days=1)
    assert placement.unplaced[0].reason == (
        "session 2: no free slot within 1 day(s) either side of Tue 06 Jan "
        "(3 days within 3 day(s) of the session before); book it by hand or widen the search"
    )


def test_the_first_new_session_keeps_its_gap_from_the_last_one_already_booked():
    targets = series_targets(phase("iv-depression"), MONDAY)
    placement = place_series(
        targets, every_day(9, 14), min_gap_days=2, tolerance_days=1, after=at(MONDAY - timedelta(days=1), 14)
    )
    assert placement.placed[0].starts_at == at(MONDAY + timedelta(days=1), 14)


def test_sessions_keep_the_time_of_day_of_the_first_one():
    targets = series_targets(phase("iv-depression"), MONDAY)

    def slots(day: date) -> Sequence[datetime]:
        return [at(day, 15)] if day == MONDAY else [at(day, h) for h in (8, 11, 14, 16)]

    placement = place_series(targets, slots, min_gap_days=2, tolerance_days=1)
    assert [p.starts_at.hour for p in placement.placed] == [15, 14, 14, 14, 14, 14]


def test_continuing_a_series_keeps_the_time_of_day_of_the_session_already_booked():
    targets = series_targets(phase("esketamine-trd", "maintenance"), MONDAY, limit=2)
    placement = place_series(
        targets,
        every_day(8, 10, 13),
        min_gap_days=5,
        tolerance_days=1,
        after=at(MONDAY - timedelta(days=7), 13),
    )
    assert [p.starts_at.hour for p in placement.placed] == [13, 13]


def test_nothing_is_placed_before_today_and_the_reason_says_so():
    targets = series_targets(phase("iv-depression"), MONDAY, limit=2)
    placement = place_series(
        targets, every_day(9), min_gap_days=2, tolerance_days=1, not_before=MONDAY + timedelta(days=6)
    )
    assert placement.placed == ()
    assert "(3 days before Sun 11 Jan)" in placement.unplaced[0].reason
    assert "(3 days before Sun 11 Jan)" in placement.unplaced[1].reason


def test_a_session_moves_to_the_day_after_when_the_target_is_before_today():
    targets = series_targets(phase("iv-depression"), MONDAY, limit=1)
    placement = place_series(
        targets, every_day(9), min_gap_days=2, tolerance_days=1, not_before=MONDAY + timedelta(1)
    )
    assert placement.placed[0].starts_at == at(MONDAY + timedelta(days=1), 9)


def test_with_no_tolerance_the_reason_names_the_one_day():
    targets = series_targets(phase("iv-chronic-pain"), MONDAY)
    placement = place_series(targets, weekdays(8), min_gap_days=1, tolerance_days=0)
    assert placement.complete  # Monday to Friday
    saturday_start = series_targets(phase("iv-chronic-pain"), date(2026, 1, 10))
    placement = place_series(saturday_start, weekdays(8), min_gap_days=1, tolerance_days=0)
    tail = " (1 day closed or fully booked); book it by hand or widen the search"
    assert [u.reason for u in placement.unplaced] == [
        "session 1: no free slot on Sat 10 Jan" + tail,
        "session 2: no free slot on Sun 11 Jan" + tail,
    ]


@st.composite
def calendars(draw: Any) -> tuple[Any, frozenset[date], tuple[int, ...]]:
    protocol = draw(st.sampled_from(builtin_protocols()))
    closed = draw(st.frozensets(st.integers(0, 90), max_size=30))
    hours = draw(st.lists(st.integers(7, 18), min_size=1, max_size=4, unique=True))
    return protocol, frozenset(MONDAY + timedelta(days=d) for d in closed), tuple(sorted(hours))


@settings(max_examples=200, deadline=None)
@given(
    calendars(),
    st.integers(0, 6),
    st.integers(0, 3),
    st.booleans(),
    st.sampled_from(["induction", "maintenance", "taper"]),
)
def test_placement_never_breaks_the_gap_and_never_uses_a_day_without_slots(
    calendar, shift, widen, with_after, name
):
    protocol, closed, hours = calendar
    chosen = protocol.phases.get(name) or protocol.phases["induction"]
    start = MONDAY + timedelta(days=shift)
    targets = series_targets(chosen, start, limit=8)
    offered: dict[date, list[datetime]] = {}

    def slots(day: date) -> Sequence[datetime]:
        offered[day] = [] if day in closed else [at(day, h) for h in hours]
        return offered[day]

    after = at(start - timedelta(days=chosen.min_gap_days), 12) if with_after else None
    tolerance = chosen.tolerance_days + widen
    placement = place_series(
        targets, slots, min_gap_days=chosen.min_gap_days, tolerance_days=tolerance, after=after
    )
    times = [p.starts_at for p in placement.placed]
    assert len(placement.placed) + len(placement.unplaced) == len(targets)
    for placed in placement.placed:
        assert placed.starts_at in offered[placed.starts_at.date()]
        assert placed.starts_at.date() not in closed
        assert abs(placed.days_off_target) <= tolerance
    sequence = ([after] if after else []) + times
    for earlier, later in itertools.pairwise(sequence):
        assert (later.date() - earlier.date()).days >= chosen.min_gap_days
    assert times == sorted(times)
