"""What each resource type can be searched by, and the search values taken from a stored body.

One table (`SEARCH`) drives three things: the columns and tokens the projection stores, the search
parameters the REST API accepts, and the CapabilityStatement. Parameter names are the FHIR R4 ones
(Condition's date is `onset-date`, MedicationRequest's is `authoredon`); `_id`, `_lastUpdated`,
`patient` and `subject` (where the type has a patient) are common to all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TypeSearch:
    """The search parameters of one resource type, each with the body paths its values come from."""

    patient: tuple[str, ...] = ()  # paths to a Reference to the Patient ("self" for Patient itself)
    date_param: str = ""  # the FHIR name of the type's date parameter
    date: tuple[str, ...] = ()  # paths to a date, dateTime, instant or Period
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)  # exact-match token parameters
    strings: dict[str, tuple[str, ...]] = field(default_factory=dict)  # prefix-match string parameters


SEARCH: dict[str, TypeSearch] = {
    "Patient": TypeSearch(
        patient=("self",),
        date_param="birthdate",
        date=("birthDate",),
        tokens={"identifier": ("identifier",), "gender": ("gender",), "active": ("active",)},
        strings={"name": ("name.family", "name.given"), "family": ("name.family",), "given": ("name.given",)},
    ),
    "Practitioner": TypeSearch(
        tokens={"identifier": ("identifier",), "active": ("active",)},
        strings={"name": ("name.family", "name.given")},
    ),
    "Organization": TypeSearch(tokens={"identifier": ("identifier",)}, strings={"name": ("name",)}),
    "Location": TypeSearch(tokens={"status": ("status",)}, strings={"name": ("name",)}),
    "Group": TypeSearch(tokens={"type": ("type",)}, strings={"name": ("name",)}),
    "Questionnaire": TypeSearch(
        date_param="date",
        date=("date",),
        tokens={"code": ("code",), "status": ("status",), "url": ("url",), "version": ("version",)},
        strings={"name": ("name",), "title": ("title",)},
    ),
    "QuestionnaireResponse": TypeSearch(
        patient=("subject",),
        date_param="authored",
        date=("authored",),
        tokens={"status": ("status",), "questionnaire": ("questionnaire",)},
    ),
    "Observation": TypeSearch(
        patient=("subject",),
        date_param="date",
        date=("effectiveDateTime", "effectivePeriod"),
        tokens={"code": ("code",), "category": ("category",), "status": ("status",)},
    ),
    "Condition": TypeSearch(
        patient=("subject",),
        date_param="onset-date",
        date=("onsetDateTime",),
        tokens={"code": ("code",), "category": ("category",), "clinical-status": ("clinicalStatus",)},
    ),
    "MedicationRequest": TypeSearch(
        patient=("subject",),
        date_param="authoredon",
        date=("authoredOn",),
        tokens={"code": ("medicationCodeableConcept",), "status": ("status",), "intent": ("intent",)},
    ),
    "MedicationAdministration": TypeSearch(
        patient=("subject",),
        date_param="effective-time",
        date=("effectiveDateTime", "effectivePeriod"),
        tokens={"code": ("medicationCodeableConcept",), "status": ("status",)},
    ),
    "MedicationStatement": TypeSearch(
        patient=("subject",),
        date_param="effective",
        date=("effectiveDateTime", "effectivePeriod"),
        tokens={"code": ("medicationCodeableConcept",), "status": ("status",)},
    ),
    "Encounter": TypeSearch(
        patient=("subject",),
        date_param="date",
        date=("period",),
        tokens={"status": ("status",), "class": ("class",), "type": ("type",)},
    ),
    "Appointment": TypeSearch(
        patient=("participant.actor",),
        date_param="date",
        date=("start",),
        tokens={"status": ("status",), "service-type": ("serviceType",)},
    ),
    "CarePlan": TypeSearch(
        patient=("subject",),
        date_param="date",
        date=("period",),
        tokens={"status": ("status",), "category": ("category",), "intent": ("intent",)},
    ),
    "Consent": TypeSearch(
        patient=("patient",),
        date_param="date",
        date=("dateTime",),
        tokens={"status": ("status",), "category": ("category",), "scope": ("scope",)},
    ),
}


@dataclass(frozen=True)
class Indexed:
    """The search values of one resource, as the projection stores them."""

    patient_ref: str
    date_start: dt.datetime | None
    date_end: dt.datetime | None
    tokens: tuple[tuple[str, str, str], ...]  # (param, system, code)


def index(body: dict[str, Any]) -> Indexed:
    """The search values of `body` under its type's entry in SEARCH (none for an unknown type)."""
    search = SEARCH.get(body["resourceType"], TypeSearch())
    patient = ""
    for path in search.patient:
        if path == "self":
            patient = str(body.get("id", ""))
            break
        patient = next((ident for ident in _patient_ids(values_at(body, path))), "")
        if patient:
            break
    start = end = None
    for path in search.date:
        found = next(iter(values_at(body, path)), None)
        if found is not None:
            start, end = _range_of(found)
            break
    tokens: list[tuple[str, str, str]] = []
    for param, paths in search.tokens.items():
        for path in paths:
            tokens.extend((param, system, code) for system, code in _token_values(values_at(body, path)))
    for param, paths in search.strings.items():
        for path in paths:
            for value in values_at(body, path):
                if isinstance(value, str):
                    tokens.extend((param, "", word) for word in words(value))
    unique = tuple(dict.fromkeys((p, s[:200], c[:200]) for p, s, c in tokens if c))
    return Indexed(patient, start, end, unique)


