"""At-home sessions (the sublingual home route): what the patient, or the monitor present, records.

Home treatment is an explicit prescriber decision with its own safeguards (clinical reference §2):
the patient starts a session with a blood pressure; above the protocol's pre-dose limit the session
is blocked, the patient is told not to take the dose, and the prescriber is notified. Otherwise the
monitor attests to being present (when the protocol requires one), the patient records the dose
taken (never above the plan's), and checks in afterwards within the protocol's window. A missed
check-in alerts staff once (`alert_missed_check_ins`, run by `ketaflow sessions check-home`).

Every step is the patient acting in the portal (`portal_actor`), audited in its own transaction.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.dose_events import EventKind
from ketaflow.clinical.monitoring import Checklist, MonitoringRules, Readiness, readiness
from ketaflow.clinical.vitals import check_vitals
from ketaflow.patients.models import VitalSigns
from ketaflow.plans.models import TreatmentPlan
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import FieldError, ValidationFailed

from .checkin import plan_copy
from .flow_common import rules_of
from .flow_vitals import notify_prescriber
from .home_access import (
    OPEN_STATUSES,
    blocked_today,
    current_home_session,
    home_plan,
    home_session_of,
    home_sessions,
    monitor_required,
)
from .home_alerts import BlockedAdvice, alert_missed_check_ins, blocked_advice
from .models import DoseEvent, HomeSession, SessionVitals, TreatmentSession

__all__ = [
    "BlockedAdvice",
    "alert_missed_check_ins",
    "attest_monitor",
    "blocked_advice",
    "blocked_today",
    "current_home_session",
    "home_plan",
    "home_session_of",
    "monitor_required",
    "post_check_in",
    "record_dose_taken",
    "start_home_session",
]

Status = TreatmentSession.Status
NAME_MAX = 120
NOTES_MAX = 4000


# ---------- starting: the pre-dose blood pressure ----------


def _home_readiness(readings: dict[str, int | None], rules: MonitoringRules) -> Readiness:
    """The readiness decision on the pre-dose vital signs alone: at home nobody else checks the
    rest of the clinic checklist, so only the protocol's pre-dose limits decide."""
    checklist = Checklist(False, "", "", "", "", readings)
    decided = readiness(checklist, rules)
    vital_fields = {"pre_dose"} | {limit.field for limit in rules.pre_dose}
    kept = tuple(f for f in decided.blockers if f.field in vital_fields)
    return Readiness(not kept, kept, decided.rules_source)


