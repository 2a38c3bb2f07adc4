"""The CapabilityStatement (`GET /fhir/metadata`): what this server offers, built from the same
tables that drive search (`index.SEARCH`) and writes (`inbound.WRITABLE`), so it cannot drift."""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.utils import timezone

from .index import SEARCH, TypeSearch
from .search import patient_params
from .values import compact, instant

FHIR_VERSION = "4.0.1"
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
SECURITY = (
    "Every request except GET /metadata needs an API token: send `Authorization: Bearer <token>`. "
    "A token acts as the staff member it was issued to (`ketaflow token create <username>`), within "
    "their organization and with their role's permissions; a missing or revoked token gets 401, a "
    "role that may not see a type gets 403."
)
WRITE_CODES = ("create", "update")
# Exact-match parameters whose R4 type is not token (matching is the same: the whole value).
R4_TYPES = {"url": "uri", "questionnaire": "reference"}
TOKEN_DOCS = "system|code, code or |code; comma = or. Exact match."


def writable() -> dict[str, frozenset[str]]:
    """`inbound.WRITABLE` (type -> {"create", "update"}), or {} while the inbound package is absent
    (or does not define it yet)."""
    if importlib.util.find_spec("ketaflow.fhir.inbound") is None:
        return {}
    table: dict[str, frozenset[str]] = getattr(
        importlib.import_module("ketaflow.fhir.inbound"), "WRITABLE", {}
    )
    return table


def capability_statement(base_url: str) -> dict[str, Any]:
    """The server's CapabilityStatement (R4 4.0.1), with `base_url` as the implementation URL."""
    writes = writable()
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": "ketaflow's FHIR R4 API: read and search of the practice's records, "
        "writes where listed, and Bulk Data $export.",
        "security": {"description": SECURITY},
        "resource": [
            _resource(name, search, writes.get(name, frozenset())) for name, search in SEARCH.items()
        ],
        "operation": [{"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"}],
    }
    if writes:
        rest["interaction"] = [{"code": "transaction"}, {"code": "batch"}]
    return compact(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": instant(timezone.now()),
            "publisher": "ketaflow",
            "kind": "instance",
            "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
            "software": {"name": "ketaflow", "version": _software_version()},
            "implementation": {"description": "ketaflow clinical records (FHIR R4)", "url": base_url},
            "fhirVersion": FHIR_VERSION,
            "format": ["json", "application/fhir+json"],
            "rest": [rest],
        }
    )


def _resource(name: str, search: TypeSearch, writes: frozenset[str]) -> dict[str, Any]:
    interactions = ["read", "search-type", *(code for code in WRITE_CODES if code in writes)]
    entry: dict[str, Any] = {
        "type": name,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned",
        "readHistory": False,
        "searchParam": search_params(name, search),
    }
    if "update" in writes:
        entry["updateCreate"] = False
    if name in {"Patient", "Group"}:
        kind = name.lower()
        entry["operation"] = [
            {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/{kind}-export"}
        ]
    return entry


def search_params(name: str, search: TypeSearch) -> list[dict[str, str]]:
    """The search parameters of one type, as CapabilityStatement.rest.resource.searchParam."""
    params = [
        {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
        {
            "name": "_lastUpdated",
            "type": "date",
            "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
            "documentation": "Prefixes eq, ne, gt, ge, lt, le, sa, eb.",
        },
    ]
    params += [
        {
            "name": param,
            "type": "reference",
            "documentation": f"The Patient the {name} belongs to "
            "(id, Patient/id or an absolute URL on this server).",
        }
        for param in patient_params(search)
    ]
    if search.date_param:
        params.append(
            {
                "name": search.date_param,
                "type": "date",
                "documentation": "Prefixes eq, ne, gt, ge, lt, le, sa, eb; repeat for a range.",
            }
        )
    params += [
        {"name": param, "type": R4_TYPES.get(param, "token"), "documentation": TOKEN_DOCS}
        for param in search.tokens
    ]
    params += [
        {
            "name": param,
            "type": "string",
            "documentation": "Case-insensitive word prefix; :exact and :contains are not offered.",
        }
        for param in search.strings
    ]
    return params


def _software_version() -> str:
    try:
        return version("ketaflow")
    except PackageNotFoundError:
        return "unknown"
