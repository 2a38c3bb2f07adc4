from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaflow.clinical.instruments import get_instrument
from ketaflow.clinical.instruments.definition import Threshold
from ketaflow.clinical.outcomes import (
    DEFAULT_SOURCES,
    Measurement,
    OutcomeRules,
    assess_outcome,
)

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def m(n: float, total: float) -> Measurement:
    return Measurement(day(n), total)


@dataclass(frozen=True)
class FakeInstrument:
    remission: Threshold | None


MADRS = FakeInstrument(Threshold(10, "MADRS remission at most 10 (Daly 2018); clinic-configurable."))
RULES = OutcomeRules()
TREATMENTS = [day(1), day(3), day(5)]


def test_a_reduction_of_exactly_50_percent_counts_as_a_response():
    outcome = assess_outcome("phq9", [m(0, 18), m(8, 9)], TREATMENTS, RULES)
    assert outcome.response.value is True
    assert outcome.percent_change == -50
    assert outcome.response_threshold == 9


def test_a_reduction_of_49_percent_is_not_a_response():
    outcome = assess_outcome("phq9", [m(0, 100), m(8, 51)], TREATMENTS, RULES)
    assert outcome.response.value is False
    assert "49% below the baseline of 100" in outcome.response.reason


def test_the_response_reason_gives_the_numbers_a_clinician_checks():
    outcome = assess_outcome("phq9", [m(0, 18), m(8, 8)], TREATMENTS, RULES)
    assert outcome.response.value is True
    assert outcome.response.reason == (
        "PHQ-9 8 on 9 Nov 2026 is 56% below the baseline of 18 (response needs at least 50%, i.e. 9 or lower)"
    )


def test_rounding_never_makes_a_near_miss_read_like_a_response():
    outcome = assess_outcome("phq9", [m(0, 1000), m(8, 501)], TREATMENTS, RULES)
    assert outcome.response.value is False
    assert "49.9% below" in outcome.response.reason


def test_a_score_above_the_baseline_is_reported_as_a_rise():
    outcome = assess_outcome("phq9", [m(0, 10), m(8, 12)], TREATMENTS, RULES)
    assert outcome.response.value is False
    assert "20% above the baseline of 10" in outcome.response.reason


def test_phq9_remission_is_4_or_lower_from_the_instrument_definition():
    rules = RULES.for_instrument(get_instrument("phq9"))
    assert rules.remission_at_most == 4
    remitted = assess_outcome("phq9", [m(0, 18), m(8, 4)], TREATMENTS, rules).remission
    not_remitted = assess_outcome("phq9", [m(0, 18), m(8, 5)], TREATMENTS, rules).remission
    assert (remitted.value, not_remitted.value) == (True, False)
    assert "at or below the remission cut-off of 4" in remitted.reason
    threshold = get_instrument("phq9").remission
    assert threshold is not None and threshold.source in remitted.reason


def test_madrs_remission_is_10_or_lower_and_11_is_not():
    rules = RULES.for_instrument(MADRS)
    assert assess_outcome("madrs", [m(0, 30), m(8, 10)], TREATMENTS, rules).remission.value is True
    outcome = assess_outcome("madrs", [m(0, 30), m(8, 11)], TREATMENTS, rules)
    assert outcome.remission.value is False
    assert outcome.remission.reason.startswith("MADRS 11 on 9 Nov 2026 is above the remission cut-off of 10")
    assert "Daly 2018" in outcome.remission.reason


def test_an_instrument_without_a_remission_rule_cannot_be_judged_for_remission():
    rules = RULES.for_instrument(FakeInstrument(None))
    outcome = assess_outcome("peg", [m(0, 8), m(8, 2)], TREATMENTS, rules)
    assert rules.remission_at_most is None
    assert outcome.remission == outcome.remission.__class__(None, "no remission rule for PEG")


def test_two_measurements_in_a_row_above_the_threshold_after_a_response_are_a_relapse():
    scores = [m(0, 20), m(7, 8), m(14, 12), m(21, 13)]
    relapse = assess_outcome("phq9", scores, TREATMENTS, RULES).relapse
    assert relapse.value is True
    assert "15 Nov 2026 (12), 22 Nov 2026 (13)" in relapse.reason
    assert "after the response on 8 Nov 2026 (8)" in relapse.reason


def test_one_measurement_above_the_threshold_after_a_response_is_not_yet_a_relapse():
    relapse = assess_outcome("phq9", [m(0, 20), m(7, 8), m(14, 12)], TREATMENTS, RULES).relapse
    assert relapse.value is False
    assert relapse.reason.startswith("1 of 2 measurements in a row above 10")


def test_a_rise_then_a_drop_back_to_response_then_a_rise_is_not_a_relapse():
    scores = [m(0, 20), m(7, 8), m(14, 12), m(21, 9), m(28, 14)]
    relapse = assess_outcome("phq9", scores, TREATMENTS, RULES).relapse
    assert relapse.value is False
    assert "after the response on 22 Nov 2026 (9)" in relapse.reason


