"""Searching the organization's audit trail (`audit.search`). Needs the audit permission; each
search is itself recorded, naming the filters used but not their values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from ketaflow.audit.models import Action
from ketaflow.audit.search import AuditFilters, search_audit
from ketaflow.validation import ValidationFailed

from .auth import actor_of
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import QueryDate, responses

router = Router(tags=["audit"])


class AuditQuery(PageQuery):
    username: str = ""
    action: str = Field("", json_schema_extra={"enum": ["", *Action.values]})
    object_type: str = Field("", description="For example Patient, Condition, StaffMember.")
    mrn: str = Field("", description="Events about the patient with this MRN.")
    date_from: QueryDate = Field(None, description="First day included (UTC), YYYY-MM-DD.")
    date_to: QueryDate = Field(None, description="Last day included (UTC), YYYY-MM-DD.")


class AuditEventOut(Schema):
    id: int
    seq: int
    occurred_at: datetime
    user_id: int | None
    username: str
    roles: str
    via: str
    ip_address: str | None
    action: str
    object_type: str
    object_id: str
    patient_id: uuid.UUID | None
    detail: dict[str, Any]


class AuditPage(PageOut):
    items: list[AuditEventOut]


@router.get("/audit-events", response=responses(200, AuditPage))
def search_audit_events(request: HttpRequest, query: Query[AuditQuery]) -> Any:
    """Newest first. The search is recorded in the trail it reads."""
    refuse_unknown_query(request, AuditQuery)
    if query.action and query.action not in Action.values:
        raise ValidationFailed.single("action", f"Actions are: {', '.join(Action.values)}.")
    if query.date_from and query.date_to and query.date_to < query.date_from:
        raise ValidationFailed.single("date_to", "The last day comes before the first.")
    filters = AuditFilters(
        username=query.username,
        action=query.action,
        object_type=query.object_type,
        mrn=query.mrn,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    page = search_audit(actor_of(request), filters, page=query.page, page_size=query.page_size, zone=UTC)
    return page_body(request, page)
