"""What the home page counts for the signed-in actor; every number is scoped to their organization."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.accounts.services import staff_for
from ketaflow.clinics.services import clinics_for


@dataclass(frozen=True)
class ClinicCount:
    name: str
    active_patients: int
    is_active: bool


@dataclass(frozen=True)
class Dashboard:
    active_patients: int | None = None
    clinics: list[ClinicCount] = field(default_factory=list)
    active_staff: int | None = None


def dashboard_for(actor: Actor) -> Dashboard:
    """Counts only; no names, so opening the home page reads no patient record."""
    active_patients = None
    clinics: list[ClinicCount] = []
    if actor.can(Permission.VIEW_DEMOGRAPHICS):
        rows = clinics_for(actor).annotate(
            active=Count("patients", filter=Q(patients__archived_at__isnull=True))
        ).order_by("name")
        clinics = [ClinicCount(c.name, c.active, c.is_active) for c in rows]
        active_patients = sum(c.active_patients for c in clinics)
    active_staff = None
    if actor.can(Permission.MANAGE_STAFF):
        active_staff = staff_for(actor).filter(user__is_active=True).count()
    return Dashboard(active_patients, clinics, active_staff)
