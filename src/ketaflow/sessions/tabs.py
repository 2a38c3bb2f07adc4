"""The chart's Sessions tab: the patient's treatment sessions, newest first, each with its date,
route, the dose given, status, alerts raised (and still open) and a link to the chairside page.
Registered when the app is ready (the lead imports this module from `apps.ready`)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .access import sessions_of
from .page import STATUS_BADGES

TAB = "sessions"
LIMIT = 100


def sessions_tab_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    """For a patient already opened (and audited) by `open_patient`."""
    actor.require(Permission.VIEW_CLINICAL)
    rows = list(
        sessions_of(actor.organization_id)
        .filter(patient=patient)
        .select_related("clinic")
        .annotate(
            alerts_count=Count("alerts", distinct=True),
            open_alerts=Count("alerts", filter=Q(alerts__responded_at__isnull=True), distinct=True),
        )
        .order_by("-checked_in_at")[: LIMIT + 1]
    )
    for row in rows:
        row.badge = STATUS_BADGES.get(row.status, "brand")
    return {
        "session_rows": rows[:LIMIT],
        "sessions_hidden": len(rows) > LIMIT,
        "can_chart_sessions": actor.can(Permission.CHART_SESSIONS),
    }


register_tab(TAB, "Sessions", Permission.VIEW_CLINICAL, "sessions/tab.html", sessions_tab_context)
