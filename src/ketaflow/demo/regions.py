"""The demo practice's two clinics and the towns their patients come from.

Clinic street addresses are made up; towns, states, ZIP codes and area codes are real places so
addresses look right on a page. Every phone number built from these area codes is in the 555-0100
to 555-0199 range reserved for fiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class Town:
    city: str
    state: str
    zip_codes: tuple[str, ...]


@dataclass(frozen=True)
class Region:
    """One clinic and its catchment: where it is, when it opens, its rooms, where patients live."""

    clinic_name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    timezone: str
    area_codes: tuple[str, ...]
    towns: tuple[Town, ...]
    hours: tuple[tuple[int, time, time], ...]  # (weekday 0 = Monday, opens, closes)
    consult_rooms: int
    treatment_rooms: int
    chairs: int
    licence_state: str


def _weekdays(opens: time, closes: time) -> tuple[tuple[int, time, time], ...]:
    return tuple((day, opens, closes) for day in range(5))


PORTLAND = Region(
    clinic_name="Harbor Ketamine — Portland",
    address_line1="2210 Alder Crest Way",
    address_line2="Suite 300",
    city="Portland",
    state="OR",
    postal_code="97210",
    timezone="America/Los_Angeles",
    area_codes=("503", "971"),
    towns=(
        Town("Portland", "OR", ("97201", "97202", "97205", "97209", "97212", "97214", "97217",
                                "97219", "97232")),
        Town("Beaverton", "OR", ("97005", "97006", "97007")),
        Town("Hillsboro", "OR", ("97123", "97124")),
        Town("Lake Oswego", "OR", ("97034", "97035")),
        Town("Gresham", "OR", ("97030", "97080")),
        Town("Tigard", "OR", ("97223", "97224")),
        Town("Milwaukie", "OR", ("97222", "97267")),
        Town("Vancouver", "WA", ("98660", "98683", "98684")),
    ),
    hours=(*_weekdays(time(8), time(18)), (5, time(9), time(13))),
    consult_rooms=2,
    treatment_rooms=2,
    chairs=6,
    licence_state="OR",
)

DENVER = Region(
    clinic_name="Harbor Ketamine — Denver",
    address_line1="1875 Larkspur Avenue",
    address_line2="Floor 2",
    city="Denver",
    state="CO",
    postal_code="80206",
    timezone="America/Denver",
    area_codes=("303", "720"),
    towns=(
        Town("Denver", "CO", ("80202", "80203", "80205", "80206", "80210", "80218", "80220")),
        Town("Aurora", "CO", ("80010", "80012", "80014")),
        Town("Lakewood", "CO", ("80226", "80227")),
        Town("Englewood", "CO", ("80110", "80113")),
        Town("Littleton", "CO", ("80120", "80122")),
        Town("Arvada", "CO", ("80002", "80003")),
        Town("Boulder", "CO", ("80302", "80304")),
        Town("Golden", "CO", ("80401",)),
    ),
    hours=(*_weekdays(time(7, 30), time(17, 30)), (5, time(8), time(12))),
    consult_rooms=2,
    treatment_rooms=1,
    chairs=4,
    licence_state="CO",
)

REGIONS: tuple[Region, ...] = (PORTLAND, DENVER)
# Out-of-area mobile numbers (people keep their number when they move).
OTHER_AREA_CODES = ("206", "212", "312", "415", "512", "541", "617", "702", "719", "970")