def test_a_patient_still_responding_has_not_relapsed():
    relapse = assess_outcome("phq9", [m(0, 20), m(7, 12), m(14, 8)], TREATMENTS, RULES).relapse
    assert relapse.value is False
    assert relapse.reason.startswith("still responding")


def test_relapse_needs_as_many_rises_in_a_row_as_the_clinic_sets():
    scores = [m(0, 20), m(7, 8), m(14, 12), m(21, 13)]
    rules = OutcomeRules(relapse_consecutive=3)
    assert assess_outcome("phq9", scores, TREATMENTS, rules).relapse.value is False


def test_a_patient_who_never_responded_cannot_relapse():
    relapse = assess_outcome("phq9", [m(0, 20), m(7, 15), m(14, 16)], TREATMENTS, RULES).relapse
    assert relapse.value is None
    assert relapse.reason == "never responded"


def test_no_response_after_3_treatments_flags_non_response_for_review():
    outcome = assess_outcome("phq9", [m(0, 20), m(2, 17), m(6, 18)], TREATMENTS, RULES)
    assert outcome.non_response.value is True
    assert outcome.non_response.reason.startswith("no response after 3 treatments: review the plan")
    assert "APA consensus" in outcome.non_response.reason
    assert outcome.treatments_given == 3


def test_a_patient_who_responded_after_treatment_2_is_not_a_non_responder():
    outcome = assess_outcome("phq9", [m(0, 20), m(4, 9), m(6, 12)], TREATMENTS, RULES)
    assert outcome.response.value is False
    assert outcome.non_response.value is False
    assert outcome.non_response.reason == "responded on 5 Nov 2026 after 2 treatments"


def test_a_response_before_the_third_treatment_already_rules_out_non_response():
    outcome = assess_outcome("phq9", [m(0, 20), m(4, 9)], TREATMENTS[:2], RULES)
    assert outcome.non_response.value is False


def test_non_response_cannot_be_judged_before_3_treatments():
    non_response = assess_outcome("phq9", [m(0, 20), m(4, 18)], TREATMENTS[:2], RULES).non_response
    assert non_response.value is None
    assert non_response.reason == "2 of 3 treatments given"


def test_non_response_waits_for_a_measurement_after_the_third_treatment():
    non_response = assess_outcome("phq9", [m(0, 20), m(4, 18)], TREATMENTS, RULES).non_response
    assert non_response.value is None
    assert non_response.reason == "no measurement since treatment 3 on 6 Nov 2026"


def test_without_a_measurement_before_the_first_treatment_there_is_no_baseline():
    outcome = assess_outcome("phq9", [m(2, 12), m(8, 5)], TREATMENTS, RULES)
    assert outcome.baseline is None
    assert outcome.latest == m(8, 5)
    assert outcome.change is None and outcome.percent_change is None
    reason = "no baseline before the first treatment on 2 Nov 2026"
    for judgement in (outcome.response, outcome.remission, outcome.relapse, outcome.non_response):
        assert (judgement.value, judgement.reason) == (None, reason)


def test_a_measurement_at_the_moment_of_the_first_treatment_is_the_baseline():
    outcome = assess_outcome("phq9", [m(0, 15), m(1, 18), m(8, 9)], TREATMENTS, RULES)
    assert outcome.baseline == m(1, 18)
    assert outcome.response.value is True


def test_before_any_treatment_the_baseline_is_the_latest_measurement_and_nothing_is_judged():
    outcome = assess_outcome("phq9", [m(-7, 16), m(0, 18)], [], RULES)
    assert outcome.baseline == outcome.latest == m(0, 18)
    assert outcome.treatments_given == 0
    assert outcome.response.value is None
    assert outcome.response.reason == "no treatment given yet"
    assert outcome.non_response.reason == "no treatment given yet"


def test_with_no_measurement_at_all_nothing_is_judged():
    outcome = assess_outcome("gad7", [], TREATMENTS, RULES)
    assert outcome.baseline is None and outcome.latest is None
    assert outcome.relapse.reason == "no GAD-7 measurement recorded yet"


def test_without_a_follow_up_measurement_response_cannot_be_judged_yet():
    outcome = assess_outcome("phq9", [m(0, 18)], TREATMENTS, RULES.for_instrument(get_instrument("phq9")))
    assert outcome.response == outcome.response.__class__(
        None, "no PHQ-9 since the first treatment on 2 Nov 2026"
    )
    assert outcome.remission.value is None
    assert outcome.relapse.reason == "never responded"
    assert outcome.non_response.value is None


