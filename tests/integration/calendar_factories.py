"""Calendar, reminder and feed test data, made straight with the ORM: an open clinic with chairs,
appointment types, appointments with their staff and occupancy rows, an esketamine plan. Every name
and number here is synthetic. (This module holds no tests.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.protocols import builtin_protocols, find
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.patients.models import Patient
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling.models import (
    SLOT_MINUTES,
    Appointment,
    AppointmentStaff,
    AppointmentType,
    Occupancy,
)
from tests.factories import RoomFactory

OPEN, CLOSE = time(8, 0), time(18, 0)
IV_FASTING = "Eat only a light meal, and nothing for the 4 hours before your session."
TYPES = {
    "iv": {"name": "IV infusion", "minutes": 60, "room_kind": Room.Kind.CHAIR, "route": "iv",
           "instructions": IV_FASTING},
    "esketamine": {"name": "Esketamine session", "minutes": 120, "room_kind": Room.Kind.CHAIR,
                   "route": "esketamine", "instructions": ""},
    "consultation": {"name": "Consultation", "minutes": 60, "room_kind": Room.Kind.CONSULT, "route": "",
                     "instructions": "Bring a list of your medicines."},
}


def open_clinic(clinic: Clinic, *, chairs: int = 3, weekdays: Sequence[int] = range(6)) -> list[Room]:
    """Open the clinic 08:00-18:00 on `weekdays` (Monday to Saturday by default) with `chairs` chairs."""
    for weekday in weekdays:
        OpeningHours.objects.create(organization=clinic.organization, clinic=clinic, weekday=weekday,
                                    opens=OPEN, closes=CLOSE)
    return [RoomFactory(clinic=clinic, name=f"Chair {n:02d}") for n in range(1, chairs + 1)]


def appointment_type(clinic: Clinic, key: str = "iv") -> AppointmentType:
    found, _ = AppointmentType.objects.get_or_create(
        organization=clinic.organization, key=key, defaults=TYPES[key]
    )
    return found


def next_weekday(weekday: int, *, weeks_ahead: int = 1) -> date:
    """A date on `weekday` (0 = Monday) at least `weeks_ahead` weeks from today."""
    start = timezone.localdate() + timedelta(days=7 * weeks_ahead)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def local(clinic: Clinic, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(clinic.timezone))


def book(
    patient: Patient,
    starts_at: datetime,
    *,
    room: Room | None,
    key: str = "iv",
    clinic: Clinic | None = None,
    minutes: int | None = None,
    staff: Sequence[StaffMember] = (),
    status: str = Appointment.Status.BOOKED,
    plan: TreatmentPlan | None = None,
    series_number: int | None = None,
    phase: str = "",
) -> Appointment:
    """An appointment with its staff rows and, while active, its room and staff occupancy."""
    clinic = clinic or (room.clinic if room else patient.home_clinic)
    kind = appointment_type(clinic, key)
    ends_at = starts_at + timedelta(minutes=minutes or kind.minutes)
    appointment = Appointment.objects.create(
        organization=patient.organization, patient=patient, clinic=clinic, appointment_type=kind,
        starts_at=starts_at, ends_at=ends_at, room=room, status=status, plan=plan,
        series_number=series_number, phase=phase,
        status_reason="" if status in ("booked", "arrived", "completed") else "Synthetic reason",
    )
    for member in staff:
        AppointmentStaff.objects.create(organization=patient.organization, appointment=appointment,
                                        staff=member, role="nurse")
    if appointment.is_active:
        slots = []
        moment = starts_at
        while moment < ends_at:
            if room is not None:
                slots.append(Occupancy(organization=patient.organization, appointment=appointment, room=room,
                                       slot=moment))
            slots += [Occupancy(organization=patient.organization, appointment=appointment, staff=member,
                                slot=moment) for member in staff]
            moment += timedelta(minutes=SLOT_MINUTES)
        Occupancy.objects.bulk_create(slots)
    return appointment


def esketamine_plan(patient: Patient, prescriber: StaffMember) -> TreatmentPlan:
    """A signed esketamine plan made from the shipped protocol (its instructions: fasting, no driving)."""
    protocol = find(builtin_protocols(), "esketamine-trd")
    assert protocol is not None
    today = timezone.localdate()
    return TreatmentPlan.objects.create(
        organization=patient.organization, patient=patient, clinic=patient.home_clinic,
        protocol_key=protocol.key, protocol_version=protocol.version, protocol_name=protocol.name,
        protocol=dict(protocol.definition), route=protocol.route.value, setting=protocol.setting,
        condition="trd", goals="Feel able to work again", start_date=today, status="signed",
        phase="induction", phase_started_on=today, prescriber=prescriber, dose_mg=Decimal("56"),
        dose_summary="56 mg (2 devices)", signed_by=prescriber.user, signed_at=timezone.now(),
    )
