"""The price list every organization starts with, and the billing settings row.

Amounts are market figures from clinical reference §10 (IV infusion typically $400-800, an initial
consultation about $350, packages, memberships and add-ons sold as separate lines). A clinic sets
its own prices: these are starting values, and the price list page says so. Procedure codes are
from reference §7, every one [verify].
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from .models import BillingSettings, PriceItem

SOURCE = (
    "Starting prices from market ranges (clinical reference §10: IV infusion typically $400-800, "
    "consultation about $350). Your clinic sets its own prices."
)


@dataclass(frozen=True)
class DefaultPrice:
    code: str
    label: str
    kind: str
    amount_cents: int
    appointment_type_key: str = ""
    covers: str = ""
    sessions: int = 1
    codes: tuple[tuple[str, str], ...] = ()


K = PriceItem.Kind
DEFAULT_PRICES: tuple[DefaultPrice, ...] = (
    DefaultPrice(
        "consultation",
        "Initial consultation",
        K.CONSULTATION,
        350_00,
        "consultation",
        codes=(("CPT", "99204"),),
    ),
    DefaultPrice("iv-session", "IV infusion session", K.SESSION, 500_00, "iv", codes=(("CPT", "96365"),)),
    DefaultPrice("im-session", "Intramuscular (IM) session", K.SESSION, 350_00, "im"),
    DefaultPrice(
        "esketamine-session",
        "Esketamine (Spravato) session",
        K.SESSION,
        600_00,
        "esketamine",
        codes=(("HCPCS", "G2082"),),
    ),
    DefaultPrice("home-checkin", "Home sublingual check-in", K.SESSION, 150_00, "home_checkin"),
    DefaultPrice(
        "integration-therapy",
        "Integration therapy session",
        K.ADD_ON,
        180_00,
        "integration",
        codes=(("CPT", "90837"),),
    ),
    DefaultPrice("follow-up", "Follow-up visit", K.CONSULTATION, 150_00, "follow_up"),
    DefaultPrice("iv-6-pack", "6 IV infusions", K.PACKAGE, 2_700_00, covers="iv-session", sessions=6),
    DefaultPrice("im-6-pack", "6 IM sessions", K.PACKAGE, 1_800_00, covers="im-session", sessions=6),
    DefaultPrice("maintenance-membership", "Maintenance membership", K.MEMBERSHIP, 450_00),
)


def settings_for(organization_id: uuid.UUID) -> BillingSettings:
    """The organization's billing settings, created with the defaults on first use."""
    found, _created = BillingSettings.objects.get_or_create(organization_id=organization_id)
    return found


def ensure_price_list(organization_id: uuid.UUID) -> list[PriceItem]:
    """Create the default prices the organization lacks (by code); never changes an existing row,
    so a clinic's own prices and deactivations stand. Returns the rows created."""
    with transaction.atomic():
        settings_for(organization_id)
        have = set(PriceItem.objects.for_organization(organization_id).values_list("code", flat=True))
        created = [
            PriceItem.objects.create(
                organization_id=organization_id,
                code=p.code,
                label=p.label,
                kind=p.kind,
                amount_cents=p.amount_cents,
                covers=p.covers,
                sessions=p.sessions,
                appointment_type_key=p.appointment_type_key,
                billing_codes=[{"system": system, "code": code} for system, code in p.codes],
            )
            for p in DEFAULT_PRICES
            if p.code not in have
        ]
    return created
