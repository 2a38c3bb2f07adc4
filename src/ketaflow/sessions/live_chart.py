"""The live vital-signs chart of the chairside page: an inline SVG drawn on the server.

`chart_figure` turns the session's readings into the geometry of two panels (blood pressure and
heart rate above, oxygen saturation below) with the pre-dose baseline and the protocol's limits
drawn as labelled lines, so the nurse sees each reading against the number that would raise an
alert. `chart_json` is the same data for a script or a test. No clock reads: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

WIDTH, LEFT, RIGHT = 720, 48, 640
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
    """A labelled horizontal line (a baseline or a limit) at `y`."""

    y: float
    label: str
    kind: str  # "baseline" or "limit"


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
    panels: dict[str, tuple[int, int]] = field(default_factory=dict)


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
        traces.append(Trace(key, label, css, points, dots, dots[-1][2] if dots else "–"))
    lines = list(_baseline_lines(baseline))
    lines += _limit_lines(limits)
    y_ticks = tuple((_y(v, "upper"), str(v)) for v in (60, 100, 140, 180)) + tuple(
        (_y(v, "lower"), f"{v}%") for v in (88, 92, 96, 100)
    )
    x_ticks = tuple(_time_ticks(begin, span, zone))
    count = len(readings)
    summary = (
        f"{count} reading{'s' if count != 1 else ''} from {begin.astimezone(zone):%H:%M}"
        if count
        else "No readings yet."
    )
    return Figure(WIDTH, HEIGHT, tuple(traces), tuple(lines), y_ticks, x_ticks, count, summary,
                  {"upper": (TOP, UPPER_BOTTOM), "lower": (LOWER_TOP, LOWER_BOTTOM)})


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
        yield _x(tick, local, span), f"{tick:%H:%M}"
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
            {"at": r.at.isoformat(), **{k: plain(r.values.get(k)) for k, _, _ in SERIES},
             "respiratory_rate": plain(r.values.get("respiratory_rate"))}
            for r in readings
        ],
        "baseline": {k: plain(v) for k, v in (baseline or {}).items()},
        "limits": {k: dict(v) for k, v in limits.items()},
        "source": source,
    }
