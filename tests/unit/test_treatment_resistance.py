"""Thase-Rush staging and the two-trial TRD definition, from the pure core."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaflow.clinical.treatment_resistance import (
    ANTIDEPRESSANT_CLASSES,
    OUTCOMES,
    STAGING_SOURCE,
    TRD_SOURCE,
    Trial,
    TrialsInvalid,
    identify_antidepressant,
    parse_trials,
    stage_treatment_resistance,
)


def failed(drug_class: str, drug: str = "") -> Trial:
    return Trial(drug, drug_class, True, "no_response")


def stage_of(*trials: Trial, ect_failed: bool | None = None) -> int:
    return stage_treatment_resistance(trials, ect_failed=ect_failed).stage


def problems(raw) -> dict[str, str]:
    with pytest.raises(TrialsInvalid) as caught:
        parse_trials(raw)
    return {p.field: p.message for p in caught.value.problems}


# ---------- Stages ----------

def test_no_trials_is_stage_zero_and_not_trd():
    result = stage_treatment_resistance([], ect_failed=None)
    assert (result.stage, result.label, result.is_trd, result.failed_trials) == (0, "Stage 0", False, 0)
    assert "No failed adequate antidepressant trial: Stage 0." in result.reasons
    assert result.source == STAGING_SOURCE and "Thase ME, Rush AJ" in result.source
    assert result.trd_source == TRD_SOURCE and "[verify]" in result.trd_source


def test_one_failed_adequate_trial_is_stage_one_and_says_what_stage_two_needs():
    result = stage_treatment_resistance([failed("ssri", "sertraline")])
    assert result.stage == 1 and result.label == "Stage I"
    assert result.failed_classes == ("ssri",)
    assert any("second, different class" in reason for reason in result.reasons)
    assert not result.is_trd


def test_two_failures_in_the_same_class_stay_stage_one_but_meet_the_two_trial_definition():
    result = stage_treatment_resistance([failed("ssri", "sertraline"), failed("ssri", "fluoxetine")])
    assert result.stage == 1
    assert result.is_trd
    assert result.trd_reason.startswith("2 different antidepressants failed")
    assert result.trd_reason.endswith("met.")


def test_failures_in_two_distinct_classes_are_stage_two():
    result = stage_treatment_resistance([failed("ssri"), failed("snri")])
    assert (result.stage, result.label) == (2, "Stage II")
    assert "Two distinctly different classes failed: Stage II." in result.reasons
    assert any("tricyclic (TCA)" in reason for reason in result.reasons)


def test_a_tca_failure_besides_two_other_classes_is_stage_three():
    assert stage_of(failed("ssri"), failed("snri"), failed("tca")) == 3


def test_an_ssri_and_a_tca_alone_are_stage_two_because_stage_three_needs_two_classes_besides_the_tca():
    result = stage_treatment_resistance([failed("ssri"), failed("tca")])
    assert result.stage == 2
    assert any("two other classes failed besides it" in reason for reason in result.reasons)


def test_an_maoi_failure_on_top_of_stage_three_is_stage_four():
    result = stage_treatment_resistance([failed("ssri"), failed("bupropion"), failed("tca"), failed("maoi")])
    assert (result.stage, result.label) == (4, "Stage IV")
    assert any("Stage V needs a failed course of bilateral ECT" in reason for reason in result.reasons)


def test_an_maoi_that_was_needed_for_stage_two_does_not_also_make_stage_four():
    result = stage_treatment_resistance([failed("ssri"), failed("maoi"), failed("tca")])
    assert result.stage == 3
    assert any("it counted toward Stage II" in reason for reason in result.reasons)


def test_failed_bilateral_ect_after_stage_four_is_stage_five():
    trials = (failed("ssri"), failed("mirtazapine"), failed("tca"), failed("maoi"))
    assert stage_of(*trials, ect_failed=True) == 5
    assert stage_treatment_resistance(trials, ect_failed=True).label == "Stage V"


def test_ect_not_failed_or_not_recorded_leaves_stage_four_and_says_so():
    trials = (failed("ssri"), failed("other"), failed("tca"), failed("maoi"))
    no = stage_treatment_resistance(trials, ect_failed=False)
    unknown = stage_treatment_resistance(trials, ect_failed=None)
    assert no.stage == unknown.stage == 4
    assert "No failed course of bilateral ECT, so not Stage V." in no.reasons
    assert any("(not recorded)" in reason for reason in unknown.reasons)


def test_failed_ect_without_stage_four_does_not_raise_the_stage_but_is_mentioned():
    result = stage_treatment_resistance([failed("ssri")], ect_failed=True)
    assert result.stage == 1
    assert any("moves the stage only from Stage IV" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("adequate", "outcome"),
    [(False, "no_response"), (True, "response"), (False, "not_tolerated"), (False, "partial_response")],
)
def test_inadequate_responded_or_untolerated_trials_are_not_failures(adequate, outcome):
    result = stage_treatment_resistance([Trial("sertraline", "ssri", adequate, outcome)])
    assert result.stage == 0 and result.failed_trials == 0
    assert result.reasons[0] == "1 trial not counted (not adequate, responded, or not tolerated)."


def test_a_partial_response_to_an_adequate_trial_counts_as_a_failure():
    assert stage_of(Trial("sertraline", "ssri", True, "partial_response")) == 1


def test_the_same_drug_failed_twice_counts_once_for_the_two_trial_definition():
    result = stage_treatment_resistance([failed("ssri", "sertraline"), failed("ssri", "sertraline")])
    assert result.failed_trials == 2
    assert not result.is_trd
    assert result.trd_reason.startswith("1 different antidepressant failed")


def test_trials_known_only_by_class_each_count_for_the_two_trial_definition():
    assert stage_treatment_resistance([failed("ssri"), failed("ssri")]).is_trd


def test_other_antidepressants_count_as_one_class():
    assert stage_of(failed("other", "trazodone"), failed("other", "vortioxetine")) == 1


classes = st.sampled_from(sorted(ANTIDEPRESSANT_CLASSES))
trials = st.builds(Trial, drug=st.sampled_from(["", "a", "b", "c"]), drug_class=classes,
                   adequate=st.booleans(), outcome=st.sampled_from(sorted(OUTCOMES)))


@given(st.lists(trials, max_size=8), trials, st.sampled_from([None, True, False]))
def test_adding_a_trial_never_lowers_the_stage(existing, extra, ect):
    before = stage_of(*existing, ect_failed=ect)
    assert stage_of(*existing, extra, ect_failed=ect) >= before


@given(st.lists(trials, max_size=8), st.sampled_from([None, False]))
def test_without_failed_ect_the_stage_never_passes_four_and_the_label_matches(listed, ect):
    result = stage_treatment_resistance(listed, ect_failed=ect)
    assert 0 <= result.stage <= 4
    assert result.label == ("Stage 0", "Stage I", "Stage II", "Stage III", "Stage IV")[result.stage]


# ---------- Parsing trials ----------

def test_a_recognised_drug_or_brand_supplies_its_class():
    parsed = parse_trials([
        {"drug": "Zoloft 100 mg", "adequate": True, "outcome": "no_response"},
        {"drug": "effexor", "drug_class": "snri", "adequate": False, "outcome": "not_tolerated"},
    ])
    assert parsed == (Trial("sertraline", "ssri", True, "no_response"),
                      Trial("venlafaxine", "snri", False, "not_tolerated"))
    assert parsed[0].as_dict() == {"drug": "sertraline", "drug_class": "ssri", "adequate": True,
                                   "outcome": "no_response"}


def test_an_unlisted_drug_is_kept_as_written_with_the_class_chosen():
    parsed = parse_trials([{"drug": "Agomelatine", "drug_class": "other", "adequate": True,
                            "outcome": "no_response"}])
    assert parsed[0].drug == "Agomelatine" and parsed[0].drug_class == "other"


def test_a_trial_known_only_by_its_class_is_accepted():
    assert parse_trials([{"drug_class": "tca", "adequate": True, "outcome": "no_response"}])[0].drug == ""


def test_a_drug_given_with_another_class_is_a_contradiction_on_the_class_field():
    found = problems([
        {"drug": "sertraline", "drug_class": "maoi", "adequate": True, "outcome": "no_response"},
    ])
    assert found == {"trials[0].drug_class": "Sertraline is an SSRI, not an MAOI."}


def test_an_untolerated_trial_marked_adequate_is_a_contradiction_on_adequate():
    found = problems([{"drug": "sertraline", "adequate": True, "outcome": "not_tolerated"}])
    assert list(found) == ["trials[0].adequate"]
    assert "not tolerated" in found["trials[0].adequate"]


def test_every_bad_field_of_every_trial_is_named():
    found = problems([
        {"drug": "sertraline", "adequate": True, "outcome": "no_response"},
        {"adequate": "yes", "outcome": "cured", "dose": "50"},
        {"drug": "Mysterycillin", "adequate": False, "outcome": "response"},
        {"drug": "x" * 121, "drug_class": "stimulant", "adequate": True, "outcome": "response"},
    ])
    assert set(found) == {
        "trials[1].drug", "trials[1].adequate", "trials[1].outcome", "trials[1].dose",
        "trials[2].drug_class", "trials[3].drug", "trials[3].drug_class",
    }
    assert found["trials[1].drug"] == "Name the antidepressant, or choose its class."
    assert found["trials[2].drug_class"] == "This drug is not in ketaflow's list: choose its class."


@pytest.mark.parametrize("raw", [None, "sertraline", {"drug": "sertraline"}])
def test_trials_must_be_a_list(raw):
    assert problems(raw) == {"trials": "Send a list of trials."}


def test_a_trial_must_be_an_object_and_the_list_is_bounded():
    assert problems(["sertraline"]) == {"trials[0]": "Each trial must be an object."}
    assert problems([{"drug_class": "ssri", "adequate": True, "outcome": "response"}] * 41) == {
        "trials": "Record at most 40 trials."
    }


@pytest.mark.parametrize(("text", "expected"), [
    ("Prozac", "fluoxetine"), ("nortriptyline 50mg", "nortriptyline"), ("Nardil", "phenelzine"),
    ("  ", None), ("Lithium", None),
])
def test_identify_antidepressant_by_ingredient_or_brand(text, expected):
    assert identify_antidepressant(text) == expected
