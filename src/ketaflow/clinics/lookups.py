"""Reading one clinic's settings for the pages, always through the organization-scoped clinic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ketaflow.accounts.actor import Actor

from .models import Clinic, OpeningHours, Room
from .services import clinics_for, get_clinic

DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_DASH = "\u2013"


@dataclass(frozen=True)
class ClinicOverview:
    clinic: Clinic
    hours: list[OpeningHours]
    rooms: list[Room]

    @property
    def hours_by_day(self) -> list[tuple[str, str]]:
        """("Mon", "08:00-12:00, 13:00-17:00") for every weekday; "Closed" when none."""
        days = []
        for day, name in enumerate(DAY_ABBREVIATIONS):
            spans = [f"{h.opens:%H:%M}{EN_DASH}{h.closes:%H:%M}" for h in self.hours if h.weekday == day]
            days.append((name, ", ".join(spans) or "Closed"))
        return days

    @property
    def active_rooms(self) -> int:
        return sum(1 for room in self.rooms if room.is_active)


def clinic_overviews(actor: Actor) -> list[ClinicOverview]:
    clinics = clinics_for(actor).prefetch_related("opening_hours", "rooms").order_by("name")
    return [ClinicOverview(c, list(c.opening_hours.all()), list(c.rooms.all())) for c in clinics]


def clinic_overview(actor: Actor, clinic_id: uuid.UUID | str) -> ClinicOverview:
    clinic = get_clinic(actor, clinic_id)
    return ClinicOverview(clinic, list(clinic.opening_hours.all()), list(clinic.rooms.order_by("name")))


def get_room(actor: Actor, clinic_id: uuid.UUID | str, room_id: uuid.UUID | str) -> Room:
    """A room of one of the actor's clinics; NotFound for anyone else's."""
    clinic = get_clinic(actor, clinic_id)
    rooms = Room.objects.for_organization(actor.organization_id).filter(clinic=clinic)
    return rooms.one(room_id, "room")
