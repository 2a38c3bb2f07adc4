"""Recovery and discharge: the modified Aldrete score and discharge readiness. Pure: no database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.discharge import (
    ALDRETE_ITEMS,
    ALDRETE_SOURCE,
    AldreteRules,
    DischargeError,
    aldrete,
    discharge_readiness,
    suggested_circulation,
    suggested_saturation,
)
from ketaflow.clinical.monitoring import monitoring_rules

FULL = dict.fromkeys(ALDRETE_ITEMS, 2)
CLINIC = AldreteRules()


def ready_after(minutes: int, *, score=None, escort: str = "Sam Rivera", required: bool = True):
    return discharge_readiness(
        aldrete(FULL) if score is None else score,
        CLINIC,
        observed_minutes=minutes,
        min_observation_min=monitoring_rules("esketamine").min_observation_min,
        escort_name=escort,
        escort_required=required,
    )


def test_the_five_aldrete_items_follow_the_reference_with_their_source():
    assert list(ALDRETE_ITEMS) == [
        "activity",
        "respiration",
        "circulation",
        "consciousness",
        "oxygen_saturation",
    ]
    assert ALDRETE_ITEMS["circulation"][1][2] == "BP within 20 mmHg of baseline"
    assert ALDRETE_ITEMS["oxygen_saturation"][1][2] == "Above 92% on room air"
    assert "Aldrete 1995" in ALDRETE_SOURCE and "[verify]" in ALDRETE_SOURCE
    assert (CLINIC.minimum_total, CLINIC.alternative_total, CLINIC.source) == (9, 8, ALDRETE_SOURCE)


def test_a_fully_recovered_patient_scores_ten_and_form_text_is_accepted():
    score = aldrete({**FULL, "activity": " 2 ", "consciousness": "1"})
    assert (score.total, score.items["activity"], score.items["consciousness"]) == (9, 2, 1)
    assert score.passes(CLINIC)
    assert aldrete(FULL).total == 10


@settings(max_examples=100, deadline=None)
@given(items=st.fixed_dictionaries({key: st.integers(0, 2) for key in ALDRETE_ITEMS}))
def test_the_aldrete_total_is_the_sum_within_0_to_10_and_passes_by_the_clinic_rule(items):
    score = aldrete(items)
    assert 0 <= score.total <= 10
    assert score.total == sum(items.values())
    alternative = score.total >= 8 and items["respiration"] == 2 and items["oxygen_saturation"] == 2
    assert score.passes(CLINIC) is (score.total >= 9 or alternative)
    assert score.passes(AldreteRules(minimum_total=9, alternative_total=None)) is (score.total >= 9)


@pytest.mark.parametrize("bad", [None, 3, -1, True, "two", "", 1.5])
def test_a_missing_or_impossible_item_is_refused_naming_it(bad):
    items = {**FULL, "respiration": bad}
    if bad is None:
        del items["respiration"]
    with pytest.raises(DischargeError) as refused:
        aldrete(items)
    assert (refused.value.field, refused.value.message) == ("respiration", "Score respiration 0, 1 or 2.")


def test_eight_passes_only_with_full_marks_on_respiration_and_oxygen():
    breathing_well = aldrete({**FULL, "activity": 1, "consciousness": 1})
    breathing_less = aldrete({**FULL, "activity": 1, "respiration": 1})
    assert breathing_well.total == breathing_less.total == 8
    assert breathing_well.passes(CLINIC)
    assert not breathing_less.passes(CLINIC)


def test_circulation_and_saturation_are_suggested_from_the_readings():
    assert [suggested_circulation(s, 120) for s in (140, 100, 141, 170, 171, 69)] == [2, 2, 1, 1, 0, 0]
    assert suggested_circulation(None, 120) is None and suggested_circulation(120, None) is None
    assert [suggested_saturation(v) for v in (93, 92, 91, 90)] == [2, 1, 1, 0]
    assert suggested_saturation(97, on_oxygen=True) == 1
    assert suggested_saturation(None) is None


def test_esketamine_cannot_be_discharged_before_two_hours_of_observation():
    early = ready_after(90)
    assert not early.ready
    assert early.minutes_left == 30
    assert early.reasons == (("observation", "Observe for 30 more min: this protocol's minimum is 120 min."),)
    on_time = ready_after(120)
    assert (on_time.ready, on_time.reasons, on_time.minutes_left) == (True, (), 0)


def test_each_unmet_discharge_condition_is_a_reason_naming_its_field():
    low = aldrete({**FULL, "activity": 1, "respiration": 1})
    result = ready_after(0, score=low, escort=" ")
    assert [field for field, _ in result.reasons] == ["aldrete", "observation", "escort_name"]
    assert result.reasons[0][1] == (
        "Aldrete 8 is below the clinic's pass mark of 9 (or 8 with 2 on respiration and oxygen saturation)."
    )
    assert result.reasons[2][1] == "Name the escort taking the patient home."
    unscored = discharge_readiness(
        None, CLINIC, observed_minutes=200, min_observation_min=0, escort_name="", escort_required=False
    )
    assert unscored.reasons == (("aldrete", "Score the modified Aldrete."),)


@settings(max_examples=60, deadline=None)
@given(observed=st.integers(-10, 600), minimum=st.integers(0, 480))
def test_the_observation_left_is_never_negative_and_blocks_until_it_reaches_zero(observed, minimum):
    result = discharge_readiness(
        aldrete(FULL),
        CLINIC,
        observed_minutes=observed,
        min_observation_min=minimum,
        escort_name="Sam",
        escort_required=True,
    )
    assert result.minutes_left == max(0, minimum - observed)
    assert result.ready is (result.minutes_left == 0)
