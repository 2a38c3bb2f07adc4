"""Which resource types can be written, and the one path every write takes: permission, R4
validation of the whole resource, then the type's mapper onto ketaflow's domain services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ketaflow.fhir.access import require_write
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.outcome import FhirError

from . import condition, medication, observation, patient, response
from .context import Context
from .parse import resource_type_of, validate

Create = Callable[[Context, dict[str, Any]], StoredResource]
Update = Callable[[Context, str, dict[str, Any]], StoredResource]


@dataclass(frozen=True)
class Handler:
    create: Create
    update: Update | None = None


HANDLERS: dict[str, Handler] = {
    "Patient": Handler(patient.create, patient.update),
    "Condition": Handler(condition.create, condition.update),
    "Observation": Handler(observation.create),
    "QuestionnaireResponse": Handler(response.create),
    "MedicationStatement": Handler(medication.create, medication.update),
}
WRITABLE: dict[str, frozenset[str]] = {
    kind: frozenset({"create", "update"} if handler.update else {"create"})
    for kind, handler in HANDLERS.items()
}


def allowed(ctx: Context, resource_type: str, interaction: str) -> Handler:
    """The handler of a write the actor may make: 404 for a type ketaflow does not serve, 403 for a
    role that may not write it, 405 for an interaction the type does not support."""
    require_write(ctx.actor, resource_type)
    if interaction not in WRITABLE.get(resource_type, frozenset()):
        supported = ", ".join(sorted(WRITABLE.get(resource_type, ()))) or "none: it is read-only"
        raise FhirError.one(
            405,
            "not-supported",
            f"{resource_type} does not support {interaction} here (supported: {supported}).",
        )
    return HANDLERS[resource_type]


def write_new(ctx: Context, body: Any) -> StoredResource:
    """Create: the body's id, if any, is not kept (ketaflow assigns ids)."""
    handler = allowed(ctx, resource_type_of(body), "create")
    validate(body)
    return handler.create(ctx, body)


def write_existing(ctx: Context, resource_type: str, resource_id: str, body: Any) -> StoredResource:
    """Update an existing resource, replacing the fields ketaflow maps; 404 when there is none (an
    update never creates)."""
    handler = allowed(ctx, resource_type, "update")
    validate(body, resource_type)
    if body.get("id") != resource_id:
        raise FhirError.one(
            400, "invalid", f"The body's id must be {resource_id}, the id in the URL.", f"{resource_type}.id"
        )
    assert handler.update is not None  # guaranteed by `allowed`
    return handler.update(ctx, resource_id, body)
