"""Phone numbers are stored in E.164 and shown in national format (libphonenumber)."""

from __future__ import annotations

import phonenumbers

PHONE_HINT = "Enter a phone number with its area code, for example (503) 555-0142."


def normalise_phone(value: str, region: str) -> str:
    """The E.164 form of `value`; raises ValueError with a message a user can act on."""
    text = value.strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(PHONE_HINT) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValueError(PHONE_HINT)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str, region: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
