"""Dose events: the order they may follow and the dose they deliver, computed from the events. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.dose_events import (
    DoseEvent,
    EventError,
    EventKind,
    check_next,
    check_prepared_dose,
    delivered,
    state,
)

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
START, PAUSE, RESUME, RATE, STOP, GIVE = EventKind


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(
    kind: EventKind, minutes: float, rate: int | str | None = None, mg: int | str | None = None
) -> DoseEvent:
    return DoseEvent(
        kind,
        at(minutes),
        None if rate is None else Decimal(rate),
        None if mg is None else Decimal(mg),
    )


def recorded(*events: DoseEvent) -> list[DoseEvent]:
    """The events as a service records them: each one checked against those before it."""
    kept: list[DoseEvent] = []
    for event in events:
        check_next(kept, event)
        kept.append(event)
    return kept


def test_an_infusion_with_a_pause_and_a_rate_change_delivers_rate_x_time_x_concentration():
    # 35 mg in a 100 mL bag: 0.35 mg/mL
    events = recorded(ev(START, 0, 100), ev(PAUSE, 12), ev(RESUME, 15), ev(RATE, 27, 150), ev(STOP, 40))
    result = delivered(events, Decimal("0.35"))
    # 24 min at 100 mL/h = 40 mL, 13 min at 150 mL/h = 32.5 mL; 72.5 mL x 0.35 = 25.375 mg
    assert (result.state, result.running_minutes, result.volume_ml, result.mg) == (
        "stopped",
        Decimal("37.0"),
        Decimal("72.50"),
        Decimal("25.38"),
    )
    assert result.arithmetic == (
        "12.0 min at 100 mL/h = 20.00 mL",
        "12.0 min at 100 mL/h = 20.00 mL",
        "13.0 min at 150 mL/h = 32.50 mL",
        "72.50 mL x 0.350 mg/mL = 25.38 mg",
    )


def test_a_rate_changed_while_paused_applies_from_the_resume_not_during_the_pause():
    paused_then_stopped = recorded(ev(START, 0, 60), ev(PAUSE, 10), ev(RATE, 20, 120), ev(STOP, 40))
    assert delivered(paused_then_stopped, Decimal(1)).mg == Decimal("10.00")
    resumed = recorded(ev(START, 0, 60), ev(PAUSE, 10), ev(RATE, 20, 120), ev(RESUME, 30), ev(STOP, 40))
    result = delivered(resumed, Decimal(1))
    assert (result.running_minutes, result.mg) == (Decimal("20.0"), Decimal("30.00"))


def test_a_running_infusion_counts_up_to_the_time_the_caller_gives():
    events = recorded(ev(START, 0, 120))
    assert delivered(events, Decimal(2)).mg == Decimal("0.00")
    now = delivered(events, Decimal(2), until=at(30))
    assert (now.state, now.running_minutes, now.volume_ml, now.mg) == (
        "running",
        Decimal("30.0"),
        Decimal("60.00"),
        Decimal("120.00"),
    )
    paused = recorded(ev(START, 0, 120), ev(PAUSE, 10))
    assert delivered(paused, Decimal(2), until=at(30)).mg == Decimal("40.00")


def test_devices_and_injections_are_summed_without_a_concentration():
    # esketamine 84 mg: three 28 mg devices five minutes apart
    events = recorded(ev(GIVE, 0, mg=28), ev(GIVE, 5, mg=28), ev(GIVE, 10, mg=28), ev(STOP, 10))
    result = delivered(events, None)
    assert (result.state, result.mg, result.volume_ml) == ("stopped", Decimal("84.00"), Decimal("0.00"))
    assert result.arithmetic == ("09:00 given 28 mg", "09:05 given 28 mg", "09:10 given 28 mg")


def test_an_infusion_without_the_bags_concentration_cannot_be_totalled():
    with pytest.raises(EventError) as refused:
        delivered(recorded(ev(START, 0, 100), ev(STOP, 10)), None)
    assert refused.value.field == "concentration_mg_per_ml"


@pytest.mark.parametrize(
    ("before", "new", "field", "message"),
    [
        ([], ev(STOP, 1), "kind", "The infusion has not started; it cannot be stopped yet."),
        ([], ev(RESUME, 1), "kind", "The infusion has not started; it cannot be resumed yet."),
        ([ev(START, 0, 100)], ev(RESUME, 1), "kind", "The infusion is running; it cannot be resumed now."),
        (
            [ev(START, 0, 100)],
            ev(START, 1, 100),
            "kind",
            "The infusion is running; it cannot be started now.",
        ),
        (
            [ev(START, 0, 100), ev(PAUSE, 1)],
            ev(PAUSE, 2),
            "kind",
            "The infusion is paused; it cannot be paused now.",
        ),
        (
            [ev(START, 0, 100), ev(STOP, 1)],
            ev(RESUME, 2),
            "kind",
            "The infusion has stopped; nothing more can be recorded against it.",
        ),
        (
            [ev(GIVE, 0, mg=28)],
            ev(START, 1, 100),
            "kind",
            "This dose is given in single administrations, not as an infusion; stop ends dosing.",
        ),
        (
            [ev(START, 10, 100)],
            ev(PAUSE, 9),
            "at",
            "This is earlier than the last event (09:10:00); events are kept in order.",
        ),
        ([], ev(START, 0), "rate_ml_per_h", "Enter the pump rate in mL/h."),
        (
            [ev(START, 0, 100)],
            ev(RATE, 1, 0),
            "rate_ml_per_h",
            "A pump rate must be above zero; pause or stop instead.",
        ),
        (
            [ev(START, 0, 100), ev(PAUSE, 1)],
            ev(RESUME, 2, -5),
            "rate_ml_per_h",
            "A pump rate must be above zero; pause or stop instead.",
        ),
        ([], ev(GIVE, 0), "amount_mg", "Enter the amount given in mg."),
        ([ev(GIVE, 0, mg=28)], ev(GIVE, 5, mg=0), "amount_mg", "Enter the amount given in mg."),
    ],
)
def test_an_event_that_cannot_follow_is_refused_naming_the_field(before, new, field, message):
    with pytest.raises(EventError) as refused:
        check_next(recorded(*before), new)
    assert (refused.value.field, refused.value.message) == (field, message)


# Properties against an independent model of an infusion

LEGAL = {
    "not started": {START, GIVE},
    "running": {PAUSE, RATE, STOP},
    "paused": {RESUME, RATE, STOP},
    "given": {GIVE, STOP},
    "stopped": set(),
}
AFTER = {START: "running", RESUME: "running", PAUSE: "paused", STOP: "stopped", GIVE: "given"}

steps = st.lists(
    st.tuples(
        st.sampled_from(list(EventKind)),
        st.integers(0, 1800),  # seconds after the previous event
        st.integers(1, 400),  # mL/h
        st.integers(1, 100),  # mg given
        st.booleans(),  # does a resume carry a new rate?
    ),
    max_size=14,
)


def build(step, previous: datetime) -> DoseEvent:
    kind, gap, rate, mg, resume_rate = step
    has_rate = kind in (START, RATE) or (kind is RESUME and resume_rate)
    return DoseEvent(
        kind,
        previous + timedelta(seconds=gap),
        Decimal(rate) if has_rate else None,
        Decimal(mg) if kind is GIVE else None,
    )


@settings(max_examples=150, deadline=None)
@given(steps=steps)
def test_check_next_refuses_exactly_the_events_that_cannot_follow(steps):
    kept: list[DoseEvent] = []
    phase = "not started"
    for step in steps:
        event = build(step, kept[-1].at if kept else T0)
        if event.kind in LEGAL[phase]:
            check_next(kept, event)
            kept.append(event)
            phase = AFTER.get(event.kind, phase)
        else:
            with pytest.raises(EventError) as refused:
                check_next(kept, event)
            assert refused.value.field == "kind"
        assert state(kept) == phase
    if kept:
        with pytest.raises(EventError) as refused:
            check_next(kept, DoseEvent(STOP, kept[-1].at - timedelta(seconds=1)))
        assert refused.value.field in ("kind", "at")


def expected_ml_and_minutes(events: list[DoseEvent], until: datetime) -> tuple[Decimal, Decimal]:
    """Volume infused: each stretch while running, at the rate then set."""
    ml, seconds, rate, running = Decimal(0), 0, Decimal(0), False
    previous = events[0].at if events else until
    for event in [*events, DoseEvent(STOP, until)]:
        if running:
            stretch = int((event.at - previous).total_seconds())
            seconds += stretch
            ml += rate * stretch / 3600
        previous = event.at
        if event.rate_ml_per_h is not None:
            rate = event.rate_ml_per_h
        running = {START: True, RESUME: True, PAUSE: False, STOP: False}.get(event.kind, running)
    return ml, Decimal(seconds) / 60


@settings(max_examples=150, deadline=None)
@given(
    steps=steps,
    concentration=st.decimals("0.1", "10", places=2),
    tail=st.integers(0, 3600),
)
def test_delivered_mg_is_rate_x_running_time_x_concentration_plus_every_give(steps, concentration, tail):
    kept: list[DoseEvent] = []
    for step in steps:
        event = build(step, kept[-1].at if kept else T0)
        if event.kind in LEGAL[state(kept)]:
            kept.append(event)
    until = (kept[-1].at if kept else T0) + timedelta(seconds=tail)
    ml, minutes = expected_ml_and_minutes(kept, until)
    gives = sum((e.amount_mg for e in kept if e.amount_mg is not None), Decimal(0))

    result = delivered(kept, concentration, until=until)

    assert abs(result.mg - (ml * concentration + gives)) <= Decimal("0.005")
    assert abs(result.volume_ml - ml) <= Decimal("0.005")
    assert abs(result.running_minutes - minutes) <= Decimal("0.05")
    assert result.mg >= 0


def test_a_prepared_dose_above_the_plan_needs_an_override_with_a_reason():
    assert check_prepared_dose(Decimal(35), Decimal(35)) is None
    assert check_prepared_dose(Decimal(35), Decimal("34.5")) is None
    with pytest.raises(EventError) as refused:
        check_prepared_dose(Decimal(35), Decimal(40), override_reason="  ")
    assert refused.value.field == "override_reason"
    assert refused.value.message == (
        "The prepared 40 mg is above the plan's 35 mg; a prescriber's override with a reason is needed."
    )
    reason = check_prepared_dose(Decimal(35), Decimal(40), override_reason=" whole vial, 5 mL wasted ")
    assert reason == "whole vial, 5 mL wasted"
    with pytest.raises(EventError) as refused:
        check_prepared_dose(Decimal(35), Decimal(0))
    assert refused.value.field == "volume_drawn_ml"


def test_event_kinds_have_plain_labels():
    assert [k.label for k in EventKind] == [
        "Started",
        "Paused",
        "Resumed",
        "Rate changed",
        "Stopped",
        "Given",
    ]
