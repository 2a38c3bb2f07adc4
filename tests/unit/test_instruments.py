"""The questionnaire library: every built-in definition scored by hand, and the format's guards.

Pure: no database, no Django. Each expected total has its arithmetic in a comment.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.instruments import (
    DefinitionError,
    Instrument,
    builtin_instruments,
    get_instrument,
    parse_definition,
    score,
)

ROOT = Path(__file__).resolve().parents[2]
YBOCS_TEMPLATE = ROOT / "docs" / "examples" / "ybocs-template.json"
INSTRUMENTS_DOC = ROOT / "docs" / "instruments.md"

ALL_IDS = (
    "phq9",
    "gad7",
    "pcl5",
    "cssrs_screener",
    "qids_sr16",
    "madrs",
    "peg",
    "pain_nrs",
    "ymrs",
    "cadss6",
    "moaas",
)


def _qids(*domains: int) -> list[int]:
    """A QIDS-SR16 answer set with each of the nine domain scores on the first item of its group."""
    sleep, sad, weight, concentration, view, death, interest, energy, psychomotor = domains
    return [
        *(sleep, 0, 0, 0),
        sad,
        *(weight, 0, 0, 0),
        concentration,
        view,
        death,
        interest,
        energy,
        *(psychomotor, 0),
    ]


# --- the library -------------------------------------------------------------------------------


def test_the_library_ships_exactly_the_eleven_built_in_instruments():
    assert set(builtin_instruments()) == set(ALL_IDS)


@pytest.mark.parametrize("instrument_id", ALL_IDS)
def test_every_built_in_instrument_names_its_licence_attribution_and_source(instrument_id):
    instrument = get_instrument(instrument_id)
    assert instrument.licence and instrument.attribution and instrument.version
    assert "clinical reference §" in instrument.source.lower()
    assert instrument.ships_text is True
    assert all(item.text for item in instrument.items)


@pytest.mark.parametrize("instrument_id", ALL_IDS)
def test_every_built_in_instrument_numbers_its_items_from_one_in_order(instrument_id):
    ids = get_instrument(instrument_id).item_ids
    numbered = [item_id for item_id in ids if item_id.isdigit()]
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]


@pytest.mark.parametrize(
    ("instrument_id", "verify_mentions"),
    [
        ("pcl5", ("cut-off", "LOINC")),
        ("qids_sr16", ("licence", "item 12")),
        ("madrs", ("licence", "bands", "remission")),
        ("peg", ("licence",)),
        ("ymrs", ("licence", "bands")),
        ("cadss6", ("item scale", "item 22")),
        ("moaas", ("0-5",)),
    ],
)
def test_what_the_clinical_reference_marks_verify_is_listed_in_the_definition(instrument_id, verify_mentions):
    listed = " ".join(get_instrument(instrument_id).verify)
    for mention in verify_mentions:
        assert mention in listed


def test_the_clinician_rated_instruments_say_so():
    clinician = {i for i, instrument in builtin_instruments().items() if instrument.respondent == "clinician"}
    assert clinician == {"madrs", "ymrs", "cadss6", "moaas"}


@pytest.mark.parametrize(
    ("instrument_id", "panel", "total"),
    [
        ("phq9", "44249-1", "44261-6"),
        ("gad7", "69737-5", "70274-6"),
        ("pcl5", "101697-1", "101698-9"),
        ("cssrs_screener", "93373-9", "93374-7"),
        ("peg", "91148-7", "91147-9"),
        ("pain_nrs", None, "72514-3"),
        ("qids_sr16", None, None),
        ("madrs", None, None),
    ],
)
def test_each_instrument_carries_the_loinc_codes_from_the_clinical_reference(instrument_id, panel, total):
    instrument = get_instrument(instrument_id)
    assert (instrument.loinc_panel, instrument.loinc_total) == (panel, total)


def test_the_peg_and_pain_scale_items_carry_their_loinc_codes():
    assert [item.loinc for item in get_instrument("peg").items] == ["75893-8", "91145-3", "91146-1"]
    assert get_instrument("pain_nrs").item("1").loinc == "72514-3"


@pytest.mark.parametrize(
    ("instrument_id", "expected_range"),
    [
        ("phq9", (0, 27)),
        ("gad7", (0, 21)),
        ("pcl5", (0, 80)),
        ("cssrs_screener", (0, 3)),
        ("qids_sr16", (0, 27)),
        ("madrs", (0, 60)),
        ("peg", (0, 10)),
        ("pain_nrs", (0, 10)),
        ("ymrs", (0, 60)),
        ("cadss6", (0, 24)),
        ("moaas", (0, 5)),
    ],
)
def test_each_instrument_has_the_published_total_range(instrument_id, expected_range):
    assert get_instrument(instrument_id).total_range == expected_range


# --- PHQ-9 -------------------------------------------------------------------------------------


def test_a_phq9_is_scored_as_the_sum_of_its_nine_items():
    # 1 + 1 + 2 + 1 + 0 + 1 + 1 + 0 + 2 = 9
    result = score("phq9", [1, 1, 2, 1, 0, 1, 1, 0, 2])
    assert (result.total, result.band, result.complete, result.missing) == (9, "mild", True, ())
    assert result.instrument_id == "phq9" and result.version == "1.0.0"


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal"),  # 0
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),  # 4 x 1
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),  # 5 x 1
        ([1, 1, 1, 1, 1, 1, 1, 1, 1], 9, "mild"),  # 9 x 1
        ([2, 1, 1, 1, 1, 1, 1, 1, 1], 10, "moderate"),  # 2 + 8 x 1
        ([2, 2, 2, 2, 2, 1, 1, 1, 1], 14, "moderate"),  # 5 x 2 + 4 x 1
        ([2, 2, 2, 2, 2, 2, 1, 1, 1], 15, "moderately severe"),  # 6 x 2 + 3 x 1
        ([3, 3, 3, 2, 2, 2, 2, 2, 0], 19, "moderately severe"),  # 3 x 3 + 5 x 2
        ([3, 3, 3, 3, 2, 2, 2, 2, 0], 20, "severe"),  # 4 x 3 + 4 x 2
        ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),  # 9 x 3
    ],
)
def test_every_phq9_band_boundary(answers, total, band):
    result = score("phq9", answers)
    assert (result.total, result.band) == (total, band)


def test_phq9_item9_above_zero_raises_the_self_harm_flag():
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.safety_flags == ("phq9_item9_self_harm",)
    detail = result.safety_details[0]
    assert (detail.item, detail.value) == ("9", 1)
    assert "self-harm" in detail.message
    assert score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0]).safety_flags == ()


def test_phq9_item9_raises_the_flag_even_when_other_answers_are_missing():
    result = score("phq9", {"9": 2})
    assert result.safety_flags == ("phq9_item9_self_harm",)
    assert (result.complete, result.total, result.band) == (False, None, None)
    assert result.missing == ("1", "2", "3", "4", "5", "6", "7", "8")


def test_phq9_answers_can_be_given_by_item_id_as_strings_or_integers():
    # 2 + 0 + 1 + 0 + 0 + 0 + 3 + 0 + 0 = 6
    by_string = score("phq9", {"1": 2, "2": 0, "3": 1, "4": 0, "5": 0, "6": 0, "7": 3, "8": 0, "9": 0})
    by_int = score("phq9", {1: 2, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0, 7: 3, 8: 0, 9: 0})
    assert by_string.total == by_int.total == 6
    assert by_string.band == "mild"
    assert by_string.answers == by_int.answers


def test_the_unscored_phq9_difficulty_item_is_optional_and_adds_nothing():
    without = score("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    with_difficulty = score("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0, 3])
    assert without.complete and with_difficulty.complete
    assert without.total == with_difficulty.total == 8  # 8 x 1; the difficulty answer (3) is not added
    assert with_difficulty.answers["10"] == 3


# --- GAD-7 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0, 0, 0, 0, 0, 0, 0], 0, "minimal"),  # 0
        ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),  # 4 x 1
        ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),  # 5 x 1
        ([2, 2, 1, 1, 1, 1, 1], 9, "mild"),  # 2 x 2 + 5 x 1
        ([2, 2, 2, 1, 1, 1, 1], 10, "moderate"),  # 3 x 2 + 4 x 1
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),  # 7 x 2
        ([3, 2, 2, 2, 2, 2, 2], 15, "severe"),  # 3 + 6 x 2
        ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),  # 7 x 3
    ],
)
def test_every_gad7_band_boundary(answers, total, band):
    result = score("gad7", answers)
    assert (result.total, result.band) == (total, band)
    assert result.safety_flags == ()


def test_a_gad7_of_ten_or_more_finds_a_likely_anxiety_disorder():
    assert score("gad7", [2, 2, 2, 1, 1, 1, 1]).findings == ("likely_anxiety_disorder",)  # 10
    assert score("gad7", [2, 2, 1, 1, 1, 1, 1]).findings == ()  # 9


# --- PCL-5 -------------------------------------------------------------------------------------

# Clusters: B items 1-5, C 6-7, D 8-14, E 15-20.
PCL5_MEETS_CLUSTERS = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]


def test_a_pcl5_is_scored_as_the_sum_with_cluster_subscores():
    # every item 1: B 5 x 1 = 5, C 2 x 1 = 2, D 7 x 1 = 7, E 6 x 1 = 6; total 20
    result = score("pcl5", [1] * 20)
    assert (result.total, result.band, result.findings) == (20, "below threshold", ())
    assert dict(result.subscores) == {"B": 5, "C": 2, "D": 7, "E": 6}


def test_a_pcl5_meeting_the_cluster_rule_is_a_provisional_ptsd_diagnosis():
    # B: item 1 = 2 (1 item); C: item 6 = 2 (1); D: items 8, 9 = 2 (2); E: items 15, 16 = 2 (2)
    # total 6 x 2 = 12, below the probable-PTSD cut-off
    result = score("pcl5", PCL5_MEETS_CLUSTERS)
    assert result.findings == ("provisional_ptsd_diagnosis",)
    assert (result.total, result.band) == (12, "below threshold")
    assert dict(result.subscores) == {"B": 2, "C": 2, "D": 4, "E": 4}


def test_a_pcl5_one_d_item_short_of_the_cluster_rule_is_not_a_provisional_diagnosis():
    answers = list(PCL5_MEETS_CLUSTERS)
    answers[8] = 1  # item 9 drops to 1: only one D item (8) at 2 or more; total 11
    result = score("pcl5", answers)
    assert result.findings == ()
    assert result.total == 11


def test_a_high_pcl5_total_without_a_c_item_at_two_is_probable_ptsd_but_not_the_cluster_rule():
    # every item 4 except C items 6 and 7 at 1: 18 x 4 + 2 x 1 = 74
    answers = [4] * 20
    answers[5] = answers[6] = 1
    result = score("pcl5", answers)
    assert result.total == 74
    assert result.band == "probable ptsd"
    assert result.findings == ("probable_ptsd",)
    assert dict(result.subscores) == {"B": 20, "C": 2, "D": 28, "E": 24}
    assert list(result.subscores) == ["B", "C", "D", "E"]


def test_the_pcl5_probable_ptsd_cut_off_is_33():
    # 16 x 2 + 0 = 32; then one more point: 33
    thirty_two = [2] * 16 + [0] * 4
    thirty_three = [2] * 16 + [1, 0, 0, 0]
    assert (score("pcl5", thirty_two).total, score("pcl5", thirty_two).band) == (32, "below threshold")
    assert "probable_ptsd" not in score("pcl5", thirty_two).findings
    result = score("pcl5", thirty_three)
    assert (result.total, result.band) == (33, "probable ptsd")
    assert "probable_ptsd" in result.findings


# --- C-SSRS screener ---------------------------------------------------------------------------
# Answers: Q1, Q2, Q3, Q4, Q5, Q6, Q6 within 3 months. 0 = no, 1 = yes.


def test_a_cssrs_screener_answered_no_throughout_has_no_risk_level_and_no_flags():
    result = score("cssrs_screener", [0, 0, None, None, None, 0, None])
    assert (result.total, result.band, result.safety_flags, result.complete) == (0, None, (), True)
    assert score("cssrs_screener", [0, 0, 0, 0, 0, 0, 0]).band is None


@pytest.mark.parametrize(
    ("answers", "band", "total", "flags"),
    [
        ([1, 0, None, None, None, 0, None], "low", 1, ()),
        ([0, 1, 0, 0, 0, 0, None], "low", 1, ()),
        ([1, 1, 1, 0, 0, 0, None], "moderate", 2, ("cssrs_moderate_risk",)),
        ([1, 1, 0, 1, 0, 0, None], "moderate", 2, ("cssrs_moderate_risk",)),
        ([1, 1, 0, 0, 1, 0, None], "high", 3, ("cssrs_high_risk",)),
        ([0, 0, None, None, None, 1, 0], "moderate", 2, ("cssrs_moderate_risk",)),
        ([0, 0, None, None, None, 1, 1], "high", 3, ("cssrs_high_risk",)),
        ([1, 1, 1, 1, 1, 1, 1], "high", 3, ("cssrs_high_risk",)),
    ],
    ids=[
        "q1 yes is low",
        "q2 yes is low",
        "q3 yes is moderate",
        "q4 yes is moderate",
        "q5 yes is high",
        "q6 yes but not recent is moderate",
        "q6 yes and recent is high",
        "every yes is high",
    ],
)
def test_the_cssrs_screener_triage(answers, band, total, flags):
    result = score("cssrs_screener", answers)
    assert (result.band, result.total, result.safety_flags, result.complete) == (band, total, flags, True)


def test_cssrs_questions_3_to_5_may_stay_empty_when_question_2_is_no():
    result = score("cssrs_screener", {"1": 1, "2": 0, "6": 0})
    assert result.complete and result.missing == ()
    assert result.band == "low"


def test_cssrs_questions_3_to_5_are_needed_when_question_2_is_yes():
    result = score("cssrs_screener", {"1": 1, "2": 1, "6": 0})
    assert not result.complete
    assert result.missing == ("3", "4", "5")


def test_the_cssrs_recent_question_may_stay_empty_when_question_6_is_no():
    result = score("cssrs_screener", [0, 0, None, None, None, 0])
    assert result.complete


def test_past_suicidal_behaviour_flags_moderate_risk_even_before_the_recent_question_is_answered():
    result = score("cssrs_screener", [0, 0, None, None, None, 1, None])
    assert not result.complete and result.missing == ("6_recent",)
    assert result.safety_flags == ("cssrs_moderate_risk",)
    assert (result.total, result.band) == (None, None)


# --- QIDS-SR16 ---------------------------------------------------------------------------------


def test_a_qids_sr16_takes_the_highest_answer_in_each_group():
    # sleep max(2, 3, 1, 0) = 3; sad 2; appetite/weight max(1, 0, 2, 0) = 2; concentration 1;
    # view of self 2; death 0; interest 1; energy 2; psychomotor max(1, 3) = 3
    # total 3 + 2 + 2 + 1 + 2 + 0 + 1 + 2 + 3 = 16 (the plain sum of all sixteen would be 21)
    answers = [2, 3, 1, 0, 2, 1, 0, 2, 0, 1, 2, 0, 1, 2, 1, 3]
    result = score("qids_sr16", answers)
    assert (result.total, result.band, result.safety_flags) == (16, "severe", ())


def test_the_qids_sleep_group_counts_its_worst_item_not_the_sum():
    # items 1-4 = 2, 3, 1, 0: max 3 (their sum would be 6); every other item 0
    answers = [2, 3, 1, 0] + [0] * 12
    assert score("qids_sr16", answers).total == 3


@pytest.mark.parametrize(
    ("appetite_and_weight", "expected"),
    [
        ([1, 0, 3, 0], 3),  # decreased appetite 1, weight loss 3: max 3
        ([0, 2, 0, 2], 2),  # increased appetite 2, weight gain 2: max 2 (sum 4)
        ([3, 3, 3, 3], 3),  # max 3 (sum 12)
        ([0, 0, 0, 0], 0),
    ],
)
def test_the_qids_appetite_and_weight_items_form_one_group(appetite_and_weight, expected):
    answers = [0] * 5 + appetite_and_weight + [0] * 7
    assert score("qids_sr16", answers).total == expected


def test_the_qids_psychomotor_items_form_one_group():
    answers = [0] * 14 + [2, 1]  # max(2, 1) = 2
    assert score("qids_sr16", answers).total == 2


@pytest.mark.parametrize(
    ("domains", "total", "band"),
    [
        ((0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "none"),
        ((1, 1, 1, 1, 1, 0, 0, 0, 0), 5, "none"),  # 5 x 1
        ((2, 1, 1, 1, 1, 0, 0, 0, 0), 6, "mild"),  # 2 + 4 x 1
        ((2, 2, 2, 2, 2, 0, 0, 0, 0), 10, "mild"),  # 5 x 2
        ((3, 2, 2, 2, 2, 0, 0, 0, 0), 11, "moderate"),  # 3 + 4 x 2
        ((3, 3, 3, 3, 3, 0, 0, 0, 0), 15, "moderate"),  # 5 x 3
        ((3, 3, 3, 3, 3, 0, 1, 0, 0), 16, "severe"),  # 5 x 3 + 1
        ((3, 3, 3, 3, 3, 0, 3, 2, 0), 20, "severe"),  # 6 x 3 + 2
        ((3, 3, 3, 3, 3, 0, 3, 3, 0), 21, "very severe"),  # 7 x 3
        ((3, 3, 3, 3, 3, 3, 3, 3, 3), 27, "very severe"),  # 9 x 3
    ],
)
def test_every_qids_sr16_band_boundary(domains, total, band):
    result = score("qids_sr16", _qids(*domains))
    assert (result.total, result.band) == (total, band)


def test_qids_item12_above_zero_raises_the_suicidal_ideation_flag():
    answers = _qids(0, 0, 0, 0, 0, 1, 0, 0, 0)  # item 12 = 1; total 1
    result = score("qids_sr16", answers)
    assert result.safety_flags == ("qids_item12_suicidal_ideation",)
    assert result.safety_details[0].item == "12"
    assert result.total == 1


def test_qids_item12_raises_the_flag_on_an_incomplete_answer_set():
    result = score("qids_sr16", {"12": 3})
    assert result.safety_flags == ("qids_item12_suicidal_ideation",)
    assert not result.complete and len(result.missing) == 15


def test_qids_remission_is_five_or_less():
    remission = get_instrument("qids_sr16").remission
    assert remission is not None and remission.at_most == 5


# --- MADRS -------------------------------------------------------------------------------------


def test_a_madrs_is_scored_as_the_sum_of_its_ten_items():
    # 2 + 3 + 4 + 2 + 1 + 3 + 2 + 4 + 2 + 0 = 23
    result = score("madrs", [2, 3, 4, 2, 1, 3, 2, 4, 2, 0])
    assert (result.total, result.band, result.safety_flags) == (23, "moderate", ())


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 6, "normal"),  # 6 x 1
        ([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 7, "mild"),  # 7 x 1
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 1], 19, "mild"),  # 9 x 2 + 1
        ([2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 20, "moderate"),  # 10 x 2
        ([4, 4, 4, 4, 3, 3, 3, 3, 3, 3], 34, "moderate"),  # 4 x 4 + 6 x 3
        ([4, 4, 4, 4, 4, 3, 3, 3, 3, 3], 35, "severe"),  # 5 x 4 + 5 x 3
        ([6, 6, 6, 6, 6, 6, 6, 6, 6, 6], 60, "severe"),  # 10 x 6
    ],
)
def test_the_madrs_severity_bands(answers, total, band):
    result = score("madrs", answers)
    assert (result.total, result.band) == (total, band)


def test_madrs_item10_above_zero_raises_the_suicidal_thoughts_flag():
    result = score("madrs", [0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.safety_flags == ("madrs_item10_suicidal_thoughts",)
    assert "clinician-rated suicidal thoughts" in result.safety_details[0].message


def test_madrs_remission_is_ten_or_less_by_default():
    remission = get_instrument("madrs").remission
    assert remission is not None and remission.at_most == 10
    assert "12" in remission.source


def test_madrs_odd_values_lie_between_the_described_steps():
    item = get_instrument("madrs").item("1")
    assert item.values == frozenset(range(7))
    assert item.label_for(3) == "Between 2 and 4"


# --- PEG and the pain rating scale ---------------------------------------------------------------


def test_a_peg_is_the_mean_of_its_three_items_kept_as_a_fraction():
    # (5 + 6 + 6) / 3 = 17/3
    result = score("peg", [5, 6, 6])
    assert result.total == 17 / 3
    assert result.band is None and result.complete


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        ([0, 0, 0], 0.0),  # 0 / 3
        ([10, 10, 10], 10.0),  # 30 / 3
        ([4, 5, 6], 5.0),  # 15 / 3
        ([1, 0, 0], 1 / 3),  # 1 / 3
    ],
)
def test_peg_means(answers, total):
    assert score("peg", answers).total == total


def test_an_incomplete_peg_has_no_score():
    result = score("peg", [4, None, 6])
    assert (result.total, result.complete, result.missing) == (None, False, ("2",))


def test_the_peg_options_are_labelled_at_the_ends_and_numbered_between():
    item = get_instrument("peg").item("1")
    assert item.label_for(0) == "0 - No pain"
    assert item.label_for(10) == "10 - Pain as bad as you can imagine"
    assert item.label_for(5) == "5"
    assert get_instrument("peg").item("2").label_for(10) == "10 - Completely interferes"


def test_a_pain_rating_is_its_own_value():
    result = score("pain_nrs", [7])
    assert (result.total, result.band, result.complete) == (7, None, True)
    assert score("pain_nrs", {"1": 0}).total == 0


# --- YMRS, CADSS-6, MOAA/S -----------------------------------------------------------------------


def test_a_ymrs_is_the_sum_with_double_weighted_items():
    # items 1-4: 2 + 1 + 0 + 3; item 5: 4; item 6: 6; item 7: 1; item 8: 2; item 9: 0; item 10: 1; item 11: 2
    # = 6 + 4 + 6 + 1 + 2 + 0 + 1 + 2 = 22
    result = score("ymrs", [2, 1, 0, 3, 4, 6, 1, 2, 0, 1, 2])
    assert (result.total, result.band, result.complete) == (22, None, True)


def test_the_highest_ymrs_is_sixty():
    # seven items at 4 and four at 8: 28 + 32 = 60
    assert score("ymrs", [4, 4, 4, 4, 8, 8, 4, 8, 8, 4, 4]).total == 60


def test_the_double_weighted_ymrs_items_take_only_even_values():
    for item_id in ("5", "6", "8", "9"):
        assert get_instrument("ymrs").item(item_id).values == frozenset({0, 2, 4, 6, 8})
    with pytest.raises(ValueError, match="item 5"):
        score("ymrs", [0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="item 1 "):
        score("ymrs", [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])


def test_a_cadss6_is_the_sum_of_its_six_items():
    # 1 + 2 + 0 + 3 + 4 + 1 = 11
    assert score("cadss6", [1, 2, 0, 3, 4, 1]).total == 11
    assert score("cadss6", [4] * 6).total == 24  # 6 x 4


def test_the_cadss6_ships_paraphrases_not_the_verbatim_wording():
    instrument = get_instrument("cadss6")
    assert "not shipped" in instrument.licence
    assert [item.text.rsplit("CADSS item ", 1)[1].rstrip(")") for item in instrument.items] == [
        "1",
        "2",
        "6",
        "7",
        "15",
        "22",
    ]


def test_a_moaas_rating_is_the_level_itself():
    assert score("moaas", [4]).total == 4
    assert score("moaas", [0]).total == 0
    item = get_instrument("moaas").item("1")
    assert item.label_for(5) == "Responds readily to name spoken in normal tone"
    assert item.label_for(0) == "No response after painful trapezius squeeze"
    with pytest.raises(ValueError, match="item 1"):
        score("moaas", [6])


# --- errors ------------------------------------------------------------------------------------


def test_an_out_of_range_answer_is_refused_naming_the_item():
    with pytest.raises(ValueError, match=r"item 3 answer 4 is out of range \(0, 1, 2, 3\)"):
        score("phq9", [0, 0, 4, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="item 2 answer -1"):
        score("gad7", [0, -1, 0, 0, 0, 0, 0])


def test_an_unknown_item_in_a_mapping_is_refused_naming_it():
    with pytest.raises(ValueError, match="unknown item '11'"):
        score("phq9", {"1": 0, "11": 0})
    with pytest.raises(ValueError, match="unknown item 'q1'"):
        score("gad7", {"q1": 0})


def test_too_many_answers_in_a_sequence_are_refused():
    with pytest.raises(ValueError, match="position 11"):
        score("phq9", [0] * 11)
    with pytest.raises(ValueError, match="position 2"):
        score("pain_nrs", [1, 2])


def test_an_unknown_instrument_id_is_refused_naming_it():
    with pytest.raises(ValueError, match="unknown instrument 'bdi2'"):
        score("bdi2", [0])


@pytest.mark.parametrize("bad", ["2", 1.5, "two", [1]])
def test_a_non_integer_answer_is_refused_naming_the_item(bad):
    with pytest.raises(ValueError, match="item 1 "):
        score("phq9", [bad, 0, 0, 0, 0, 0, 0, 0, 0])


def test_a_whole_float_answer_is_read_as_its_integer():
    assert score("phq9", [2.0, 0, 0, 0, 0, 0, 0, 0, 0]).total == 2


def test_a_string_is_not_an_answer_set():
    with pytest.raises(ValueError, match="sequence or a mapping"):
        score("phq9", "120000000")


# --- partial answers ---------------------------------------------------------------------------


def test_a_partial_answer_set_has_no_total_and_no_band_and_lists_what_is_missing():
    result = score("phq9", [1, 1, None, 1, 1, 1, None, 1, 0])
    assert (result.total, result.band, result.complete) == (None, None, False)
    assert result.missing == ("3", "7")
    assert result.answers["3"] is None and result.answers["1"] == 1
    assert result.findings == () and dict(result.subscores) == {}


def test_a_short_sequence_leaves_the_remaining_items_missing_rather_than_zero():
    result = score("gad7", [3, 3])
    assert result.missing == ("3", "4", "5", "6", "7")
    assert result.total is None


def test_an_empty_answer_set_is_never_scored_as_zero():
    for instrument_id in ALL_IDS:
        result = score(instrument_id, {})
        assert result.total is None and result.band is None and not result.complete
        assert result.missing


def test_a_partial_pcl5_has_no_findings_or_subscores():
    answers: list[int | None] = [4] * 20
    answers[19] = None
    result = score("pcl5", answers)
    assert (result.total, result.findings, dict(result.subscores)) == (None, (), {})
    assert result.missing == ("20",)


# --- properties --------------------------------------------------------------------------------


def _complete_answers(instrument: Instrument) -> st.SearchStrategy[list[int]]:
    return st.tuples(*(st.sampled_from(sorted(item.values)) for item in instrument.items)).map(list)


def _partial_answers(instrument: Instrument) -> st.SearchStrategy[list[int | None]]:
    return st.tuples(
        *(st.one_of(st.none(), st.sampled_from(sorted(item.values))) for item in instrument.items)
    ).map(list)


@pytest.mark.parametrize("instrument_id", ALL_IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_complete_valid_answer_set_scores_within_range_and_its_band_holds_the_total(instrument_id, data):
    instrument = get_instrument(instrument_id)
    answers = data.draw(_complete_answers(instrument))
    result = score(instrument, answers)
    assert result.complete and result.missing == ()
    assert result.total is not None
    low, high = instrument.total_range
    assert low <= result.total <= high
    if instrument.bands:
        band = next(b for b in instrument.bands if b.label == result.band)
        assert band.holds(result.total)
    if instrument.scoring.clusters:
        assert sum(result.subscores.values()) == result.total


@pytest.mark.parametrize("instrument_id", ALL_IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_partial_answer_set_is_never_complete_while_a_required_asked_item_is_empty(instrument_id, data):
    instrument = get_instrument(instrument_id)
    answers = data.draw(_partial_answers(instrument))
    by_id = dict(zip(instrument.item_ids, answers, strict=True))
    gaps = [
        item.id
        for item in instrument.items
        if item.required
        and by_id[item.id] is None
        and (item.ask_if is None or by_id[item.ask_if.item] == item.ask_if.equals)
    ]
    result = score(instrument, answers)
    assert result.complete is (not gaps)
    assert list(result.missing) == gaps
    if gaps:
        assert result.total is None and result.band is None


@pytest.mark.parametrize("instrument_id", ALL_IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_safety_flags_do_not_depend_on_whether_the_rest_was_answered(instrument_id, data):
    instrument = get_instrument(instrument_id)
    if instrument.scoring.method == "risk_level":
        return
    answers = data.draw(_complete_answers(instrument))
    flagged_items = {rule.item for rule in instrument.safety}
    only_safety = {
        item_id: v
        for item_id, v in zip(instrument.item_ids, answers, strict=True)
        if item_id in flagged_items
    }
    assert score(instrument, only_safety).safety_flags == score(instrument, answers).safety_flags


# --- definition validation ---------------------------------------------------------------------


def _definition(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "toy",
        "version": "1",
        "name": "Toy scale",
        "short_name": "TOY",
        "respondent": "patient",
        "licence": "test",
        "attribution": "test",
        "source": "test",
        "option_sets": {
            "s": [{"value": 0, "label": "No"}, {"value": 1, "label": "Some"}, {"value": 2, "label": "A lot"}]
        },
        "items": [{"id": str(n), "text": f"Item {n}", "options": "s"} for n in (1, 2, 3)],
        "scoring": {"method": "sum"},
        "bands": [{"min": 0, "max": 2, "label": "low"}, {"min": 3, "max": 6, "label": "high"}],
    }
    raw.update(copy.deepcopy(changes))
    return raw


def test_the_toy_definition_used_below_is_valid():
    instrument = parse_definition(_definition())
    assert instrument.total_range == (0, 6)
    assert score(instrument, [1, 1, 1]).band == "high"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"bands": [{"min": 0, "max": 2, "label": "low"}, {"min": 4, "max": 6, "label": "high"}]},
            "'low' and 'high' overlap or leave a gap",
        ),
        (
            {"bands": [{"min": 0, "max": 3, "label": "low"}, {"min": 3, "max": 6, "label": "high"}]},
            "'low' and 'high' overlap or leave a gap",
        ),
        (
            {"bands": [{"min": 0, "max": 2, "label": "low"}, {"min": 3, "max": 5, "label": "high"}]},
            "must cover the whole range 0-6",
        ),
        ({"bands": [{"min": 0, "max": 6, "label": "High"}]}, "lower-case label"),
        (
            {"scoring": {"method": "max_of_groups", "groups": [["1"], ["2"]]}},
            "groups must hold every scored item exactly once",
        ),
        (
            {"scoring": {"method": "max_of_groups", "groups": [["1", "2"], ["2", "3"]]}},
            "groups must hold every scored item exactly once",
        ),
        (
            {"scoring": {"method": "clusters", "clusters": {"A": ["1"], "B": ["2"]}}},
            "clusters must hold every scored item exactly once",
        ),
        ({"loinc": {"panel": "LP1234"}}, "'LP1234' is not a LOINC code"),
        ({"loinc": {"total": "12345"}}, "'12345' is not a LOINC code"),
        (
            {"items": [{"id": "1", "text": "One", "options": "s", "loinc": "44250-X"}]},
            "item 1: '44250-X' is not a LOINC code",
        ),
        (
            {
                "items": [
                    {"id": "1", "text": "One", "options": "s"},
                    {"id": "1", "text": "Again", "options": "s"},
                ]
            },
            "item ids repeat",
        ),
        (
            {"safety": [{"flag": "toy_item9", "item": "9", "above": 0, "message": "m"}]},
            "safety: toy_item9 names unknown item '9'",
        ),
        ({"scoring": {"method": "median"}}, "method must be one of"),
        ({"respondent": "parent"}, "respondent must be one of"),
        ({"licence": ""}, "licence is required"),
        (
            {"items": [{"id": "1", "text": "One", "options": "missing_set"}]},
            "unknown option set 'missing_set'",
        ),
        (
            {"items": [{"id": "1", "text": "One", "options": [{"value": 0, "label": "Only"}]}]},
            "needs at least two options",
        ),
        (
            {"items": [{"id": "1", "text": "One", "options": "s", "ask_if": {"item": "2", "equals": 1}}]},
            "ask_if must name an earlier item",
        ),
        (
            {
                "findings": [
                    {
                        "name": "f",
                        "label": "F",
                        "source": "s",
                        "criteria": [{"cluster": "Z", "item_at_least": 1, "min_items": 1}],
                    }
                ]
            },
            "unknown cluster 'Z'",
        ),
    ],
    ids=[
        "bands with a gap",
        "overlapping bands",
        "bands short of the range",
        "an upper-case band label",
        "a group missing an item",
        "an item in two groups",
        "a cluster missing an item",
        "an unknown loinc panel format",
        "an unknown loinc total format",
        "an unknown item loinc format",
        "a duplicate item id",
        "a safety rule naming an unknown item",
        "an unknown scoring method",
        "an unknown respondent",
        "an empty licence",
        "an unknown option set",
        "a single option",
        "ask_if naming a later item",
        "a finding naming an unknown cluster",
    ],
)
def test_a_bad_definition_is_refused_naming_the_problem(changes, problem):
    raw = _definition(**changes)
    with pytest.raises(DefinitionError, match=re.escape(problem)) as caught:
        parse_definition(raw)
    assert str(caught.value).startswith("instrument toy: ")


def test_a_definition_error_is_a_value_error():
    assert issubclass(DefinitionError, ValueError)


def test_every_shipped_definition_file_parses_on_its_own():
    folder = ROOT / "src" / "ketaflow" / "clinical" / "instruments" / "data"
    parsed = {
        parse_definition(json.loads(path.read_text(encoding="utf-8"))).id for path in folder.glob("*.json")
    }
    assert parsed == set(ALL_IDS)


def test_the_ybocs_template_is_a_valid_definition_that_ships_no_text():
    instrument = parse_definition(json.loads(YBOCS_TEMPLATE.read_text(encoding="utf-8")))
    assert instrument.id == "ybocs" and instrument.ships_text is False
    assert len(instrument.items) == 10 and instrument.total_range == (0, 40)
    assert [b.label for b in instrument.bands] == ["subclinical", "mild", "moderate", "severe", "extreme"]
    assert all("enter your licensed wording" in item.text for item in instrument.items)
    # 10 x 2 = 20
    assert (score(instrument, [2] * 10).total, score(instrument, [2] * 10).band) == (20, "moderate")
    assert score(instrument, [1] * 7 + [0] * 3).band == "subclinical"  # 7
    assert score(instrument, [4] * 8).complete is False


def test_the_instruments_guide_example_runs():
    text = INSTRUMENTS_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/instruments.md has a python example"
    exec(compile(blocks[0], str(INSTRUMENTS_DOC), "exec"), {})


# --- the result is immutable -------------------------------------------------------------------


def test_a_score_cannot_be_changed_after_the_fact():
    result = score("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.band = "minimal"  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.answers["1"] = 0  # type: ignore[index]


def test_score_subscores_are_read_only():
    result = score("pcl5", [1] * 20)
    with pytest.raises(TypeError):
        result.subscores["B"] = 0  # type: ignore[index]
    assert result.subscores["B"] == 5
