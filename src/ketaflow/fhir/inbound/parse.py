"""Reading an incoming resource: whole-resource validation against the FHIR R4 model, then the
plain values the mappers need (dates, times, codes), each refusal naming its element.

Validation uses fhir.resources' R4B models (R4-compatible for these types) once per resource at the
boundary; the mappers then read the plain dict, never the Pydantic objects.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ketaflow.fhir.outcome import FhirError, Issue, fhir_path

from .refusals import malformed

_ONE_OF = re.compile(r"from this list (\[[^\]]*\])")
_NAME = re.compile(r"'(\w+)'")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resource_type_of(body: Any, path: str = "") -> str:
    """The `resourceType` of a JSON object, or 400."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhirError.one(
            400,
            "structure",
            "Send a FHIR resource: a JSON object with a resourceType.",
            *([path] if path else []),
        )
    return str(body["resourceType"])


def validate(body: dict[str, Any], resource_type: str | None = None) -> None:
    """Check `body` against the R4 model of its type; 400 listing every problem with its path."""
    kind = resource_type_of(body)
    if resource_type is not None and kind != resource_type:
        raise FhirError.one(
            400, "invalid", f"Expected a {resource_type}, got a {kind}.", f"{resource_type}.resourceType"
        )
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError) as exc:
        raise FhirError.one(400, "not-supported", f"{kind} is not a FHIR R4 resource type.") from exc
    try:
        model.model_validate(body)
    except ValidationError as error:
        raise FhirError(400, list(_issues(kind, error))) from error


def _issues(kind: str, error: ValidationError) -> Iterator[Issue]:
    for found in error.errors():
        path = fhir_path(kind, found["loc"])
        choice = _ONE_OF.search(found["msg"])
        if choice:  # a choice element given twice (valueQuantity and valueString)
            path = f"{path}.{_stem(_NAME.findall(choice[1]))}[x]"
        code = "required" if found["type"].endswith("missing") else "structure"
        yield Issue(code, found["msg"].removeprefix("Value error, "), expression=(path,))


def _stem(names: list[str]) -> str:
    """The name of a choice element from its typed names: valueBoolean, valueQuantity... -> value."""
    stem = names[0] if names else ""
    for name in names[1:]:
        while not name.startswith(stem):
            stem = stem[:-1]
    return stem


def fhir_date(text: str, path: str) -> dt.date:
    """A full FHIR date (YYYY-MM-DD); a year or year-month alone is refused (400)."""
    if not _DATE.match(text or ""):
        raise malformed("Give a full date (YYYY-MM-DD).", path)
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise malformed("This is not a calendar date.", path) from exc


def fhir_moment(text: str, path: str, zone: str) -> dt.datetime:
    """A FHIR dateTime or instant as an aware datetime. A date alone means midnight in `zone` (the
    patient's home clinic); a time without an offset, a year or a year-month is refused (400)."""
    if _DATE.match(text or ""):
        return dt.datetime.combine(fhir_date(text, path), dt.time(), tzinfo=ZoneInfo(zone))
    try:
        moment = dt.datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError as exc:
        raise malformed("Give a date, or a date and time with its offset.", path) from exc
    if moment.tzinfo is None:
        raise malformed("Give the time with its offset (e.g. +00:00).", path)
    return moment


def codes(concept: Any, system: str) -> list[str]:
    """The codes of `system` in a CodeableConcept (none for anything else)."""
    if not isinstance(concept, dict):
        return []
    return [str(c["code"]) for c in concept.get("coding", []) if c.get("system") == system and c.get("code")]


def first_text(concept: Any) -> str:
    """A CodeableConcept's text, else its first coding's display."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    return next((str(c["display"]) for c in concept.get("coding", []) if c.get("display")), "")


def notes(body: dict[str, Any]) -> str:
    """The resource's Annotation texts, joined."""
    return "; ".join(str(n["text"]).strip() for n in body.get("note", []) if n.get("text"))
