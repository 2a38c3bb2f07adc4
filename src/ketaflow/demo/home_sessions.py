"""The at-home patient's month: sessions recorded in the portal through `sessions.home`.

The patient on the sublingual home plan gets a portal account (no password yet: staff invite them
to set one) and, in the evenings, records four sessions as the portal would: two completed (blood
pressure, the monitor's attestation, the dose, the check-in afterwards), one blocked by a blood
pressure above the protocol's limit (the prescriber is notified), and, two days ago, one whose
check-in never came:
`alert_missed_check_ins` alerts the prescriber once. Everything is synthetic.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import User
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.patients.models import Patient
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.sessions.home import (
    alert_missed_check_ins,
    attest_monitor,
    post_check_in,
    record_dose_taken,
    start_home_session,
)
from ketaflow.sessions.models import TreatmentSession

from .replay import Script

# Days before today, the blood pressure taken, and how the evening ends.
EVENINGS = (
    (13, (126, 80), "checked in"),
    (9, (122, 78), "checked in"),
    (6, (152, 96), "blocked"),
    (2, (128, 82), "missed"),
)
FEELINGS = (
    (7, "Calm and a little floaty for an hour; slept well. Partner stayed the whole time."),
    (6, "Some nausea at first, then settled. Good conversation with my partner afterwards."),
)
MONITOR = "Partner (treatment monitor)"


def portal_account(nurse: Actor, patient: Patient) -> PortalAccount:
    """An activated portal account for the patient (their email as username; no usable password,
    so nobody signs in as them), audited as the invitation and the activation."""
    username = (patient.email or f"{patient.mrn.lower()}@portal.example").strip().lower()
    now = timezone.now()
    with transaction.atomic():
        user = User(
            username=username,
            email=username,
            organization_id=patient.organization_id,
            first_name=patient.preferred_name or patient.legal_given_name,
        )
        user.set_unusable_password()
        user.save()
        account = PortalAccount.objects.create(
            organization_id=patient.organization_id,
            user=user,
            patient=patient,
            invited_at=now,
            invited_by_id=nurse.user_id,
            activated_at=now,
        )
        record(
            nurse,
            Action.CREATE,
            "PortalAccount",
            account.pk,
            patient_id=patient.pk,
            detail={"event": "invited"},
        )
        record(
            portal_actor(account),
            Action.UPDATE,
            "PortalAccount",
            account.pk,
            patient_id=patient.pk,
            detail={"event": "activated"},
        )
    return account


def evenings(nurse: Actor, patient: Patient, today: date, rng: random.Random, totals: Counter[str]) -> Script:
    """The patient's four home sessions, oldest first (the portal account made before the first)."""
    zone = ZoneInfo(patient.home_clinic.timezone)
    account = portal_account(nurse, patient)
    monitor = patient.emergency_contact_name or MONITOR
    for index, (days, (systolic, diastolic), ending) in enumerate(EVENINGS):
        at = datetime.combine(today - timedelta(days=days), time(18, rng.randint(0, 40)), zone)
        yield at
        session = start_home_session(
            account, None, systolic_bp=systolic, diastolic_bp=diastolic, heart_rate=rng.randint(64, 80)
        )
        totals[f"home sessions {ending}"] += 1
        if session.status == TreatmentSession.Status.BLOCKED:
            continue
        yield at + timedelta(minutes=3)
        attest_monitor(account, session.pk, monitor_name=monitor)
        yield at + timedelta(minutes=6)
        taken = record_dose_taken(account, session.pk, dose_mg=session.planned_mg)
        if ending == "missed" and taken.check_in_due_at is not None:
            yield taken.check_in_due_at + timedelta(minutes=30)  # the staff's check finds it late
            totals["home check-ins alerted"] += alert_missed_check_ins(
                timezone.now(), organization_id=patient.organization_id
            )
            continue
        yield at + timedelta(hours=2, minutes=30)
        feeling, notes = FEELINGS[index % len(FEELINGS)]
        post_check_in(account, session.pk, feeling=feeling, notes=notes)
