"""What every inbound write carries: who writes, where from, and the patients it may refer to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from django.db import models

from ketaflow.accounts.actor import Actor
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.outcome import FhirError

from .references import References

Row = TypeVar("Row", bound=models.Model)


class Origin(StrEnum):
    API = "api"  # the FHIR REST API (create, update, Bundles)
    IMPORT = "import"  # a file import (`ketaflow fhir import`)


@dataclass
class Context:
    actor: Actor
    origin: Origin = Origin.API
    shared: bool = False  # one transaction with other writes (a transaction Bundle, a file): all or nothing
    references: References = field(init=False)

    def __post_init__(self) -> None:
        self.references = References(self.actor)

    def stored(self, resource_type: str, resource_id: object) -> StoredResource:
        """The resource the projection wrote for a domain row just saved."""
        found = (
            StoredResource.objects.for_organization(self.actor.organization_id)
            .filter(resource_type=resource_type, resource_id=str(resource_id))
            .first()
        )
        if found is None:  # a domain row without its mapper: a programming error, not the client's
            raise FhirError.one(
                500, "exception", f"{resource_type}/{resource_id} was saved but not projected."
            )
        return found

    def own(self, model: type[Row], resource_id: str, resource_type: str) -> Row:
        """The row of this organization behind `resource_type/resource_id`, or 404."""
        try:
            key: uuid.UUID | None = uuid.UUID(str(resource_id))
        except ValueError:
            key = None
        manager: Any = model._default_manager
        found = manager.filter(organization_id=self.actor.organization_id, pk=key).first() if key else None
        if found is None:
            raise FhirError.one(
                404,
                "not-found",
                f"No {resource_type}/{resource_id} in your organization; update cannot create a resource.",
            )
        return found
