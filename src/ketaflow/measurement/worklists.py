"""The staff worklists (due, overdue, safety alerts) as audited pages, and notification reads.

Like the patient list, each page read records one LIST audit event naming the patients shown (and,
for alerts, the alert ids), so who looked at which patient's measures can always be answered.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.paging import DEFAULT_PAGE_SIZE, Page, paginate

from .models import MeasureDue, Notification, SafetyAlert
from .safety import alerts_for
from .schedule import due_measures

# Acknowledged alerts stay on the Alerts list this long, below the open ones.
RECENTLY_ACKNOWLEDGED = timedelta(days=14)


def due_page(
    actor: Actor, *, overdue: bool, clinic_id: uuid.UUID | None = None, page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> Page[MeasureDue]:
    """A page of open due rows (overdue or not), oldest due date first; the read is audited."""
    rows = due_measures(actor, overdue=overdue, clinic_id=clinic_id).order_by("due_at", "pk")
    return audited_page(actor, rows, "MeasureDue", page=page, page_size=page_size,
                        list="overdue" if overdue else "due")


def alerts_page(actor: Actor, *, mine: bool = False, page: int = 1,
                page_size: int = DEFAULT_PAGE_SIZE) -> Page[SafetyAlert]:
    """Open alerts (newest first), then those acknowledged recently; `mine`: assigned or notified to me."""
    since = timezone.now() - RECENTLY_ACKNOWLEDGED
    rows = alerts_for(actor).select_related("patient__home_clinic").filter(
        Q(status=SafetyAlert.Status.OPEN) | Q(acknowledged_at__gte=since)
    )
    if mine:
        notified = Notification.objects.for_organization(actor.organization_id).filter(
            safety_alert=OuterRef("pk"), recipient_id=actor.user_id
        )
        mine_filter = Q(Exists(notified))
        if actor.staff_id is not None:
            mine_filter |= Q(assigned_to_id=actor.staff_id)
        rows = rows.filter(mine_filter)
    # "open" sorts after "acknowledged", so descending puts the open alerts first.
    rows = rows.order_by("-status", "-raised_at", "pk")
    return audited_page(actor, rows, "SafetyAlert", page=page, page_size=page_size)


def unread_notices(actor: Actor, limit: int = 20) -> list[Notification]:
    """The actor's unread notifications that are not safety alerts (e.g. an eligibility decision
    re-opened), newest first; the read is audited like a list page."""
    rows = list(
        Notification.objects.for_organization(actor.organization_id)
        .filter(recipient_id=actor.user_id, read_at__isnull=True, safety_alert__isnull=True)
        .order_by("-created_at")[:limit]
    )
    if rows:
        with transaction.atomic():
            record(actor, Action.LIST, "Notification", detail={
                "shown": [str(row.pk) for row in rows],
                "patients": sorted({str(row.patient_id) for row in rows if row.patient_id}),
            })
    return rows


def audited_page(
    actor: Actor, rows: QuerySet[Any], object_type: str, *, page: int, page_size: int, **detail: Any
) -> Page[Any]:
    """One page of rows that name patients, read with one LIST audit event naming the rows and the
    patients shown (pages and API alike)."""
    with transaction.atomic():
        result: Page[Any] = paginate(rows, page, page_size)
        record(actor, Action.LIST, object_type, detail={
            **detail,
            "shown": [str(row.pk) for row in result.items],
            "patients": sorted({str(row.patient_id) for row in result.items}),
            "page": page, "total": result.total,
        })
    return result


def alert_recipients(actor: Actor, alert: SafetyAlert) -> list[Notification]:
    """Who was notified of this alert, and whether each has read it."""
    actor.require(Permission.VIEW_CLINICAL)
    return list(
        Notification.objects.for_organization(actor.organization_id)
        .filter(safety_alert=alert)
        .select_related("recipient")
        .order_by("created_at", "pk")
    )


def mark_alert_read(actor: Actor, alert: SafetyAlert) -> int:
    """Mark the actor's own notification of this alert read (the bell count drops); returns how many."""
    if actor.user_id is None:
        return 0
    return (
        Notification.objects.for_organization(actor.organization_id)
        .filter(safety_alert=alert, recipient_id=actor.user_id, read_at__isnull=True)
        .update(read_at=timezone.now())
    )
