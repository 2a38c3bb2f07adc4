"""The dose as it was given: timestamped infusion events and the total they deliver.

An infusion is a run of events: start (at a pump rate), pause, resume, rate change, stop. A
non-infusion route records `give` events instead (an intramuscular injection, each esketamine
device, a troche), each with its amount. `check_next` refuses an event that cannot follow the ones
before it (a stop before a start, a resume without a pause, a time earlier than the last event), so
the record is always a valid sequence; `delivered` computes what went in from the events alone:
rate x running time x concentration, plus every `give`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class EventKind(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    RATE = "rate"
    STOP = "stop"
    GIVE = "give"

    @property
    def label(self) -> str:
        return {
            "start": "Started",
            "pause": "Paused",
            "resume": "Resumed",
            "rate": "Rate changed",
            "stop": "Stopped",
            "give": "Given",
        }[self.value]


class EventError(ValueError):
    """An event that cannot be recorded; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DoseEvent:
    kind: EventKind
    at: datetime
    rate_ml_per_h: Decimal | None = None
    amount_mg: Decimal | None = None


def state(events: Sequence[DoseEvent]) -> str:
    """'not started', 'running', 'paused', 'stopped' (infusions) or 'given' (a give route)."""
    current = "not started"
    for event in events:
        current = {
            EventKind.START: "running",
            EventKind.RESUME: "running",
            EventKind.RATE: current,
            EventKind.PAUSE: "paused",
            EventKind.STOP: "stopped",
            EventKind.GIVE: "given",
        }[event.kind]
    return current


_ALLOWED = {
    "not started": {EventKind.START, EventKind.GIVE},
    "running": {EventKind.PAUSE, EventKind.RATE, EventKind.STOP},
    "paused": {EventKind.RESUME, EventKind.RATE, EventKind.STOP},
    "stopped": set(),
    "given": {EventKind.GIVE, EventKind.STOP},
}


def check_next(events: Sequence[DoseEvent], new: DoseEvent) -> None:
    """Raise EventError when `new` cannot follow `events` (kept in time order)."""
    now = state(events)
    if new.kind not in _ALLOWED[now]:
        raise EventError("kind", _refusal(now, new.kind))
    if events and new.at < events[-1].at:
        raise EventError(
            "at", f"This is earlier than the last event ({events[-1].at:%H:%M:%S}); events are kept in order."
        )
    if (
        new.kind in (EventKind.START, EventKind.RATE, EventKind.RESUME)
        and new.rate_ml_per_h is not None
        and new.rate_ml_per_h <= 0
    ):
        raise EventError("rate_ml_per_h", "A pump rate must be above zero; pause or stop instead.")
    if new.kind in (EventKind.START, EventKind.RATE) and new.rate_ml_per_h is None:
        raise EventError("rate_ml_per_h", "Enter the pump rate in mL/h.")
    if new.kind is EventKind.GIVE and (new.amount_mg is None or new.amount_mg <= 0):
        raise EventError("amount_mg", "Enter the amount given in mg.")


def _refusal(now: str, kind: EventKind) -> str:
    if now == "not started":
        return f"The infusion has not started; it cannot be {kind.label.lower()} yet."
    if now == "stopped":
        return "The infusion has stopped; nothing more can be recorded against it."
    if now == "given":
        return "This dose is given in single administrations, not as an infusion; stop ends dosing."
    return f"The infusion is {now}; it cannot be {kind.label.lower()} now."


@dataclass(frozen=True)
class Delivery:
    """What the events delivered, computed, never typed in."""

    state: str
    running_minutes: Decimal
    volume_ml: Decimal
    mg: Decimal
    arithmetic: tuple[str, ...]


def delivered(
    events: Sequence[DoseEvent], concentration_mg_per_ml: Decimal | None, *, until: datetime | None = None
) -> Delivery:
    """Total volume and drug from the events. A still-running infusion counts up to `until` (the
    caller's now; without it, only to the last event). `concentration_mg_per_ml` is the bag's
    (drug mg / bag mL); None for a give-only route."""
    volume = Decimal(0)
    minutes = Decimal(0)
    given = Decimal(0)
    lines: list[str] = []
    rate: Decimal | None = None
    running_since: datetime | None = None

    def close(at: datetime) -> None:
        nonlocal volume, minutes
        if running_since is None or rate is None:
            return
        span = Decimal(str((at - running_since).total_seconds())) / 60
        part = rate * span / 60
        minutes += span
        volume += part
        lines.append(
            f"{span.quantize(Decimal('0.1'))} min at {rate:f} mL/h = {part.quantize(Decimal('0.01'))} mL"
        )

    for event in events:
        if event.kind is EventKind.GIVE and event.amount_mg is not None:
            given += event.amount_mg
            lines.append(f"{event.at:%H:%M} given {event.amount_mg:f} mg")
            continue
        was_running = running_since is not None
        if event.kind in (EventKind.PAUSE, EventKind.STOP, EventKind.RATE):
            close(event.at)
            running_since = None
        if event.kind in (EventKind.START, EventKind.RESUME, EventKind.RATE):
            rate = event.rate_ml_per_h if event.rate_ml_per_h is not None else rate
            # a rate set while paused applies from the resume, not from now
            if event.kind is not EventKind.RATE or was_running:
                running_since = event.at
    current = state(events)
    if current == "running" and until is not None and running_since is not None and until > running_since:
        close(until)
    mg = given
    if volume:
        if concentration_mg_per_ml is None:
            raise EventError("concentration_mg_per_ml", "An infusion needs the bag's concentration.")
        infused = volume * concentration_mg_per_ml
        lines.append(
            f"{volume.quantize(Decimal('0.01'))} mL x "
            f"{concentration_mg_per_ml.quantize(Decimal('0.001'))} mg/mL "
            f"= {infused.quantize(Decimal('0.01'))} mg"
        )
        mg += infused
    return Delivery(
        current,
        minutes.quantize(Decimal("0.1"), ROUND_HALF_UP),
        volume.quantize(Decimal("0.01"), ROUND_HALF_UP),
        mg.quantize(Decimal("0.01"), ROUND_HALF_UP),
        tuple(lines),
    )


def check_prepared_dose(
    planned_mg: Decimal, prepared_mg: Decimal, *, override_reason: str = ""
) -> str | None:
    """A prepared dose above the plan needs an override with its reason. Returns the override
    note to record (None when none is needed), or raises EventError('override_reason')."""
    if prepared_mg <= 0:
        raise EventError("volume_drawn_ml", "The prepared dose must be above zero.")
    if prepared_mg <= planned_mg:
        return None
    if not override_reason.strip():
        raise EventError(
            "override_reason",
            f"The prepared {prepared_mg:f} mg is above the plan's {planned_mg:f} mg; a prescriber's "
            "override with a reason is needed.",
        )
    return override_reason.strip()
