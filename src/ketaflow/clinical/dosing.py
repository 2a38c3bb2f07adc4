"""Dose arithmetic a nurse can check: dosing weight, weight-based doses with caps and overrides,
measurable volumes, infusion bags and pump rates (esketamine devices and troches: `dose_units.py`).

Every result carries `arithmetic`, the lines of working in plain words, so the number on the screen
is never a bare figure. Every number that drives a result (mg/kg, cap, concentration, increment,
minimum duration, plausible weight range) is passed in from a protocol's dose rule (`dose_rules.py`),
never held here. Bad input raises `DoseError` naming the field.

Sources:
- Ideal body weight: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655
  (men 50 kg, women 45.5 kg, plus 2.3 kg per inch over 5 feet).
  Devine is defined from 5 ft (152.4 cm); below that the formula extrapolates, and the working says so.
- Adjusted body weight: ideal + 0.4 x (actual - ideal), the convention used for lipophilic drugs in
  obesity (e.g. Pai MP, Paloucek FP. Ann Pharmacother 2000;34:1066-1069). Where the actual weight is
  below the ideal, the actual weight is used. Dosing weights are shown and used to 0.1 kg.
- Volumes are rounded to the nearest measurable step, but never above the cap (or the override);
  pump rates are rounded down to 0.1 mL/h, so an infusion never runs faster than its duration.
- 0.5 mg/kg over 40 minutes: Sanacora et al., JAMA Psychiatry 2017;74:399-405 (clinical reference §2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

INCH_CM = Decimal("2.54")


class DoseError(ValueError):
    """A value that cannot give a safe dose; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WeightBasis(StrEnum):
    ACTUAL = "actual"
    IDEAL = "ideal"
    ADJUSTED = "adjusted"

    @property
    def label(self) -> str:
        return {
            "actual": "actual body weight",
            "ideal": "ideal body weight",
            "adjusted": "adjusted body weight",
        }[self.value]


@dataclass(frozen=True)
class DosingWeight:
    """The weight a dose is calculated on, which rule gave it, and the working."""

    kg: Decimal
    basis: WeightBasis
    actual_kg: Decimal
    arithmetic: tuple[str, ...]


@dataclass(frozen=True)
class Override:
    """A prescriber's dose above the protocol's cap, with the reason recorded beside it."""

    mg: Decimal
    reason: str


@dataclass(frozen=True)
class Dose:
    """A dose in mg and the volume that delivers it, rounded to what a syringe can measure."""

    mg: Decimal
    volume_ml: Decimal | None
    calculated_mg: Decimal
    cap_mg: Decimal | None
    capped: bool
    overridden: bool
    arithmetic: tuple[str, ...]


@dataclass(frozen=True)
class Infusion:
    """An infusion bag: what goes in, how much in total, and the pump rate."""

    drug_ml: Decimal
    total_ml: Decimal
    duration_min: int
    rate_ml_per_h: Decimal
    mg_per_h: Decimal
    arithmetic: tuple[str, ...]


