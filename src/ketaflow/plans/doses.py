"""A protocol's dose for given measures, with errors named by field: the one place pages, the API,
the calculator and the plan services turn input into `clinical.prescribing.prescribe`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ketaflow.clinical.dosing import DoseError, Override
from ketaflow.clinical.prescribing import PatientMeasures, Prescription, prescribe
from ketaflow.clinical.protocols import Protocol
from ketaflow.validation import FieldError, ValidationFailed

WEIGHT_KINDS = ("weight_based", "weight_per_hour")


def number(value: Any, field: str, errors: list[FieldError]) -> Decimal | None:
    """`value` as a Decimal (None for blank); a bad value adds an error on `field`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append(FieldError(field, "Enter a number."))
        return None
    if not found.is_finite() or found <= 0:
        errors.append(FieldError(field, "Enter a number above zero."))
        return None
    return found


def calculate(
    protocol: Protocol,
    measures: PatientMeasures,
    *,
    mg_per_kg: Any = None,
    mg: Any = None,
    override_mg: Any = None,
    override_reason: str = "",
    first_dose: bool = False,
) -> Prescription:
    """The prescription, or ValidationFailed naming the field at fault (mg_per_kg, mg, weight_kg,
    height_cm, sex, override_mg, override_reason)."""
    errors: list[FieldError] = []
    rate = number(mg_per_kg, "mg_per_kg", errors)
    amount = number(mg, "mg", errors)
    over = number(override_mg, "override_mg", errors)
    reason = (override_reason or "").strip()
    weight_based = protocol.dose.kind in WEIGHT_KINDS
    if rate is not None and not weight_based:
        errors.append(FieldError("mg_per_kg", "This protocol is dosed in mg, not mg/kg."))
    if amount is not None and weight_based:
        errors.append(FieldError("mg", "This protocol is dosed in mg/kg; leave mg empty."))
    if over is not None and not reason:
        errors.append(FieldError(
            "override_reason",
            "A dose other than the protocol's needs its own reason; it is recorded with the dose.",
        ))
    if reason and over is None:
        errors.append(FieldError("override_mg", "Enter the overriding dose in mg, or clear the reason."))
    if errors:
        raise ValidationFailed(errors)
    override = Override(over, reason) if over is not None else None
    try:
        return prescribe(
            protocol, measures, mg_per_kg=rate, mg=amount, override=override,
            first_dose=first_dose and amount is None,
        )
    except DoseError as exc:
        raise ValidationFailed.single(exc.field, _sentence(exc.message)) from exc


def _sentence(message: str) -> str:
    text = message.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def dose_unit(protocol: Protocol) -> str:
    """How the protocol's dose is chosen: 'mg/kg', 'mg/kg/h' or 'mg'."""
    return {"weight_based": "mg/kg", "weight_per_hour": "mg/kg/h"}.get(protocol.dose.kind, "mg")


def dose_choices(protocol: Protocol, measures: PatientMeasures | None = None) -> list[Decimal]:
    """The doses the protocol allows without an override: titration steps, allowed mg (the
    older-adult list when it applies), or troche steps."""
    rule = protocol.dose
    if rule.kind in WEIGHT_KINDS:
        base = rule.mg_per_kg if rule.kind == "weight_based" else rule.mg_per_kg_per_hour
        return list(rule.titration.steps_mg_per_kg) if rule.titration else ([base] if base else [])
    if rule.kind == "fixed":
        older = (
            measures is not None and measures.age is not None and rule.older_adult_age is not None
            and measures.age >= rule.older_adult_age and rule.older_adult_allowed_mg
        )
        return [Decimal(v) for v in (rule.older_adult_allowed_mg if older else rule.allowed_mg)]
    assert rule.start_mg is not None and rule.step_mg is not None and rule.max_mg is not None
    steps, value = [], rule.start_mg
    while value <= rule.max_mg:
        steps.append(value)
        value += rule.step_mg
    return steps