def values_at(body: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, lists flattened (FHIRPath-like, without functions)."""
    current = [body]
    for step in path.split("."):
        following: list[Any] = []
        for item in current:
            if isinstance(item, dict) and step in item:
                value = item[step]
                following.extend(value if isinstance(value, list) else [value])
        current = following
    yield from current


def words(text: str) -> list[str]:
    """Lower-cased words of a name, accents kept, for prefix search ("Mary-Ann" gives mary-ann, mary, ann)."""
    lowered = text.strip().lower()
    parts = [p for p in re.split(r"[\s\-']+", lowered) if p]
    return list(dict.fromkeys([*lowered.split(), *parts]))


def _patient_ids(values: Iterator[Any]) -> Iterator[str]:
    for value in values:
        reference = value.get("reference", "") if isinstance(value, dict) else ""
        if reference.startswith("Patient/"):
            yield reference.removeprefix("Patient/")


def _token_values(values: Iterator[Any]) -> Iterator[tuple[str, str]]:
    for value in values:
        if isinstance(value, bool):
            yield "", "true" if value else "false"
        elif isinstance(value, str):
            yield "", value
        elif isinstance(value, dict):
            if "coding" in value:
                yield from _token_values(iter(value["coding"]))
            elif "code" in value:
                yield str(value.get("system", "")), str(value["code"])
            elif "value" in value:  # Identifier
                yield str(value.get("system", "")), str(value["value"])


_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC range [start, end) a FHIR date, dateTime or instant covers at its precision.

    `2024` covers the year, `2024-05` the month, `2024-05-06` the day (UTC), and a dateTime its second.
    Raises ValueError for anything else, so callers can name the bad parameter.
    """
    match = _PARTIAL.match(text)
    if match:
        year, month, day = int(match[1]), int(match[2] or 1), int(match[3] or 1)
        start = dt.datetime(year, month, day, tzinfo=dt.UTC)
        if match[3]:
            return start, start + dt.timedelta(days=1)
        if match[2]:
            return start, _add_months(start, 1)
        return start, start.replace(year=year + 1)
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    if moment.microsecond:
        return moment, moment + dt.timedelta(microseconds=1)
    return moment, moment + dt.timedelta(seconds=1)


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)


def _range_of(value: Any) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The stored [start, end] of a date, dateTime or Period (end inclusive of its precision)."""
    if isinstance(value, str):
        first, after = date_range(value)
        return first, after - dt.timedelta(microseconds=1)
    if isinstance(value, dict):
        start = date_range(value["start"])[0] if value.get("start") else None
        end = date_range(value["end"])[1] - dt.timedelta(microseconds=1) if value.get("end") else None
        return start, end
    return None, None
