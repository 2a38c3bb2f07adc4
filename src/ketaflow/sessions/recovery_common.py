"""Small shared pieces of the recovery services: the practice's session settings, the statuses in
which a session may still be charted, a staff member's name and a quantity as the record shows them."""

from __future__ import annotations

import uuid
from decimal import Decimal

from ketaflow.validation import ValidationFailed

from .models import SessionSettings, TreatmentSession

Status = TreatmentSession.Status
CHARTING = frozenset({Status.CHECKED_IN, Status.DOSING, Status.RECOVERY, Status.DISCHARGED})


def require_charting(session: TreatmentSession) -> None:
    """ValidationFailed('status') unless the session is open for charting (checked in to discharged)."""
    if session.status not in CHARTING:
        raise ValidationFailed.single(
            "status", f"This session is {session.get_status_display().lower()}; nothing more is charted."
        )


def session_settings(organization_id: uuid.UUID) -> SessionSettings:
    """The practice's session settings; until the practice saves its own, an unsaved row holding the
    model's defaults (a read never writes)."""
    found = SessionSettings.objects.filter(organization_id=organization_id).first()
    return found or SessionSettings(organization_id=organization_id)


def person(user: object | None) -> str:
    """A staff user's name for the record ('' when none)."""
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "username", ""))


def num(value: Decimal | int | float | None) -> str:
    """A quantity without trailing zeros: 150, 0.82, 4."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return f"{value:g}" if isinstance(value, float) else str(value)
