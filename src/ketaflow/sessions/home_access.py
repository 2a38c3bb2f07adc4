"""The patient's at-home plan and sessions, read for the portal pages (their own rows only)."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor

from .models import TreatmentSession

Status = TreatmentSession.Status
OPEN_STATUSES = (Status.CHECKED_IN, Status.RECOVERY)


def home_plan(account: PortalAccount) -> TreatmentPlan | None:
    """The patient's signed, open at-home plan, or None."""
    found: TreatmentPlan | None = (
        TreatmentPlan.objects.for_organization(account.organization_id)
        .filter(
            patient_id=account.patient_id,
            setting=TreatmentPlan.Setting.HOME,
            status=TreatmentPlan.Status.SIGNED,
            phase__in=[p.value for p in OPEN_PHASES],
        )
        .select_related("clinic", "prescriber__user")
        .first()
    )
    return found


def home_sessions(account: PortalAccount) -> Any:
    return TreatmentSession.objects.for_organization(account.organization_id).filter(
        patient_id=account.patient_id, setting=TreatmentSession.Setting.HOME
    )


def current_home_session(account: PortalAccount) -> TreatmentSession | None:
    """The patient's home session with steps left (started, or dose taken and check-in due)."""
    found: TreatmentSession | None = (
        home_sessions(account)
        .filter(status__in=OPEN_STATUSES)
        .select_related("home")
        .order_by("-checked_in_at")
        .first()
    )
    return found


def blocked_today(account: PortalAccount) -> TreatmentSession | None:
    """Today's blocked home session (the day at the patient's home clinic), or None: after a
    blocked start the patient takes no dose that day, so no second start either."""
    zone = ZoneInfo(account.patient.home_clinic.timezone)
    midnight = datetime.combine(timezone.localdate(timezone=zone), time.min, tzinfo=zone)
    found: TreatmentSession | None = (
        home_sessions(account)
        .filter(status=Status.BLOCKED, checked_in_at__gte=midnight)
        .order_by("-checked_in_at")
        .first()
    )
    return found


def home_session_of(
    account: PortalAccount, session_id: uuid.UUID | str, ip_address: str | None = None
) -> TreatmentSession:
    """One of the patient's own home sessions (NotFound otherwise); the read is audited."""
    with transaction.atomic():
        session: TreatmentSession = (
            home_sessions(account).select_related("home", "plan__clinic").one(session_id, "session")
        )
        record(
            portal_actor(account, ip_address),
            Action.READ,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"purpose": "portal:home-session"},
        )
    return session


def monitor_required(session: TreatmentSession) -> bool:
    home = protocol_of(session.plan).home
    return home.monitor_required if home is not None else True
