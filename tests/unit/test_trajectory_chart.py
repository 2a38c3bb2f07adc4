"""The questionnaire trajectory chart: well-formed, CSP-safe SVG with the geometry a reader relies on."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ketaflow.measurement.charts import ChartBand, ChartPoint, TrajectoryChart, render_trajectory

SVG = "{http://www.w3.org/2000/svg}"
EST = timezone(timedelta(hours=-5))
T0 = datetime(2026, 1, 3, 10, 30, tzinfo=EST)
PHQ9_BANDS = (
    ChartBand(0, 4, "minimal"),
    ChartBand(5, 9, "mild"),
    ChartBand(10, 14, "moderate"),
    ChartBand(15, 19, "moderately severe"),
    ChartBand(20, 27, "severe"),
)


def _points(values: list[float], every: timedelta = timedelta(weeks=1)) -> list[ChartPoint]:
    return [ChartPoint(T0 + i * every, v, f"PHQ-9 {v:g}") for i, v in enumerate(values)]


def _chart(points: list[ChartPoint], **kwargs) -> TrajectoryChart:
    kwargs.setdefault("bands", PHQ9_BANDS)
    return TrajectoryChart("PHQ-9", points, 0, 27, **kwargs)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed


def _with_class(root: ET.Element, name: str, tag: str | None = None) -> list[ET.Element]:
    return [
        el
        for el in root.iter()
        if name in el.get("class", "").split() and (tag is None or el.tag == SVG + tag)
    ]


def _pairs(polyline: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in polyline.get("points", "").split())]


def _title(el: ET.Element) -> str:
    title = el.find(SVG + "title")
    assert title is not None
    return title.text or ""


def _texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(SVG + "text")]


def _full_chart() -> TrajectoryChart:
    points = _points([19, 18, 16, 14, 12, 10, 9, 8, 9, 7, 7, 6])
    return _chart(
        points,
        baseline=18,
        response_at=9,
        treatments=[T0 + timedelta(days=d, hours=2) for d in (1, 4, 8, 11, 15, 18)],
        flagged=[points[3].at],
    )


CHARTS = {
    "full": _full_chart(),
    "empty": _chart([]),
    "one point": _chart(_points([12])),
    "no bands": TrajectoryChart("GAD-7", _points([15, 11, 6]), 0, 21),
    "five years": _chart(_points([random.Random(i).randint(0, 27) for i in range(260)])),
}


@pytest.mark.parametrize("chart", CHARTS.values(), ids=CHARTS.keys())
def test_the_chart_is_well_formed_svg_with_no_inline_style_or_script(chart):
    svg = render_trajectory(chart)
    root = _parse(svg)
    assert root.tag == SVG + "svg"
    for el in root.iter():
        assert "style" not in el.attrib, el.tag
        assert not any(name.lower().startswith("on") for name in el.attrib), el.tag  # no event handlers
        assert el.tag not in (SVG + "style", SVG + "script", "style", "script")
        assert all(cls.startswith("kf-chart") for cls in el.get("class", "").split())
    assert "<style" not in svg and "<script" not in svg and "style=" not in svg


def test_the_root_is_an_accessible_scalable_image_labelled_by_its_title_and_description():
    root = _parse(render_trajectory(_full_chart(), width=360, height=220))
    assert root.get("viewBox") == "0 0 360 220"
    assert root.get("role") == "img"
    assert root.get("class") == "kf-chart"
    assert root.get("width") == "100%"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    ids = {el.get("id"): el for el in root.iter() if el.get("id")}
    labelled_by = [ids[i] for i in root.get("aria-labelledby", "").split()]
    assert [el.tag for el in labelled_by] == [SVG + "title", SVG + "desc"]
    assert labelled_by[0].text == "PHQ-9 trajectory"
    assert labelled_by[1].text == (
        "12 scores from 3 Jan 2026 to 21 Mar 2026; baseline 18; response at or below 9; "
        "latest 6 (mild); 1 safety flag; 6 treatments."
    )


def test_the_rendering_is_deterministic():
    assert render_trajectory(_full_chart()) == render_trajectory(_full_chart())


def test_the_polyline_has_one_pair_per_point_in_time_order_whatever_the_input_order():
    points = _points([19, 3, 25, 8, 14, 0, 27])
    shuffled = points[3:] + points[:3]
    root = _parse(render_trajectory(_chart(shuffled)))
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    pairs = _pairs(polyline)
    assert len(pairs) == len(points)
    xs = [x for x, _ in pairs]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    by_value = dict(zip([p.value for p in points], pairs, strict=True))
    assert by_value[27][1] < by_value[25][1] < by_value[19][1] < by_value[3][1] < by_value[0][1]


def test_the_x_position_is_proportional_to_time():
    points = [ChartPoint(T0 + timedelta(days=d), 10) for d in (0, 10, 40)]
    [polyline] = _with_class(_parse(render_trajectory(_chart(points))), "kf-chart-series", "polyline")
    (x0, _), (x1, _), (x2, _) = _pairs(polyline)
    assert (x1 - x0) / (x2 - x0) == pytest.approx(0.25, abs=0.01)


def test_the_series_is_drawn_with_a_marker_per_point_titled_with_its_date_and_label():
    root = _parse(render_trajectory(_chart(_points([19, 12, 7]))))
    markers = _with_class(root, "kf-chart-point")
    assert len(markers) == 3
    assert [_title(m) for m in markers] == [
        "3 Jan 2026: PHQ-9 19",
        "10 Jan 2026: PHQ-9 12",
        "17 Jan 2026: PHQ-9 7",
    ]
    assert "kf-chart-latest" in markers[-1].get("class", "")
    assert "7" in _texts(root)  # the latest value is written beside its marker


def test_the_baseline_is_a_dashed_grey_line_at_its_value_and_labelled():
    points = _points([18, 12, 7])
    root = _parse(render_trajectory(_chart(points, baseline=18)))
    [group] = _with_class(root, "kf-chart-baseline")
    line = group.find(SVG + "line")
    assert line is not None and line.get("stroke-dasharray")
    assert line.get("y1") == line.get("y2")
    first_marker = _with_class(root, "kf-chart-point")[0]
    assert float(line.get("y1", "nan")) == pytest.approx(float(first_marker.get("cy", "nan")))
    assert "".join(group.itertext()) == "Baseline 18"


def test_the_response_threshold_is_a_dotted_line_labelled_with_its_value():
    root = _parse(render_trajectory(_chart(_points([18, 9]), response_at=9)))
    [group] = _with_class(root, "kf-chart-response")
    line = group.find(SVG + "line")
    assert line is not None and line.get("stroke-dasharray") == "2 3"
    assert "".join(group.itertext()) == "Response \u2264 9"
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    assert float(line.get("y1", "nan")) == pytest.approx(_pairs(polyline)[1][1])


def test_no_reference_lines_unless_asked():
    root = _parse(render_trajectory(_chart(_points([18, 9]))))
    assert not _with_class(root, "kf-chart-baseline") and not _with_class(root, "kf-chart-response")


def test_bands_are_stripes_of_one_hue_growing_stronger_with_their_labels_at_the_right():
    root = _parse(render_trajectory(_chart(_points([18, 9]))))
    rects = _with_class(root, "kf-chart-band", "rect")
    assert len(rects) == 5
    assert len({r.get("fill") for r in rects}) == 1
    opacities = [float(r.get("fill-opacity", "nan")) for r in rects]
    assert opacities == sorted(opacities) and opacities[0] < opacities[-1]
    # the lowest band is drawn lowest; the stripes tile the plot without gaps
    tops = [float(r.get("y", "nan")) for r in rects]
    bottoms = [t + float(r.get("height", "nan")) for t, r in zip(tops, rects, strict=True)]
    assert tops == sorted(tops, reverse=True)
    assert all(b == pytest.approx(t) for b, t in zip(bottoms[1:], tops[:-1], strict=True))
    labels = _with_class(root, "kf-chart-band-label", "text")
    assert ["".join(t.itertext()) for t in labels] == [b.label for b in PHQ9_BANDS]
    plot_right = float(rects[0].get("x", "nan")) + float(rects[0].get("width", "nan"))
    assert all(float(t.get("x") or t[0].get("x", "nan")) > plot_right for t in labels)


def test_a_score_on_a_cut_off_sits_inside_its_band():
    root = _parse(render_trajectory(_chart(_points([5, 4]))))
    rects = _with_class(root, "kf-chart-band", "rect")
    minimal, mild = rects[0], rects[1]
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    (_, y5), (_, y4) = _pairs(polyline)
    assert float(mild.get("y", "nan")) < y5 < float(mild.get("y", "nan")) + float(mild.get("height", "nan"))
    assert float(minimal.get("y", "nan")) < y4


def test_a_long_band_label_wraps_in_the_phone_sized_chart():
    root = _parse(render_trajectory(_chart(_points([18, 9])), width=360, height=220))
    labels = _with_class(root, "kf-chart-band-label", "text")
    severe = labels[3]
    assert [span.text for span in severe.iter(SVG + "tspan")] == ["moderately", "severe"]


def test_y_ticks_stand_at_the_band_cut_offs_and_the_top_of_the_range():
    root = _parse(render_trajectory(_chart(_points([18, 9]))))
    ticks = ["".join(t.itertext()) for t in _with_class(root, "kf-chart-tick-y")]
    assert ticks == ["0", "5", "10", "15", "20", "27"]


def test_without_bands_there_are_five_even_y_ticks():
    root = _parse(render_trajectory(TrajectoryChart("Pain", _points([3, 8]), 0, 10)))
    ticks = ["".join(t.itertext()) for t in _with_class(root, "kf-chart-tick-y")]
    assert ticks == ["0", "2.5", "5", "7.5", "10"]
    assert not _with_class(root, "kf-chart-band")


@pytest.mark.parametrize(
    ("span", "every", "expected"),
    [
        (timedelta(weeks=8), timedelta(weeks=1), {"5 Jan", "19 Jan", "2 Feb", "16 Feb"}),
        (timedelta(days=300), timedelta(weeks=4), {"Mar 2026", "Jul 2026"}),
        (timedelta(days=5 * 365), timedelta(weeks=13), {"2027", "2028", "2029", "2030"}),
    ],
    ids=["weeks", "months", "years"],
)
def test_x_ticks_are_chosen_by_the_span(span, every, expected):
    n = span // every + 1
    root = _parse(render_trajectory(_chart(_points([10] * n, every))))
    labels = {"".join(t.itertext()) for t in _with_class(root, "kf-chart-tick-x")}
    assert expected <= labels
    assert 2 <= len(labels) <= 9


def test_treatments_are_marks_along_the_bottom_each_titled_with_its_date():
    treatments = [datetime(2026, 12, 3, 9, tzinfo=UTC), datetime(2026, 11, 5, 9, tzinfo=UTC)]
    points = [
        ChartPoint(datetime(2026, 11, 1, tzinfo=UTC), 15),
        ChartPoint(datetime(2026, 12, 10, tzinfo=UTC), 8),
    ]
    root = _parse(render_trajectory(_chart(points, treatments=treatments)))
    marks = _with_class(root, "kf-chart-treatment")
    assert [_title(m) for m in marks] == ["Treatment 5 Nov 2026", "Treatment 3 Dec 2026"]
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    axis_y = max(y for _, y in _pairs(polyline))
    for mark in marks:
        ys = [float(pair.split(",")[1]) for pair in mark.get("points", "").split()]
        assert min(ys) > axis_y  # below the plot, clear of the series


def test_the_default_x_range_spans_treatments_as_well_as_points():
    points = _points([15, 12])
    later = T0 + timedelta(weeks=6)
    root = _parse(render_trajectory(_chart(points, treatments=[later])))
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    [mark] = _with_class(root, "kf-chart-treatment")
    tip_x = float(mark.get("points", "").split()[0].split(",")[0])
    assert tip_x > max(x for x, _ in _pairs(polyline))


def test_a_flagged_point_gets_a_distinct_red_marker_with_a_title():
    points = _points([19, 14, 12])
    root = _parse(render_trajectory(_chart(points, flagged=[points[1].at])))
    [flag] = _with_class(root, "kf-chart-flag")
    assert _title(flag) == "Safety flag \u2013 10 Jan 2026: PHQ-9 14"
    assert any(c.get("stroke") == "#c0262d" for c in flag.iter(SVG + "circle"))
    assert len(_with_class(root, "kf-chart-point")) == 3


def test_a_flag_matches_its_point_across_time_zones():
    points = _points([19, 14])
    same_instant = points[0].at.astimezone(UTC)
    root = _parse(render_trajectory(_chart(points, flagged=[same_instant])))
    assert len(_with_class(root, "kf-chart-flag")) == 1


def test_all_text_is_escaped():
    evil = '<script>alert("x")</script> & co'
    chart = TrajectoryChart(
        evil,
        [ChartPoint(T0, 5, label=evil), ChartPoint(T0 + timedelta(days=9), 6, label="a < b")],
        0,
        27,
        bands=(ChartBand(0, 27, evil),),
        flagged=[T0],
    )
    svg = render_trajectory(chart)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = _parse(svg)
    assert root.find(SVG + "title") is not None
    assert _title(root) == f"{evil} trajectory"
    assert _title(_with_class(root, "kf-chart-flag")[0]).endswith(evil)
    assert _title(_with_class(root, "kf-chart-latest")[0]).endswith("a < b")


def test_zero_points_draw_the_axes_and_say_there_are_no_scores_yet():
    root = _parse(render_trajectory(_chart([])))
    assert "No scores yet" in _texts(root)
    assert not _with_class(root, "kf-chart-series") and not _with_class(root, "kf-chart-point")
    assert len(_with_class(root, "kf-chart-axis")) == 2
    assert len(_with_class(root, "kf-chart-band")) == 5
    desc = root.find(SVG + "desc")
    assert desc is not None and desc.text == "No scores yet."


def test_zero_points_with_an_explicit_range_still_get_date_ticks():
    chart = _chart([], start=T0, end=T0 + timedelta(days=200))
    root = _parse(render_trajectory(chart))
    assert "No scores yet" in _texts(root)
    assert _with_class(root, "kf-chart-tick-x")


def test_one_point_is_a_single_marker_and_no_line():
    root = _parse(render_trajectory(_chart(_points([12]))))
    assert not _with_class(root, "kf-chart-series")
    [marker] = _with_class(root, "kf-chart-point")
    assert marker.tag == SVG + "circle"
    x = float(marker.get("cx", "nan"))
    assert 100 < x < 540  # centred in a short window, not squashed against an axis
    desc = root.find(SVG + "desc")
    assert desc is not None and desc.text == "1 score on 3 Jan 2026; latest 12 (moderate)."
    assert _with_class(root, "kf-chart-tick-x")


def test_five_years_of_weekly_scores_keep_the_markers_few():
    points = _points([random.Random(i).randint(0, 27) for i in range(260)])
    root = _parse(render_trajectory(_chart(points, flagged=[points[50].at, points[51].at])))
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    assert len(_pairs(polyline)) == 260
    markers = _with_class(root, "kf-chart-point")
    assert len(markers) == 4  # first, last and the two flagged
    assert len(_with_class(root, "kf-chart-flag")) == 2


def test_out_of_range_values_are_clamped_to_the_plot():
    root = _parse(render_trajectory(_chart(_points([40, 27, 0, -5]))))
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    (_, above), (_, top), (_, bottom), (_, below) = _pairs(polyline)
    assert above == top and below == bottom
    titles = [_title(m) for m in _with_class(root, "kf-chart-point")]
    assert titles[0].endswith("PHQ-9 40")  # the tooltip keeps the true value


def test_an_explicit_window_drops_points_outside_it():
    points = _points([19, 15, 12, 9, 7])
    chart = _chart(points, start=points[1].at, end=points[3].at)
    root = _parse(render_trajectory(chart))
    [polyline] = _with_class(root, "kf-chart-series", "polyline")
    assert len(_pairs(polyline)) == 3


def test_an_inverted_y_range_is_refused():
    with pytest.raises(ValueError, match="y range"):
        render_trajectory(TrajectoryChart("PHQ-9", [], 27, 0))
