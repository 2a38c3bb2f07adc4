"""Small shared pieces of the recovery services: a charted time, the practice's session settings
and the statuses in which a session may still be charted."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from ketaflow.validation import ValidationFailed

from .models import SessionSettings, TreatmentSession

# A time from a tablet whose clock runs slightly ahead is accepted; more is an error.
CLOCK_SKEW = timedelta(minutes=2)

Status = TreatmentSession.Status
CHARTING = frozenset({Status.CHECKED_IN, Status.DOSING, Status.RECOVERY, Status.DISCHARGED})


def charted_time(value: datetime | None, field: str, now: datetime) -> datetime:
    """`value` (or `now` when None); ValidationFailed(field) when it has no time zone or lies in
    the future beyond the allowed clock skew."""
    if value is None:
        return now
    if timezone.is_naive(value):
        raise ValidationFailed.single(field, "Give a time zone with the time.")
    if value > now + CLOCK_SKEW:
        raise ValidationFailed.single(field, "This time is in the future.")
    return value


def require_charting(session: TreatmentSession) -> None:
    """ValidationFailed('status') unless the session is open for charting (checked in to discharged)."""
    if session.status not in CHARTING:
        raise ValidationFailed.single(
            "status", f"This session is {session.get_status_display().lower()}; nothing more is charted."
        )


def session_settings(organization_id: uuid.UUID) -> SessionSettings:
    """The practice's session settings, created with the model's defaults on first use."""
    found, _ = SessionSettings.objects.get_or_create(organization_id=organization_id)
    return found


def person(user: object | None) -> str:
    """A staff user's name for the record ('' when none)."""
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "username", ""))
