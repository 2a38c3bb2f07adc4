from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ketaflow.accounts.roles import Permission


def ketaflow_context(request: HttpRequest) -> dict[str, Any]:
    """What every page's frame needs: the actor, the permission names and the idle time-out."""
    actor = getattr(request, "actor", None)
    return {
        "actor": actor,
        "perm": {p.name: (actor.can(p) if actor else False) for p in Permission},
        "idle_timeout_seconds": settings.KETAFLOW_IDLE_TIMEOUT_MINUTES * 60,
        "ketaflow_mode": settings.KETAFLOW_MODE,
    }
