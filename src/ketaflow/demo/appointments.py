"""The demo plans' appointments: a completed visit for every given treatment, a booked one for every
scheduled treatment, a few cancellations, one no-show and two waitlist entries. The recent clinic
treatment visits (`sessions.replayed`: a month of esketamine, the latest IV and IM ones) are left
booked, their treatments scheduled: the session replay (`sessions.py`) completes them through the
chairside services.

Each visit is placed by `calendar_book.CalendarBook` as `scheduling.booking.book` would check it; a
treatment whose time does not fit moves to the nearest time that does, and its measurement
`Treatment` moves with it. The rows (Appointment, AppointmentStaff, Occupancy) and their audit events
are those the booking services write; they are bulk-inserted, and the database's unique constraints
still guard every claimed slot.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.clinics.models import Room
from ketaflow.measurement.models import Treatment
from ketaflow.scheduling.availability import grid_minutes, slots_of
from ketaflow.scheduling.models import (
    Appointment,
    AppointmentStaff,
    AppointmentType,
    Occupancy,
    WaitlistEntry,
)

from .calendar_book import CalendarBook
from .planned import ROUTE_LABELS, Planned
from .sessions import replayed, session_cutoffs

TYPE_BY_ROUTE = {"iv": "iv", "im": "im", "esketamine": "esketamine", "sublingual_home": "home_checkin"}
CANCEL_REASONS = (
    "Patient unwell with a cold; rebooked for the following week.",
    "No driver available that day; rebooked.",
    "Clinic rescheduled: infusion pump serviced that morning.",
)
NO_SHOW_REASON = "Did not attend; no answer on two calls. Safety check with the emergency contact; rebooked."
WAITLIST_NOTE = "Would take an earlier slot at short notice (works from home)."


@dataclass
class Rows:
    appointments: list[Appointment]
    staff: list[AppointmentStaff]
    claims: list[Occupancy]
    entries: dict[int | None, tuple[Actor, list[Entry]]]

    def log(self, actor: Actor, entry: Entry) -> None:
        self.entries.setdefault(actor.user_id, (actor, []))[1].append(entry)


def _phase(description: str) -> tuple[str, int | None]:
    found = re.search(r"induction (\d+) of", description)
    if found:
        return "induction", int(found.group(1))
    return ("maintenance", None) if "maintenance" in description else ("", None)


def load_appointments(
    book: CalendarBook, planned: Sequence[Planned], actors: dict[str, Actor], rng: random.Random
) -> dict[str, int]:
    """Appointments for every plan's treatments, then cancellations, a no-show and the waitlist; row
    counts by kind (the appointments by status are counted once the sessions have run)."""
    types = {t.key: t for t in AppointmentType.objects.for_organization(book.org_id)}
    rows = Rows([], [], [], {})
    moved: list[Treatment] = []
    waiting: list[Treatment] = []  # given in the last month, once the session replay gives them
    cutoffs = session_cutoffs(planned, book.now)
    unplaced = 0
    for item in planned:
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        minutes = grid_minutes(item.protocol.chair_minutes or kind.minutes)
        nurse = actors[("nurse", "nurse2")[item.clinic_index]]
        boosters = 0
        for treatment in item.treatments:
            past = treatment.status == Treatment.Status.GIVEN
            found = book.place(
                item.clinic_index, item.patient.pk, treatment.occurred_at, minutes, kind, past=past
            )
            if found is None:
                unplaced += 1
                continue
            start, room, staffing = found
            if past and replayed(item, start, book.now, cutoffs):
                past = False
                waiting.append(treatment)
            phase, number = _phase(treatment.description)
            if phase == "maintenance":
                boosters += 1
                number = boosters
            if start != treatment.occurred_at or item.protocol.key in ROUTE_LABELS:  # relabelled too
                treatment.occurred_at = start
                moved.append(treatment)
            _add(
                rows,
                nurse,
                item,
                kind=kind,
                start=start,
                minutes=minutes,
                room=room,
                staffing=staffing,
                treatment=treatment,
                status=Appointment.Status.COMPLETED if past else Appointment.Status.BOOKED,
                phase=phase or item.plan.phase,
                number=number,
            )
    Treatment.objects.bulk_update(moved, ["occurred_at", "description"])
    extra = _cancellations(book, planned, types, actors, rows, rng)
    for treatment in waiting:
        treatment.status = Treatment.Status.SCHEDULED
    Treatment.objects.bulk_update(waiting, ["status"])
    Appointment.objects.bulk_create(rows.appointments)
    AppointmentStaff.objects.bulk_create(rows.staff)
    Occupancy.objects.bulk_create(rows.claims, batch_size=2000)
    waitlist = _waitlist(book, planned, types, actors, rows)
    for actor, entries in rows.entries.values():
        record_many(actor, entries)
    return {
        "treatments moved to a free slot": len(moved),
        "treatments not placed": unplaced,
        "waitlist entries": waitlist,
        "extra treatments": extra,
    }


def _add(
    rows: Rows,
    actor: Actor,
    item: Planned,
    *,
    kind: AppointmentType,
    start: datetime,
    minutes: int,
    room: Room | None,
    staffing: list[tuple[StaffMember, str]],
    treatment: Treatment,
    status: str,
    phase: str,
    number: int | None,
    reason: str = "",
) -> Appointment:
    """One appointment with its staff rows, its claims (while active) and the services' audit events."""
    assert item.plan is not None
    end = start + timedelta(minutes=minutes)
    changed = end if status == Appointment.Status.COMPLETED else start - timedelta(days=1)
    appointment = Appointment(
        id=uuid.uuid4(),
        organization_id=item.plan.organization_id,
        patient_id=item.patient.pk,
        recorded_by_id=actor.user_id,
        clinic=item.plan.clinic,
        appointment_type=kind,
        plan=item.plan,
        phase=phase,
        series_number=number,
        starts_at=start,
        ends_at=end,
        room=room,
        status=status,
        treatment=treatment,
        status_reason=reason,
        status_changed_at=None if status == Appointment.Status.BOOKED else changed,
    )
    rows.appointments.append(appointment)
    org = appointment.organization_id
    rows.staff += [
        AppointmentStaff(organization_id=org, appointment=appointment, staff=m, role=role)
        for m, role in staffing
    ]
    slots = slots_of(start, minutes)
    if status in (Appointment.Status.BOOKED, Appointment.Status.COMPLETED):
        rows.claims += [
            Occupancy(organization_id=org, appointment=appointment, room=room, slot=s) for s in slots if room
        ]
        rows.claims += [
            Occupancy(organization_id=org, appointment=appointment, staff=m, slot=s)
            for m, _ in staffing
            for s in slots
        ]
    patient_id = item.patient.pk
    rows.log(
        actor,
        Entry(
            Action.CREATE,
            "Appointment",
            str(appointment.pk),
            patient_id,
            {
                "type": kind.key,
                "clinic": str(item.plan.clinic_id),
                "starts_at": start.isoformat(),
                "room": str(room.pk) if room else "",
                "staff": [str(m.pk) for m, _ in staffing],
                "plan": str(item.plan.pk),
                "series_number": number,
                "rescheduled_from": "",
            },
        ),
    )
    if status == Appointment.Status.COMPLETED:
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Treatment",
                str(treatment.pk),
                patient_id,
                {"status": "given", "appointment": str(appointment.pk)},
            ),
        )
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Appointment",
                str(appointment.pk),
                patient_id,
                {"from": "booked", "to": "completed"},
            ),
        )
    elif status != Appointment.Status.BOOKED:
        rows.log(
            actor,
            Entry(
                Action.CREATE,
                "Treatment",
                str(treatment.pk),
                patient_id,
                {"status": "scheduled", "appointment": str(appointment.pk)},
            ),
        )
        rows.log(
            actor,
            Entry(
                Action.UPDATE,
                "Appointment",
                str(appointment.pk),
                patient_id,
                {"from": "booked", "to": status, "reason": reason},
            ),
        )
    return appointment


