"""Money typed by people: "350", "350.00", "$1,250.50" -> whole cents, strictly.

A form field takes dollars and cents as text; anything else (a third decimal, a minus sign, letters,
"1.5") is refused with a message naming the field, never rounded or guessed.
"""

from __future__ import annotations

import re

from ketaflow.validation import ValidationFailed

MAX_CENTS = 10_000_000_00  # $10 million: far above any single price or payment
_AMOUNT = re.compile(r"^\$?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d{2}))?$")
HINT = "Enter dollars and cents, for example 350 or 1,250.00."


def parse_amount(text: object, field: str, *, allow_zero: bool = False) -> int:
    """The amount in cents. Raises ValidationFailed on `field` for anything but a plain amount."""
    raw = str(text if text is not None else "").strip().replace(" ", "")
    if not raw:
        raise ValidationFailed.single(field, f"Enter an amount. {HINT}")
    found = _AMOUNT.match(raw)
    if found is None:
        raise ValidationFailed.single(field, f"'{raw[:20]}' is not an amount. {HINT}")
    cents = int(found["whole"].replace(",", "")) * 100 + int(found["cents"] or 0)
    if cents == 0 and not allow_zero:
        raise ValidationFailed.single(field, "Enter an amount above zero.")
    if cents > MAX_CENTS:
        raise ValidationFailed.single(field, "That amount is too large; check the number.")
    return cents


def check_cents(value: object, field: str, *, allow_zero: bool = False) -> int:
    """A whole number of cents from code or the API (not a bool, not negative, within range)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed.single(field, "Give the amount as a whole number of cents.")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationFailed.single(field, "Enter an amount above zero.")
    if value > MAX_CENTS:
        raise ValidationFailed.single(field, "That amount is too large; check the number.")
    return value


def cents_as_text(cents: int) -> str:
    """Cents as a form shows them back: 35000 -> "350.00"."""
    return f"{cents // 100}.{cents % 100:02d}"
