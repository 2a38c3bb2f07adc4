"""A protocol's dose for one patient: `prescribe` picks the arithmetic for the protocol's dose kind
and returns everything a nurse checks at the chairside (dose, volume, bag and pump rate, devices or
troches), with the working as text. `titration_advice` says whether the protocol's next step is open.

The numbers all come from the protocol (`protocols.py`); this module only applies them. Raises
`DoseError` naming the field for input that cannot give a safe dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .dose_units import Devices, Troches, esketamine_devices, troches
from .dosing import (
    Dose,
    DoseError,
    DosingWeight,
    Infusion,
    Override,
    dosing_weight,
    fixed_dose,
    infusion,
    weight_based_dose,
)
from .protocols import Protocol


@dataclass(frozen=True)
class PatientMeasures:
    """What a dose depends on, measured at evaluation or on the day."""

    weight_kg: Decimal | None
    height_cm: Decimal | None
    sex: str
    age: int | None


@dataclass(frozen=True)
class Prescription:
    """One session's dose under a protocol, with every part of its working."""

    protocol_key: str
    protocol_version: str
    dose: Dose
    weight: DosingWeight | None = None
    mg_per_kg: Decimal | None = None
    infusion: Infusion | None = None
    devices: Devices | None = None
    troches: Troches | None = None
    notes: tuple[str, ...] = ()

    @property
    def arithmetic(self) -> tuple[str, ...]:
        lines = list(self.dose.arithmetic)
        for part in (self.infusion, self.devices, self.troches):
            if part is not None:
                lines.extend(part.arithmetic)
        return (*lines, *self.notes)

    @property
    def summary(self) -> str:
        mg = f"{self.dose.mg.normalize():f} mg"
        if self.infusion is not None:
            return (
                f"{mg} in {self.infusion.total_ml.normalize():f} mL over {self.infusion.duration_min} min "
                f"at {self.infusion.rate_ml_per_h.normalize():f} mL/h"
            )
        if self.devices is not None:
            return f"{mg}: {self.devices.count} device(s), {self.devices.minutes_between} min apart"
        if self.troches is not None:
            return f"{mg}: {self.troches.count} troche(s)"
        if self.dose.volume_ml is not None:
            return f"{mg} = {self.dose.volume_ml.normalize():f} mL"
        return mg


