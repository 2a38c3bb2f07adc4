"""Small checks shared by the chairside services: times, text, numbers and the session's rules.

Each raises ValidationFailed naming the input at fault, so pages and the API show it beside the field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from ketaflow.clinical.monitoring import MonitoringRules, parse_rules
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.validation import ValidationFailed

from .models import TreatmentSession

CLOCK_SKEW = timedelta(minutes=2)
TEXT_LIMIT = 300


def moment(value: Any, field: str, *, now: datetime | None = None) -> datetime:
    """`value` as an aware datetime (now when None); ISO text is accepted. Refused when naive,
    unreadable or more than two minutes in the future."""
    current = now or timezone.now()
    if value is None or value == "":
        return current
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed.single(field, "Give a date and time (ISO 8601).") from None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationFailed.single(field, "Give a date and time with a time zone.")
    if value > current + CLOCK_SKEW:
        raise ValidationFailed.single(field, "This time is in the future; record what has happened.")
    return value


def text(value: Any, field: str, *, limit: int = TEXT_LIMIT, required: str = "") -> str:
    """Stripped text of at most `limit` characters; `required` is the message when it is empty."""
    cleaned = str(value or "").strip()
    if required and not cleaned:
        raise ValidationFailed.single(field, required)
    if len(cleaned) > limit:
        raise ValidationFailed.single(field, f"Keep this under {limit} characters.")
    return cleaned


def decimal(value: Any, field: str, *, positive: bool = True) -> Decimal | None:
    """A finite Decimal (None stays None); above zero when `positive`."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationFailed.single(field, "Enter a number.")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed.single(field, "Enter a number.") from None
    if not number.is_finite():
        raise ValidationFailed.single(field, "Enter a number.")
    if positive and number <= 0:
        raise ValidationFailed.single(field, "Enter a number above zero.")
    return number


def rules_of(session: TreatmentSession) -> MonitoringRules:
    """The monitoring rules copied into the session at check-in."""
    try:
        return parse_rules(session.route, session.monitoring)
    except ProtocolError as exc:  # a stored copy is validated at check-in; this guards hand edits
        raise ValidationFailed.single(exc.field, exc.message) from exc


def zone_of(session: TreatmentSession) -> tzinfo:
    """The session's clinic time zone (the practice's default for a session without a clinic)."""
    return ZoneInfo(session.clinic.timezone if session.clinic_id and session.clinic else settings.TIME_ZONE)


def clinic_day(session: TreatmentSession, when: datetime) -> date:
    """The date at the session's clinic at `when`."""
    return when.astimezone(zone_of(session)).date()


def drug_of_route(route: str) -> str:
    """The product drug a route's dose is drawn from."""
    return "esketamine" if route == "esketamine" else "ketamine"


INFUSION_ROUTES = frozenset({"iv"})
