"""Arrival at the chair: check-in, the pre-session checklist and the readiness decision.

`check_in` opens the session of a treatment appointment and copies the protocol's monitoring rules
and the plan's dose into it, so later protocol or plan edits never rewrite what this session was
held to. `record_checklist` stores the checklist with the pre-dose vital signs and the readiness
decision (`clinical.monitoring.readiness`, reference §4); dosing cannot start on a not-ready
decision unless a prescriber overrides it with a reason (`override_readiness`). `may_start` lists,
in plain words, what still stands between the patient and the first dose.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.monitoring import PREGNANCY_RESULTS, Checklist, MonitoringRules, Readiness, readiness
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.plans.models import TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.scheduling import services as scheduling
from ketaflow.scheduling.calendar import zone_of
from ketaflow.scheduling.models import OPEN, Appointment
from ketaflow.validation import FieldError, ValidationFailed

from .access import locked_session, sessions_of
from .flow_common import rules_of, text
from .flow_events import refresh_reconciliation
from .flow_vitals import SESSION_FIELDS, build_set, clean_readings, open_crossings
from .models import DosePreparation, RemsEnrolment, TreatmentSession

Status = TreatmentSession.Status


def check_in(actor: Actor, appointment_id: uuid.UUID | str) -> TreatmentSession:
    """The session of today's treatment appointment, opened now (or the one already open: checking
    in twice is harmless). A booked appointment is marked arrived in the same transaction.
    ValidationFailed('appointment_id') when the visit is not a treatment on a signed, open plan,
    is not open, or is on a later day."""
    actor.require(Permission.CHART_SESSIONS)
    now = timezone.now()
    with transaction.atomic():
        appointment: Appointment = (
            Appointment.objects.for_organization(actor.organization_id)
            .select_for_update(of=("self",))
            .select_related("appointment_type", "clinic", "plan")
            .one(appointment_id, "appointment")
        )
        existing = sessions_of(actor.organization_id).filter(appointment=appointment).first()
        if existing is not None:
            return existing
        plan = _treatment_plan(appointment, now)
        try:
            _, copied = plan_copy(plan)
        except ProtocolError as exc:
            raise ValidationFailed.single(
                "appointment_id", f"The plan's protocol is unusable: {exc}"
            ) from exc
        if appointment.status == Appointment.Status.BOOKED:
            scheduling.mark_arrived(actor, appointment.pk)
        session = TreatmentSession.objects.create(
            organization_id=actor.organization_id,
            patient_id=appointment.patient_id,
            recorded_by_id=actor.user_id,
            appointment=appointment,
            clinic=appointment.clinic,
            setting=TreatmentSession.Setting.CLINIC,
            status=Status.CHECKED_IN,
            checked_in_at=now,
            checked_in_by_id=actor.user_id,
            **copied,
        )
        record(
            actor,
            Action.CREATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"appointment": str(appointment.pk), "plan": str(plan.pk), "route": plan.route},
        )
    return session


def plan_copy(plan: TreatmentPlan) -> tuple[MonitoringRules, dict[str, Any]]:
    """The protocol's monitoring rules, and the fields a new session copies from its plan as they
    are now (plan, route, protocol, rules, dose), so later edits never rewrite what the session was
    held to. Raises ProtocolError for a plan whose protocol no longer parses."""
    protocol = protocol_of(plan)
    return protocol.monitoring, {
        "plan": plan,
        "route": plan.route,
        "protocol_label": protocol.label[:240],
        "monitoring": protocol.monitoring.as_dict(),
        "planned_mg": plan.dose_mg,
        "dose_summary": plan.dose_summary,
        "dose_arithmetic": list(plan.dose_arithmetic or []),
    }


def _treatment_plan(appointment: Appointment, now: Any) -> TreatmentPlan:
    plan = appointment.plan
    route = appointment.appointment_type.route
    problem = ""
    if plan is None or not route:
        problem = "This visit is not a treatment on a plan; only treatment visits open a session."
    elif plan.status != TreatmentPlan.Status.SIGNED or not plan.is_open:
        problem = "The plan of this visit is not signed and open; a prescriber signs it first."
    elif plan.setting == TreatmentPlan.Setting.HOME:
        problem = "A home plan's sessions start from the patient's portal, not at the chair."
    elif appointment.status not in OPEN:
        problem = f"This appointment is {appointment.get_status_display().lower()}; it cannot be checked in."
    elif (
        appointment.starts_at.astimezone(zone_of(appointment.clinic)).date()
        > now.astimezone(zone_of(appointment.clinic)).date()
    ):
        problem = "This appointment is on a later day; check in on the day."
    if problem or plan is None:
        raise ValidationFailed.single("appointment_id", problem)
    return plan


def record_checklist(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    fasting_confirmed: bool,
    escort_name: str,
    escort_phone: str,
    medications_taken: str,
    pregnancy_test: str,
    intention: str = "",
    mood: int | None = None,
    playlist: str = "",
    room_preferences: str = "",
    pre_dose: dict[str, Any] | None = None,
) -> Readiness:
    """The readiness decision from the checklist and the pre-dose vital signs (given here, or the
    ones taken with an earlier checklist). A new checklist replaces the decision, and with it any
    override of the old one. ValidationFailed names the field at fault; nothing is half-written."""
    actor.require(Permission.CHART_SESSIONS)
    items = _checklist_items(
        fasting_confirmed,
        escort_name,
        escort_phone,
        medications_taken,
        pregnancy_test,
        intention,
        mood,
        playlist,
        room_preferences,
    )
    readings, errors = clean_readings(pre_dose, "pre_dose.") if pre_dose else ({}, [])
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status != Status.CHECKED_IN:
            raise ValidationFailed.single(None, "The checklist is recorded before dosing starts.")
        rules = rules_of(session)
        if readings:
            new = build_set(
                actor,
                session,
                readings,
                measured_at=now,
                phase="pre_dose",
                source="manual",
                device="",
                rules=rules,
                baseline_systolic=None,
                raised=open_crossings(session),
            )
            new.vitals.save()
            new.link.save()
            for alert in new.alerts:
                alert.save()
            session.pre_dose_vitals = new.vitals
            record(
                actor,
                Action.CREATE,
                "VitalSigns",
                new.vitals.pk,
                patient_id=session.patient_id,
                detail={"session": str(session.pk), "phase": "pre_dose"},
            )
        taken = _pre_dose_values(session)
        decision = readiness(
            Checklist(
                fasting_confirmed=items["fasting_confirmed"],
                escort_name=items["escort_name"],
                escort_phone=items["escort_phone"],
                medications_taken=items["medications_taken"],
                pregnancy_test=items["pregnancy_test"],
                pre_dose=taken,
            ),
            rules,
        )
        session.checklist = {**items, "recorded_at": now.isoformat(), "recorded_by": actor.username}
        session.readiness = decision.as_dict()
        session.readiness_at = now
        session.override_reason, session.override_by = "", None
        session.save(
            update_fields=[
                "checklist",
                "pre_dose_vitals",
                "readiness",
                "readiness_at",
                "override_reason",
                "override_by",
                "updated_at",
            ]
        )
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={
                "checklist": True,
                "ready": decision.ready,
                "blockers": [b.field for b in decision.blockers],
            },
        )
    return decision


def _checklist_items(
    fasting_confirmed: Any,
    escort_name: Any,
    escort_phone: Any,
    medications_taken: Any,
    pregnancy_test: Any,
    intention: Any,
    mood: Any,
    playlist: Any,
    room_preferences: Any,
) -> dict[str, Any]:
    """The checklist as stored (JSON), or ValidationFailed naming every bad field."""
    errors: list[FieldError] = []
    limits = {
        "escort_name": 120,
        "escort_phone": 32,
        "medications_taken": 300,
        "intention": 300,
        "playlist": 200,
        "room_preferences": 300,
    }
    given = {
        "escort_name": escort_name,
        "escort_phone": escort_phone,
        "medications_taken": medications_taken,
        "intention": intention,
        "playlist": playlist,
        "room_preferences": room_preferences,
    }
    items: dict[str, Any] = {"fasting_confirmed": bool(fasting_confirmed)}
    for name, limit in limits.items():
        try:
            items[name] = text(given[name], name, limit=limit)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    result = str(pregnancy_test or "").strip()
    if result and result not in PREGNANCY_RESULTS:
        errors.append(FieldError("pregnancy_test", "Choose negative, positive or not applicable."))
    items["pregnancy_test"] = result
    if mood in (None, ""):
        items["mood"] = None
    elif isinstance(mood, bool) or not str(mood).strip().isdigit() or not 0 <= int(str(mood)) <= 10:
        errors.append(FieldError("mood", "Mood is a whole number from 0 to 10."))
    else:
        items["mood"] = int(str(mood))
    if errors:
        raise ValidationFailed(errors)
    return items


def _pre_dose_values(session: TreatmentSession) -> dict[str, Any]:
    vitals = session.pre_dose_vitals
    if vitals is None:
        return {}
    return {name: getattr(vitals, name) for name in SESSION_FIELDS if getattr(vitals, name) is not None}


def override_readiness(actor: Actor, session_id: uuid.UUID | str, *, reason: str) -> TreatmentSession:
    """A prescriber lets dosing proceed on a not-ready decision; who and why are kept with the
    session (SIGN_DOSES). ValidationFailed('reason') without a reason."""
    actor.require(Permission.SIGN_DOSES)
    why = text(reason, "reason", required="Say why dosing may proceed despite the checklist.")
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status != Status.CHECKED_IN:
            raise ValidationFailed.single(None, "Readiness is overridden before dosing starts.")
        if session.readiness is None:
            raise ValidationFailed.single("readiness", "Record the checklist first.")
        if session.readiness.get("ready"):
            raise ValidationFailed.single("reason", "The patient is ready; no override is needed.")
        session.override_reason, session.override_by_id = why, actor.user_id
        session.save(update_fields=["override_reason", "override_by", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={
                "readiness_override": why,
                "blockers": [b.get("field") for b in session.readiness.get("blockers", [])],
            },
        )
    return session


def cancel_session(actor: Actor, session_id: uuid.UUID | str, *, reason: str) -> TreatmentSession:
    """Call the session off before dosing: the session is cancelled with the reason and its
    appointment cancelled too (its scheduled treatment with it). Drug already drawn stays on the
    session's reconciliation until its witnessed waste is recorded."""
    why = text(reason, "reason", required="Say why the session is called off.")
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status != Status.CHECKED_IN:
            raise ValidationFailed.single(
                None, "Only a session that has not started dosing can be cancelled."
            )
        session.status, session.status_reason = Status.CANCELLED, why
        session.save(update_fields=["status", "status_reason", "updated_at"])
        if session.appointment is not None and session.appointment.status in OPEN:
            scheduling.cancel(actor, session.appointment.pk, reason=f"Session cancelled: {why}"[:300])
        if DosePreparation.objects.filter(session=session).exists():
            refresh_reconciliation(session)
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"status": "cancelled", "reason": why},
        )
    return session


