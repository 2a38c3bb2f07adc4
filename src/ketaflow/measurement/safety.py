"""Safety alerts: an answer endorsing suicidal ideation or risk never goes unseen.

The alert is assigned to the patient's responsible clinician (from the measurement plan); with none
set, every active prescriber of the patient's home clinic (or, failing that, of the organization) is
notified, so there is always someone. Each recipient gets an in-app notification at once and an
email that names no patient. The alert stays open until acknowledged with a documented action.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import Instrument, Score
from ketaflow.patients.models import Patient
from ketaflow.validation import FieldError, ValidationFailed

from .models import MeasurementPlan, Notification, QuestionnaireResponse, SafetyAlert

REPEAT_WINDOW = timedelta(hours=24)
EMAIL_SUBJECT = "ketaflow: a safety alert needs your attention"


def raise_alert(
    actor: Actor, patient: Patient, instrument: Instrument, result: Score, response: QuestionnaireResponse
) -> SafetyAlert:
    """Create the alert, its notifications and (after commit) the emails; inside the caller's transaction.

    When the same flags are already open for this patient and instrument from the last day (an
    unfinished submission, then the finished one), that alert is returned instead of a second one.
    """
    flag_names = sorted(f.name for f in result.safety_details)
    recent = SafetyAlert.objects.for_organization(patient.organization_id).filter(
        patient=patient,
        instrument_id=instrument.id,
        status=SafetyAlert.Status.OPEN,
        raised_at__gte=timezone.now() - REPEAT_WINDOW,
    )
    for existing in recent:
        if sorted(f["name"] for f in existing.flags) == flag_names:
            record(
                actor,
                Action.UPDATE,
                "SafetyAlert",
                existing.pk,
                patient_id=patient.pk,
                detail={"repeated_by_response": str(response.pk)},
            )
            return existing
    plan = MeasurementPlan.objects.for_organization(patient.organization_id).filter(patient=patient).first()
    assigned = plan.responsible_clinician if plan and plan.responsible_clinician_id else None
    if assigned is not None and not assigned.user.is_active:
        assigned = None
    recipients = [assigned] if assigned is not None else list(fallback_recipients(patient))
    alert = SafetyAlert.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        response=response,
        instrument_id=instrument.id,
        flags=[
            {"name": f.name, "message": f.message, "item": f.item, "value": f.value}
            for f in result.safety_details
        ],
        raised_at=timezone.now(),
        assigned_to=assigned,
    )
    link = f"/measures/alerts/{alert.pk}/"
    Notification.objects.bulk_create(
        Notification(
            organization_id=patient.organization_id,
            recipient_id=staff.user_id,
            patient=patient,
            safety_alert=alert,
            title=f"Safety alert: {instrument.short_name} for {patient.mrn}",
            link=link,
        )
        for staff in recipients
    )
    record(
        actor,
        Action.CREATE,
        "SafetyAlert",
        alert.pk,
        patient_id=patient.pk,
        detail={"flags": [f.name for f in result.safety_details], "notified": len(recipients)},
    )
    emails = [staff.user.email for staff in recipients if staff.user.email]
    if emails:
        transaction.on_commit(lambda: _email(emails, link))
    return alert


def fallback_recipients(patient: Patient) -> QuerySet[StaffMember]:
    """Active prescribers at the patient's home clinic, else every active prescriber of the organization."""
    prescribers = (
        StaffMember.objects.for_organization(patient.organization_id)
        .filter(user__is_active=True, role_rows__role=Role.PRESCRIBER)
        .select_related("user")
        .distinct()
    )
    at_clinic = prescribers.filter(clinics=patient.home_clinic_id)
    return at_clinic if at_clinic.exists() else prescribers


def _email(addresses: Iterable[str], link: str) -> None:
    body = (
        "A patient's questionnaire answer needs a clinician's review now.\n\n"
        f"Open the alert in ketaflow: {settings.KETAFLOW_BASE_URL}{link}\n\n"
        "This message names no patient; sign in to see the details."
    )
    send_mail(EMAIL_SUBJECT, body, None, list(addresses), fail_silently=True)


def alerts_for(actor: Actor) -> QuerySet[SafetyAlert]:
    actor.require(Permission.VIEW_CLINICAL)
    return SafetyAlert.objects.for_organization(actor.organization_id).select_related(
        "patient", "assigned_to__user", "acknowledged_by"
    )


def open_alert(actor: Actor, alert_id: uuid.UUID | str) -> SafetyAlert:
    """One alert, its reading audited."""
    with transaction.atomic():
        alert: SafetyAlert = alerts_for(actor).one(alert_id, "safety alert")  # type: ignore[attr-defined]
        record(actor, Action.READ, "SafetyAlert", alert.pk, patient_id=alert.patient_id)
    return alert


def acknowledge_alert(actor: Actor, alert_id: uuid.UUID | str, *, action: str, note: str) -> SafetyAlert:
    """Close the alert with what was done. Needs clinical edit rights, a listed action and a note."""
    actor.require(Permission.EDIT_CLINICAL)
    errors = []
    if action not in SafetyAlert.Action.values:
        errors.append(FieldError("action", "Choose the action you took."))
    note = (note or "").strip()
    if not note:
        errors.append(FieldError("note", "Document what you did and found."))
    elif len(note) > 4000:
        errors.append(FieldError("note", "Keep the note to 4000 characters."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        scope = SafetyAlert.objects.for_organization(actor.organization_id).select_for_update()
        alert: SafetyAlert = scope.one(alert_id, "safety alert")
        if alert.status != SafetyAlert.Status.OPEN:
            raise ValidationFailed.single(None, "This alert was already acknowledged.")
        alert.status = SafetyAlert.Status.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by_id = actor.user_id
        alert.action = action
        alert.action_note = note
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "action", "action_note"])
        Notification.objects.for_organization(actor.organization_id).filter(
            safety_alert=alert, read_at__isnull=True
        ).update(read_at=alert.acknowledged_at)
        record(
            actor,
            Action.UPDATE,
            "SafetyAlert",
            alert.pk,
            patient_id=alert.patient_id,
            detail={"status": "acknowledged", "action": action},
        )
    return alert


def unread_notifications(actor: Actor) -> QuerySet[Notification]:
    return Notification.objects.for_organization(actor.organization_id).filter(
        recipient_id=actor.user_id, read_at__isnull=True
    )
