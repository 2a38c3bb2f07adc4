"""The portal home card "Your appointments": the upcoming ones with date, time, clinic and the
pre-session instructions, and "Add to my calendar" (the patient's own feed link)."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.portal.cards import Card, register_card
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor

from .feeds import active_feed
from .models import OPEN, Appointment
from .reminders import instruction_lines, when_text

CARD_LIMIT = 5


def appointments_card(account: PortalAccount, ip_address: str | None) -> Card | None:
    """The patient's next appointments (their own only); None with none coming and no calendar
    link. Showing it is an audited read (the count only)."""
    upcoming = list(
        Appointment.objects.for_organization(account.organization_id)
        .filter(patient_id=account.patient_id, status__in=OPEN, ends_at__gte=timezone.now())
        .select_related("clinic", "appointment_type", "plan")
        .order_by("starts_at", "pk")[:CARD_LIMIT]
    )
    feed = active_feed(account.organization_id, patient_id=account.patient_id)
    if not upcoming and feed is None:
        return None
    with transaction.atomic():
        record(portal_actor(account, ip_address), Action.READ, "Appointment", "",
               patient_id=account.patient_id, detail={"purpose": "portal:card", "count": len(upcoming)})
    items = [
        {
            "id": a.pk, "when": when_text(a.starts_at, a.clinic.timezone), "what": a.appointment_type.name,
            "clinic": a.clinic.name, "address": a.clinic.address, "phone": a.clinic.phone,
            "instructions": instruction_lines(a),
        }
        for a in upcoming
    ]
    return Card("scheduling/card.html", {
        "items": items, "feed": feed, "calendar_url": reverse("scheduling:portal_feed"),
    })


register_card("appointments", appointments_card)
