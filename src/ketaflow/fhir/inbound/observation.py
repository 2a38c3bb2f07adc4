"""Observation in: one vital-sign reading (or a blood-pressure panel) becomes one `VitalSigns` set
holding that reading, written by `patients.vital_signs.record_vitals`, so plausibility checks,
BMI derivation and audit apply as in the app.

Survey and score Observations are refused: ketaflow derives them from QuestionnaireResponses,
which is the resource to send. Observations carrying nothing ketaflow records (a BMI, a panel of
references, head circumference, a cancelled reading) are refused as `NotStored` (an import reports
them as skipped with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ketaflow.fhir import values
from ketaflow.fhir.models import StoredResource
from ketaflow.measurement.library import instruments_for
from ketaflow.patients.models import Patient, VitalSigns
from ketaflow.patients.vital_signs import record_vitals

from .context import Context
from .parse import codes, fhir_moment
from .refusals import NotStored, invalid, malformed, translated
from .units import BLOOD_PRESSURE, COMPONENTS, NOT_STORED, SINGLE, accepted_units, converted

RECORDED = ("final", "amended", "corrected", "preliminary")
NOTHING_MEASURED = ("registered", "cancelled", "entered-in-error", "unknown")
SCORES = "Survey answers and scores are derived from QuestionnaireResponses: send the QuestionnaireResponse."


@dataclass
class Vital:
    """One reading (or a pressure pair) read from an Observation, with the element of each value."""

    patient: Patient
    key: str
    measured_at: datetime
    readings: dict[str, Decimal] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def create(ctx: Context, body: dict[str, Any]) -> StoredResource:
    vital = read(ctx, body)
    with translated(vital.paths, "Observation"):
        row = record_vitals(
            ctx.actor,
            vital.patient.pk,
            vital.readings,
            measured_at=vital.measured_at,
            context=VitalSigns.Context.OTHER,
        )
    return ctx.stored("Observation", f"{row.pk}-{vital.key}")


def read(ctx: Context, body: dict[str, Any]) -> Vital:
    _check_status(body)
    _refuse_scores(ctx, body)
    loinc = codes(body.get("code"), values.LOINC)
    key = "bp" if BLOOD_PRESSURE in loinc else next((SINGLE[c].key for c in loinc if c in SINGLE), None)
    if key is None:
        reason = next((NOT_STORED[c] for c in loinc if c in NOT_STORED), None)
        raise NotStored.because(
            reason
            or "ketaflow records blood pressure (85354-9), heart rate, respiratory "
            "rate, oxygen saturation, temperature, weight and height; this code is none "
            "of them.",
            "Observation.code",
        )
    patient = ctx.references.patient(body.get("subject"), "Observation.subject")
    vital = Vital(patient, key, _effective(body, patient), paths={"measured_at": "Observation.effective[x]"})
    if key == "bp":
        _pressures(body, vital)
    else:
        reading = next(SINGLE[c] for c in loinc if c in SINGLE)
        _value(body, "Observation", reading.field, vital)
    if not vital.readings:
        raise NotStored.because("This Observation holds no value (dataAbsentReason).", "Observation.value[x]")
    return vital


def _check_status(body: dict[str, Any]) -> None:
    status = body.get("status")
    if status in NOTHING_MEASURED:
        raise NotStored.because(
            f"An Observation with status {status} records no reading.", "Observation.status"
        )
    if status not in RECORDED:
        raise malformed(f"{status} is not an Observation status.", "Observation.status")


def _refuse_scores(ctx: Context, body: dict[str, Any]) -> None:
    categories = codes(
        {"coding": [c for cat in body.get("category", []) for c in cat.get("coding", [])]},
        values.OBSERVATION_CATEGORY,
    )
    if "survey" in categories:
        raise NotStored.because(SCORES, "Observation.category")
    loinc = set(codes(body.get("code"), values.LOINC))
    for instrument in instruments_for(ctx.actor.organization_id).values():
        known = {
            instrument.loinc_panel,
            instrument.loinc_total,
            *instrument.loinc_subscores.values(),
            *(item.loinc for item in instrument.items),
        }
        if loinc & known:
            raise NotStored.because(SCORES, "Observation.code")


def _effective(body: dict[str, Any], patient: Patient) -> datetime:
    zone = patient.home_clinic.timezone
    for name in ("effectiveDateTime", "effectiveInstant"):
        if body.get(name):
            return fhir_moment(body[name], f"Observation.{name}", zone)
    start = (body.get("effectivePeriod") or {}).get("start")
    if start:
        return fhir_moment(start, "Observation.effectivePeriod.start", zone)
    raise invalid(
        "Give the time of the reading (effectiveDateTime).", "Observation.effective[x]", code="required"
    )


def _pressures(body: dict[str, Any], vital: Vital) -> None:
    for j, component in enumerate(body.get("component", [])):
        found = next(
            (COMPONENTS[c] for c in codes(component.get("code"), values.LOINC) if c in COMPONENTS), None
        )
        if found is not None:
            _value(component, f"Observation.component[{j}]", found, vital)
    for name in COMPONENTS.values():
        vital.paths.setdefault(name, "Observation.component")


def _value(element: dict[str, Any], at: str, name: str, vital: Vital) -> None:
    """Put the element's valueQuantity, converted, into `vital.readings[name]`; nothing when the value
    is absent with a dataAbsentReason (the domain then names what is missing)."""
    path = f"{at}.valueQuantity"
    vital.paths[name] = f"{path}.value"
    quantity = element.get("valueQuantity")
    if quantity is None:
        if element.get("dataAbsentReason"):
            return
        raise invalid("Give the reading as a valueQuantity.", f"{at}.value[x]", code="required")
    if quantity.get("comparator"):
        raise invalid("Give an exact value, without a comparator.", f"{path}.comparator")
    if quantity.get("value") is None:
        raise invalid("Give the value of the reading.", f"{path}.value", code="required")
    if quantity.get("system", values.UCUM) != values.UCUM:
        raise invalid(f"Give the unit as a UCUM code ({values.UCUM}).", f"{path}.system")
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    value = converted(name, Decimal(str(quantity["value"])), unit)
    if value is None:
        raise invalid(
            f"ketaflow takes this reading in {accepted_units(name)}; {unit or 'no unit'} was given.",
            f"{path}.code",
        )
    vital.readings[name] = value