def _whole(value: Any, name: str, label: str, errors: list[FieldError], *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            errors.append(FieldError(name, f"Enter your {label}."))
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors.append(FieldError(name, f"Enter your {label} as a whole number."))
        return None
    return number


def start_home_session(
    account: PortalAccount,
    ip_address: str | None,
    *,
    systolic_bp: Any,
    diastolic_bp: Any,
    heart_rate: Any = None,
) -> TreatmentSession:
    """Start today's home session with the pre-dose blood pressure (and pulse).

    Creates the session (setting home, no appointment) with the plan's rules and dose as they are
    now, the vital signs, the readiness decision and the home record. A pressure above the pre-dose
    limit blocks the session and notifies the plan's prescriber. Raises ValidationFailed (no signed
    home plan, a session already under way, implausible readings named by field).
    """
    errors: list[FieldError] = []
    readings = {
        "systolic_bp": _whole(
            systolic_bp, "systolic_bp", "systolic (top) blood pressure", errors, required=True
        ),
        "diastolic_bp": _whole(
            diastolic_bp, "diastolic_bp", "diastolic (bottom) blood pressure", errors, required=True
        ),
        "heart_rate": _whole(heart_rate, "heart_rate", "pulse", errors, required=False),
    }
    if not errors:
        errors.extend(FieldError(e.field, e.message) for e in check_vitals(readings))
    if errors:
        raise ValidationFailed(errors)
    actor = portal_actor(account, ip_address)
    now = timezone.now()
    with transaction.atomic():
        plan = home_plan(account)
        if plan is None:
            raise ValidationFailed.single(
                None, "You have no signed home treatment plan. Please contact your clinic."
            )
        # One start at a time: a second tab's start waits here, then sees the first session.
        list(
            TreatmentPlan.objects.for_organization(account.organization_id)
            .select_for_update()
            .filter(pk=plan.pk)
        )
        if home_sessions(account).filter(status__in=OPEN_STATUSES).exists():
            raise ValidationFailed.single(None, "You have a session under way: finish it first.")
        if blocked_today(account) is not None:
            raise ValidationFailed.single(
                None,
                "Your blood pressure was too high for a session earlier today: do not take a dose today. "
                "Please contact your clinic.",
            )
        rules, copied = plan_copy(plan)
        decided = _home_readiness(readings, rules)
        vitals = VitalSigns.objects.create(
            organization_id=account.organization_id,
            patient_id=account.patient_id,
            recorded_by_id=account.user_id,
            measured_at=now,
            context=VitalSigns.Context.SESSION,
            systolic_bp=readings["systolic_bp"],
            diastolic_bp=readings["diastolic_bp"],
            heart_rate=readings["heart_rate"],
        )
        session = TreatmentSession.objects.create(
            organization_id=account.organization_id,
            patient_id=account.patient_id,
            recorded_by_id=account.user_id,
            clinic=plan.clinic,
            setting=TreatmentSession.Setting.HOME,
            status=Status.CHECKED_IN if decided.ready else Status.BLOCKED,
            status_reason="" if decided.ready else " ".join(f.message for f in decided.blockers)[:300],
            checked_in_at=now,
            checked_in_by_id=account.user_id,
            checklist={"setting": "home", "pre_dose": {k: v for k, v in readings.items() if v is not None}},
            pre_dose_vitals=vitals,
            readiness=decided.as_dict(),
            readiness_at=now,
            **copied,
        )
        SessionVitals.objects.create(
            organization_id=account.organization_id,
            session=session,
            vitals=vitals,
            phase=SessionVitals.Phase.PRE_DOSE,
            measured_at=now,
            device="home",
        )
        HomeSession.objects.create(
            organization_id=account.organization_id,
            patient_id=account.patient_id,
            recorded_by_id=account.user_id,
            session=session,
        )
        record(
            actor,
            Action.CREATE,
            "TreatmentSession",
            session.pk,
            patient_id=account.patient_id,
            detail={"setting": "home", "status": session.status, "ready": decided.ready},
        )
        if not decided.ready:
            notify_prescriber(
                session,
                f"Home session blocked: blood pressure {readings['systolic_bp']}/"
                f"{readings['diastolic_bp']} for {account.patient.mrn}",
            )
    return session


# ---------- the monitor, the dose, the check-in ----------


def _locked(account: PortalAccount, session_id: uuid.UUID | str) -> TreatmentSession:
    session: TreatmentSession = (
        home_sessions(account)
        .select_for_update(of=("self",))
        .select_related("home", "plan")
        .one(session_id, "session")
    )
    return session


def _refuse_unless(session: TreatmentSession, status: str, message: str) -> None:
    if session.status == Status.BLOCKED:
        raise ValidationFailed.single(
            None, "This session is blocked by your blood pressure: do not take the dose."
        )
    if session.status != status:
        raise ValidationFailed.single(None, message)


def attest_monitor(
    account: PortalAccount, session_id: uuid.UUID | str, *, monitor_name: str, ip_address: str | None = None
) -> HomeSession:
    """The monitor present confirms they stay for the whole session (their name is recorded)."""
    name = " ".join((monitor_name or "").split())
    if len(name) < 2:
        raise ValidationFailed.single("monitor_name", "Enter the full name of the person staying with you.")
    if len(name) > NAME_MAX:
        raise ValidationFailed.single("monitor_name", f"Use at most {NAME_MAX} characters.")
    with transaction.atomic():
        session = _locked(account, session_id)
        _refuse_unless(session, Status.CHECKED_IN, "The monitor confirms before the dose is taken.")
        home = session.home
        home.monitor_name = name
        home.monitor_attested_at = timezone.now()
        home.save(update_fields=["monitor_name", "monitor_attested_at"])
        record(
            portal_actor(account, ip_address),
            Action.UPDATE,
            "HomeSession",
            home.pk,
            patient_id=session.patient_id,
            detail={"event": "monitor attested"},
        )
    return home


def _dose(value: Any) -> Decimal:
    try:
        dose = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single("dose_mg", "Enter the dose you took in mg.") from exc
    if not dose.is_finite() or dose <= 0:
        raise ValidationFailed.single("dose_mg", "Enter the dose you took in mg.")
    return dose


def record_dose_taken(
    account: PortalAccount, session_id: uuid.UUID | str, *, dose_mg: Any, ip_address: str | None = None
) -> HomeSession:
    """The dose taken, now (never above the plan's dose); the check-in falls due
    `check_in_within_hours` later. Refused while blocked, or before the monitor's attestation when
    the protocol requires a monitor."""
    dose = _dose(dose_mg)
    with transaction.atomic():
        session = _locked(account, session_id)
        _refuse_unless(session, Status.CHECKED_IN, "The dose of this session is already recorded.")
        home = session.home
        if monitor_required(session) and home.monitor_attested_at is None:
            raise ValidationFailed.single(
                "monitor_name",
                "Your treatment monitor must confirm they are with you before you take the dose.",
            )
        if dose > session.planned_mg:
            raise ValidationFailed.single(
                "dose_mg",
                f"{dose:f} mg is more than your prescribed dose of {session.planned_mg.normalize():f} mg. "
                "Never take more than prescribed; contact your clinic.",
            )
        now = timezone.now()
        hours = rules_of(session).check_in_within_hours
        DoseEvent.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=account.user_id,
            session=session,
            kind=EventKind.GIVE.value,
            at=now,
            amount_mg=dose,
            note="Taken at home",
        )
        session.status = Status.RECOVERY
        session.delivered_mg = dose
        session.dosing_started_at = session.dosing_ended_at = now
        session.save(
            update_fields=["status", "delivered_mg", "dosing_started_at", "dosing_ended_at", "updated_at"]
        )
        home.dose_taken_mg = dose
        home.dose_taken_at = now
        home.check_in_due_at = now + timedelta(hours=hours) if hours else None
        home.save(update_fields=["dose_taken_mg", "dose_taken_at", "check_in_due_at"])
        record(
            portal_actor(account, ip_address),
            Action.UPDATE,
            "HomeSession",
            home.pk,
            patient_id=session.patient_id,
            detail={"event": "dose taken", "dose_mg": f"{dose:f}"},
        )
    return home


