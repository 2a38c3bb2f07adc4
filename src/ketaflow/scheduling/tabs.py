"""The chart's Appointments tab (registered when the app is ready), and the portal card.

`appointments_context` receives a patient already opened (and audited) by `open_patient`. It
shows upcoming and past appointments with their status in words, the plan's phase and series
number, the reminders sent, a Book link, and the patient's calendar-feed control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient
from ketaflow.plans.models import Phase

from . import cards  # noqa: F401  (registers the portal card)
from .calendar import STATUS_TONES
from .feeds import active_feed
from .models import OPEN, Appointment, AppointmentStaff
from .reminders import instruction_lines

TAB = "appointments"
STAFF_ROWS = AppointmentStaff.objects.select_related("staff__user")
PAST_LIMIT = 50
PHASE_LABELS = dict(Phase.choices)


@dataclass(frozen=True)
class AppointmentRow:
    appointment: Appointment
    zone: str
    tone: str
    staff: str
    phase: str
    instructions: list[str]


def row_of(appointment: Appointment, *, with_instructions: bool = False) -> AppointmentRow:
    staff = ", ".join(
        f"{row.staff.display_name}" + (f" ({row.role.replace('_', ' ')})" if row.role else "")
        for row in appointment.staff_rows.all()
    )
    return AppointmentRow(
        appointment=appointment, zone=appointment.clinic.timezone,
        tone=STATUS_TONES.get(Appointment.Status(appointment.status), "brand"), staff=staff,
        phase=PHASE_LABELS.get(appointment.phase, appointment.phase.replace("_", " ").capitalize()),
        instructions=instruction_lines(appointment) if with_instructions else [],
    )


def appointments_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_SCHEDULE)
    now = timezone.now()
    found = list(
        Appointment.objects.for_organization(actor.organization_id)
        .filter(patient=patient)
        .select_related("clinic", "appointment_type", "room", "plan")
        .prefetch_related(Prefetch("staff_rows", queryset=STAFF_ROWS))
        .order_by("starts_at", "pk")
    )
    upcoming = [a for a in found if a.status in OPEN and a.ends_at >= now]
    chosen = {a.pk for a in upcoming}
    past = [a for a in reversed(found) if a.pk not in chosen]
    return {
        "upcoming_rows": [row_of(a, with_instructions=True) for a in upcoming],
        "past_rows": [row_of(a) for a in past[:PAST_LIMIT]],
        "past_hidden": max(0, len(past) - PAST_LIMIT),
        "reminders_sent": sum(1 for a in found if a.reminder_sent_at is not None),
        "patient_feed": active_feed(actor.organization_id, patient_id=patient.pk),
        "can_edit_schedule": actor.can(Permission.EDIT_SCHEDULE),
    }


register_tab(TAB, "Appointments", Permission.VIEW_SCHEDULE, "scheduling/tab.html", appointments_context)
