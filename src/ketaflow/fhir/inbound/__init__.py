"""FHIR writes: create, update and transaction/batch Bundles, mapped onto ketaflow's domain services.

Every write is validated whole against the FHIR R4 model (400 with element paths), then mapped to
ketaflow's fields and carried out by the same services the app uses (422 naming the FHIR element for
a domain refusal), so validation, scoring, safety alerts and the audit trail apply exactly as in the
app. Each returns the `StoredResource` the projection wrote for the primary resource.
"""

from __future__ import annotations

from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.fhir.models import StoredResource

from .bundle import process
from .context import Context
from .writes import WRITABLE, write_existing, write_new

__all__ = ["WRITABLE", "create", "process_bundle", "update"]


def create(actor: Actor, body: dict[str, Any]) -> StoredResource:
    """Create one resource (POST /fhir/<Type>); raises FhirError (400, 403, 404, 405, 409, 422)."""
    return write_new(Context(actor), body)


def update(actor: Actor, resource_type: str, resource_id: str, body: dict[str, Any]) -> StoredResource:
    """Update one existing resource (PUT /fhir/<Type>/<id>); 404 when it does not exist."""
    return write_existing(Context(actor), resource_type, resource_id, body)


def process_bundle(actor: Actor, bundle: dict[str, Any]) -> dict[str, Any]:
    """Carry out a transaction or batch Bundle (POST /fhir/); the response Bundle as a dict."""
    return process(actor, bundle)