def prescribe(
    protocol: Protocol,
    patient: PatientMeasures,
    *,
    mg_per_kg: Decimal | None = None,
    mg: Decimal | None = None,
    duration_min: int | None = None,
    override: Override | None = None,
    first_dose: bool = False,
) -> Prescription:
    """The dose for one session. Weight-based protocols take `mg_per_kg` (default: the protocol's
    starting dose; it must be one of the titration steps); fixed and troche protocols take `mg`
    (default: the first or starting dose; with `first_dose`, only the protocol's first dose, the
    older-adult one where it applies). `override` lifts the cap, with its reason recorded.
    `duration_min` replaces the protocol's infusion duration, never below its minimum."""
    rule = protocol.dose
    if duration_min is not None and duration_min <= 0:
        raise DoseError("duration_min", "must be more than zero")
    key, version = protocol.key, protocol.version
    if rule.kind in ("weight_based", "weight_per_hour"):
        base = rule.mg_per_kg if rule.kind == "weight_based" else rule.mg_per_kg_per_hour
        assert base is not None
        rate = base if mg_per_kg is None else Decimal(str(mg_per_kg))
        steps = rule.titration.steps_mg_per_kg if rule.titration else (base,)
        if rate not in steps:
            allowed = ", ".join(f"{s.normalize():f}" for s in steps)
            raise DoseError(
                "mg_per_kg", f"{rate.normalize():f} is not one of this protocol's steps ({allowed})"
            )
        if patient.weight_kg is None:
            raise DoseError("weight_kg", "no weight recorded; weigh the patient first")
        weight = dosing_weight(
            patient.weight_kg,
            rule.weight_basis,
            plausible_kg=rule.plausible_weight_kg,
            height_cm=patient.height_cm,
            sex=patient.sex,
        )
        minutes = duration_min or rule.duration_min
        if minutes is not None and rule.min_duration_min is not None and minutes < rule.min_duration_min:
            raise DoseError(
                "duration_min",
                f"{minutes} min is faster than this protocol's minimum of {rule.min_duration_min} min",
            )
        hours = Decimal(minutes) / 60 if rule.kind == "weight_per_hour" and minutes else None
        dose = weight_based_dose(
            rate,
            weight,
            cap_mg=rule.cap_mg,
            concentration_mg_per_ml=rule.concentration_mg_per_ml,
            increment_ml=rule.increment_ml,
            override=override,
            hours=hours,
        )
        notes: tuple[str, ...] = ()
        if rule.min_mg is not None and dose.mg < rule.min_mg:
            notes = (
                f"below the protocol's usual minimum of {rule.min_mg.normalize():f} mg: "
                "consider the next step",
            )
        bag = None
        if rule.bag_ml is not None and minutes is not None:
            bag = infusion(
                dose,
                bag_ml=rule.bag_ml,
                duration_min=minutes,
                min_duration_min=rule.min_duration_min or minutes,
            )
        return Prescription(key, version, dose, weight=weight, mg_per_kg=rate, infusion=bag, notes=notes)
    if rule.kind == "fixed":
        options, first = _fixed_options(protocol, patient)
        chosen = Decimal(str(mg)) if mg is not None else Decimal(first)
        if override is None and chosen not in {Decimal(o) for o in options}:
            raise DoseError(
                "mg", f"{chosen.normalize():f} mg is not one of {', '.join(map(str, options))} mg"
            )
        if override is None and first_dose and chosen != first:
            raise DoseError("mg", f"the first dose under this protocol is {first} mg")
        dose = fixed_dose(chosen, cap_mg=rule.cap_mg, override=override)
        assert rule.device_mg is not None and rule.minutes_between_devices is not None
        devices = esketamine_devices(
            dose.mg,
            device_mg=rule.device_mg,
            minutes_between=rule.minutes_between_devices,
            allowed_mg=(*options, int(dose.mg)) if override else options,
        )
        note: tuple[str, ...] = ()
        if first_dose and options != rule.allowed_mg:
            note = (f"first dose at age {patient.age}: the older-adult start of {first} mg applies",)
        return Prescription(key, version, dose, devices=devices, notes=note)
    assert rule.start_mg is not None and rule.step_mg is not None and rule.max_mg is not None
    chosen = rule.start_mg if mg is None else Decimal(str(mg))
    if override is None and (
        (chosen - rule.start_mg) % rule.step_mg or chosen < rule.start_mg or chosen > rule.max_mg
    ):
        raise DoseError(
            "mg",
            f"{chosen.normalize():f} mg is not a step from {rule.start_mg.normalize():f} "
            f"to {rule.max_mg.normalize():f} mg in {rule.step_mg.normalize():f} mg steps",
        )
    dose = fixed_dose(chosen, cap_mg=rule.cap_mg, override=override)
    return Prescription(key, version, dose, troches=troches(dose.mg, rule.strengths_mg))


def _fixed_options(protocol: Protocol, patient: PatientMeasures) -> tuple[tuple[int, ...], int]:
    rule = protocol.dose
    assert rule.first_dose_mg is not None
    older = (
        rule.older_adult_age is not None
        and patient.age is not None
        and patient.age >= rule.older_adult_age
        and rule.older_adult_first_dose_mg is not None
    )
    if older:
        assert rule.older_adult_first_dose_mg is not None
        return rule.older_adult_allowed_mg, rule.older_adult_first_dose_mg
    return rule.allowed_mg, rule.first_dose_mg


@dataclass(frozen=True)
class TitrationAdvice:
    next_mg_per_kg: Decimal | None
    reason: str
    source: str


def titration_advice(
    protocol: Protocol,
    *,
    current_mg_per_kg: Decimal,
    sessions_at_dose: int,
    tolerated: bool,
    responding: bool | None,
) -> TitrationAdvice:
    """Whether the protocol's next titration step is open: after `after_sessions` at this dose,
    tolerated, and measured as not responding (`responding` False; None, not measured, keeps the
    dose). The prescriber decides; this only says what the protocol allows."""
    titration = protocol.dose.titration
    if titration is None:
        return TitrationAdvice(None, "this protocol has no titration steps", protocol.source)
    higher = [s for s in titration.steps_mg_per_kg if s > current_mg_per_kg]
    if not higher:
        return TitrationAdvice(None, "already at the protocol's highest step", titration.source)
    if sessions_at_dose < titration.after_sessions:
        return TitrationAdvice(
            None,
            f"{sessions_at_dose} of {titration.after_sessions} session(s) at this dose before a step up",
            titration.source,
        )
    if not tolerated:
        return TitrationAdvice(None, "the last session was not tolerated: no step up", titration.source)
    if responding is None:
        return TitrationAdvice(
            None, "no response measured at this dose yet: measure before a step up", titration.source
        )
    if responding:
        return TitrationAdvice(None, "responding at this dose: no step up", titration.source)
    return TitrationAdvice(higher[0], f"step up open: {titration.when}", titration.source)
