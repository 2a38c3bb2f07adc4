"""Finding possible duplicate registrations: pure scoring over plain values, no database.

A candidate is a possible duplicate when enough evidence agrees: the same date of birth with a
similar name, or the same phone or email with a similar name. Each match states its reasons so the
front desk can judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

NAME_SIMILAR = 0.8
THRESHOLD = 0.6


@dataclass(frozen=True)
class Identity:
    given: str
    family: str
    date_of_birth: date | None
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class DuplicateMatch:
    score: float
    reasons: tuple[str, ...]


def _similar(a: str, b: str) -> float:
    a, b = a.casefold().strip(), b.casefold().strip()
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b).ratio()


def compare(new: Identity, existing: Identity) -> DuplicateMatch | None:
    """How strongly `existing` looks like the same person as `new`; None when it does not."""
    reasons: list[str] = []
    score = 0.0
    family = _similar(new.family, existing.family)
    given = _similar(new.given, existing.given)
    name = (family + given) / 2
    if family >= NAME_SIMILAR and given >= NAME_SIMILAR:
        reasons.append("similar name")
        score += 0.3 * name
    elif family >= NAME_SIMILAR:
        reasons.append("same or similar last name")
        score += 0.15
    if new.date_of_birth and new.date_of_birth == existing.date_of_birth:
        reasons.append("same date of birth")
        score += 0.4
    if new.phone and new.phone == existing.phone:
        reasons.append("same phone")
        score += 0.35
    if new.email and new.email.casefold() == existing.email.casefold():
        reasons.append("same email")
        score += 0.35
    if score < THRESHOLD or not any("name" in r for r in reasons):
        return None
    return DuplicateMatch(round(min(score, 1.0), 2), tuple(reasons))
