"""A bookable clinic for the scheduling tests: hours, chairs, a consult room, staff hours, a signed plan.

`bookable(practice)` opens the practice's clinic Monday to Saturday 08:00-18:00 (its own time zone,
America/Denver), adds three chairs and a consultation room, and has the nurse, prescriber and
therapist work the same hours. `signed_plan(practice, key)` gives the patient a signed plan of a
shipped protocol without going through the plans pages. All synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.protocols import builtin_protocols
from ketaflow.clinics.models import OpeningHours, Room
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling.defaults import ensure_appointment_types
from ketaflow.scheduling.models import StaffHours
from tests.factories import RoomFactory

OPEN, CLOSE = time(8, 0), time(18, 0)
WORKING = (Role.NURSE, Role.PRESCRIBER, Role.THERAPIST)


@dataclass
class Bookable:
    chairs: list[Room]
    consult: Room
    zone: ZoneInfo


def bookable(practice, *, chairs: int = 3, weekdays: range = range(6)) -> Bookable:
    clinic = practice.clinic
    for weekday in weekdays:
        OpeningHours.objects.create(
            organization=practice.org, clinic=clinic, weekday=weekday, opens=OPEN, closes=CLOSE
        )
        for role in WORKING:
            StaffHours.objects.create(
                organization=practice.org,
                staff=practice.staff[role],
                clinic=clinic,
                weekday=weekday,
                starts=OPEN,
                ends=CLOSE,
            )
    made = [RoomFactory(clinic=clinic, name=f"Chair {n}", kind=Room.Kind.CHAIR) for n in range(1, chairs + 1)]
    consult = RoomFactory(clinic=clinic, name="Consult A", kind=Room.Kind.CONSULT)
    ensure_appointment_types(practice.org.pk)
    return Bookable(made, consult, ZoneInfo(clinic.timezone))


def next_weekday(weekday: int, *, weeks_ahead: int = 1) -> date:
    """A date on `weekday` (0 = Monday) at least a week from today."""
    start = timezone.localdate() + timedelta(days=7 * weeks_ahead)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def at(practice, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(practice.clinic.timezone))


def protocol(key: str):
    return next(p for p in builtin_protocols() if p.key == key)


def signed_plan(
    practice, key: str = "iv-depression", *, start: date | None = None, patient=None, **fields
) -> TreatmentPlan:
    chosen = protocol(key)
    start = start or next_weekday(0)
    values = {
        "organization": practice.org,
        "patient": patient or practice.patient,
        "clinic": practice.clinic,
        "protocol_key": chosen.key,
        "protocol_version": chosen.version,
        "protocol_name": chosen.name,
        "protocol": dict(chosen.definition),
        "route": chosen.route.value,
        "setting": chosen.setting,
        "condition": "mdd",
        "goals": "Feel well enough to work (synthetic)",
        "start_date": start,
        "status": TreatmentPlan.Status.SIGNED,
        "phase": "induction",
        "phase_started_on": start,
        "prescriber": practice.staff[Role.PRESCRIBER],
        "dose_mg": Decimal("35"),
        "dose_summary": "35 mg",
        "signed_by": practice.staff[Role.PRESCRIBER].user,
        "signed_at": timezone.now(),
    }
    if chosen.setting == "home":
        values["home_justification"] = "Synthetic test justification"
    values.update(fields)
    return TreatmentPlan.objects.create(**values)
