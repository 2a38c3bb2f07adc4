"""Helpers shared by the API tests (this module holds no tests of its own)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.services import issue_api_token
from ketaflow.audit.models import AuditEvent
from ketaflow.clinics.models import Clinic

V1 = "/api/v1"

API_TEST_MARKS = [
    pytest.mark.django_db,
]


class Api:
    """A JSON client for /api/v1 carrying one bearer token (or none)."""

    def __init__(self, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = Client(headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(V1 + path, params or {})

    def send(self, method: str, path: str, body: Any = None) -> Any:
        data = "" if body is None else json.dumps(body, default=str)
        call = getattr(self.client, method.lower())
        return call(V1 + path, data=data, content_type="application/json")

    def post(self, path: str, body: Any = None) -> Any:
        return self.send("post", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.send("patch", path, body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.send("put", path, body)


def api_as(staff: StaffMember) -> Api:
    return Api(issue_api_token(staff.user, "test"))


def field_errors(response: Any) -> dict[str | None, str]:
    """The error body as {field: message}; fails if the body is not the shared error shape."""
    body = response.json()
    assert set(body) >= {"errors"}, body
    return {e["field"]: e["message"] for e in body["errors"]}


def audit_rows(organization_id: Any, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization_id=organization_id, **filters).order_by("seq"))


def patient_body(clinic: Clinic, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_given_name": "Marisol",
        "legal_family_name": "Quennell",
        "date_of_birth": "1979-03-14",
        "home_clinic_id": str(clinic.pk),
        "phone_mobile": "(503) 555-0187",
        "email": "marisol.quennell@example.test",
    }
    body.update(overrides)
    return body
