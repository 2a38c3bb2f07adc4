"""Transaction and batch Bundles (POST /fhir/): many writes in one request.

A transaction is all or nothing in one database transaction: Patients are written first, so other
entries may refer to them by fullUrl (`urn:uuid:...`) or by their id in the Bundle; any failure
answers one OperationOutcome naming `Bundle.entry[i].resource.<element>` and nothing is written. A
batch writes each entry on its own (each all or nothing, as the services are) and answers every
entry: its status and location, or its OperationOutcome. Entries are POST (create) or PUT (update).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.outcome import FhirError, operation_outcome
from ketaflow.fhir.values import instant

from .context import Context
from .parse import resource_type_of, validate
from .refusals import within
from .writes import write_existing, write_new


@dataclass(frozen=True)
class Entry:
    index: int
    method: str  # POST or PUT
    resource_type: str
    resource_id: str  # PUT only
    body: dict[str, Any]
    full_url: str

    @property
    def at(self) -> str:
        return f"Bundle.entry[{self.index}].resource"


def process(actor: Actor, bundle: Any) -> dict[str, Any]:
    """Carry out a transaction or batch Bundle; the response Bundle (transaction-response or
    batch-response), or FhirError for a malformed Bundle or a failed transaction."""
    if resource_type_of(bundle) != "Bundle":
        raise FhirError.one(400, "invalid", "POST a Bundle of type transaction or batch here.", "Bundle")
    raw = bundle.get("entry", [])
    shell = [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e for e in raw]
    validate({**bundle, "entry": shell})  # the entries' resources are validated one by one
    ctx = Context(actor)
    if bundle.get("type") == "transaction":
        return _transaction(ctx, [entry_of(i, e) for i, e in enumerate(raw)])
    if bundle.get("type") == "batch":
        return _batch(ctx, raw)
    raise FhirError.one(400, "invalid", "Only transaction and batch Bundles can be processed.", "Bundle.type")


def entry_of(index: int, raw: dict[str, Any]) -> Entry:
    """One entry's request, checked: POST <Type> or PUT <Type>/<id>, matching its resource."""
    at = f"Bundle.entry[{index}]"
    request = raw.get("request") or {}
    method, url = request.get("method"), str(request.get("url") or "").split("?")[0].strip("/")
    if method not in ("POST", "PUT"):
        raise FhirError.one(
            400, "not-supported", "Entries may only create (POST) or update (PUT).", f"{at}.request.method"
        )
    for conditional in ("ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"):
        if request.get(conditional):
            raise FhirError.one(
                400, "not-supported", "Conditional requests are not supported.", f"{at}.request.{conditional}"
            )
    kind = resource_type_of(raw.get("resource"), f"{at}.resource")
    wanted, _, resource_id = url.partition("/")
    if wanted != kind or (method == "PUT") != bool(resource_id) or "/" in resource_id:
        form = f"{kind}/<id>" if method == "PUT" else kind
        raise FhirError.one(400, "invalid", f"A {method} of a {kind} goes to {form}.", f"{at}.request.url")
    return Entry(index, method, kind, resource_id, raw["resource"], str(raw.get("fullUrl") or ""))


def apply(ctx: Context, entry: Entry) -> tuple[StoredResource, int]:
    """Write one entry; the stored resource and the HTTP status (201 created, 200 updated)."""
    if entry.method == "POST":
        stored, status = write_new(ctx, entry.body), 201
    else:
        stored, status = write_existing(ctx, entry.resource_type, entry.resource_id, entry.body), 200
    if entry.resource_type == "Patient":
        bundle_id = f"Patient/{entry.body['id']}" if entry.body.get("id") else ""
        ctx.references.remember(stored.resource_id, entry.full_url, bundle_id)
    return stored, status


def _transaction(ctx: Context, entries: list[Entry]) -> dict[str, Any]:
    done: dict[int, tuple[StoredResource, int]] = {}
    ctx.shared = True
    with transaction.atomic():
        for entry in sorted(entries, key=lambda e: e.resource_type != "Patient"):
            try:
                done[entry.index] = apply(ctx, entry)
            except FhirError as error:
                raise within(error, entry.at) from error
    return _reply("transaction-response", [_success(*done[e.index]) for e in entries])


def _batch(ctx: Context, raw: list[Any]) -> dict[str, Any]:
    answers = []
    for index, found in enumerate(raw):
        try:
            answers.append(_success(*apply(ctx, entry_of(index, found))))
        except FhirError as error:
            answers.append(_failure(within(error, f"Bundle.entry[{index}].resource")))
    return _reply("batch-response", answers)


def _success(stored: StoredResource, status: int) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{status} {HTTPStatus(status).phrase}",
            "location": f"{stored.resource_type}/{stored.resource_id}/_history/{stored.version_id}",
            "etag": f'W/"{stored.version_id}"',
            "lastModified": instant(stored.last_updated),
        }
    }


def _failure(error: FhirError) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{error.status} {HTTPStatus(error.status).phrase}",
            "outcome": operation_outcome(error.issues),
        }
    }


def _reply(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
