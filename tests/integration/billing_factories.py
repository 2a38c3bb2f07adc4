"""Billing test data: plans (ORM rows with a shipped protocol's snapshot), appointments and invoices.
Every name and number here is synthetic. (This module holds no tests.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ketaflow.accounts.roles import Role
from ketaflow.clinical.protocols import builtin_protocols, find
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling.models import Appointment, AppointmentType
from tests.factories import actor_of


def plan_for(
    practice, key: str = "iv-depression", *, dose_mg: str = "35", condition: str = "trd", patient=None
) -> TreatmentPlan:
    """A draft plan made straight from a shipped protocol (no plan services needed)."""
    protocol = find(builtin_protocols(), key)
    assert protocol is not None, key
    return TreatmentPlan.objects.create(
        organization=practice.org,
        patient=patient or practice.patient,
        clinic=practice.clinic,
        protocol_key=protocol.key,
        protocol_version=protocol.version,
        protocol_name=protocol.name,
        protocol=dict(protocol.definition),
        route=protocol.route.value,
        setting="clinic",
        condition=condition,
        goals="Feel like myself again",
        start_date=dt.date(2026, 3, 2),
        phase_started_on=dt.date(2026, 3, 2),
        dose_mg=Decimal(dose_mg),
        dose_summary=f"{dose_mg} mg",
    )


def appointment_type(practice, key: str, minutes: int = 90) -> AppointmentType:
    found, _ = AppointmentType.objects.get_or_create(
        organization=practice.org,
        key=key,
        defaults={"name": key.replace("_", " ").title(), "minutes": minutes},
    )
    return found


def appointment(
    practice,
    key: str = "iv",
    *,
    minutes: int = 90,
    plan=None,
    day: int = 3,
    status: str = Appointment.Status.COMPLETED,
    patient=None,
) -> Appointment:
    """An appointment at 16:00 UTC on March `day`, 2026 (no room: billing does not need one)."""
    starts = dt.datetime(2026, 3, day, 16, 0, tzinfo=dt.UTC)
    return Appointment.objects.create(
        organization=practice.org,
        patient=patient or practice.patient,
        clinic=practice.clinic,
        appointment_type=appointment_type(practice, key, minutes),
        plan=plan,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=minutes),
        status=status,
        status_reason="" if status in ("booked", "arrived", "completed") else "Synthetic reason",
    )


def clerk(practice):
    """The front desk: makes invoices and takes payments."""
    return actor_of(practice.staff[Role.FRONT_DESK])


def owner(practice):
    return actor_of(practice.staff[Role.OWNER])
