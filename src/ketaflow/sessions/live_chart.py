"""The live vital-signs chart of the chairside page: an inline SVG drawn on the server.

`chart_figure` turns the session's readings into the geometry of two panels (blood pressure and
heart rate above, oxygen saturation below) with the pre-dose baseline and the protocol's limits
drawn as labelled lines, so the nurse sees each reading against the number that would raise an
alert. `chart_json` is the same data for a script or a test. No clock reads: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from ketaflow.scheduling.calendar_cells import clock  # 1:05 PM, as the staff pages show times

WIDTH, LEFT, RIGHT = 760, 48, 640
LABEL_GAP = 11  # px between the labels of reference lines, so close limits stay readable
TOP, UPPER_BOTTOM = 12, 196
LOWER_TOP, LOWER_BOTTOM = 222, 286
HEIGHT = 304
UPPER_RANGE = (40, 200)
LOWER_RANGE = (84, 100)
MIN_SPAN = timedelta(minutes=30)
SERIES = (
    ("systolic_bp", "Systolic", "sys"),
    ("diastolic_bp", "Diastolic", "dia"),
    ("heart_rate", "Heart rate", "hr"),
    ("oxygen_saturation", "SpO2", "spo2"),
)


@dataclass(frozen=True)
class Reading:
    at: datetime
    values: Mapping[str, int | Decimal | None]


@dataclass(frozen=True)
class Line:
    """A labelled horizontal line (a baseline or a limit) at `y`, its label at `label_y`."""

    y: float
    label: str
    kind: str  # "baseline" or "limit"
    label_y: float = 0.0


@dataclass(frozen=True)
class Trace:
    key: str
    label: str
    css: str
    points: str  # the polyline's "x,y x,y"
    dots: tuple[tuple[float, float, str], ...]  # x, y, the value as text
    last: str


@dataclass(frozen=True)
class Figure:
    width: int
    height: int
    traces: tuple[Trace, ...]
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    count: int
    summary: str


def _y(value: float, panel: str) -> float:
    low, high = UPPER_RANGE if panel == "upper" else LOWER_RANGE
    top, bottom = (TOP, UPPER_BOTTOM) if panel == "upper" else (LOWER_TOP, LOWER_BOTTOM)
    clipped = min(max(value, low), high)
    return round(bottom - (clipped - low) / (high - low) * (bottom - top), 1)


def _x(at: datetime, start: datetime, span: timedelta) -> float:
    return round(LEFT + (at - start) / span * (RIGHT - LEFT), 1)


def chart_figure(
    readings: Sequence[Reading],
    *,
    baseline: Mapping[str, int | Decimal | None] | None,
    limits: Mapping[str, Mapping[str, Any]],
    start: datetime | None,
    now: datetime,
    zone: tzinfo,
) -> Figure:
    """The chart from `start` (dosing start, or the first reading) to the later of `now` and the
    last reading; `limits` is the session's stored `monitoring["limits"]` (field -> low/high)."""
    times = [r.at for r in readings]
    begin = min([t for t in (start, *times) if t is not None], default=now)
    end = max([now, *times])
    span = max(end - begin, MIN_SPAN)
    traces = []
    for key, label, css in SERIES:
        panel = "lower" if key == "oxygen_saturation" else "upper"
        dots = tuple(
            (_x(r.at, begin, span), _y(float(value), panel), f"{value}")
            for r in readings
            if (value := r.values.get(key)) is not None
        )
        points = " ".join(f"{x},{y}" for x, y, _ in dots)
        traces.append(Trace(key, label, css, points, dots, dots[-1][2] if dots else "none"))
    lines = _spread([*_baseline_lines(baseline), *_limit_lines(limits)])
    y_ticks = tuple((_y(v, "upper"), str(v)) for v in (60, 100, 140, 180)) + tuple(
        (_y(v, "lower"), f"{v}%") for v in (88, 92, 96, 100)
    )
    x_ticks = tuple(_time_ticks(begin, span, zone))
    count = len(readings)
    summary = (
        f"{count} reading{'s' if count != 1 else ''} from {clock(begin.astimezone(zone))}"
        if count
        else "No readings yet."
    )
    return Figure(
        WIDTH,
        HEIGHT,
        tuple(traces),
        tuple(lines),
        y_ticks,
        x_ticks,
        count,
        summary,
    )


def _baseline_lines(baseline: Mapping[str, int | Decimal | None] | None) -> Iterable[Line]:
    if not baseline:
        return
    systolic, diastolic = baseline.get("systolic_bp"), baseline.get("diastolic_bp")
    if systolic is not None:
        text = f"Baseline {systolic}/{diastolic}" if diastolic is not None else f"Baseline {systolic}"
        yield Line(_y(float(systolic), "upper"), text, "baseline")
    if diastolic is not None:
        yield Line(_y(float(diastolic), "upper"), "", "baseline")
    spo2 = baseline.get("oxygen_saturation")
    if spo2 is not None:
        yield Line(_y(float(spo2), "lower"), f"Baseline {spo2}%", "baseline")


def _spread(lines: list[Line]) -> list[Line]:
    """The lines with their labels moved apart (top to bottom) where two would overlap."""
    placed: list[Line] = []
    last = float("-inf")
    for line in sorted(lines, key=lambda item: item.y):
        if not line.label:
            placed.append(replace(line, label_y=line.y))
            continue
        label_y = max(line.y, last + LABEL_GAP)
        placed.append(replace(line, label_y=round(label_y, 1)))
        last = label_y
    return placed


LIMIT_LABELS = {"systolic_bp": "Systolic", "heart_rate": "HR", "oxygen_saturation": "SpO2"}


def _limit_lines(limits: Mapping[str, Mapping[str, Any]]) -> list[Line]:
    lines = []
    for key, short in LIMIT_LABELS.items():
        panel = "lower" if key == "oxygen_saturation" else "upper"
        for side in ("low", "high"):
            value = (limits.get(key) or {}).get(side)
            if value is not None:
                lines.append(Line(_y(float(value), panel), f"{short} {side} {value}", "limit"))
    return lines


def _time_ticks(begin: datetime, span: timedelta, zone: tzinfo) -> Iterable[tuple[float, str]]:
    step = timedelta(minutes=15 if span <= timedelta(hours=2) else 30)
    local = begin.astimezone(zone)
    first = local.replace(second=0, microsecond=0)
    first += timedelta(minutes=(-first.minute) % (step.seconds // 60))
    tick = first
    while tick <= local + span:
        yield _x(tick, local, span), clock(tick)
        tick += step


def chart_json(
    readings: Sequence[Reading],
    *,
    baseline: Mapping[str, int | Decimal | None] | None,
    limits: Mapping[str, Mapping[str, Any]],
    source: str,
) -> dict[str, Any]:
    """The chart's data as JSON-ready values (times in ISO 8601, numbers as numbers)."""

    def plain(value: int | Decimal | None) -> float | int | None:
        return float(value) if isinstance(value, Decimal) else value

    return {
        "readings": [
            {
                "at": r.at.isoformat(),
                **{k: plain(r.values.get(k)) for k, _, _ in SERIES},
                "respiratory_rate": plain(r.values.get("respiratory_rate")),
            }
            for r in readings
        ],
        "baseline": {k: plain(v) for k, v in (baseline or {}).items()},
        "limits": {k: dict(v) for k, v in limits.items()},
        "source": source,
    }
