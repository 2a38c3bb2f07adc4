"""Dose arithmetic a nurse checks line by line (ketaflow.clinical.dosing and .dose_units)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from ketaflow.clinical.dose_units import esketamine_devices, troches
from ketaflow.clinical.dosing import (
    DoseError,
    Override,
    WeightBasis,
    check_rate,
    dosing_weight,
    fixed_dose,
    ideal_body_weight,
    infusion,
    measurable,
    weight_based_dose,
)

PLAUSIBLE = (D(35), D(250))


def actual(kg: str) -> object:
    return dosing_weight(D(kg), WeightBasis.ACTUAL, plausible_kg=PLAUSIBLE)


def test_devine_ideal_weight_for_a_man_of_175_cm_is_70_5_kg_with_its_working():
    kg, text = ideal_body_weight(D(175), "male")
    assert kg.quantize(D("0.1")) == D("70.5")
    assert text == "ideal body weight (Devine, male) = 50 + 2.3 x (68.90 in - 60) = 70.5 kg"


def test_devine_ideal_weight_for_a_woman_of_165_cm_starts_from_45_5_kg():
    kg, text = ideal_body_weight(D(165), "female")
    assert kg.quantize(D("0.1")) == D("56.9")
    assert "45.5 + 2.3 x (64.96 in - 60)" in text


def test_devine_below_five_feet_says_it_extrapolates():
    kg, text = ideal_body_weight(D(145), "female")
    assert kg < D("45.5")
    assert "below 5 ft the Devine formula extrapolates" in text


def test_a_height_too_short_for_devine_is_refused_rather_than_giving_a_negative_weight():
    with pytest.raises(DoseError) as caught:
        ideal_body_weight(D(100), "female")
    assert caught.value.field == "height_cm"


@pytest.mark.parametrize("sex", ["", "other", "unknown"])
def test_ideal_weight_needs_sex_at_birth_recorded_as_female_or_male(sex):
    with pytest.raises(DoseError) as caught:
        ideal_body_weight(D(170), sex)
    assert caught.value.field == "sex"


@pytest.mark.parametrize("basis", [WeightBasis.IDEAL, WeightBasis.ADJUSTED])
def test_ideal_and_adjusted_weights_need_the_height(basis):
    with pytest.raises(DoseError) as caught:
        dosing_weight(D(90), basis, plausible_kg=PLAUSIBLE, sex="male")
    assert caught.value.field == "height_cm"
    assert basis.label in caught.value.message


def test_adjusted_weight_needs_the_sex_as_well():
    with pytest.raises(DoseError) as caught:
        dosing_weight(D(90), WeightBasis.ADJUSTED, plausible_kg=PLAUSIBLE, height_cm=D(175))
    assert caught.value.field == "sex"


@pytest.mark.parametrize("kg", ["34.9", "250.1", "5", "400"])
def test_a_weight_outside_the_plausible_range_is_refused_on_weight_kg(kg):
    with pytest.raises(DoseError) as caught:
        dosing_weight(D(kg), WeightBasis.ACTUAL, plausible_kg=PLAUSIBLE)
    assert caught.value.field == "weight_kg"
    assert "outside the plausible range 35-250 kg" in caught.value.message


@pytest.mark.parametrize("kg", ["0", "-70", "NaN", "Infinity", "seventy"])
def test_a_weight_that_is_not_a_positive_number_is_refused_on_weight_kg(kg):
    with pytest.raises(DoseError) as caught:
        dosing_weight(kg, WeightBasis.ACTUAL, plausible_kg=PLAUSIBLE)
    assert caught.value.field == "weight_kg"


def test_an_unknown_weight_basis_is_refused_naming_the_field():
    with pytest.raises(DoseError) as caught:
        dosing_weight(D(70), "lean", plausible_kg=PLAUSIBLE)
    assert caught.value.field == "weight_basis"


def test_adjusted_weight_is_ideal_plus_four_tenths_of_the_excess():
    weight = dosing_weight(D(110), "adjusted", plausible_kg=PLAUSIBLE, height_cm=D(175), sex="male")
    assert weight.kg == D("86.3")
    assert weight.basis is WeightBasis.ADJUSTED
    assert weight.actual_kg == D(110)
    assert weight.arithmetic[-1] == "adjusted body weight = 70.5 + 0.4 x (110.0 - 70.5) = 86.3 kg"


def test_ideal_weight_is_used_when_the_patient_weighs_more():
    weight = dosing_weight(D(100), "ideal", plausible_kg=PLAUSIBLE, height_cm=D(165), sex="female")
    assert weight.kg == D("56.9")
    assert weight.arithmetic[-1] == "dosing weight = ideal body weight 56.9 kg"


@pytest.mark.parametrize("basis", ["ideal", "adjusted"])
def test_a_patient_at_or_below_ideal_weight_is_dosed_on_the_actual_weight(basis):
    weight = dosing_weight(D(50), basis, plausible_kg=PLAUSIBLE, height_cm=D(180), sex="male")
    assert weight.kg == D(50)
    assert "actual weight is at or below ideal, so the actual weight 50.0 kg is used" in weight.arithmetic


def test_the_dosing_weight_is_held_to_a_tenth_of_a_kilogram_so_the_working_checks():
    weight = actual("70.25")
    assert weight.kg == D("70.3")
    assert weight.arithmetic == ("actual body weight 70.3 kg",)


def test_half_a_milligram_per_kilogram_of_80_kg_is_40_mg_in_4_ml():
    dose = weight_based_dose(
        D("0.5"), actual("80"), cap_mg=D(100), concentration_mg_per_ml=D(10), increment_ml=D("0.1")
    )
    assert (dose.mg, dose.volume_ml, dose.calculated_mg) == (D(40), D("4.0"), D(40))
    assert not dose.capped and not dose.overridden
    assert dose.arithmetic == (
        "actual body weight 80.0 kg",
        "0.5 mg/kg x 80.0 kg (actual body weight) = 40.0 mg",
        "within the protocol cap of 100.0 mg",
        "40.0 mg / 10 mg/mL = 4.00 mL, measured in 0.1 mL steps: 4.0 mL = 40.00 mg",
    )


def test_a_dose_above_the_cap_is_held_at_the_cap_and_says_so():
    dose = weight_based_dose(
        D("1.0"), actual("150"), cap_mg=D(100), concentration_mg_per_ml=D(10), increment_ml=D("0.1")
    )
    assert dose.mg == D(100) and dose.calculated_mg == D(150)
    assert dose.capped and not dose.overridden
    assert "above the protocol cap of 100.0 mg, so the dose is held at 100.0 mg" in dose.arithmetic


def test_an_override_above_the_cap_records_the_reason_beside_the_dose():
    dose = weight_based_dose(
        D("1.0"),
        actual("150"),
        cap_mg=D(100),
        concentration_mg_per_ml=D(10),
        increment_ml=D("0.1"),
        override=Override(D(120), "tolerated 100 mg twice without response"),
    )
    assert dose.mg == D(120) and dose.overridden and not dose.capped
    assert (
        "prescriber override to 120.0 mg (protocol cap 100.0 mg): tolerated 100 mg twice without response"
        in dose.arithmetic
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_override_without_a_reason_is_refused(reason):
    with pytest.raises(DoseError) as caught:
        fixed_dose(D(150), cap_mg=D(100), override=Override(D(150), reason))
    assert caught.value.field == "override_reason"


def test_an_override_of_zero_is_refused_on_override_mg():
    with pytest.raises(DoseError) as caught:
        fixed_dose(D(50), cap_mg=D(100), override=Override(D(0), "test"))
    assert caught.value.field == "override_mg"


def test_the_volume_rounds_to_the_nearest_syringe_step():
    mg, ml, text = measurable(D("36.5"), D(50), D("0.05"), ceiling_mg=D(75))
    assert (mg, ml) == (D("37.50"), D("0.75"))
    assert text == "36.5 mg / 50 mg/mL = 0.730 mL, measured in 0.05 mL steps: 0.75 mL = 37.50 mg"


def test_rounding_to_a_measurable_volume_never_goes_above_the_cap():
    # 99.96 mg would round to 10.0 mL = 100 mg; with a 99.95 mg ceiling it must go down a step.
    mg, ml, _ = measurable(D("99.96"), D(10), D("0.1"), ceiling_mg=D("99.95"))
    assert (mg, ml) == (D("99.0"), D("9.9"))


def test_a_fractional_concentration_is_written_as_it_is():
    _, _, text = measurable(D(5), D("2.5"), D("0.1"), ceiling_mg=None)
    assert text.startswith("5.0 mg / 2.5 mg/mL = 2.00 mL")


def test_a_dose_smaller_than_one_syringe_step_is_refused():
    with pytest.raises(DoseError) as caught:
        fixed_dose(D("0.1"), cap_mg=D(100), concentration_mg_per_ml=D(100), increment_ml=D("0.1"))
    assert caught.value.field == "concentration_mg_per_ml"


def test_a_volume_needs_the_protocols_measuring_step_rather_than_a_default():
    with pytest.raises(DoseError) as caught:
        fixed_dose(D(40), cap_mg=D(100), concentration_mg_per_ml=D(10))
    assert caught.value.field == "increment_ml"


def test_mg_per_kg_per_hour_multiplies_by_the_hours_and_shows_the_minutes():
    dose = weight_based_dose(
        D("0.35"),
        actual("60"),
        cap_mg=D(100),
        concentration_mg_per_ml=D(10),
        increment_ml=D("0.1"),
        hours=D(4),
    )
    assert dose.mg == D(84)
    assert "0.35 mg/kg/h x 60.0 kg (actual body weight) x 240 min / 60 = 84.0 mg" in dose.arithmetic


def test_the_bag_holds_the_drug_plus_the_diluent_and_the_pump_runs_it_over_the_duration():
    dose = weight_based_dose(
        D("0.5"), actual("80"), cap_mg=D(100), concentration_mg_per_ml=D(10), increment_ml=D("0.1")
    )
    bag = infusion(dose, bag_ml=D(100), duration_min=40, min_duration_min=40)
    assert (bag.drug_ml, bag.total_ml, bag.rate_ml_per_h, bag.mg_per_h) == (
        D("4.0"),
        D("104.0"),
        D("156.0"),
        D("60.0"),
    )
    assert bag.arithmetic == (
        "4.00 mL of drug + 100 mL bag = 104.00 mL",
        "104.00 mL over 40 min = 156.0 mL/h (60.0 mg/h)",
    )


def test_the_pump_rate_is_rounded_down_so_the_infusion_never_runs_faster_than_planned():
    dose = fixed_dose(D(63), cap_mg=D(100), concentration_mg_per_ml=D(10), increment_ml=D("0.1"))
    bag = infusion(dose, bag_ml=D(100), duration_min=40, min_duration_min=40)
    assert bag.rate_ml_per_h == D("159.4")  # 106.3 mL / (40/60) h = 159.45
    assert "rounded down so it never runs faster" in bag.arithmetic[1]
    assert check_rate(bag.rate_ml_per_h, bag.total_ml, 40) == 41


def test_an_infusion_faster_than_the_protocol_minimum_is_refused_on_duration_min():
    dose = fixed_dose(D(40), cap_mg=D(100), concentration_mg_per_ml=D(10), increment_ml=D("0.1"))
    with pytest.raises(DoseError) as caught:
        infusion(dose, bag_ml=D(100), duration_min=30, min_duration_min=40)
    assert caught.value.field == "duration_min"
    assert "30 min is faster than this protocol's minimum of 40 min" in caught.value.message


def test_an_infusion_needs_the_vial_concentration():
    with pytest.raises(DoseError) as caught:
        infusion(fixed_dose(D(40), cap_mg=D(100)), bag_ml=D(100), duration_min=40, min_duration_min=40)
    assert caught.value.field == "concentration_mg_per_ml"


def test_a_pump_rate_that_would_finish_before_the_minimum_is_refused_on_rate_ml_per_h():
    with pytest.raises(DoseError) as caught:
        check_rate(D(200), D(104), 40)
    assert caught.value.field == "rate_ml_per_h"
    assert "200.0 mL/h would finish 104.0 mL in 31.2 min" in caught.value.message


def test_a_rate_even_a_fraction_of_a_minute_too_fast_is_refused():
    # 104 mL at 159 mL/h takes 39.2 min: rounding the minutes up must not let it through.
    with pytest.raises(DoseError):
        check_rate(D(159), D(104), 40)


def test_a_rate_at_or_slower_than_the_minimum_gives_the_minutes():
    assert check_rate(D(156), D(104), 40) == 40
    assert check_rate(D(100), D(104), 40) == 63


@pytest.mark.parametrize("rate", ["0", "-5", "fast"])
def test_a_pump_rate_that_is_not_a_positive_number_is_refused(rate):
    with pytest.raises(DoseError) as caught:
        check_rate(rate, D(104), 40)
    assert caught.value.field == "rate_ml_per_h"


def test_esketamine_84_mg_is_three_devices_with_the_last_ten_minutes_after_the_first():
    devices = esketamine_devices(D(84), device_mg=28, minutes_between=5, allowed_mg=(56, 84))
    assert (devices.count, devices.minutes_to_last) == (3, 10)
    assert devices.arithmetic == (
        "84 mg / 28 mg per device = 3 devices",
        "5 min between devices: the last device 10 min after the first",
    )


def test_esketamine_28_mg_is_one_device_with_no_wait():
    devices = esketamine_devices(28, device_mg=28, minutes_between=5, allowed_mg=(28, 56, 84))
    assert devices.count == 1
    assert devices.arithmetic == (
        "28 mg / 28 mg per device = 1 device",
        "one device: no wait between devices",
    )


@pytest.mark.parametrize("mg", [28, 70, 112])
def test_an_esketamine_dose_the_label_does_not_list_is_refused(mg):
    with pytest.raises(DoseError) as caught:
        esketamine_devices(mg, device_mg=28, minutes_between=5, allowed_mg=(56, 84))
    assert caught.value.field == "dose_mg"
    assert f"{mg} mg is not a listed dose (56, 84 mg)" == caught.value.message


def test_an_esketamine_dose_that_is_not_whole_devices_is_refused():
    with pytest.raises(DoseError, match="not a whole number of 28 mg devices"):
        esketamine_devices(70, device_mg=28, minutes_between=5, allowed_mg=(70,))


def test_troches_use_the_fewest_pieces_largest_first():
    made = troches(D(100), [D(10), D(20), D(40)])
    assert made.pieces == ((D(40), 2), (D(20), 1))
    assert made.count == 3
    assert made.arithmetic == ("100 mg = 2 x 40 mg + 1 x 20 mg (3 troches)",)


def test_troches_prefer_fewer_pieces_over_the_largest_first():
    # largest first would give 40 + 10 + 10 (3 troches); 30 + 30 is 2.
    assert troches(D(60), [D(10), D(30), D(40)]).pieces == ((D(30), 2),)


def test_an_impossible_troche_dose_names_the_nearest_doses_either_side():
    with pytest.raises(DoseError) as caught:
        troches(D(55), [D(20), D(40)])
    assert caught.value.field == "dose_mg"
    assert caught.value.message == (
        "55 mg cannot be made from the stocked strengths (40, 20 mg); "
        "the nearest below is 40 mg and above is 60 mg"
    )
    # the nearest above is not always the nearest below plus the smallest strength (60 + 30)
    with pytest.raises(DoseError, match="the nearest below is 60 mg and above is 70 mg"):
        troches(D(65), [D(30), D(40)])


def test_a_troche_dose_below_the_smallest_strength_names_the_smallest():
    with pytest.raises(DoseError, match="the nearest is 20 mg"):
        troches(D(10), [D(20), D(40)])


def test_fractional_troche_strengths_are_made_exactly():
    assert troches(D("37.5"), [D("12.5"), D(25)]).pieces == ((D(25), 1), (D("12.5"), 1))
