"""Reading the audit trail: search one organization's events, newest first, and show them.

Reading the trail is itself recorded (a LIST of AuditEvent naming the filters used, never their
values), so who looked at whose access history is on the record too.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db import transaction
from django.db.models import QuerySet

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission, Role
from ketaflow.clinics.services import clinics_for
from ketaflow.paging import Page, paginate
from ketaflow.patients.services import patients_for

from .models import Action, AuditEvent
from .trail import record

DEFAULT_AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    username: str = ""
    action: str = ""
    object_type: str = ""
    mrn: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def names(self) -> list[str]:
        """The filters in use, by name only: their values may identify a patient."""
        return [f.name for f in fields(self) if getattr(self, f.name)]


@dataclass(frozen=True)
class AuditRow:
    """One event to show. `when` is wall-clock time in `zone` (naive, so templates keep it)."""

    event: AuditEvent
    when: datetime
    zone: str
    role_labels: str
    action_label: str
    patient_mrn: str


def events_for(actor: Actor) -> QuerySet[AuditEvent]:
    """The one starting point for reading the trail: this actor's organization only."""
    return AuditEvent.objects.filter(organization_id=actor.organization_id)


def display_zone(actor: Actor) -> tzinfo:
    """The time zone the trail is shown in: the clinics' shared zone, else UTC."""
    zones = set(clinics_for(actor).values_list("timezone", flat=True))
    if len(zones) == 1:
        return zoneinfo.ZoneInfo(zones.pop())
    return UTC


def _filtered(actor: Actor, filters: AuditFilters, zone: tzinfo) -> QuerySet[AuditEvent]:
    events = events_for(actor)
    if filters.username:
        events = events.filter(username__iexact=filters.username.strip())
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.object_type:
        events = events.filter(object_type=filters.object_type)
    if filters.mrn:
        patient_ids = list(patients_for(actor).filter(mrn=filters.mrn.strip().upper())
                           .values_list("pk", flat=True))
        events = events.filter(patient_id__in=patient_ids)
    if filters.date_from:
        events = events.filter(occurred_at__gte=datetime.combine(filters.date_from, time(), zone))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), zone)
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-seq")


def search_audit(
    actor: Actor, filters: AuditFilters, *, page: int = 1, page_size: int = DEFAULT_AUDIT_PAGE_SIZE,
    zone: tzinfo = UTC,
) -> Page[AuditEvent]:
    """A page of the organization's events, newest first; dates are whole days in `zone`."""
    actor.require(Permission.VIEW_AUDIT)
    with transaction.atomic():
        result = paginate(_filtered(actor, filters, zone), page, page_size)
        record(actor, Action.LIST, "AuditEvent", detail={"filters": filters.names(), "page": page})
    return result


def patient_access_log(actor: Actor, patient_id: uuid.UUID, *, limit: int = 100) -> list[AuditEvent]:
    """The newest events about one patient of the actor's organization; recorded as a LIST."""
    actor.require(Permission.VIEW_AUDIT)
    with transaction.atomic():
        newest = events_for(actor).filter(patient_id=patient_id).order_by("-occurred_at", "-seq")
        events = list(newest[:limit])
        record(actor, Action.LIST, "AuditEvent", patient_id=patient_id,
               detail={"filters": ["patient"], "page": 1})
    return events


def object_types(actor: Actor) -> list[str]:
    return sorted(set(events_for(actor).values_list("object_type", flat=True).distinct()))


def _labels(roles: str) -> str:
    labels = []
    for value in filter(None, (r.strip() for r in roles.split(","))):
        try:
            labels.append(Role(value).label)
        except ValueError:
            labels.append(value)
    return ", ".join(sorted(labels))


def rows_for(actor: Actor, events: Sequence[AuditEvent], zone: tzinfo) -> list[AuditRow]:
    """Events ready to show: local time, role names, action name and the patient's MRN."""
    clinic_zones = dict(clinics_for(actor).values_list("pk", "timezone"))
    patient_ids = {e.patient_id for e in events if e.patient_id}
    mrns = dict(patients_for(actor).filter(pk__in=patient_ids).values_list("pk", "mrn"))
    actions = dict(Action.choices)
    rows = []
    for event in events:
        event_zone = zone
        if event.clinic_id and event.clinic_id in clinic_zones:
            event_zone = zoneinfo.ZoneInfo(clinic_zones[event.clinic_id])
        when = event.occurred_at.astimezone(event_zone)
        rows.append(AuditRow(
            event=event, when=when.replace(tzinfo=None), zone=when.tzname() or "UTC",
            role_labels=_labels(event.roles),
            action_label=actions.get(event.action, event.action),
            patient_mrn=mrns.get(event.patient_id, "") if event.patient_id else "",
        ))
    return rows
