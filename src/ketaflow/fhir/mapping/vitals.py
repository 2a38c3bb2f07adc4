"""FHIR mapper for vital signs: one Observation per reading in a `patients.VitalSigns` set.

Each follows, and declares in `meta.profile`, the FHIR vital-signs profile (category
`vital-signs`, LOINC code, UCUM quantity, subject, effective time); ids are `<set id>-<key>`.
Blood pressure is the panel 85354-9 with systolic and diastolic components and no value of its
own; oxygen saturation carries both 2708-6 (which the profile requires) and 59408-5 (pulse
oximetry). Codes and units come from
`ketaflow.clinical.vitals` (clinical reference §7). Only the readings present are emitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ketaflow.clinical.vitals import BMI_LOINC, BP_PANEL_LOINC, VITAL_SPECS
from ketaflow.patients.models import VitalSigns

from ..projection import projects
from ..values import LOINC, OBSERVATION_CATEGORY, coding, compact, concept, instant, quantity, ref

VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
VITAL_SIGNS = concept(coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs"))
OXYGEN_SATURATION_ARTERIAL = "2708-6"
BMI_UNIT = "kg/m2"

# key, VitalSigns field, display of its LOINC code (the displays the vital-signs profile uses).
SINGLE_READINGS: tuple[tuple[str, str, str], ...] = (
    ("heart-rate", "heart_rate", "Heart rate"),
    ("respiratory-rate", "respiratory_rate", "Respiratory rate"),
    ("temperature", "temperature_c", "Body temperature"),
    ("weight", "weight_kg", "Body weight"),
    ("height", "height_cm", "Body height"),
)


def _quantity(field: str, value: Decimal | int) -> dict[str, Any]:
    spec = VITAL_SPECS[field]
    return quantity(value, spec.unit, spec.ucum)


def _loinc(field: str, display: str) -> dict[str, str]:
    return coding(LOINC, VITAL_SPECS[field].loinc, display)


@projects(VitalSigns, select_related=("recorded_by__staff",))
def vital_signs(row: VitalSigns) -> list[dict[str, Any]]:
    """The Observations of one set of readings."""
    staff = getattr(row.recorded_by, "staff", None) if row.recorded_by_id else None
    common = {
        "meta": {"profile": [VITAL_SIGNS_PROFILE]},
        "status": "final",
        "category": [VITAL_SIGNS],
        "subject": ref("Patient", row.patient_id),
        "effectiveDateTime": instant(row.measured_at),
        "performer": [ref("Practitioner", staff.pk)] if staff is not None else [],
    }
    return [
        compact({"resourceType": "Observation", "id": f"{row.pk}-{key}", **common, "code": code, **value})
        for key, code, value in _readings(row)
    ]


def _readings(row: VitalSigns) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(key, code, value elements) of each reading present."""
    if row.systolic_bp is not None or row.diastolic_bp is not None:
        pressures = (("systolic_bp", row.systolic_bp), ("diastolic_bp", row.diastolic_bp))
        components = [
            {
                "code": concept(_loinc(field, VITAL_SPECS[field].label), text=VITAL_SPECS[field].label),
                "valueQuantity": _quantity(field, value),
            }
            for field, value in pressures
            if value is not None
        ]
        panel = coding(LOINC, BP_PANEL_LOINC, "Blood pressure panel with all children optional")
        yield "bp", concept(panel, text="Blood pressure"), {"component": components}
    if row.oxygen_saturation is not None:
        arterial = coding(LOINC, OXYGEN_SATURATION_ARTERIAL, "Oxygen saturation in Arterial blood")
        oximetry = _loinc("oxygen_saturation", "Oxygen saturation in Arterial blood by Pulse oximetry")
        code = concept(arterial, oximetry, text=VITAL_SPECS["oxygen_saturation"].label)
        yield (
            "oxygen-saturation",
            code,
            {"valueQuantity": _quantity("oxygen_saturation", row.oxygen_saturation)},
        )
    for key, field, display in SINGLE_READINGS:
        value = getattr(row, field)
        if value is not None:
            code = concept(_loinc(field, display), text=VITAL_SPECS[field].label)
            yield key, code, {"valueQuantity": _quantity(field, value)}
    if row.bmi is not None:
        code = concept(coding(LOINC, BMI_LOINC, "Body mass index (BMI) [Ratio]"), text="Body mass index")
        yield "bmi", code, {"valueQuantity": quantity(row.bmi, BMI_UNIT)}
