"""Vital-sign codes and units in: which LOINC code fills which `VitalSigns` field, and the UCUM
units each may arrive in, converted exactly (Decimal) into the unit ketaflow stores.

Conversions: [lb_av] (avoirdupois pound, 0.45359237 kg exactly) and g to kg; [in_i] (international
inch, 2.54 cm exactly) and m to cm; [degF] to Cel. Rounding to the stored precision is the domain's
(`patients.vital_signs`), so a converted value is checked and rounded exactly like a typed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ketaflow.clinical.vitals import BMI_LOINC, BP_PANEL_LOINC, VITAL_SPECS

Convert = Callable[[Decimal], Decimal]


def _same(value: Decimal) -> Decimal:
    return value


def _fahrenheit(value: Decimal) -> Decimal:
    return (value - 32) * 5 / 9


UNITS: dict[str, dict[str, Convert]] = {
    "systolic_bp": {"mm[Hg]": _same},
    "diastolic_bp": {"mm[Hg]": _same},
    "heart_rate": {"/min": _same, "{beats}/min": _same, "{Beats}/min": _same},
    "respiratory_rate": {"/min": _same, "{breaths}/min": _same, "{Breaths}/min": _same},
    "oxygen_saturation": {"%": _same},
    "temperature_c": {"Cel": _same, "[degF]": _fahrenheit},
    "weight_kg": {"kg": _same, "g": lambda v: v / 1000, "[lb_av]": lambda v: v * Decimal("0.45359237")},
    "height_cm": {"cm": _same, "m": lambda v: v * 100, "[in_i]": lambda v: v * Decimal("2.54")},
}


@dataclass(frozen=True)
class Reading:
    """What one Observation code records: the field, and the key of the Observation id it becomes."""

    field: str
    key: str


OXYGEN_SATURATION_ARTERIAL = "2708-6"
BODY_WEIGHT_MEASURED = "3141-9"
SINGLE: dict[str, Reading] = {
    VITAL_SPECS["heart_rate"].loinc: Reading("heart_rate", "heart-rate"),
    VITAL_SPECS["respiratory_rate"].loinc: Reading("respiratory_rate", "respiratory-rate"),
    VITAL_SPECS["oxygen_saturation"].loinc: Reading("oxygen_saturation", "oxygen-saturation"),
    OXYGEN_SATURATION_ARTERIAL: Reading("oxygen_saturation", "oxygen-saturation"),
    VITAL_SPECS["temperature_c"].loinc: Reading("temperature_c", "temperature"),
    VITAL_SPECS["weight_kg"].loinc: Reading("weight_kg", "weight"),
    BODY_WEIGHT_MEASURED: Reading("weight_kg", "weight"),
    VITAL_SPECS["height_cm"].loinc: Reading("height_cm", "height"),
}
BLOOD_PRESSURE = BP_PANEL_LOINC
COMPONENTS = {
    VITAL_SPECS["systolic_bp"].loinc: "systolic_bp",
    VITAL_SPECS["diastolic_bp"].loinc: "diastolic_bp",
}
# Vital-sign codes ketaflow knows but does not store on their own, and why.
NOT_STORED = {
    BMI_LOINC: "BMI is not stored on its own: ketaflow derives it from a weight and a height.",
    "85353-1": "A vital-signs panel only lists other Observations: send (or import) those instead.",
    "9843-4": "ketaflow does not record head circumference.",
    "8478-0": "ketaflow does not record mean blood pressure.",
    "8287-5": "ketaflow does not record head circumference.",
}


def converted(field: str, value: Decimal, unit: str) -> Decimal | None:
    """`value` in `unit` as the unit ketaflow stores `field` in; None for a unit it does not take."""
    convert = UNITS[field].get(unit)
    return convert(value) if convert is not None else None


def accepted_units(field: str) -> str:
    return ", ".join(UNITS[field])