def start_blockers(session: TreatmentSession) -> list[FieldError]:
    """Why the first dose cannot be given yet, each naming what to fix: readiness (not recorded, or
    not ready and not overridden), the preparation (none, or not checked by a second person when
    the protocol asks it) and, for esketamine, the patient's REMS enrolment."""
    found: list[FieldError] = []
    decision = session.readiness
    if decision is None:
        found.append(FieldError("readiness", "Record the pre-session checklist and pre-dose vital signs."))
    elif not decision.get("ready") and not session.override_reason:
        why = " ".join(b.get("message", "") for b in decision.get("blockers", []))
        found.append(
            FieldError("readiness", f"Not ready: {why} A prescriber may override this with a reason.".strip())
        )
    preparations = list(
        DosePreparation.objects.for_organization(session.organization_id)
        .filter(session=session)
        .values_list("verified_at", flat=True)
    )
    if not preparations:
        found.append(FieldError("preparation", "Prepare the dose first."))
    elif rules_of(session).second_check and any(v is None for v in preparations):
        found.append(FieldError("verified_by", "A second person must check the prepared dose first."))
    if session.route == "esketamine" and not (
        RemsEnrolment.objects.for_organization(session.organization_id)
        .filter(patient_id=session.patient_id)
        .exists()
    ):
        found.append(
            FieldError(
                "rems", "The patient is not enrolled in the Spravato REMS; enrol them before the first dose."
            )
        )
    return found


def may_start(session: TreatmentSession) -> list[str]:
    """Plain reasons dosing cannot start now (empty: it may)."""
    return [f.message for f in start_blockers(session)]


__all__ = [
    "cancel_session",
    "check_in",
    "may_start",
    "override_readiness",
    "plan_copy",
    "record_checklist",
    "start_blockers",
]
