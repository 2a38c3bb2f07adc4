from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ketaflow.accounts.roles import Permission
from ketaflow.clinics.models import Organization


def ketaflow_context(request: HttpRequest) -> dict[str, Any]:
    """What every page's frame needs: the actor, the permission names and the idle time-out.

    `organization_name` heads the page; `phone_region` is the organization's country, which
    phone numbers are shown in (national format for local numbers).
    """
    actor = getattr(request, "actor", None)
    organization = None
    if actor is not None:
        organization = (
            Organization.objects.filter(pk=actor.organization_id).only("name", "country").first()
        )
    return {
        "actor": actor,
        "actor_role_labels": ", ".join(sorted(r.label for r in actor.roles)) if actor else "",
        "perm": {p.name: (actor.can(p) if actor else False) for p in Permission},
        "idle_timeout_seconds": settings.KETAFLOW_IDLE_TIMEOUT_MINUTES * 60,
        "ketaflow_mode": settings.KETAFLOW_MODE,
        "organization_name": organization.name if organization else "",
        "phone_region": organization.country if organization else "US",
    }
