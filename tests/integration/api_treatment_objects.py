"""The plan, scheduling and billing records the API cross-tenant matrix aims at. All synthetic.
(This module holds no tests.)

`treatment_objects(practice, clinic, label)` opens `clinic` every day 08:00-18:00 with a consultation
room and a prescriber of its own (so several calls in one organization never compete for a person's
time), then gives a new patient `<label>plan` a signed plan with an open review point, a clinic-only
protocol version `<label>-iv`, an issued invoice, and a consultation booked for yesterday.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.billing.invoices import create_invoice
from ketaflow.billing.models import Invoice
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.plans.models import ReviewPoint, TreatmentPlan
from ketaflow.scheduling.booking import book
from ketaflow.scheduling.defaults import ensure_appointment_types
from ketaflow.scheduling.models import Appointment, StaffHours
from tests.factories import RoomFactory, StaffFactory, actor_of
from tests.integration.treatment_records import treatment_records

OPEN, CLOSE = time(8, 0), time(18, 0)


@dataclass
class TreatmentObjects:
    """One practice's plan-side records, all at one clinic."""

    practice: Any
    clinic: Clinic
    prescriber: StaffMember
    plan: TreatmentPlan
    review_point: ReviewPoint
    protocol_key: str
    appointment: Appointment
    invoice: Invoice

    def at(self, days_from_today: int, hour: int) -> datetime:
        return clinic_time(self.clinic, days_from_today, hour)

    def draft_invoice(self) -> Invoice:
        """A new draft invoice (one consultation) for the plan's patient, made by the front desk."""
        clerk = actor_of(self.practice.staff[Role.FRONT_DESK])
        return create_invoice(clerk, self.plan.patient_id, lines=[{"price_code": "consultation"}])


def clinic_time(clinic: Clinic, days_from_today: int, hour: int) -> datetime:
    """A moment on the clinic's clock, `days_from_today` days from its today, on the hour."""
    zone = ZoneInfo(clinic.timezone)
    day = timezone.now().astimezone(zone).date() + timedelta(days=days_from_today)
    return datetime.combine(day, time(hour), tzinfo=zone)


def open_every_day(clinic: Clinic, prescriber: StaffMember) -> None:
    """The clinic opens, and the prescriber works there, every day 08:00-18:00; it has a consult room."""
    for weekday in range(7):
        OpeningHours.objects.create(
            organization=clinic.organization, clinic=clinic, weekday=weekday, opens=OPEN, closes=CLOSE
        )
        StaffHours.objects.create(
            organization=clinic.organization, staff=prescriber, clinic=clinic, weekday=weekday,
            starts=OPEN, ends=CLOSE,
        )
    RoomFactory(clinic=clinic, name=f"{clinic.name} consult", kind=Room.Kind.CONSULT)
    ensure_appointment_types(clinic.organization_id)


def treatment_objects(practice: Any, clinic: Clinic, label: str) -> TreatmentObjects:
    """`practice`'s records at `clinic` (see the module docstring); `label` marks their text."""
    prescriber = StaffFactory(organization=practice.org, roles=[Role.PRESCRIBER])
    open_every_day(clinic, prescriber)
    records = treatment_records(dataclasses.replace(practice, clinic=clinic), label)
    plan = TreatmentPlan.objects.get(pk=records["plan_id"][0])
    booked = book(
        actor_of(practice.staff[Role.OWNER]),
        plan.patient_id,
        clinic_id=clinic.pk,
        type_key="consultation",
        starts_at=clinic_time(clinic, -1, 10),
        staff_ids=[prescriber.pk],
        notes=f"{label} consultation",
    )
    return TreatmentObjects(
        practice=practice,
        clinic=clinic,
        prescriber=prescriber,
        plan=plan,
        review_point=ReviewPoint.objects.get(pk=records["review_point_id"][0]),
        protocol_key=records["key"][0],
        appointment=booked,
        invoice=Invoice.objects.get(pk=records["invoice_id"][0]),
    )
