"""Helpers for the FHIR tests: a token-bearing client, R4B validation, and stored-resource lookups."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from fhir.resources.R4B import get_fhir_model_class

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.services import issue_api_token
from ketaflow.fhir.models import StoredResource

FHIR_JSON = "application/fhir+json"


class FhirClient:
    """Django's test client speaking FHIR JSON with a staff member's bearer token."""

    def __init__(self, staff: StaffMember) -> None:
        self.token = issue_api_token(staff.user, "fhir-test")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token}", HTTP_ACCEPT=FHIR_JSON)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/fhir/{path}", params)

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(f"/fhir/{path}", json.dumps(body), content_type=FHIR_JSON, headers=headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.put(f"/fhir/{path}", json.dumps(body), content_type=FHIR_JSON, headers=headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/fhir/{path}")


def validate(resource: str | bytes | dict[str, Any]) -> Any:
    """The resource parsed by fhir.resources' R4B model of its type (raises if it is not valid R4)."""
    data = json.loads(resource) if isinstance(resource, str | bytes) else resource
    return get_fhir_model_class(data["resourceType"]).model_validate(data)


def stored(organization_id: Any, resource_type: str, **filters: Any) -> list[dict[str, Any]]:
    """The stored bodies of one type in an organization, parsed."""
    rows = StoredResource.objects.filter(
        organization_id=organization_id, resource_type=resource_type, **filters
    )
    return [json.loads(row.body) for row in rows.order_by("resource_id")]


def stored_one(organization_id: Any, resource_type: str, resource_id: str) -> dict[str, Any]:
    row = StoredResource.objects.get(
        organization_id=organization_id, resource_type=resource_type, resource_id=resource_id
    )
    return json.loads(row.body)
