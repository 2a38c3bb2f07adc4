"""Vital signs, weight, height and BMI: plausibility checks and LOINC codes.

`check_vitals` returns the errors of one set of readings, each naming its field, so a page or the API
can show them beside the input; nothing is stored until the set is clean. The plausible ranges are
wide on purpose: they catch typing errors (a systolic of 20 or 400, a weight of 0), not abnormal
values, which are the clinician's to judge. LOINC codes per clinical reference §7 (FHIR vital-signs
profile); body weight and height are marked there to verify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class VitalSpec:
    field: str
    label: str
    unit: str
    ucum: str
    loinc: str
    minimum: Decimal
    maximum: Decimal
    whole: bool = False  # recorded as a whole number (pressures, rates, saturation)


VITALS: tuple[VitalSpec, ...] = (
    VitalSpec("systolic_bp", "Systolic blood pressure", "mmHg", "mm[Hg]", "8480-6",
              Decimal(50), Decimal(300), whole=True),
    VitalSpec("diastolic_bp", "Diastolic blood pressure", "mmHg", "mm[Hg]", "8462-4",
              Decimal(20), Decimal(200), whole=True),
    VitalSpec("heart_rate", "Heart rate", "/min", "/min", "8867-4", Decimal(20), Decimal(250), whole=True),
    VitalSpec("respiratory_rate", "Respiratory rate", "/min", "/min", "9279-1", Decimal(4), Decimal(60),
              whole=True),
    VitalSpec("oxygen_saturation", "Oxygen saturation", "%", "%", "59408-5", Decimal(50), Decimal(100),
              whole=True),
    VitalSpec("temperature_c", "Temperature", "°C", "Cel", "8310-5", Decimal(30), Decimal(44)),
    VitalSpec("weight_kg", "Weight", "kg", "kg", "29463-7", Decimal(20), Decimal(350)),
    VitalSpec("height_cm", "Height", "cm", "cm", "8302-2", Decimal(100), Decimal(250)),
)
VITAL_SPECS = {spec.field: spec for spec in VITALS}
BP_PANEL_LOINC = "85354-9"
BMI_LOINC = "39156-5"  # body mass index, ratio [verify]


@dataclass(frozen=True)
class VitalError:
    field: str
    message: str


def check_vitals(readings: Mapping[str, Decimal | int | float | None]) -> list[VitalError]:
    """Every problem in one set of readings (None means not taken): not a number, out of the
    plausible range, a diastolic not below the systolic, or half a blood pressure. An empty list
    means clean."""
    errors: list[VitalError] = []
    for name in readings:
        if name not in VITAL_SPECS:
            errors.append(VitalError(name, "is not a vital sign ketaflow records"))
    numbers: dict[str, Decimal] = {}
    for spec in VITALS:
        value = readings.get(spec.field)
        if value is None:
            continue
        number = _number(value)
        if number is None:
            errors.append(VitalError(spec.field, f"{spec.label} must be a number in {spec.unit}."))
            continue
        numbers[spec.field] = number
        if not spec.minimum <= number <= spec.maximum:
            errors.append(VitalError(
                spec.field,
                f"{spec.label} of {number:f} {spec.unit} is not possible; "
                f"enter a value from {spec.minimum} to {spec.maximum} {spec.unit}.",
            ))
    systolic, diastolic = readings.get("systolic_bp"), readings.get("diastolic_bp")
    if (systolic is None) != (diastolic is None):
        missing = "diastolic_bp" if diastolic is None else "systolic_bp"
        errors.append(VitalError(missing, "Enter both the systolic and the diastolic pressure."))
    elif (
        systolic is not None and diastolic is not None
        and not any(e.field in ("systolic_bp", "diastolic_bp") for e in errors)
        and numbers["diastolic_bp"] >= numbers["systolic_bp"]
    ):
        errors.append(VitalError("diastolic_bp", "The diastolic pressure must be lower than the systolic."))
    return errors


def _number(value: object) -> Decimal | None:
    """A finite Decimal from an int, float or Decimal; None for anything else (a bool, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


def body_mass_index(weight_kg: Decimal | float, height_cm: Decimal | float) -> Decimal:
    """kg/m², to one decimal place. Raises ValueError for a height or weight that is not a positive
    finite number."""
    weight, height = _number(weight_kg), _number(height_cm)
    if weight is None or height is None or weight <= 0 or height <= 0:
        raise ValueError("weight and height must be positive")
    metres = height / 100
    return (weight / (metres * metres)).quantize(Decimal("0.1"))