def _num(value: Decimal | float | int | str, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise DoseError(field, f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise DoseError(field, f"{value!r} is not a number")
    return number


def _fmt(value: Decimal, places: int = 1) -> str:
    """A number as a nurse writes it: 41.0, 4.15, 100."""
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return text


def _plain(value: Decimal) -> str:
    """An input number as written: 10, 2.5, 0.05 (no padding, no exponent)."""
    return f"{value.normalize():f}"


def _kg(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _positive(value: Decimal | float | int | str, field: str) -> Decimal:
    number = _num(value, field)
    if number <= 0:
        raise DoseError(field, "must be more than zero")
    return number


def ideal_body_weight(height_cm: Decimal | float | int | str, sex: str) -> tuple[Decimal, str]:
    """Devine ideal body weight in kg and its working. `sex` is 'female' or 'male' (sex at birth);
    anything else raises DoseError, because the formula needs one of the two."""
    height = _positive(height_cm, "height_cm")
    if not Decimal(100) <= height <= Decimal(250):
        raise DoseError("height_cm", f"{_fmt(height)} cm is outside 100-250 cm; check the measurement")
    if sex not in ("female", "male"):
        raise DoseError("sex", "ideal body weight needs sex at birth recorded as female or male")
    base = Decimal("50") if sex == "male" else Decimal("45.5")
    inches = height / INCH_CM
    kg = base + Decimal("2.3") * (inches - 60)
    if kg <= 0:
        raise DoseError(
            "height_cm", f"{_fmt(height)} cm is too short for the Devine formula; dose on actual weight"
        )
    text = f"ideal body weight (Devine, {sex}) = {base} + 2.3 x ({_fmt(inches, 2)} in - 60) = {_fmt(kg)} kg"
    if inches < 60:
        text += " (below 5 ft the Devine formula extrapolates)"
    return kg, text


def dosing_weight(
    actual_kg: Decimal | float | int | str,
    basis: WeightBasis | str,
    *,
    plausible_kg: tuple[Decimal, Decimal],
    height_cm: Decimal | float | int | str | None = None,
    sex: str = "",
) -> DosingWeight:
    """The weight to dose on. Raises DoseError('weight_kg') outside the plausible range, and on
    'height_cm' or 'sex' when the ideal or adjusted rule needs them and they are missing."""
    try:
        rule = WeightBasis(basis)
    except ValueError as exc:
        raise DoseError("weight_basis", f"{basis!r} is not actual, ideal or adjusted") from exc
    actual = _positive(actual_kg, "weight_kg")
    low, high = plausible_kg
    if not low <= actual <= high:
        raise DoseError(
            "weight_kg",
            f"{_fmt(actual)} kg is outside the plausible range {_fmt(low, 0)}-{_fmt(high, 0)} kg; "
            "weigh the patient again",
        )
    lines = [f"actual body weight {_fmt(actual)} kg"]
    if rule is WeightBasis.ACTUAL:
        return DosingWeight(_kg(actual), rule, actual, tuple(lines))
    if height_cm is None:
        raise DoseError("height_cm", f"{rule.label} needs the patient's height")
    ideal, ideal_text = ideal_body_weight(height_cm, sex)
    lines.append(ideal_text)
    if actual <= ideal:
        lines.append(f"actual weight is at or below ideal, so the actual weight {_fmt(actual)} kg is used")
        return DosingWeight(_kg(actual), rule, actual, tuple(lines))
    if rule is WeightBasis.IDEAL:
        lines.append(f"dosing weight = ideal body weight {_fmt(ideal)} kg")
        return DosingWeight(_kg(ideal), rule, actual, tuple(lines))
    adjusted = ideal + Decimal("0.4") * (actual - ideal)
    lines.append(
        f"adjusted body weight = {_fmt(ideal)} + 0.4 x ({_fmt(actual)} - {_fmt(ideal)}) = {_fmt(adjusted)} kg"
    )
    return DosingWeight(_kg(adjusted), rule, actual, tuple(lines))


def measurable(
    mg: Decimal, concentration_mg_per_ml: Decimal, increment_ml: Decimal, *, ceiling_mg: Decimal | None
) -> tuple[Decimal, Decimal, str]:
    """The volume nearest to `mg` that a syringe measures in steps of `increment_ml`, never above
    `ceiling_mg`; returns (mg, mL, working)."""
    exact_ml = mg / concentration_mg_per_ml
    step_mg = increment_ml * concentration_mg_per_ml
    steps = (exact_ml / increment_ml).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if ceiling_mg is not None and steps * step_mg > ceiling_mg:
        steps = (ceiling_mg / step_mg).quantize(Decimal(1), rounding=ROUND_FLOOR)
        while steps > 0 and steps * step_mg > ceiling_mg:
            steps -= 1  # the division's last digit may round up: never above the ceiling
    volume = steps * increment_ml
    delivered = volume * concentration_mg_per_ml
    places = _places(increment_ml)
    text = (
        f"{_fmt(mg)} mg / {_plain(concentration_mg_per_ml)} mg/mL = {_fmt(exact_ml, places + 1)} mL, "
        f"measured in {increment_ml.normalize():f} mL steps: "
        f"{_fmt(volume, places)} mL = {_fmt(delivered, 2)} mg"
    )
    return delivered, volume, text


def weight_based_dose(
    mg_per_kg: Decimal | float | str,
    weight: DosingWeight,
    *,
    cap_mg: Decimal | None,
    concentration_mg_per_ml: Decimal | None = None,
    increment_ml: Decimal | None = None,
    override: Override | None = None,
    hours: Decimal | None = None,
) -> Dose:
    """mg/kg (or mg/kg/h over `hours`) times the dosing weight, held at `cap_mg` unless an override
    with a reason is given, then rounded to a measurable volume at `concentration_mg_per_ml`.
    The result never exceeds the cap without `overridden` set."""
    rate = _positive(mg_per_kg, "mg_per_kg")
    lines = list(weight.arithmetic)
    if hours is not None:
        span = _positive(hours, "hours")
        calculated = rate * weight.kg * span
        minutes = span * 60
        whole = minutes == minutes.to_integral_value()
        over = f"{_plain(minutes)} min / 60" if whole else f"{_plain(span)} h"
        lines.append(
            f"{rate.normalize():f} mg/kg/h x {_fmt(weight.kg)} kg ({weight.basis.label}) x "
            f"{over} = {_fmt(calculated)} mg"
        )
    else:
        calculated = rate * weight.kg
        lines.append(
            f"{rate.normalize():f} mg/kg x {_fmt(weight.kg)} kg ({weight.basis.label}) "
            f"= {_fmt(calculated)} mg"
        )
    return _finish(calculated, lines, cap_mg, concentration_mg_per_ml, increment_ml, override)


def fixed_dose(
    mg: Decimal | float | int | str,
    *,
    cap_mg: Decimal | None,
    concentration_mg_per_ml: Decimal | None = None,
    increment_ml: Decimal | None = None,
    override: Override | None = None,
) -> Dose:
    """A dose given in mg (esketamine, troches, a fixed-rate regimen), held to the cap like any other."""
    amount = _positive(mg, "mg")
    lines = [f"prescribed dose {_fmt(amount)} mg"]
    return _finish(amount, lines, cap_mg, concentration_mg_per_ml, increment_ml, override)


def _finish(
    calculated: Decimal,
    lines: list[str],
    cap_mg: Decimal | None,
    concentration: Decimal | None,
    increment: Decimal | None,
    override: Override | None,
) -> Dose:
    ceiling = cap_mg
    capped = False
    overridden = False
    mg = calculated
    if cap_mg is not None and calculated > cap_mg and override is None:
        capped = True
        mg = cap_mg
        lines.append(f"above the protocol cap of {_fmt(cap_mg)} mg, so the dose is held at {_fmt(cap_mg)} mg")
    if override is not None:
        if not override.reason.strip():
            raise DoseError("override_reason", "a dose override needs a reason")
        mg = _positive(override.mg, "override_mg")
        overridden = True
        ceiling = mg
        cap_text = f" (protocol cap {_fmt(cap_mg)} mg)" if cap_mg is not None else ""
        lines.append(f"prescriber override to {_fmt(mg)} mg{cap_text}: {override.reason.strip()}")
    elif cap_mg is not None and not capped:
        lines.append(f"within the protocol cap of {_fmt(cap_mg)} mg")
    volume: Decimal | None = None
    if concentration is not None:
        conc = _positive(concentration, "concentration_mg_per_ml")
        if increment is None:
            raise DoseError("increment_ml", "a volume needs the step the syringe measures in")
        step = _positive(increment, "increment_ml")
        mg, volume, text = measurable(mg, conc, step, ceiling_mg=ceiling)
        if volume <= 0:
            raise DoseError("concentration_mg_per_ml", "the dose is smaller than one measurable step")
        lines.append(text)
    return Dose(mg, volume, calculated, cap_mg, capped, overridden, tuple(lines))


def infusion(
    dose: Dose,
    *,
    bag_ml: Decimal | int,
    duration_min: int,
    min_duration_min: int,
) -> Infusion:
    """The bag (diluent plus the drug's volume) and the pump rate that runs it over `duration_min`.
    Raises DoseError('duration_min') when that is faster than the protocol's minimum."""
    if dose.volume_ml is None:
        raise DoseError("concentration_mg_per_ml", "an infusion needs the vial concentration")
    if duration_min <= 0:
        raise DoseError("duration_min", "must be more than zero")
    if duration_min < min_duration_min:
        raise DoseError(
            "duration_min",
            f"{duration_min} min is faster than this protocol's minimum of {min_duration_min} min",
        )
    bag = _num(bag_ml, "bag_ml")
    if bag < 0:
        raise DoseError("bag_ml", "cannot be negative")
    total = bag + dose.volume_ml
    hours = Decimal(duration_min) / 60
    exact = total / hours
    rate = exact.quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    mg_h = (dose.mg / hours).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    rounded = "" if rate == exact else "; rounded down so it never runs faster"
    lines = (
        f"{_fmt(dose.volume_ml, 2)} mL of drug + {_plain(bag)} mL bag = {_fmt(total, 2)} mL",
        f"{_fmt(total, 2)} mL over {duration_min} min = {_fmt(rate)} mL/h ({_fmt(mg_h)} mg/h{rounded})",
    )
    return Infusion(dose.volume_ml, total, duration_min, rate, mg_h, lines)


def check_rate(rate_ml_per_h: Decimal | float | str, total_ml: Decimal, min_duration_min: int) -> int:
    """Minutes a pump set at `rate_ml_per_h` takes for `total_ml`. Raises DoseError('rate_ml_per_h')
    when it would finish faster than the protocol's minimum duration."""
    rate = _positive(rate_ml_per_h, "rate_ml_per_h")
    volume = _positive(total_ml, "total_ml")
    exact = volume / rate * 60
    if exact < min_duration_min:
        raise DoseError(
            "rate_ml_per_h",
            f"{_fmt(rate)} mL/h would finish {_fmt(volume, 1)} mL in {_fmt(exact)} min, faster than this "
            f"protocol's minimum of {min_duration_min} min",
        )
    return math.ceil(exact)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