def _cancellations(
    book: CalendarBook,
    planned: Sequence[Planned],
    types: dict[str, AppointmentType],
    actors: dict[str, Actor],
    rows: Rows,
    rng: random.Random,
) -> int:
    """A few past visits cancelled and one no-show, each with its reason and its cancelled treatment;
    their slots are released, as `scheduling.services.cancel` releases them."""
    open_plans = [p for p in planned if p.plan is not None and p.plan.is_open and len(p.treatments) >= 3]
    chosen = rng.sample(open_plans, min(len(CANCEL_REASONS) + 1, len(open_plans)))
    treatments = []
    for index, item in enumerate(chosen):
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        minutes = grid_minutes(item.protocol.chair_minutes or kind.minutes)
        given = [t for t in item.treatments if t.status == Treatment.Status.GIVEN]
        wanted = given[-1].occurred_at - timedelta(days=2)
        found = book.place(item.clinic_index, item.patient.pk, wanted, minutes, kind, past=True)
        if found is None:
            continue
        start, room, staffing = found
        book.release(item.patient.pk, room, staffing, slots_of(start, minutes))
        treatment = Treatment(
            id=uuid.uuid4(),
            organization_id=item.plan.organization_id,
            patient_id=item.patient.pk,
            recorded_by_id=actors["frontdesk"].user_id,
            occurred_at=start,
            status=Treatment.Status.CANCELLED,
            description=kind.name[:120],
        )
        treatments.append(treatment)
        no_show = index == len(CANCEL_REASONS)
        status = Appointment.Status.NO_SHOW if no_show else Appointment.Status.CANCELLED
        reason = NO_SHOW_REASON if no_show else CANCEL_REASONS[index]
        _add(
            rows,
            actors["frontdesk"],
            item,
            kind=kind,
            start=start,
            minutes=minutes,
            room=room,
            staffing=staffing,
            treatment=treatment,
            status=status,
            phase=item.plan.phase if item.plan.phase != "completed" else "maintenance",
            number=None,
            reason=reason,
        )
    Treatment.objects.bulk_create(treatments)
    return len(treatments)


def _waitlist(
    book: CalendarBook,
    planned: Sequence[Planned],
    types: dict[str, AppointmentType],
    actors: dict[str, Actor],
    rows: Rows,
) -> int:
    """Two patients in induction waiting for an earlier slot."""
    today = book.now.date()
    entries = []
    for item in [p for p in planned if p.plan is not None and p.plan.phase == "induction"][:2]:
        assert item.plan is not None
        kind = types[TYPE_BY_ROUTE[item.plan.route]]
        entry = WaitlistEntry(
            organization_id=item.plan.organization_id,
            patient_id=item.patient.pk,
            recorded_by_id=actors["frontdesk"].user_id,
            clinic=item.plan.clinic,
            appointment_type=kind,
            plan=item.plan,
            earliest=today,
            latest=today + timedelta(days=14),
            notes=WAITLIST_NOTE,
        )
        entries.append(entry)
        rows.log(
            actors["frontdesk"],
            Entry(
                Action.CREATE,
                "WaitlistEntry",
                str(entry.pk),
                item.patient.pk,
                {"type": kind.key, "clinic": str(item.plan.clinic_id)},
            ),
        )
    WaitlistEntry.objects.bulk_create(entries)
    return len(entries)
