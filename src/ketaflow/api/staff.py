"""Staff members, their roles and credentials. Everything here needs the staff-management permission;
granting or removing the owner role needs an owner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts import services as accounts
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Credential, Permission, Role

from .auth import actor_of
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import Id, Ref, StaffId, StrictInput, responses

router = Router(tags=["staff"])

_ROLES: dict[str, Any] = {"items": {"enum": [r.value for r in Role]}}
_CREDENTIALS: dict[str, Any] = {"enum": ["", *(c.value for c in Credential)]}


class StaffPatch(StrictInput):
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    roles: list[str] | None = Field(None, json_schema_extra=_ROLES)
    credential: str | None = Field(None, json_schema_extra=_CREDENTIALS)
    licence_number: str | None = None
    licence_region: str | None = None
    dea_number: str | None = None
    npi: str | None = None
    phone: str | None = None
    clinic_ids: list[Id] | None = None


class StaffCreate(StaffPatch):
    username: str
    first_name: str
    last_name: str
    email: str
    roles: list[str] = Field(json_schema_extra=_ROLES)


class StaffOut(Schema):
    id: uuid.UUID
    username: str
    first_name: str
    last_name: str
    email: str
    display_name: str
    roles: list[str]
    credential: str
    licence_number: str
    licence_region: str
    dea_number: str
    npi: str
    phone: str
    clinics: list[Ref]
    is_active: bool
    created_at: datetime

    @staticmethod
    def resolve_username(obj: StaffMember) -> str:
        return obj.user.username

    @staticmethod
    def resolve_first_name(obj: StaffMember) -> str:
        return obj.user.first_name

    @staticmethod
    def resolve_last_name(obj: StaffMember) -> str:
        return obj.user.last_name

    @staticmethod
    def resolve_email(obj: StaffMember) -> str:
        return obj.user.email

    @staticmethod
    def resolve_roles(obj: StaffMember) -> list[str]:
        return sorted(r.value for r in obj.roles)

    @staticmethod
    def resolve_clinics(obj: StaffMember) -> list[Any]:
        return list(obj.clinics.all())

    @staticmethod
    def resolve_is_active(obj: StaffMember) -> bool:
        return obj.user.is_active


class StaffCreated(Schema):
    staff: StaffOut
    one_time_password: str = Field(description="Shown once; the person must change it at first login.")


class StaffPage(PageOut):
    items: list[StaffOut]


class StaffQuery(PageQuery):
    include_inactive: bool = False


@router.get("/staff", response=responses(200, StaffPage))
def list_staff(request: HttpRequest, query: Query[StaffQuery]) -> Any:
    refuse_unknown_query(request, StaffQuery)
    actor = actor_of(request)
    actor.require(Permission.MANAGE_STAFF)
    rows = accounts.staff_for(actor)
    if not query.include_inactive:
        rows = rows.filter(user__is_active=True)
    return paged(request, rows.order_by("user__last_name", "user__first_name", "id"), query)


@router.get("/staff/{staff_id}", response=responses(200, StaffOut))
def get_staff(request: HttpRequest, staff_id: StaffId) -> Any:
    actor = actor_of(request)
    actor.require(Permission.MANAGE_STAFF)
    return accounts.get_staff(actor, staff_id)


@router.post("/staff", response=responses(201, StaffCreated))
def create_staff(request: HttpRequest, payload: StaffCreate) -> Any:
    """Add a staff member; the reply carries a one-time password to hand over in person."""
    staff, password = accounts.create_staff(actor_of(request), payload.changes())
    return Status(201, {"staff": staff, "one_time_password": password})


@router.patch("/staff/{staff_id}", response=responses(200, StaffOut))
def update_staff(request: HttpRequest, staff_id: StaffId, payload: StaffPatch) -> Any:
    return accounts.update_staff(actor_of(request), staff_id, payload.changes())


@router.post("/staff/{staff_id}/deactivate", response=responses(200, StaffOut))
def deactivate_staff(request: HttpRequest, staff_id: StaffId) -> Any:
    """Block sign-in and revoke the member's API tokens; the record stays."""
    return accounts.set_staff_active(actor_of(request), staff_id, False)


@router.post("/staff/{staff_id}/activate", response=responses(200, StaffOut))
def activate_staff(request: HttpRequest, staff_id: StaffId) -> Any:
    return accounts.set_staff_active(actor_of(request), staff_id, True)


@router.post("/staff/{staff_id}/reset-two-factor", response=responses(200, StaffOut))
def reset_two_factor(request: HttpRequest, staff_id: StaffId) -> Any:
    """Remove the member's authenticator; they enrol a new one at their next sign-in."""
    actor = actor_of(request)
    accounts.reset_two_factor(actor, staff_id)
    return accounts.get_staff(actor, staff_id)
