"""Age and age group, computed for a date passed in (the core never reads the clock).

Age groups change rules later (clinical reference §3): adolescents need prescriber review; at 65
and over dosing and fall risk change. The boundaries are parameters with those defaults, so a
clinic's settings can move them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

ADULT_FROM_AGE = 18  # clinical reference §3: under 18 needs prescriber review [verify local law]
OLDER_ADULT_FROM_AGE = 65  # clinical reference §2-3: dosing and fall-risk changes at 65 and over


class AgeGroup(StrEnum):
    CHILD = "child"
    ADOLESCENT = "adolescent"
    ADULT = "adult"
    OLDER_ADULT = "older adult"


ADOLESCENT_FROM_AGE = 12


def age_on(date_of_birth: date, on: date) -> int:
    """Completed years on `on`; raises ValueError for a birth date after `on`."""
    if date_of_birth > on:
        raise ValueError("date of birth is after the date of the calculation")
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


@dataclass(frozen=True)
class AgeBands:
    adolescent_from: int = ADOLESCENT_FROM_AGE
    adult_from: int = ADULT_FROM_AGE
    older_adult_from: int = OLDER_ADULT_FROM_AGE

    def group(self, age: int) -> AgeGroup:
        if age >= self.older_adult_from:
            return AgeGroup.OLDER_ADULT
        if age >= self.adult_from:
            return AgeGroup.ADULT
        if age >= self.adolescent_from:
            return AgeGroup.ADOLESCENT
        return AgeGroup.CHILD
