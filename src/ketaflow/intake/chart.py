"""The Intake chart tab: the open intake and its link, the latest submitted answers, and review.

Registered in `IntakeConfig.ready()`. The context receives a patient already opened (and audited)
by the chart; showing the submitted answers is recorded as a READ of that intake.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Allergy, Medication, Patient

from .delivery import sms_ready
from .models import Intake
from .services import LINK_LIFETIME_DAYS, intakes_of
from .summary import summarise

CHANNEL_CHOICES = [
    (Intake.Channel.EMAIL, "Email"),
    (Intake.Channel.SMS, "Text message"),
    (Intake.Channel.IN_PERSON, "In person (show the link and a QR code)"),
]


def issue_context(patient: Patient) -> dict[str, Any]:
    """What `intake/_issue_form.html` needs besides `patient`."""
    return {"intake_channels": CHANNEL_CHOICES, "intake_link_days": LINK_LIFETIME_DAYS,
            "intake_sms_ready": sms_ready()}


def patient_reported(intake: Intake) -> tuple[list[Medication], list[Allergy]]:
    """The medications and allergies this intake added to the chart."""
    made = intake.created_records or {}
    medications = list(
        Medication.objects.for_organization(intake.organization_id)
        .filter(patient_id=intake.patient_id, pk__in=made.get("medications") or []).order_by("name")
    )
    allergies = list(
        Allergy.objects.for_organization(intake.organization_id)
        .filter(patient_id=intake.patient_id, pk__in=made.get("allergies") or []).order_by("substance")
    )
    return medications, allergies


def intake_tab_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    """The form's status and the send form for everyone who sees demographics (the front desk sends
    it); the answers, and what the intake added to the chart, only with clinical access."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    intakes = intakes_of(actor, patient)
    open_intake = next((i for i in intakes if i.is_open), None)
    submitted = [i for i in intakes if i.status == Intake.Status.SUBMITTED]
    latest = max(submitted, key=lambda i: i.submitted_at or i.recorded_at) if submitted else None
    context: dict[str, Any] = {
        "intake_open": open_intake,
        "intake_history": intakes,
        "intake_latest": latest,
        "intake_summary": None,
        "can_review_intake": actor.can(Permission.EDIT_CLINICAL),
        "intake_clinical": actor.can(Permission.VIEW_CLINICAL),
        **issue_context(patient),
    }
    if latest is not None and actor.can(Permission.VIEW_CLINICAL):
        latest.patient = patient
        medications, allergies = patient_reported(latest)
        with transaction.atomic():
            record(actor, Action.READ, "Intake", latest.pk, patient_id=patient.pk,
                   detail={"purpose": "chart:intake"})
        context |= {
            "intake_summary": summarise(latest),
            "intake_medications": medications,
            "intake_allergies": allergies,
        }
    return context


def register() -> None:
    register_tab("intake", "Intake", Permission.VIEW_DEMOGRAPHICS, "intake/tab.html", intake_tab_context)
