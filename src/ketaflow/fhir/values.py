"""FHIR value builders shared by the mappers: code systems, references, codings, quantities, times.

Plain dicts only: the projection stores JSON text, and fhir.resources validates it in the tests.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = "http://loinc.org"
# ketaflow's own code systems and canonical URLs (stable names, not resolvable addresses).
KETAFLOW = "https://ketaflow.org/fhir"
QUESTIONNAIRE_BASE = f"{KETAFLOW}/Questionnaire"


def mrn_system(organization_slug: str) -> str:
    """The identifier system of an organization's medical record numbers."""
    return f"{KETAFLOW}/sid/mrn/{organization_slug}"


def questionnaire_url(instrument_id: str) -> str:
    """The canonical URL of a ketaflow instrument's Questionnaire."""
    return f"{QUESTIONNAIRE_BASE}/{instrument_id}"


def ref(resource_type: str, resource_id: object, display: str = "") -> dict[str, str]:
    """A literal reference `{"reference": "Type/id"}`, with a display when given."""
    out = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def coding(system: str, code: str, display: str = "") -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(*codings: dict[str, str], text: str = "") -> dict[str, Any]:
    """A CodeableConcept from the codings given (empty ones dropped), with optional text."""
    out: dict[str, Any] = {}
    kept = [c for c in codings if c.get("code")]
    if kept:
        out["coding"] = kept
    if text:
        out["text"] = text
    return out


def quantity(value: Decimal | float | int, unit: str, code: str | None = None) -> dict[str, Any]:
    """A UCUM Quantity; `code` defaults to `unit`."""
    return {"value": number(value), "unit": unit, "system": UCUM, "code": code or unit}


def number(value: Decimal | float | int) -> float | int:
    """A JSON number: integers stay integers, decimals become floats."""
    if isinstance(value, int):
        return value
    as_float = float(value)
    return int(as_float) if as_float.is_integer() and not isinstance(value, float) else as_float


def instant(moment: dt.datetime) -> str:
    """A FHIR instant/dateTime in UTC with seconds, e.g. 2026-11-21T14:05:00+00:00."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def date(day: dt.date) -> str:
    return day.isoformat()


def period(start: dt.datetime | None, end: dt.datetime | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    if start is not None:
        out["start"] = instant(start)
    if end is not None:
        out["end"] = instant(end)
    return out


def compact(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose values are empty (None, "", [], {}): FHIR forbids empty elements."""
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = compact(value)
        elif isinstance(value, list):
            value = [compact(v) if isinstance(v, dict) else v for v in value]
            value = [v for v in value if v not in (None, "", {}, [])]
        if value not in (None, "", {}, []):
            out[key] = value
    return out
