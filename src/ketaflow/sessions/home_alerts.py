"""Telling people about an at-home session: the blocked page's advice to the patient and the
missed check-in alert to the prescriber (once per session)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.measurement.patient_views import crisis_sentence

from .flow_vitals import notify_prescriber
from .models import HomeSession, TreatmentSession


@dataclass(frozen=True)
class BlockedAdvice:
    """What the patient reads when the session is blocked."""

    headline: str
    reasons: list[str]
    contact: str
    crisis: str


def blocked_advice(session: TreatmentSession) -> BlockedAdvice:
    clinic = session.clinic or session.plan.clinic
    phone = f" on {clinic.phone}" if clinic.phone else ""
    reasons = [str(b["message"]) for b in (session.readiness or {}).get("blockers", [])]
    return BlockedAdvice(
        headline="Do not take your dose today.",
        reasons=reasons,
        contact=(
            f"Your blood pressure is too high for a home session. Sit quietly and do not take the dose. "
            f"Contact {clinic.name}{phone} before your next dose; your prescriber has been told. "
            "If you have chest pain, a severe headache, trouble speaking or weakness, call 911."
        ),
        crisis=crisis_sentence(session.organization_id),
    )


def alert_missed_check_ins(now: datetime, *, organization_id: uuid.UUID | None = None) -> int:
    """Notify the prescriber of each home session whose check-in is overdue, once per session
    (`missed_alerted_at`). Returns how many were alerted. Audited as the software acting."""
    overdue = HomeSession.objects.filter(
        check_in_due_at__lt=now, checked_in_at__isnull=True, missed_alerted_at__isnull=True
    )
    if organization_id is not None:
        overdue = overdue.for_organization(organization_id)
    alerted = 0
    for home in overdue.select_related("session__plan__prescriber__user", "patient").order_by(
        "check_in_due_at"
    ):
        with transaction.atomic():
            claimed = HomeSession.objects.filter(pk=home.pk, missed_alerted_at__isnull=True).update(
                missed_alerted_at=now
            )
            if not claimed:
                continue  # another run got there first
            session = home.session
            notify_prescriber(session, f"Missed home check-in for {home.patient.mrn}")
            record(
                Actor.system(home.organization_id, via="cli"),
                Action.UPDATE,
                "HomeSession",
                home.pk,
                patient_id=home.patient_id,
                detail={"event": "missed check-in alerted"},
            )
            alerted += 1
    return alerted
