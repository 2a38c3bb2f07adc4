"""Questionnaire trajectories drawn as inline SVG, server-side, with the standard library only.

One renderer serves the patient chart page, the phone-sized patient portal and the PDF export
(WeasyPrint draws inline SVG). The output is safe under a strict Content-Security-Policy: no
``style`` attribute, no ``<style>`` and no ``<script>`` element, only presentation attributes
(``fill``, ``stroke``, ``stroke-width``, ``stroke-dasharray``, ``opacity``, ``font-size``,
``text-anchor`` ...) and ``kf-chart-*`` class names a page stylesheet may refine. Every piece of text
is escaped.

    >>> svg = render_trajectory(TrajectoryChart("PHQ-9", points, 0, 27, bands=phq9_bands, baseline=18))

The drawing is sized in user units by ``width`` and ``height`` and scales to its container
(``width="100%"``, ``preserveAspectRatio="xMidYMid meet"``), so text stays readable when the caller
passes the size it will roughly be shown at: about 640 x 240 on the chart page, 360 x 220 in the portal.

Layout, from left to right: y tick labels; the plot, with the severity bands as shaded stripes
(a single hue, lightest for the lowest band), the baseline (grey, dashed), the response threshold
(green, dotted) and the series (dark line and markers, safety flags ringed in red); the band labels
in a right-hand gutter. Below the plot: the treatment lane (small triangles) and the x tick labels.

Bands are read as the instruments define them: inclusive, usually integer ranges (PHQ-9 0-4, 5-9 ...).
Adjacent stripes meet halfway across any gap (at 4.5), so a score of 5 sits inside "mild"; y ticks
stand at each band's lower cut-off and at the top of the range (0, 5, 10, 15, 20, 27).
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

__all__ = ["ChartBand", "ChartPoint", "TrajectoryChart", "render_trajectory"]

# Above this many points only the first, the last and the flagged points get a marker.
MAX_MARKED_POINTS = 120

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY = 86400.0

# A calm palette; text colours meet WCAG AA contrast on white.
_INK = "#1f2937"  # series line, latest value
_MUTED = "#4b5563"  # tick labels, band labels
_AXIS = "#9ca3af"
_GRID = "#e5e7eb"
_BAND_HUE = "#3f6c9c"  # severity stripes: this hue at increasing opacity
_BAND_OPACITY = (0.05, 0.30)  # lowest band, highest band
_BASELINE = "#6b7280"
_RESPONSE = "#2f7d5b"
_TREATMENT = "#6d5aa6"
_FLAG = "#c0262d"
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"

_TICK_FONT = 11.0
_BAND_FONT = 10.5
_LATEST_FONT = 11.5
_CHAR_W = 0.56  # a rough average glyph width, in ems, for laying out labels


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    value: float
    label: str = ""  # e.g. "PHQ-9 14 (moderate)"; shown in the marker's tooltip


@dataclass(frozen=True)
class ChartBand:
    low: float
    high: float
    label: str


@dataclass(frozen=True)
class TrajectoryChart:
    title: str  # e.g. "PHQ-9"
    points: Sequence[ChartPoint]  # any order
    y_min: float  # the instrument's total range, e.g. 0 and 27
    y_max: float
    bands: Sequence[ChartBand] = ()
    baseline: float | None = None
    response_at: float | None = None
    treatments: Sequence[datetime] = ()
    flagged: Sequence[datetime] = ()  # points at these times get a safety-flag marker
    start: datetime | None = None  # optional x range; by default the points and treatments
    end: datetime | None = None


def render_trajectory(chart: TrajectoryChart, *, width: int = 640, height: int = 240) -> str:
    """The chart as one ``<svg>`` element (a string), for inline use in HTML or a PDF."""
    if not (math.isfinite(chart.y_min) and math.isfinite(chart.y_max)) or chart.y_max <= chart.y_min:
        raise ValueError(f"y range must run low to high, got {chart.y_min}-{chart.y_max}")
    if width < 120 or height < 80:
        raise ValueError(f"chart too small: {width}x{height}")
    return _Renderer(chart, width, height).render()


# -- formatting ---------------------------------------------------------------------------------


def _num(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _day_month_year(at: datetime) -> str:
    return f"{at.day} {_MONTHS[at.month - 1]} {at.year}"


def _day_month(at: datetime) -> str:
    return f"{at.day} {_MONTHS[at.month - 1]}"


def _month_year(at: datetime) -> str:
    return f"{_MONTHS[at.month - 1]} {at.year}"


def _year(at: datetime) -> str:
    return str(at.year)


def _c(value: float) -> str:
    """A coordinate, to one decimal place."""
    return f"{value:.1f}"


def _text_width(text: str, font_size: float) -> float:
    return len(text) * font_size * _CHAR_W


def _fit_label(text: str, room: float, font_size: float, max_lines: int = 2) -> list[str]:
    """The label as one line, else two broken at a space, else cut short with an ellipsis."""
    if _text_width(text, font_size) <= room:
        return [text]
    words = text.split()
    if max_lines > 1 and len(words) > 1:
        splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
        first, second = min(splits, key=lambda pair: max(len(pair[0]), len(pair[1])))
        return [_fit_label(first, room, font_size, 1)[0], _fit_label(second, room, font_size, 1)[0]]
    keep = max(int(room / (font_size * _CHAR_W)) - 1, 1)
    return [text[:keep].rstrip() + "\u2026"]


# -- x ticks ------------------------------------------------------------------------------------


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _x_ticks(lo: float, hi: float, tz: tzinfo | None, max_ticks: int) -> list[tuple[float, str]]:
    """(timestamp, label) pairs in [lo, hi]: days, weeks, months or years according to the span."""
    span_days = (hi - lo) / _DAY
    max_ticks = max(max_ticks, 2)
    first = datetime.fromtimestamp(lo, tz)
    ticks: list[tuple[float, str]] = []
    if span_days < 92:
        midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
        if span_days < 14:
            step_days, day = 1, midnight
        else:
            step_days, day = 7, midnight + timedelta(days=(7 - midnight.weekday()) % 7)  # Mondays
        while span_days / step_days > max_ticks:
            step_days += 1 if step_days < 7 else 7
        while (ts := day.timestamp()) <= hi:
            if ts >= lo:
                ticks.append((ts, _day_month(day)))
            day = (day + timedelta(days=step_days)).replace(hour=0)
        return ticks
    if span_days < 730:
        step = next((s for s in (1, 2, 3, 4, 6, 12) if span_days / 30.44 / s <= max_ticks), 12)
        year, month = first.year, first.month
        while True:
            at = datetime(year, month, 1, tzinfo=tz)
            ts = at.timestamp()
            if ts > hi:
                return ticks
            if ts >= lo and (month - 1) % step == 0:
                ticks.append((ts, _month_year(at)))
            year, month = _add_months(year, month, 1)
    step = next((s for s in (1, 2, 5, 10, 20, 50) if span_days / 365.25 / s <= max_ticks), 100)
    year = first.year
    while (ts := (at := datetime(year, 1, 1, tzinfo=tz)).timestamp()) <= hi:
        if ts >= lo and year % step == 0:
            ticks.append((ts, _year(at)))
        year += 1
    return ticks


def _segment_hits(
    start: tuple[float, float], end: tuple[float, float], box: tuple[float, float, float, float]
) -> bool:
    """Whether the segment crosses the box (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = start, end
    if (x0 < box[0] and x1 < box[0]) or (x0 > box[2] and x1 > box[2]):
        return False
    if (y0 < box[1] and y1 < box[1]) or (y0 > box[3] and y1 > box[3]):
        return False
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


# -- the renderer -------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, chart: TrajectoryChart, width: int, height: int) -> None:
        self.chart = chart
        self.width = width
        self.height = height
        self.points = sorted(
            (p for p in chart.points if math.isfinite(p.value)), key=lambda p: p.at.timestamp()
        )
        self.bands = sorted(chart.bands, key=lambda band: band.low)
        self.flagged = frozenset(chart.flagged)

        # The x range: explicit, or spanning the points and the treatments.
        times = [p.at for p in self.points] + list(chart.treatments)
        start = chart.start if chart.start is not None else min(times, default=None)
        end = chart.end if chart.end is not None else max(times, default=None)
        if start is not None and end is None:
            end = start
        if end is not None and start is None:
            start = end
        self.tz: tzinfo | None = None
        self.has_range = start is not None and end is not None
        if start is not None and end is not None:
            self.tz = start.tzinfo
            lo, hi = start.timestamp(), end.timestamp()
            if hi < lo:
                lo, hi = hi, lo
            if hi - lo < _DAY:  # one point, or all on one day: show a fortnight around it
                mid = (lo + hi) / 2
                lo, hi = mid - 7 * _DAY, mid + 7 * _DAY
            self.t_lo, self.t_hi = lo, hi
            if chart.start is not None or chart.end is not None:  # a window: drop what falls outside
                self.points = [p for p in self.points if lo <= p.at.timestamp() <= hi]
        else:
            self.t_lo, self.t_hi = 0.0, 1.0
        self.treatments = sorted(
            (t for t in chart.treatments if self.has_range and self.t_lo <= t.timestamp() <= self.t_hi),
            key=lambda t: t.timestamp(),
        )

        # Margins: y labels on the left, band labels in a right gutter, treatments and x labels below.
        self.y_ticks = self._y_tick_values()
        label_w = max((_text_width(_num(v), _TICK_FONT) for v in self.y_ticks), default=8.0)
        self.left = round(label_w + 12)
        self.label_room = width * 0.25 - 14  # band labels wrap to two lines, then shorten, beyond this
        band_w = max(
            (
                _text_width(line, _BAND_FONT)
                for b in self.bands
                for line in _fit_label(b.label, self.label_room, _BAND_FONT)
            ),
            default=0.0,
        )
        self.right = round(band_w + 14) if self.bands else 14
        self.top = 12
        self.bottom = 36
        self.x0, self.x1 = float(self.left), float(width - self.right)
        self.y0, self.y1 = float(self.top), float(height - self.bottom)  # y0 top, y1 bottom (axis)
        self.inset = 6.0  # keeps the end markers clear of the axes
        self.xy = [(self.x(p.at.timestamp()), self.y(p.value)) for p in self.points]
        self.xs = [x for x, _ in self.xy]
        self.taken: list[tuple[float, float, float, float]] = []  # boxes of labels already placed
        self.latest_label = self._place_latest_label()

    # geometry

    def x(self, ts: float) -> float:
        span = self.t_hi - self.t_lo
        return self.x0 + self.inset + (ts - self.t_lo) / span * (self.x1 - self.x0 - 2 * self.inset)

    def y(self, value: float) -> float:
        lo, hi = self.chart.y_min, self.chart.y_max
        value = min(max(value, lo), hi)
        return self.y1 - (value - lo) / (hi - lo) * (self.y1 - self.y0)

    def _y_tick_values(self) -> list[float]:
        lo, hi = self.chart.y_min, self.chart.y_max
        if self.bands:
            values = {lo, hi} | {b.low for b in self.bands if lo <= b.low <= hi}
        else:
            values = {lo + (hi - lo) * i / 4 for i in range(5)}
        return sorted(values)

    def _band_edges(self) -> list[tuple[float, float, ChartBand]]:
        """Each band's stripe, in values; neighbours meet halfway across any gap between them."""
        lo, hi = self.chart.y_min, self.chart.y_max
        edges = []
        for i, band in enumerate(self.bands):
            below = self.bands[i - 1] if i else None
            above = self.bands[i + 1] if i + 1 < len(self.bands) else None
            bottom = (below.high + band.low) / 2 if below and below.high < band.low else band.low
            top = (band.high + above.low) / 2 if above and band.high < above.low else band.high
            if below is None:
                bottom = min(bottom, lo) if band.low <= lo + 1 else bottom
            if above is None:
                top = max(top, hi) if band.high >= hi - 1 else top
            bottom, top = max(bottom, lo), min(top, hi)
            if top > bottom:
                edges.append((bottom, top, band))
        return edges

    def band_of(self, value: float) -> ChartBand | None:
        for bottom, top, band in self._band_edges():
            if bottom <= value <= top:
                return band
        return None

    # drawing

    def render(self) -> str:
        chart = self.chart
        out: list[str] = []
        self._bands(out)
        self._grid_and_axes(out)
        self._reference_line(
            out,
            chart.baseline,
            f"Baseline {_num(chart.baseline or 0)}",
            _BASELINE,
            "6 4",
            "kf-chart-baseline",
        )
        self._reference_line(
            out,
            chart.response_at,
            f"Response \u2264 {_num(chart.response_at or 0)}",
            _RESPONSE,
            "2 3",
            "kf-chart-response",
        )
        self._treatments(out)
        self._series(out)
        body = "".join(out)

        title = f"{chart.title} trajectory"
        desc = self.description()
        uid = (
            "kf-chart-"
            + hashlib.blake2s(
                f"{title}\n{desc}\n{self.width}x{self.height}\n{body}".encode(), digest_size=5
            ).hexdigest()
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="kf-chart"'
            f' viewBox="0 0 {self.width} {self.height}"'
            f' width="100%" preserveAspectRatio="xMidYMid meet" role="img"'
            f' aria-labelledby="{uid}-title {uid}-desc" font-family="{_FONT}">'
            f'<title id="{uid}-title">{escape(title)}</title>'
            f'<desc id="{uid}-desc">{escape(desc)}</desc>'
            f"{body}</svg>"
        )

    def description(self) -> str:
        chart, points = self.chart, self.points
        if not points:
            parts = ["No scores yet"]
        elif len(points) == 1:
            parts = [f"1 score on {_day_month_year(points[0].at)}"]
        else:
            since, until = _day_month_year(points[0].at), _day_month_year(points[-1].at)
            parts = [f"{len(points)} scores from {since} to {until}"]
        if chart.baseline is not None:
            parts.append(f"baseline {_num(chart.baseline)}")
        if chart.response_at is not None:
            parts.append(f"response at or below {_num(chart.response_at)}")
        if points:
            latest = points[-1]
            band = self.band_of(latest.value)
            parts.append(f"latest {_num(latest.value)}" + (f" ({band.label})" if band else ""))
            flags = sum(1 for p in points if p.at in self.flagged)
            if flags:
                parts.append(f"{flags} safety flag{'s' if flags != 1 else ''}")
        if self.treatments:
            n = len(self.treatments)
            parts.append(f"{n} treatment{'s' if n != 1 else ''}")
        return "; ".join(parts) + "."

    def _bands(self, out: list[str]) -> None:
        edges = self._band_edges()
        if not edges:
            return
        low_o, high_o = _BAND_OPACITY
        steps = max(len(edges) - 1, 1)
        label_x = self.x1 + 8
        room = self.label_room
        out.append('<g class="kf-chart-bands">')
        for i, (bottom, top, band) in enumerate(edges):
            y_top, y_bottom = round(self.y(top), 1), round(self.y(bottom), 1)  # so stripes tile
            opacity = low_o + (high_o - low_o) * i / steps
            out.append(
                f'<rect class="kf-chart-band" x="{_c(self.x0)}" y="{_c(y_top)}"'
                f' width="{_c(self.x1 - self.x0)}" height="{_c(y_bottom - y_top)}"'
                f' fill="{_BAND_HUE}" fill-opacity="{opacity:.2f}">'
                f"<title>{escape(band.label)} ({_num(band.low)}\u2013{_num(band.high)})</title></rect>"
            )
            lines = _fit_label(band.label, room, _BAND_FONT)
            if len(lines) * (_BAND_FONT + 1) > y_bottom - y_top + 4:
                lines = _fit_label(band.label, room, _BAND_FONT, max_lines=1)
            if y_bottom - y_top < _BAND_FONT * 0.9:
                continue
            mid = (y_top + y_bottom) / 2
            if len(lines) == 1:
                out.append(
                    f'<text class="kf-chart-band-label" x="{_c(label_x)}" y="{_c(mid)}" dy="0.35em"'
                    f' font-size="{_BAND_FONT}" fill="{_MUTED}">{escape(lines[0])}</text>'
                )
            else:
                first_y = mid - (_BAND_FONT + 1) / 2
                spans = "".join(
                    f'<tspan x="{_c(label_x)}" y="{_c(first_y + n * (_BAND_FONT + 1))}" dy="0.35em">'
                    f"{escape(line)}</tspan>"
                    for n, line in enumerate(lines)
                )
                out.append(
                    f'<text class="kf-chart-band-label" font-size="{_BAND_FONT}" fill="{_MUTED}">'
                    f"{spans}</text>"
                )
        out.append("</g>")

    def _grid_and_axes(self, out: list[str]) -> None:
        x0, x1, y0, y1 = self.x0, self.x1, self.y0, self.y1
        out.append('<g class="kf-chart-axes">')
        # y ticks: a faint grid line and a label; a cut-off closer than a line of text to the one
        # below is dropped, and the range's top outranks the cut-off just below it.
        kept: list[float] = []
        for value in self.y_ticks:
            if kept and self.y(kept[-1]) - self.y(value) < _TICK_FONT + 1:
                if value != self.y_ticks[-1]:
                    continue
                if len(kept) > 1:
                    kept.pop()
            kept.append(value)
        for value in kept:
            y = self.y(value)
            if self.bands:  # the stripes already mark the cut-offs: a tick on the axis is enough
                out.append(
                    f'<line x1="{_c(x0 - 4)}" y1="{_c(y)}" x2="{_c(x0)}" y2="{_c(y)}" stroke="{_AXIS}"'
                    f' stroke-width="1"/>'
                )
            elif value != self.chart.y_min:
                out.append(
                    f'<line class="kf-chart-grid" x1="{_c(x0)}" y1="{_c(y)}" x2="{_c(x1)}" y2="{_c(y)}"'
                    f' stroke="{_GRID}" stroke-width="1"/>'
                )
            out.append(
                f'<text class="kf-chart-tick kf-chart-tick-y" x="{_c(x0 - 6)}" y="{_c(y)}" dy="0.35em"'
                f' font-size="{_TICK_FONT}" text-anchor="end" fill="{_MUTED}">{_num(value)}</text>'
            )
        # x ticks
        if self.has_range:
            max_ticks = int((x1 - x0) // 64)
            for ts, label in _x_ticks(self.t_lo, self.t_hi, self.tz, max_ticks):
                x = self.x(ts)
                half = _text_width(label, _TICK_FONT) / 2
                out.append(
                    f'<line class="kf-chart-grid" x1="{_c(x)}" y1="{_c(y0)}" x2="{_c(x)}" y2="{_c(y1)}"'
                    f' stroke="{_GRID}" stroke-width="1" opacity="0.7"/>'
                    f'<line x1="{_c(x)}" y1="{_c(y1)}" x2="{_c(x)}" y2="{_c(y1 + 4)}" stroke="{_AXIS}"'
                    f' stroke-width="1"/>'
                )
                if half <= x <= self.width - half:
                    out.append(
                        f'<text class="kf-chart-tick kf-chart-tick-x" x="{_c(x)}" y="{_c(self.height - 8)}"'
                        f' font-size="{_TICK_FONT}" text-anchor="middle" fill="{_MUTED}">'
                        f"{escape(label)}</text>"
                    )
        out.append(
            f'<line class="kf-chart-axis" x1="{_c(x0)}" y1="{_c(y1)}" x2="{_c(x1)}" y2="{_c(y1)}"'
            f' stroke="{_AXIS}" stroke-width="1"/>'
            f'<line class="kf-chart-axis" x1="{_c(x0)}" y1="{_c(y0)}" x2="{_c(x0)}" y2="{_c(y1)}"'
            f' stroke="{_AXIS}" stroke-width="1"/>'
        )
        out.append("</g>")

    def _reference_line(
        self, out: list[str], value: float | None, label: str, colour: str, dashes: str, cls: str
    ) -> None:
        if value is None or not math.isfinite(value):
            return
        y = self.y(value)
        tx, ty = self._place_label(y, _text_width(label, _BAND_FONT))
        out.append(
            f'<g class="{cls}">'
            f'<line x1="{_c(self.x0)}" y1="{_c(y)}" x2="{_c(self.x1)}" y2="{_c(y)}" stroke="{colour}"'
            f' stroke-width="1.5" stroke-dasharray="{dashes}"/>'
            f'<rect x="{_c(tx - 2)}" y="{_c(ty - _BAND_FONT + 1)}"'
            f' width="{_c(_text_width(label, _BAND_FONT) + 4)}" height="{_c(_BAND_FONT + 1)}"'
            ' rx="2" fill="#ffffff" opacity="0.85"/>'
            f'<text x="{_c(tx)}" y="{_c(ty)}" font-size="{_BAND_FONT}" fill="{colour}">{escape(label)}</text>'
            "</g>"
        )

    def _place_label(self, y: float, text_w: float) -> tuple[float, float]:
        """Where a reference line's label goes: just above or below the line, at the plot's left or
        right end, wherever it covers the fewest markers, line segments and earlier labels."""
        left, right = self.x0 + self.inset + 2, self.x1 - self.inset - 2 - text_w
        above, below = y - 4, y + _BAND_FONT + 3
        best: tuple[float, float, float] | None = None
        for order, (tx, ty) in enumerate(((left, above), (right, above), (left, below), (right, below))):
            box = (tx - 3, ty - _BAND_FONT, tx + text_w + 3, ty + 3)
            if box[1] < self.y0 - 2 or box[3] > self.y1 + 2:
                continue
            cost = self._collisions(box) + order * 0.01
            if best is None or cost < best[0]:
                best = (cost, tx, ty)
        if best is None:
            best = (0.0, left, below if y - self.y0 < _BAND_FONT + 4 else above)
        _, tx, ty = best
        self.taken.append((tx - 3, ty - _BAND_FONT, tx + text_w + 3, ty + 3))
        return tx, ty

    def _collisions(self, box: tuple[float, float, float, float]) -> float:
        bx0, by0, bx1, by1 = box
        cost = 0.0
        for tx0, ty0, tx1, ty1 in self.taken:
            if tx0 < bx1 and bx0 < tx1 and ty0 < by1 and by0 < ty1:
                cost += 10
        xy = self.xy
        # Only the segments whose x range reaches the box: the series is sorted by x.
        first = max(bisect.bisect_left(self.xs, bx0 - 6) - 1, 0)
        for i in range(first, len(xy)):
            x, y = xy[i]
            if x > bx1 + 6:
                if i > 0 and _segment_hits(xy[i - 1], xy[i], box):
                    cost += 1
                break
            if bx0 - 5 <= x <= bx1 + 5 and by0 - 5 <= y <= by1 + 5:
                cost += 3
            if i > 0 and _segment_hits(xy[i - 1], xy[i], box):
                cost += 1
        return cost

    def _treatments(self, out: list[str]) -> None:
        if not self.treatments:
            return
        top, bottom = self.y1 + 3, self.y1 + 10
        out.append(f'<g class="kf-chart-treatments" fill="{_TREATMENT}">')
        for at in self.treatments:
            x = self.x(at.timestamp())
            out.append(
                f'<polygon class="kf-chart-treatment" points="{_c(x)},{_c(top)} {_c(x - 3.5)},{_c(bottom)}'
                f' {_c(x + 3.5)},{_c(bottom)}"><title>Treatment {_day_month_year(at)}</title></polygon>'
            )
        out.append("</g>")

    def _series(self, out: list[str]) -> None:
        points = self.points
        if not points:
            out.append(
                f'<text class="kf-chart-empty" x="{_c((self.x0 + self.x1) / 2)}"'
                f' y="{_c((self.y0 + self.y1) / 2)}" dy="0.35em" font-size="13"'
                f' text-anchor="middle" fill="{_MUTED}">No scores yet</text>'
            )
            return
        xy = self.xy
        if len(points) > 1:
            coords = " ".join(f"{_c(x)},{_c(y)}" for x, y in xy)
            out.append(
                f'<polyline class="kf-chart-series" points="{coords}" fill="none" stroke="{_INK}"'
                f' stroke-width="{1.5 if len(points) > MAX_MARKED_POINTS else 2}" stroke-linejoin="round"'
                ' stroke-linecap="round"/>'
            )
        last = len(points) - 1
        if len(points) > MAX_MARKED_POINTS:
            marked: Iterable[int] = sorted(
                {0, last} | {i for i, p in enumerate(points) if p.at in self.flagged}
            )
        else:
            marked = range(len(points))
        out.append('<g class="kf-chart-points">')
        for i in marked:
            point, (x, y) = points[i], xy[i]
            label = point.label or f"{self.chart.title} {_num(point.value)}"
            when = _day_month_year(point.at)
            if point.at in self.flagged:
                out.append(
                    f'<g class="kf-chart-point kf-chart-flag">'
                    f"<title>Safety flag \u2013 {when}: {escape(label)}</title>"
                    f'<circle cx="{_c(x)}" cy="{_c(y)}" r="6.5" fill="#ffffff" stroke="{_FLAG}"'
                    ' stroke-width="2"/>'
                    f'<circle cx="{_c(x)}" cy="{_c(y)}" r="2.5" fill="{_FLAG}"/></g>'
                )
            elif i == last:
                out.append(
                    f'<circle class="kf-chart-point kf-chart-latest" cx="{_c(x)}" cy="{_c(y)}" r="4.5"'
                    f' fill="{_INK}" stroke="#ffffff" stroke-width="1.5">'
                    f"<title>{when}: {escape(label)}</title></circle>"
                )
            else:
                out.append(
                    f'<circle class="kf-chart-point" cx="{_c(x)}" cy="{_c(y)}" r="3.5" fill="#ffffff"'
                    f' stroke="{_INK}" stroke-width="1.5"><title>{when}: {escape(label)}</title></circle>'
                )
        out.append("</g>")
        if self.latest_label is not None:
            tx, ty, text = self.latest_label
            out.append(
                f'<text class="kf-chart-latest-value" x="{_c(tx)}" y="{_c(ty)}" font-size="{_LATEST_FONT}"'
                f' font-weight="600" fill="{_INK}">{escape(text)}</text>'
            )

    def _place_latest_label(self) -> tuple[float, float, str] | None:
        """The latest value, written beside its marker: the figure a reader of the PDF looks for."""
        if not self.points:
            return None
        x, y = self.xy[-1]
        text = _num(self.points[-1].value)
        w = _text_width(text, _LATEST_FONT)
        candidates = (
            (x - w / 2, y - 9),  # above
            (x - w - 7, y - 7),  # above left
            (x - w / 2, y + 17),  # below
            (x - w - 7, y + 15),  # below left
            (x + 8, y + 4),  # right
            (x - w - 9, y + 4),  # left
        )
        best: tuple[float, float, float] | None = None
        for order, (tx, ty) in enumerate(candidates):
            box = (tx - 1, ty - _LATEST_FONT + 1, tx + w + 1, ty + 2)
            if box[0] < self.x0 + 2 or box[2] > self.x1 or box[1] < self.y0 - 4 or box[3] > self.y1 - 1:
                continue
            cost = self._collisions(box) + order * 0.01
            if best is None or cost < best[0]:
                best = (cost, tx, ty)
        if best is None:
            return None
        _, tx, ty = best
        self.taken.append((tx - 1, ty - _LATEST_FONT + 1, tx + w + 1, ty + 2))
        return tx, ty, text
