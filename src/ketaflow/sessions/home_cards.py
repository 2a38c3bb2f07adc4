"""The portal home card "Your home session": start today's session, continue one under way, or
check in after the dose. Shown only to a patient with a signed, open home plan (or a session
under way). Registered on import; the sessions app imports it when it is ready."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.portal.cards import Card, register_card
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor

from .home import blocked_today, current_home_session, home_plan
from .models import TreatmentSession

Status = TreatmentSession.Status


def home_session_card(account: PortalAccount, ip_address: str | None) -> Card | None:
    """The card's next step; None without a home plan or a session under way (or blocked today).
    Audited as a read."""
    current = current_home_session(account) or blocked_today(account)
    plan = home_plan(account) if current is None else None
    if current is None and plan is None:
        return None
    if current is not None:
        steps: dict[str, str] = {Status.RECOVERY: "check_in", Status.BLOCKED: "blocked"}
        step = steps.get(current.status, "continue")
        context = {
            "step": step,
            "url": reverse("sessions:home_session", kwargs={"session_id": current.pk}),
            "due_at": current.home.check_in_due_at,
            "clinic_phone": account.patient.home_clinic.phone,
        }
        object_type, object_id = "TreatmentSession", current.pk
    else:
        assert plan is not None
        context = {"step": "start", "url": reverse("sessions:home_start"), "dose_summary": plan.dose_summary}
        object_type, object_id = "TreatmentPlan", plan.pk
    with transaction.atomic():
        record(
            portal_actor(account, ip_address),
            Action.READ,
            object_type,
            object_id,
            patient_id=account.patient_id,
            detail={"purpose": "portal:card", "step": context["step"]},
        )
    return Card("sessions/home_card.html", context)


register_card("home_session", home_session_card)
