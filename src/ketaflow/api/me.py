"""Who am I: the signed-in staff member, their organization, roles and what those allow."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from ketaflow.clinics.models import Organization

from .auth import actor_of
from .schemas import Ref, responses

router = Router(tags=["me"])


class MeOut(Schema):
    username: str
    staff_id: uuid.UUID | None
    organization: Ref
    roles: list[str]
    permissions: list[str]
    via: str


@router.get("/me", response=responses(200, MeOut))
def me(request: HttpRequest) -> Any:
    actor = actor_of(request)
    organization = Organization.objects.get(pk=actor.organization_id)
    return {
        "username": actor.username,
        "staff_id": actor.staff_id,
        "organization": organization,
        "roles": sorted(r.value for r in actor.roles),
        "permissions": sorted(p.value for p in actor.permissions),
        "via": actor.via,
    }
