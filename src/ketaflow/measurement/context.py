"""The header's counts: the user's unread notifications (the bell) and the organization's open alerts.

Each is one COUNT, run only if a template shows it (a fragment swapped in by HTMX never does), and
only for a staff actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from ketaflow.accounts.roles import Permission

from .models import Notification, SafetyAlert


class LazyCount:
    """A count computed on first use in a template (templates call callables) and then kept."""

    def __init__(self, query: Callable[[], int]) -> None:
        self._query = query
        self._value: int | None = None

    def __call__(self) -> int:
        if self._value is None:
            self._value = self._query()
        return self._value


def measures_header(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None or actor.user_id is None:
        return {}
    org = actor.organization_id

    def unread() -> int:
        return Notification.objects.for_organization(org).filter(
            recipient_id=actor.user_id, read_at__isnull=True
        ).count()

    def open_alerts() -> int:
        if not actor.can(Permission.VIEW_CLINICAL):
            return 0
        return SafetyAlert.objects.for_organization(org).filter(status=SafetyAlert.Status.OPEN).count()

    return {"unread_notification_count": LazyCount(unread), "open_alert_count": LazyCount(open_alerts)}
