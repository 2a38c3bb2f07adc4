"""The portal home card: "Complete your intake" while the patient has one open."""

from __future__ import annotations

from django.urls import reverse

from ketaflow.portal.cards import Card, register_card
from ketaflow.portal.models import PortalAccount
from ketaflow.validation import NotFound

from .services import record_patient_read, respondent_for_portal


def intake_card(account: PortalAccount, ip_address: str | None) -> Card | None:
    try:
        respondent = respondent_for_portal(account, ip_address)
    except NotFound:
        return None
    record_patient_read(respondent, "portal:card")
    intake = respondent.intake
    return Card("intake/patient/_portal_card.html", {
        "started": intake.status == intake.Status.IN_PROGRESS,
        "url": reverse("intake:portal"),
    })


def register() -> None:
    register_card("intake", intake_card)