def post_check_in(
    account: PortalAccount,
    session_id: uuid.UUID | str,
    *,
    feeling: Any,
    notes: str = "",
    ip_address: str | None = None,
) -> HomeSession:
    """The check-in after the dose: how the patient feels (0-10) and their notes; it ends the session."""
    errors: list[FieldError] = []
    score = _whole(feeling, "feeling", "answer from 0 to 10", errors, required=True)
    if score is not None and not 0 <= score <= 10:
        errors.append(FieldError("feeling", "Choose a number from 0 to 10."))
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        errors.append(FieldError("notes", f"Use at most {NOTES_MAX} characters."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        session = _locked(account, session_id)
        _refuse_unless(session, Status.RECOVERY, "Check in after you have taken your dose.")
        now = timezone.now()
        home = session.home
        home.checked_in_at = now
        home.feeling = score
        home.experience_notes = notes
        home.save(update_fields=["checked_in_at", "feeling", "experience_notes"])
        session.status = Status.DISCHARGED
        session.discharged_at = now
        session.save(update_fields=["status", "discharged_at", "updated_at"])
        record(
            portal_actor(account, ip_address),
            Action.UPDATE,
            "HomeSession",
            home.pk,
            patient_id=session.patient_id,
            detail={"event": "checked in", "late": bool(home.check_in_due_at and now > home.check_in_due_at)},
        )
    return home
