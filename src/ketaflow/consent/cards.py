"""The consent card on the portal's home page: forms waiting for a signature, or the signed ones."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.portal.cards import Card, register_card
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor

from .models import Consent
from .services import consents_of


def consent_card(account: PortalAccount, ip_address: str | None) -> Card | None:
    """"You have a consent form to sign" (or a link to the signed ones); None with no consents.
    Showing the card is an audited read of the patient's consents (counts only)."""
    counts = consents_of(account.organization_id).filter(patient_id=account.patient_id).aggregate(
        waiting=Count("pk", filter=Q(status=Consent.Status.REQUESTED)),
        signed=Count("pk", filter=Q(signed_at__isnull=False)),
    )
    waiting, signed = counts["waiting"], counts["signed"]
    if not waiting and not signed:
        return None
    with transaction.atomic():
        record(portal_actor(account, ip_address), Action.READ, "Consent", "", patient_id=account.patient_id,
               detail={"purpose": "portal:card", "waiting": waiting, "signed": signed})
    return Card("consent/portal/_card.html", {"waiting": waiting, "signed": signed})


register_card("consent", consent_card)
