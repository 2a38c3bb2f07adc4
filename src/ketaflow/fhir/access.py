"""Who may read and write each resource type through the FHIR API, in one table."""

from __future__ import annotations

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission

from .index import SEARCH
from .outcome import FhirError

# Types about the practice itself (no patient data): any active staff member may read them.
PRACTICE_TYPES = frozenset({"Organization", "Location", "Practitioner", "Group", "Questionnaire"})
READ: dict[str, Permission] = {
    "Patient": Permission.VIEW_DEMOGRAPHICS,
    "Appointment": Permission.VIEW_SCHEDULE,
}
WRITE: dict[str, Permission] = {
    "Patient": Permission.EDIT_DEMOGRAPHICS,
    "Appointment": Permission.EDIT_SCHEDULE,
}


def known_type(resource_type: str) -> None:
    """404 for a type this server does not serve (the spec's answer for an unknown type)."""
    if resource_type not in SEARCH:
        raise FhirError.one(404, "not-supported", f"This server does not serve {resource_type} resources.")


def require_read(actor: Actor, resource_type: str) -> None:
    known_type(resource_type)
    if resource_type in PRACTICE_TYPES:
        return
    _require(actor, READ.get(resource_type, Permission.VIEW_CLINICAL), f"read {resource_type}")


def require_write(actor: Actor, resource_type: str) -> None:
    known_type(resource_type)
    _require(actor, WRITE.get(resource_type, Permission.EDIT_CLINICAL), f"write {resource_type}")


def _require(actor: Actor, permission: Permission, what: str) -> None:
    if not actor.can(permission):
        raise FhirError.one(403, "forbidden", f"Your role does not allow you to {what} ({permission.value}).")