def test_a_baseline_of_0_gives_no_percent_change_and_no_response_judgement():
    rules = RULES.for_instrument(get_instrument("phq9"))
    outcome = assess_outcome("phq9", [m(0, 0), m(8, 3)], TREATMENTS, rules)
    assert outcome.change == 3
    assert outcome.percent_change is None
    assert outcome.response_threshold is None
    assert "percent change not computed: the baseline is 0" in outcome.reasons
    assert outcome.response.value is None
    assert outcome.remission.value is True
    assert outcome.relapse.value is None
    assert outcome.non_response.value is None


def test_measurements_and_treatments_may_arrive_in_any_order():
    scores = [m(0, 20), m(7, 8), m(14, 12), m(21, 13), m(-3, 25)]
    expected = assess_outcome("phq9", sorted(scores, key=lambda s: s.taken_at), TREATMENTS, RULES)
    shuffled = list(scores)
    random.Random(4).shuffle(shuffled)
    outcome = assess_outcome("phq9", shuffled, list(reversed(TREATMENTS)), RULES)
    assert outcome == expected
    assert outcome.baseline == m(0, 20)
    assert outcome.latest == m(21, 13)


def test_change_and_percent_change_are_measured_from_the_baseline():
    down = assess_outcome("phq9", [m(0, 20), m(8, 15)], TREATMENTS, RULES)
    up = assess_outcome("phq9", [m(0, 20), m(8, 25)], TREATMENTS, RULES)
    assert (down.change, down.percent_change) == (-5, -25)
    assert (up.change, up.percent_change) == (5, 25)
    assert down.reasons[0] == (
        "baseline: PHQ-9 20 on 1 Nov 2026, the last measurement at or before the first treatment "
        "on 2 Nov 2026"
    )


def test_times_in_different_timezones_are_compared_as_instants():
    east = timezone(timedelta(hours=10))
    # 18:00 at UTC+10 on 2 Nov is 08:00 UTC, an hour before the first treatment: still the baseline.
    early = Measurement(datetime(2026, 11, 2, 18, 0, tzinfo=east), 18)
    outcome = assess_outcome("phq9", [early, m(8, 9)], TREATMENTS, RULES)
    assert outcome.baseline == early


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="taken_at must be a timezone-aware"):
        Measurement(datetime(2026, 11, 1), 10)
    with pytest.raises(ValueError, match=r"treatment_times\[0\]"):
        assess_outcome("phq9", [m(0, 10)], [datetime(2026, 11, 2)], RULES)


def test_a_negative_or_missing_total_is_refused():
    with pytest.raises(ValueError, match=r"Measurement\.total"):
        m(0, -1)
    with pytest.raises(ValueError, match=r"Measurement\.total"):
        m(0, float("nan"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"response_reduction": 0}, "response_reduction"),
        ({"response_reduction": 1.5}, "response_reduction"),
        ({"relapse_consecutive": 0}, "relapse_consecutive"),
        ({"non_response_after": 0}, "non_response_after"),
        ({"remission_at_most": -1}, "remission_at_most"),
    ],
)
def test_out_of_range_rules_are_refused_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        OutcomeRules(**change)


def test_a_full_reduction_is_an_allowed_rule():
    outcome = assess_outcome("phq9", [m(0, 20), m(8, 0)], TREATMENTS, OutcomeRules(response_reduction=1))
    assert outcome.response.value is True


def test_every_rule_has_a_source_and_a_clinic_override_keeps_the_others():
    rules = OutcomeRules(sources={"relapse": "Clinic policy 12."})
    assert set(DEFAULT_SOURCES) <= set(rules.sources)
    assert rules.sources["relapse"] == "Clinic policy 12."
    assert rules.sources["non_response"] == DEFAULT_SOURCES["non_response"]
    assert "[verify]" in DEFAULT_SOURCES["relapse"]


def test_for_instrument_keeps_the_clinic_settings():
    rules = OutcomeRules(response_reduction=0.4, non_response_after=4).for_instrument(MADRS)
    assert (rules.response_reduction, rules.non_response_after, rules.remission_at_most) == (0.4, 4, 10)
    assert "Daly 2018" in rules.sources["remission"]


def test_a_decimal_response_reduction_is_compared_exactly():
    outcome = assess_outcome("phq9", [m(0, 10), m(8, 7)], TREATMENTS, OutcomeRules(response_reduction=0.3))
    assert outcome.response.value is True
    assert outcome.response_threshold == 7


totals = st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False))


@given(
    baseline=st.one_of(st.integers(1, 100), st.floats(0, 100, exclude_min=True)),
    follow_up=totals,
)
def test_response_is_true_exactly_when_percent_change_is_at_most_minus_50(baseline, follow_up):
    outcome = assess_outcome("phq9", [m(0, baseline), m(8, follow_up)], TREATMENTS, RULES)
    assert outcome.percent_change is not None
    assert outcome.response.value is (outcome.percent_change <= -50)
