"""Vital signs: plausibility checks that name the field, BMI, and the LOINC codes. Pure: no database."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from ketaflow.clinical.vitals import (
    BP_PANEL_LOINC,
    VITAL_SPECS,
    VITALS,
    VitalError,
    body_mass_index,
    check_vitals,
)

NORMAL = {
    "systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 72, "respiratory_rate": 14,
    "oxygen_saturation": 98, "temperature_c": Decimal("36.8"), "weight_kg": Decimal("70.0"),
    "height_cm": Decimal("175.0"),
}


def fields_of(errors: list[VitalError]) -> list[str]:
    return [error.field for error in errors]


def test_a_normal_set_of_readings_is_clean():
    assert check_vitals(NORMAL) == []
    assert check_vitals({}) == []
    assert check_vitals({"heart_rate": 60, "systolic_bp": None, "diastolic_bp": None}) == []


@pytest.mark.parametrize("systolic", [20, 400, 49, 301])
def test_an_impossible_systolic_pressure_is_refused_naming_the_field(systolic):
    errors = check_vitals({"systolic_bp": systolic, "diastolic_bp": 30})
    assert fields_of(errors) == ["systolic_bp"]
    assert f"Systolic blood pressure of {systolic} mmHg is not possible" in errors[0].message
    assert "from 50 to 300 mmHg" in errors[0].message


def test_the_limits_of_the_plausible_range_are_accepted():
    assert check_vitals({"systolic_bp": 50, "diastolic_bp": 20}) == []
    assert check_vitals({"systolic_bp": 300, "diastolic_bp": 200}) == []


def test_a_weight_of_zero_is_refused_naming_the_weight():
    errors = check_vitals({"weight_kg": 0})
    assert fields_of(errors) == ["weight_kg"]
    assert "Weight of 0 kg is not possible" in errors[0].message


def test_half_a_blood_pressure_is_refused_naming_the_missing_half():
    assert fields_of(check_vitals({"systolic_bp": 120})) == ["diastolic_bp"]
    errors = check_vitals({"diastolic_bp": 80, "systolic_bp": None})
    assert fields_of(errors) == ["systolic_bp"]
    assert errors[0].message == "Enter both the systolic and the diastolic pressure."


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 120), (90, 110)])
def test_a_diastolic_not_below_the_systolic_is_refused(systolic, diastolic):
    errors = check_vitals({"systolic_bp": systolic, "diastolic_bp": diastolic})
    assert fields_of(errors) == ["diastolic_bp"]
    assert errors[0].message == "The diastolic pressure must be lower than the systolic."


def test_an_out_of_range_pressure_is_reported_once_without_a_second_comparison_error():
    assert fields_of(check_vitals({"systolic_bp": 400, "diastolic_bp": 90})) == ["systolic_bp"]


def test_every_problem_in_a_set_is_reported_together():
    errors = check_vitals({**NORMAL, "heart_rate": 0, "oxygen_saturation": 101, "temperature_c": 50})
    assert fields_of(errors) == ["heart_rate", "oxygen_saturation", "temperature_c"]


def test_an_unknown_reading_is_refused_by_name():
    assert fields_of(check_vitals({"glucose": 5})) == ["glucose"]


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "120"])
def test_a_reading_that_is_not_a_finite_number_is_refused_naming_the_field(value):
    errors = check_vitals({"heart_rate": value})
    assert fields_of(errors) == ["heart_rate"]
    assert errors[0].message == "Heart rate must be a number in /min."


def test_a_bad_pressure_number_is_refused_without_comparing_the_pair():
    assert fields_of(check_vitals({"systolic_bp": math.nan, "diastolic_bp": 80})) == ["systolic_bp"]


def test_decimal_readings_are_checked_exactly():
    assert check_vitals({"temperature_c": Decimal("44.0")}) == []
    assert fields_of(check_vitals({"temperature_c": Decimal("44.1")})) == ["temperature_c"]
    assert fields_of(check_vitals({"oxygen_saturation": 100.5})) == ["oxygen_saturation"]


def test_bmi_of_70_kg_at_175_cm_is_22_point_9():
    # 70 / 1.75² = 22.857… -> 22.9
    assert body_mass_index(70, 175) == Decimal("22.9")
    assert body_mass_index(Decimal("82.5"), Decimal("180")) == Decimal("25.5")  # 82.5 / 3.24 = 25.46


@pytest.mark.parametrize(
    ("weight", "height"), [(0, 175), (70, 0), (-70, 175), (math.nan, 175), (70, math.inf)]
)
def test_bmi_refuses_a_weight_or_height_that_is_not_positive(weight, height):
    with pytest.raises(ValueError, match="must be positive"):
        body_mass_index(weight, height)


def test_each_vital_sign_carries_its_loinc_code_and_ucum_unit():
    codes = {spec.field: (spec.loinc, spec.ucum) for spec in VITALS}
    assert codes == {
        "systolic_bp": ("8480-6", "mm[Hg]"),
        "diastolic_bp": ("8462-4", "mm[Hg]"),
        "heart_rate": ("8867-4", "/min"),
        "respiratory_rate": ("9279-1", "/min"),
        "oxygen_saturation": ("59408-5", "%"),
        "temperature_c": ("8310-5", "Cel"),
        "weight_kg": ("29463-7", "kg"),
        "height_cm": ("8302-2", "cm"),
    }
    assert BP_PANEL_LOINC == "85354-9"
    assert all(spec.minimum < spec.maximum for spec in VITALS)
    assert VITAL_SPECS["weight_kg"].minimum > 0
