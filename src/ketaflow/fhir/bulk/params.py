"""The kick-off request's parameters, from a GET query or a POSTed Parameters resource.

Supported: `_outputFormat` (NDJSON only), `_type` (comma lists, repeatable) and `_since` (a FHIR
instant). Any other parameter is refused with a 400 naming it rather than ignored, so an export
never holds more than the client asked for (e.g. an unsupported `_typeFilter`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from ..http import json_body
from ..outcome import FhirError

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
ACCEPTED = frozenset({"_outputFormat", "_type", "_since"})
IGNORED = frozenset({"_format"})  # reply-format negotiation, checked by fhir_view
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class KickOffParameters:
    types: list[str]
    since: dt.datetime | None
    names: list[str]  # the parameter names given, for the audit trail


def from_request(request: HttpRequest) -> KickOffParameters:
    """The parameters of a GET (query string) or POST (Parameters resource) kick-off."""
    if request.method == "POST":
        return parse(from_parameters_resource(json_body(request)))
    return parse({name: request.GET.getlist(name) for name in request.GET})


def from_parameters_resource(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError.one(400, "invalid", "POST a Parameters resource to start an export.")
    values: dict[str, list[str]] = {}
    for index, parameter in enumerate(body.get("parameter") or []):
        name = parameter.get("name", "") if isinstance(parameter, dict) else ""
        value = next((v for k, v in parameter.items() if k.startswith("value")), None) if name else None
        if not isinstance(value, str):
            raise FhirError.one(
                400,
                "invalid",
                f"Parameter {name or index} needs a string or instant value.",
                f"Parameters.parameter[{index}]",
            )
        values.setdefault(name, []).append(value)
    return values


def parse(values: dict[str, list[str]]) -> KickOffParameters:
    """Check and convert the raw parameter values (400 naming the parameter at fault)."""
    for name in values:
        if name not in ACCEPTED | IGNORED:
            raise FhirError.one(
                400, "not-supported", f"The parameter {name} is not supported by this server."
            )
    for output_format in values.get("_outputFormat", []):
        if output_format.strip().replace(" ", "+") not in OUTPUT_FORMATS:
            raise FhirError.one(
                400,
                "not-supported",
                f"_outputFormat {output_format} is not supported: use application/fhir+ndjson.",
            )
    since_values = values.get("_since", [])
    if len(since_values) > 1:
        raise FhirError.one(400, "invalid", "Give _since once.")
    types = [name.strip() for value in values.get("_type", []) for name in value.split(",") if name.strip()]
    since = parse_instant(since_values[0]) if since_values else None
    return KickOffParameters(types, since, sorted(name for name in values if name in ACCEPTED))


def parse_instant(text: str) -> dt.datetime:
    """A FHIR instant (seconds and a time zone required); a `+` decoded to a space is put back."""
    cleaned = text.strip().replace(" ", "+")
    if not _INSTANT.match(cleaned):
        raise FhirError.one(
            400, "invalid", f"_since {text} is not a FHIR instant such as 2024-05-06T10:00:00Z."
        )
    try:
        return dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as error:
        raise FhirError.one(400, "invalid", f"_since {text} is not a valid instant.") from error
