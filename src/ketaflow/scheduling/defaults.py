"""The appointment types every organization starts with (clinical reference §2, §4 and §1.6).

Each is a row the clinic edits on the types page (minutes, roles, instructions): the numbers here are
defaults, not rules. Sources:
- esketamine: at least 2 h observation with a prescriber on site, plus dosing (3 devices 5 min apart),
  so 135 min in the chair; no food for 2 h and no liquids for 30 min before [src: Spravato US label].
- IV: an infusion of about 40 min plus recovery, 90 min in the chair [src: APA consensus 2017 for the
  40 min; the recovery time is a clinic setting]. IV/IM fasting: a light meal, no food for the 4 hours
  before [verify: clinic setting, no primary source].
- After any clinic treatment someone else drives the patient home (reference §1.6).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from ketaflow.accounts.roles import Role
from ketaflow.clinical.eligibility.rules import Route
from ketaflow.clinics.models import Room

from .models import AppointmentType

ESCORT = "Someone must drive you home: no driving until the next day after sleep."
PLAYLIST = "Bring a music playlist and headphones if you like; an eyeshade is provided."
ESKETAMINE_FASTING = (
    "No food for 2 hours and no liquids for 30 minutes before your dose."
)
INFUSION_FASTING = (
    "Eat only a light meal, and no food for the 4 hours before your session."
)


@dataclass(frozen=True)
class DefaultType:
    key: str
    name: str
    minutes: int
    room_kind: str
    roles: tuple[Role, ...]
    route: str = ""
    telehealth: bool = False
    instructions: str = ""


DEFAULT_TYPES: tuple[DefaultType, ...] = (
    DefaultType("consultation", "Consultation", 60, Room.Kind.CONSULT, (Role.PRESCRIBER,)),
    DefaultType("evaluation", "Evaluation", 90, Room.Kind.CONSULT, (Role.PRESCRIBER,)),
    DefaultType(
        "iv",
        "IV infusion",
        90,
        Room.Kind.CHAIR,
        (Role.NURSE,),
        Route.IV,
        instructions="\n".join((INFUSION_FASTING, ESCORT, PLAYLIST)),
    ),
    DefaultType(
        "im",
        "Intramuscular injection",
        90,
        Room.Kind.CHAIR,
        (Role.NURSE,),
        Route.IM,
        instructions="\n".join((INFUSION_FASTING, ESCORT, PLAYLIST)),
    ),
    DefaultType(
        "esketamine",
        "Esketamine (Spravato)",
        135,
        Room.Kind.CHAIR,
        (Role.NURSE, Role.PRESCRIBER),
        Route.ESKETAMINE,
        instructions="\n".join((ESKETAMINE_FASTING, ESCORT, PLAYLIST)),
    ),
    DefaultType(
        "home_checkin",
        "Home session check-in",
        30,
        "",
        (Role.NURSE,),
        Route.SUBLINGUAL_HOME,
        telehealth=True,
        instructions="Have your monitor with you and your blood-pressure cuff ready for the video call.",
    ),
    DefaultType("integration", "Integration therapy", 50, Room.Kind.CONSULT, (Role.THERAPIST,)),
    DefaultType("follow_up", "Follow-up", 30, Room.Kind.CONSULT, (Role.PRESCRIBER,)),
)


def ensure_appointment_types(organization_id: uuid.UUID) -> list[AppointmentType]:
    """Create the default types the organization does not have yet (by key); never changes an
    existing row. Returns the rows created (empty when all were there)."""
    with transaction.atomic():
        have = set(AppointmentType.objects.for_organization(organization_id).values_list("key", flat=True))
        missing = [
            AppointmentType(
                organization_id=organization_id,
                key=d.key,
                name=d.name,
                minutes=d.minutes,
                room_kind=d.room_kind,
                required_roles=[r.value for r in d.roles],
                route=d.route,
                telehealth=d.telehealth,
                instructions=d.instructions,
            )
            for d in DEFAULT_TYPES
            if d.key not in have
        ]
        return AppointmentType.objects.bulk_create(missing, ignore_conflicts=True)
