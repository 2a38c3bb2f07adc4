"""A protocol's dose rule (the `dose` object of a definition in `data/protocols.json`).

Dose kinds:
- `weight_based`: `mg_per_kg` x dosing weight (actual, ideal or adjusted), capped at `cap_mg`, drawn
  up at `concentration_mg_per_ml` in `increment_ml` steps; IV protocols add a bag and a duration.
- `weight_per_hour`: `mg_per_kg_per_hour` x weight x hours of `duration_min`, otherwise as above.
- `fixed`: one of `allowed_mg` (esketamine), with a first dose and an older-adult first dose.
- `troche`: `start_mg` stepping by `step_mg` to `max_mg`, made up from `strengths_mg`.

Every number comes from the definition, never from here; `verify` lists the numbers that are
conservative defaults a clinic confirms. `parse_dose_rule` raises `ProtocolError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .dose_units import troches
from .dosing import DoseError, WeightBasis
from .protocol_fields import (
    ProtocolError,
    number,
    numbers,
    optional_number,
    optional_whole,
    text,
    whole,
    wholes,
)

DOSE_KINDS = ("weight_based", "weight_per_hour", "fixed", "troche")


@dataclass(frozen=True)
class Titration:
    steps_mg_per_kg: tuple[Decimal, ...]
    after_sessions: int
    when: str
    source: str


@dataclass(frozen=True)
class DoseRule:
    kind: str
    cap_mg: Decimal
    mg_per_kg: Decimal | None = None
    mg_per_kg_per_hour: Decimal | None = None
    weight_basis: WeightBasis = WeightBasis.ACTUAL
    min_mg: Decimal | None = None
    plausible_weight_kg: tuple[Decimal, Decimal] = (Decimal(35), Decimal(250))
    concentration_mg_per_ml: Decimal | None = None
    increment_ml: Decimal | None = None
    bag_ml: Decimal | None = None
    duration_min: int | None = None
    min_duration_min: int | None = None
    titration: Titration | None = None
    allowed_mg: tuple[int, ...] = ()
    first_dose_mg: int | None = None
    older_adult_age: int | None = None
    older_adult_first_dose_mg: int | None = None
    older_adult_allowed_mg: tuple[int, ...] = ()
    device_mg: int | None = None
    minutes_between_devices: int | None = None
    start_mg: Decimal | None = None
    step_mg: Decimal | None = None
    max_mg: Decimal | None = None
    strengths_mg: tuple[Decimal, ...] = ()
    verify: tuple[str, ...] = ()


def parse_dose_rule(data: Any, path: str) -> DoseRule:
    """The validated dose rule at `path` (e.g. "dose"); raises ProtocolError naming the bad field."""
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    p = path + "."
    kind = text(data, "kind", p)
    if kind not in DOSE_KINDS:
        raise ProtocolError(f"{p}kind", f"must be one of {', '.join(DOSE_KINDS)}")
    cap = number(data, "cap_mg", p)
    verify = data.get("verify", [])
    if not isinstance(verify, list) or not all(isinstance(v, str) for v in verify):
        raise ProtocolError(f"{p}verify", "must be a list of field names")
    if kind in ("weight_based", "weight_per_hour"):
        return _weight_dose(data, p, kind, cap, tuple(verify))
    if kind == "fixed":
        return _fixed_dose(data, p, cap, tuple(verify))
    return _troche_dose(data, p, cap, tuple(verify))


def _fixed_dose(data: Mapping[str, Any], p: str, cap: Decimal, verify: tuple[str, ...]) -> DoseRule:
    allowed = wholes(data, "allowed_mg", p)
    if not allowed:
        raise ProtocolError(f"{p}allowed_mg", "must list at least one dose")
    if max(allowed) > cap:
        raise ProtocolError(f"{p}allowed_mg", "lists a dose above cap_mg")
    first = whole(data, "first_dose_mg", p, minimum=1)
    if first not in allowed:
        raise ProtocolError(f"{p}first_dose_mg", "must be one of allowed_mg")
    older_allowed = wholes(data, "older_adult_allowed_mg", p)
    older_first = optional_whole(data, "older_adult_first_dose_mg", p, minimum=1)
    older_age = optional_whole(data, "older_adult_age", p, minimum=18)
    if older_first is not None and older_first not in older_allowed:
        raise ProtocolError(f"{p}older_adult_first_dose_mg", "must be one of older_adult_allowed_mg")
    if (older_first is None) != (older_age is None):
        raise ProtocolError(
            f"{p}older_adult_age", "older_adult_age and older_adult_first_dose_mg go together"
        )
    if older_allowed and max(older_allowed) > cap:
        raise ProtocolError(f"{p}older_adult_allowed_mg", "lists a dose above cap_mg")
    device = whole(data, "device_mg", p, minimum=1)
    for name, doses in (("allowed_mg", allowed), ("older_adult_allowed_mg", older_allowed)):
        for dose in doses:
            if dose % device:
                raise ProtocolError(f"{p}{name}", f"{dose} mg is not a whole number of {device} mg devices")
    return DoseRule(
        "fixed",
        cap,
        allowed_mg=allowed,
        first_dose_mg=first,
        older_adult_age=older_age,
        older_adult_first_dose_mg=older_first,
        older_adult_allowed_mg=older_allowed,
        device_mg=device,
        minutes_between_devices=whole(data, "minutes_between_devices", p),
        verify=verify,
    )


def _troche_dose(data: Mapping[str, Any], p: str, cap: Decimal, verify: tuple[str, ...]) -> DoseRule:
    start, step, top = (number(data, n, p) for n in ("start_mg", "step_mg", "max_mg"))
    if start > top or top > cap:
        raise ProtocolError(f"{p}max_mg", "must lie between start_mg and cap_mg")
    if (top - start) % step:
        raise ProtocolError(f"{p}max_mg", "must be start_mg plus whole steps of step_mg")
    raw = data.get("strengths_mg")
    if not isinstance(raw, list) or not raw:
        raise ProtocolError(f"{p}strengths_mg", "must list the troche strengths stocked")
    strengths = numbers(raw, f"{p}strengths_mg")
    amount = start
    while amount <= top:
        try:
            troches(amount, strengths)
        except DoseError as exc:
            raise ProtocolError(f"{p}strengths_mg", exc.message) from exc
        amount += step
    return DoseRule(
        "troche", cap, start_mg=start, step_mg=step, max_mg=top, strengths_mg=strengths, verify=verify
    )


def _weight_dose(
    data: Mapping[str, Any], p: str, kind: str, cap: Decimal, verify: tuple[str, ...]
) -> DoseRule:
    rate_name = "mg_per_kg" if kind == "weight_based" else "mg_per_kg_per_hour"
    rate = number(data, rate_name, p)
    try:
        basis = WeightBasis(text(data, "weight_basis", p))
    except ValueError as exc:
        raise ProtocolError(f"{p}weight_basis", "must be actual, ideal or adjusted") from exc
    plausible = data.get("plausible_weight_kg")
    if not isinstance(plausible, list) or len(plausible) != 2:
        raise ProtocolError(f"{p}plausible_weight_kg", "must be [lowest, highest] in kg")
    low, high = numbers(plausible, f"{p}plausible_weight_kg")
    if low >= high:
        raise ProtocolError(f"{p}plausible_weight_kg", "the lowest must be below the highest")
    if kind == "weight_per_hour":
        duration: int | None = whole(data, "duration_min", p, minimum=1)
    else:
        duration = optional_whole(data, "duration_min", p, minimum=1)
    min_duration = optional_whole(data, "min_duration_min", p, minimum=1)
    if duration is not None and min_duration is not None and duration < min_duration:
        raise ProtocolError(f"{p}duration_min", "is shorter than min_duration_min")
    if data.get("bag_ml") is not None and duration is None:
        raise ProtocolError(f"{p}duration_min", "an infusion bag needs a duration")
    titration = _titration(data, p, rate, rate_name)
    return DoseRule(
        kind,
        cap,
        mg_per_kg=rate if kind == "weight_based" else None,
        mg_per_kg_per_hour=rate if kind == "weight_per_hour" else None,
        weight_basis=basis,
        min_mg=optional_number(data, "min_mg", p),
        plausible_weight_kg=(low, high),
        concentration_mg_per_ml=number(data, "concentration_mg_per_ml", p),
        increment_ml=number(data, "increment_ml", p),
        bag_ml=optional_number(data, "bag_ml", p),
        duration_min=duration,
        min_duration_min=min_duration,
        titration=titration,
        verify=verify,
    )


def _titration(data: Mapping[str, Any], p: str, rate: Decimal, rate_name: str) -> Titration | None:
    if "titration" not in data:
        return None
    raw = data["titration"]
    path = f"{p}titration."
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"{p}titration", "must be an object")
    steps = raw.get("steps_mg_per_kg")
    if not isinstance(steps, list) or not steps:
        raise ProtocolError(f"{path}steps_mg_per_kg", "must list the steps")
    values = numbers(steps, f"{path}steps_mg_per_kg")
    if list(values) != sorted(set(values)):
        raise ProtocolError(f"{path}steps_mg_per_kg", "must rise step by step")
    if values[0] != rate:
        raise ProtocolError(f"{path}steps_mg_per_kg", f"must start at {rate_name}")
    return Titration(
        values,
        whole(raw, "after_sessions", path, minimum=1),
        text(raw, "when", path),
        text(raw, "source", path),
    )
