"""Treatment outcome for one instrument: response, remission, relapse and non-response.

Pure: the measurements and treatment times are passed in (timezone-aware), nothing reads the clock.
`assess_outcome` returns an `Outcome` whose judgements each carry a value and a sentence a clinician
reads; a value of None means "cannot be judged yet" and the sentence says why.

The rules (clinical reference §6 unless noted):

- Measurements and treatment times may arrive in any order; both are sorted by time. A measurement
  taken at the same instant as a treatment counts as taken before it.
- Baseline: the last measurement taken at or before the first treatment. With no treatment yet, the
  baseline is the latest measurement and every judgement is None ("no treatment given yet"). With no
  measurement at or before the first treatment, there is no baseline and every judgement is None
  ("no baseline before the first treatment on <date>").
- Follow-up: a measurement taken after the first treatment. Latest: the most recent measurement.
- Change = latest - baseline; percent change = change / baseline x 100 (None when the baseline is 0).
- Response threshold = baseline x (1 - response_reduction): the score at or below which the patient
  counts as responding (9 for a PHQ-9 baseline of 18). Compared exactly (rational arithmetic), so a
  reduction of exactly 50% counts as a response.
- Response: the latest follow-up is at or below the response threshold. None when there is no
  follow-up yet or the baseline is 0.
- Remission: the latest follow-up is at or below the instrument's remission cut-off
  (`remission_at_most`, taken from the instrument definition by `OutcomeRules.for_instrument`). None
  when the instrument has no remission rule or there is no follow-up yet.
- Relapse: after the most recent responding follow-up, `relapse_consecutive` measurements in a row
  above the response threshold (True, naming the dates). False when the patient responded and has not
  relapsed. None ("never responded") when no follow-up ever reached the response threshold.
- Non-response (APA consensus, Sanacora et al. 2017: few patients respond after more than 3 infusions
  if they have not by then): False as soon as any follow-up has reached response, however many
  treatments were given. Otherwise, with N = `non_response_after`: None while fewer than N treatments
  were given ("2 of 3 treatments given"); None when no measurement was taken after treatment N ("no
  measurement since treatment 3"); True when a measurement was taken after treatment N and no
  follow-up has ever reached response ("no response after 3 treatments: review the plan").
  `treatment_times` are the treatments given; every one of them is counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Protocol

DEFAULT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "baseline": "Outcomes are measured against the pre-treatment baseline (clinical reference §6).",
        "response": (
            "Response is at least a 50% reduction in the total from the pre-treatment baseline, the "
            "convention of the ketamine outcome literature (clinical reference §6); clinic-configurable."
        ),
        "remission": (
            "Remission is a total at or below the instrument's cut-off, from its definition "
            "(clinical reference §6); clinic-configurable."
        ),
        "relapse": (
            "[verify] Relapse is measurements in a row back above the response threshold after a "
            "response: a ketaflow convention, not a published definition; clinic-configurable."
        ),
        "non_response": (
            "Few patients respond after more than 3 infusions if they have not responded by then: a "
            "futility review point (APA consensus, Sanacora et al., JAMA Psychiatry 2017;74:399-405; "
            "clinical reference §2)."
        ),
    }
)

# Display names for the instruments ketaflow knows; any other id is shown as given.
_DISPLAY = {
    "phq9": "PHQ-9",
    "gad7": "GAD-7",
    "qids_sr16": "QIDS-SR16",
    "madrs": "MADRS",
    "pcl5": "PCL-5",
    "peg": "PEG",
    "ymrs": "YMRS",
    "ybocs": "Y-BOCS",
    "cssrs_screener": "C-SSRS screener",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ThresholdLike(Protocol):
    @property
    def at_most(self) -> float: ...

    @property
    def source(self) -> str: ...


class HasRemission(Protocol):
    """Anything with a `remission` cut-off, such as an instrument definition."""

    @property
    def remission(self) -> ThresholdLike | None: ...


@dataclass(frozen=True)
class Measurement:
    """One completed questionnaire: when it was taken (timezone-aware) and its total."""

    taken_at: datetime
    total: float

    def __post_init__(self) -> None:
        _require_aware(self.taken_at, "Measurement.taken_at")
        if isinstance(self.total, bool) or not math.isfinite(self.total) or self.total < 0:
            raise ValueError(f"Measurement.total must be a finite number of 0 or more, not {self.total!r}")


@dataclass(frozen=True)
class OutcomeRules:
    """The clinic-configurable outcome rules; `sources` maps each rule name to where it comes from."""

    response_reduction: float = 0.5
    remission_at_most: float | None = None
    relapse_consecutive: int = 2
    non_response_after: int = 3
    sources: Mapping[str, str] = field(default_factory=lambda: DEFAULT_SOURCES)

    def __post_init__(self) -> None:
        reduction = self.response_reduction
        if isinstance(reduction, bool) or not math.isfinite(reduction) or not 0 < reduction <= 1:
            raise ValueError(f"response_reduction must be above 0 and at most 1, not {reduction!r}")
        remission = self.remission_at_most
        if remission is not None and (
            isinstance(remission, bool) or not math.isfinite(remission) or remission < 0
        ):
            raise ValueError(f"remission_at_most must be a finite number of 0 or more, not {remission!r}")
        for name in ("relapse_consecutive", "non_response_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of 1 or more, not {value!r}")
        merged = MappingProxyType({**DEFAULT_SOURCES, **self.sources})
        object.__setattr__(self, "sources", merged)

    def for_instrument(self, instrument: HasRemission) -> OutcomeRules:
        """These rules with the remission cut-off (and its source) taken from the instrument definition.

        An instrument without a remission rule gives `remission_at_most=None`.
        """
        threshold = instrument.remission
        if threshold is None:
            return replace(self, remission_at_most=None)
        sources = {**self.sources, "remission": threshold.source}
        return replace(self, remission_at_most=float(threshold.at_most), sources=sources)


@dataclass(frozen=True)
class Judgement:
    """A yes/no finding, or None when it cannot be judged yet; `reason` says which and why."""

    value: bool | None
    reason: str


@dataclass(frozen=True)
class Outcome:
    instrument_id: str
    baseline: Measurement | None
    latest: Measurement | None
    change: float | None
    percent_change: float | None
    response_threshold: float | None
    response: Judgement
    remission: Judgement
    relapse: Judgement
    non_response: Judgement
    treatments_given: int
    rules: OutcomeRules
    reasons: tuple[str, ...]


def assess_outcome(
    instrument_id: str,
    measurements: Sequence[Measurement],
    treatment_times: Sequence[datetime],
    rules: OutcomeRules,
    *,
    label: str | None = None,
) -> Outcome:
    """The outcome of one instrument's measurements against the treatments given (rules above).

    `label` is the instrument's display name in the reasons (default: PHQ-9 for phq9 and so on).
    Raises ValueError for a naive treatment time.
    """
    for index, moment in enumerate(treatment_times):
        _require_aware(moment, f"treatment_times[{index}]")
    name = label or _DISPLAY.get(instrument_id, instrument_id)
    ordered = sorted(measurements, key=lambda m: m.taken_at)
    treatments = sorted(treatment_times)
    given = len(treatments)
    latest = ordered[-1] if ordered else None

    if latest is None:
        reason = f"no {name} measurement recorded yet"
        return _undecided(instrument_id, None, None, given, rules, reason, (reason,))
    if not treatments:
        reason = "no treatment given yet"
        note = (
            f"baseline: {name} {_num(latest.total)} on {_date(latest.taken_at)}, the latest measurement "
            "(no treatment given yet)"
        )
        return _undecided(instrument_id, latest, latest, given, rules, reason, (note, reason))
    first = treatments[0]
    before = [m for m in ordered if m.taken_at <= first]
    if not before:
        reason = f"no baseline before the first treatment on {_date(first)}"
        return _undecided(instrument_id, None, latest, given, rules, reason, (reason,))

    baseline = before[-1]
    follow_ups = [m for m in ordered if m.taken_at > first]
    threshold = _threshold(baseline.total, rules)
    change, percent, notes = _change(baseline, latest)
    reasons = [
        f"baseline: {name} {_num(baseline.total)} on {_date(baseline.taken_at)}, the last measurement "
        f"at or before the first treatment on {_date(first)}",
        f"latest: {name} {_num(latest.total)} on {_date(latest.taken_at)}",
        *notes,
    ]
    responding = [] if threshold is None else [m for m in follow_ups if Fraction(m.total) <= threshold]
    return Outcome(
        instrument_id=instrument_id,
        baseline=baseline,
        latest=latest,
        change=change,
        percent_change=percent,
        response_threshold=None if threshold is None else float(threshold),
        response=_response(name, baseline, follow_ups, threshold, first, rules),
        remission=_remission(name, follow_ups, first, rules),
        relapse=_relapse(name, follow_ups, responding, threshold, rules),
        non_response=_non_response(ordered, treatments, responding, threshold, rules),
        treatments_given=given,
        rules=rules,
        reasons=tuple(reasons),
    )


def _undecided(
    instrument_id: str,
    baseline: Measurement | None,
    latest: Measurement | None,
    given: int,
    rules: OutcomeRules,
    reason: str,
    reasons: tuple[str, ...],
) -> Outcome:
    """An outcome whose four judgements cannot be made yet, for `reason`."""
    blank = Judgement(None, reason)
    change: float | None = None
    percent: float | None = None
    threshold: Fraction | None = None
    if baseline is not None and latest is not None:
        change, percent, notes = _change(baseline, latest)
        threshold = _threshold(baseline.total, rules)
        reasons = (*reasons, *notes)
    return Outcome(
        instrument_id=instrument_id,
        baseline=baseline,
        latest=latest,
        change=change,
        percent_change=percent,
        response_threshold=None if threshold is None else float(threshold),
        response=blank,
        remission=blank,
        relapse=blank,
        non_response=blank,
        treatments_given=given,
        rules=rules,
        reasons=reasons,
    )


def _threshold(baseline: float, rules: OutcomeRules) -> Fraction | None:
    """The exact score at or below which the patient responds; None for a baseline of 0."""
    if baseline <= 0:
        return None
    # repr() keeps the decimal a clinic typed (0.3, not 0.29999...), so the cut-off is exact.
    return Fraction(baseline) * (1 - Fraction(repr(rules.response_reduction)))


def _change(baseline: Measurement, latest: Measurement) -> tuple[float, float | None, tuple[str, ...]]:
    change = latest.total - baseline.total
    if baseline.total <= 0:
        return change, None, ("percent change not computed: the baseline is 0",)
    exact = (Fraction(latest.total) - Fraction(baseline.total)) / Fraction(baseline.total) * 100
    return change, _float(exact), ()


def _response(
    name: str,
    baseline: Measurement,
    follow_ups: list[Measurement],
    threshold: Fraction | None,
    first: datetime,
    rules: OutcomeRules,
) -> Judgement:
    if threshold is None:
        return Judgement(None, f"the baseline {name} is 0, so a reduction cannot be measured")
    if not follow_ups:
        return Judgement(None, f"no {name} since the first treatment on {_date(first)}")
    latest = follow_ups[-1]
    need = rules.response_reduction * 100
    rule = f"response needs at least {_num(need)}%, i.e. {_num(float(threshold))} or lower"
    base, total = Fraction(baseline.total), Fraction(latest.total)
    percent = _float((total - base) / base * 100)
    if total == base:
        where = f"is unchanged from the baseline of {_num(baseline.total)}"
    else:
        side = "below" if total < base else "above"
        where = f"is {_percent(abs(percent), need)}% {side} the baseline of {_num(baseline.total)}"
    return Judgement(
        total <= threshold, f"{name} {_num(latest.total)} on {_date(latest.taken_at)} {where} ({rule})"
    )


def _remission(name: str, follow_ups: list[Measurement], first: datetime, rules: OutcomeRules) -> Judgement:
    cut_off = rules.remission_at_most
    if cut_off is None:
        return Judgement(None, f"no remission rule for {name}")
    if not follow_ups:
        return Judgement(None, f"no {name} since the first treatment on {_date(first)}")
    latest = follow_ups[-1]
    source = rules.sources["remission"]
    remitted = Fraction(latest.total) <= Fraction(repr(cut_off))
    relation = "at or below" if remitted else "above"
    return Judgement(
        remitted,
        f"{name} {_num(latest.total)} on {_date(latest.taken_at)} is {relation} the remission cut-off of "
        f"{_num(cut_off)}. {source}",
    )


def _relapse(
    name: str,
    follow_ups: list[Measurement],
    responding: list[Measurement],
    threshold: Fraction | None,
    rules: OutcomeRules,
) -> Judgement:
    if threshold is None:
        return Judgement(None, f"never responded: the baseline {name} is 0")
    if not responding:
        return Judgement(None, "never responded")
    last_response = responding[-1]
    since = [m for m in follow_ups if m.taken_at > last_response.taken_at]
    cut = _num(float(threshold))
    responded = f"the response on {_date(last_response.taken_at)} ({_num(last_response.total)})"
    needed = rules.relapse_consecutive
    if len(since) >= needed:
        dates = ", ".join(f"{_date(m.taken_at)} ({_num(m.total)})" for m in since)
        return Judgement(
            True,
            f"{len(since)} measurements in a row above {cut} after {responded}: {dates}; "
            f"relapse is {needed} in a row",
        )
    if not since:
        return Judgement(False, f"still responding: {responded} is the latest measurement")
    return Judgement(
        False,
        f"{len(since)} of {needed} measurements in a row above {cut} after {responded}; "
        f"relapse is {needed} in a row",
    )


def _non_response(
    ordered: list[Measurement],
    treatments: list[datetime],
    responding: list[Measurement],
    threshold: Fraction | None,
    rules: OutcomeRules,
) -> Judgement:
    needed = rules.non_response_after
    source = rules.sources["non_response"]
    if responding:
        first_response = responding[0]
        after = sum(1 for t in treatments if t < first_response.taken_at)
        return Judgement(
            False,
            f"responded on {_date(first_response.taken_at)} after {_count(after, 'treatment')}",
        )
    if threshold is None:
        return Judgement(None, "the baseline is 0, so response cannot be judged")
    if len(treatments) < needed:
        return Judgement(None, f"{len(treatments)} of {needed} treatments given")
    nth = treatments[needed - 1]
    if not any(m.taken_at > nth for m in ordered):
        return Judgement(None, f"no measurement since treatment {needed} on {_date(nth)}")
    return Judgement(True, f"no response after {_count(needed, 'treatment')}: review the plan. {source}")


def _float(exact: Fraction) -> float:
    """The nearest float; an infinity when a tiny baseline makes the ratio too large for a float."""
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {moment!r}")


def _date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _num(value: float) -> str:
    return f"{value:g}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _percent(value: float, need: float) -> str:
    """`value` rounded for reading, with more decimals only where rounding would cross `need`."""
    for places in range(4):
        text = f"{value:.{places}f}"
        if float(text) != need or math.isclose(value, need, abs_tol=1e-9):
            return text
    return f"{value:.4f}"
