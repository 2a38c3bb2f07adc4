"""Recovery and discharge: the modified Aldrete score, the minimum observation time, the escort
handover, the discharge instructions and the follow-up (clinical reference §4).

The Aldrete pass marks are the practice's (`SessionSettings`, shown with `ALDRETE_SOURCE`); the
minimum observation time is the session's copy of the protocol's monitoring rules (2 h for
esketamine, counted from the first device; otherwise from the end of dosing). Discharging completes
the appointment through the scheduling service, which marks the treatment given and refreshes the
patient's due questionnaires, so the follow-up questionnaire is scheduled. An esketamine discharge
also creates the session's REMS Patient Monitoring Form.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.discharge import (
    ALDRETE_SOURCE,
    AldreteRules,
    DischargeError,
    DischargeReadiness,
    aldrete,
    discharge_readiness,
)
from ketaflow.measurement.sms import send_to_patient, sms_backend
from ketaflow.patients.models import Patient
from ketaflow.scheduling.services import complete
from ketaflow.validation import FieldError, ValidationFailed

from .access import locked_session
from .flow_common import rules_of, text
from .models import SessionSettings, TreatmentSession
from .notes import assemble_note
from .recovery_common import session_settings
from .rems import create_form

Status = TreatmentSession.Status
CHANNELS = ("print", "email", "sms")


def aldrete_rules(settings: SessionSettings) -> AldreteRules:
    """The practice's Aldrete pass marks, with their source."""
    return AldreteRules(
        minimum_total=settings.aldrete_minimum,
        alternative_total=settings.aldrete_alternative,
        source=ALDRETE_SOURCE,
    )


def observation_start(session: TreatmentSession) -> datetime | None:
    """When the observation clock starts: the first device for esketamine (label and REMS), else
    the end of dosing. None before then."""
    if session.route == "esketamine":
        return session.dosing_started_at
    return session.dosing_ended_at


def discharge_check(
    session: TreatmentSession, now: datetime, *, settings: SessionSettings | None = None
) -> DischargeReadiness:
    """May the patient leave now? Reasons name `status`, `aldrete`, `observation` or `escort_name`.
    The escort is the one handed over to, else the one named on the checklist."""
    escort = session.escort_handover_name or str((session.checklist or {}).get("escort_name", ""))
    return _readiness(session, now, escort, settings or session_settings(session.organization_id))


def _readiness(
    session: TreatmentSession, now: datetime, escort_name: str, settings: SessionSettings
) -> DischargeReadiness:
    rules = rules_of(session)
    score = aldrete(session.aldrete) if session.aldrete else None
    start = observation_start(session)
    observed = 0 if start is None else max(0, int((now - start).total_seconds() // 60))
    decision = discharge_readiness(
        score,
        aldrete_rules(settings),
        observed_minutes=observed,
        min_observation_min=rules.min_observation_min,
        escort_name=escort_name,
        escort_required=rules.escort_required,
    )
    if session.status in (Status.CHECKED_IN, Status.DOSING):
        reason = ("status", "Dosing has not ended: record the stop first.")
        return DischargeReadiness(False, (reason, *decision.reasons), decision.minutes_left)
    return decision


def score_aldrete(actor: Actor, session_id: uuid.UUID | str, items: dict[str, object]) -> DischargeReadiness:
    """Store the modified Aldrete (five items, 0-2 each) and return the discharge decision. The
    first passing score sets `ready_to_leave_at` (the REMS 'ready without the 2-hour rule').
    ValidationFailed names the bad item, or `status` outside recovery."""
    try:
        score = aldrete(items)
    except DischargeError as exc:
        raise ValidationFailed.single(exc.field, exc.message) from exc
    now = timezone.now()
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status != Status.RECOVERY:
            raise ValidationFailed.single("status", "Score the Aldrete in recovery, after dosing has ended.")
        settings = session_settings(session.organization_id)
        passes = score.passes(aldrete_rules(settings))
        session.aldrete = dict(score.items)
        session.aldrete_total = score.total
        session.aldrete_at = now
        fields = ["aldrete", "aldrete_total", "aldrete_at", "updated_at"]
        if passes and session.ready_to_leave_at is None:
            session.ready_to_leave_at = now
            fields.append("ready_to_leave_at")
        session.save(update_fields=fields)
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"aldrete_total": score.total, "passes": passes},
        )
        return discharge_check(session, now, settings=settings)


def discharge(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    escort_handover_name: str,
    send_instructions: Iterable[str] = ("print",),
    override_reason: str = "",
) -> TreatmentSession:
    """Discharge a clinic session in recovery: the escort handed over, the instructions printed or
    sent, the appointment completed (the follow-up questionnaire scheduled), an esketamine REMS form
    created and the note assembled. Not ready -> ValidationFailed with each reason, unless a
    prescriber overrides with `override_reason`. At-home sessions are not discharged here."""
    escort = text(escort_handover_name, "escort_handover_name", limit=120)
    channels = _channels(send_instructions)
    now = timezone.now()
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.setting == TreatmentSession.Setting.HOME or session.appointment_id is None:
            raise ValidationFailed.single(
                "status", "An at-home session is closed by its check-in, not discharged from the clinic."
            )
        if session.status != Status.RECOVERY:
            raise ValidationFailed.single("status", "Only a session in recovery can be discharged.")
        _check_contacts(session.patient, channels)
        settings = session_settings(session.organization_id)
        decision = _readiness(session, now, escort, settings)
        override = "" if decision.ready else _override(actor, decision, override_reason)
        complete(actor, session.appointment_id)
        session.status = Status.DISCHARGED
        session.discharged_at = now
        session.discharged_by_id = actor.user_id
        session.discharge_override_reason = override
        session.escort_handover_name = escort
        session.instructions_sent = [
            *session.instructions_sent,
            *(
                {"channel": c, "at": now.isoformat(), "status": "printed" if c == "print" else "queued"}
                for c in channels
            ),
        ]
        session.note = assemble_note(session)
        session.save(
            update_fields=[
                "status",
                "discharged_at",
                "discharged_by",
                "discharge_override_reason",
                "escort_handover_name",
                "instructions_sent",
                "note",
                "updated_at",
            ]
        )
        if session.route == "esketamine":
            create_form(session, actor=actor)
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"status": "discharged", "override": bool(override), "instructions": list(channels)},
        )
        for channel in channels:
            if channel != "print":
                message = _message(session, settings)
                transaction.on_commit(partial(_deliver, session.pk, session.patient_id, channel, message))
    return session


def _channels(values: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
    if not chosen:
        raise ValidationFailed.single("send_instructions", "Print or send the discharge instructions.")
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise ValidationFailed.single("send_instructions", "Choose print, email or text message.")
    return chosen


def _check_contacts(patient: Patient, channels: tuple[str, ...]) -> None:
    errors = []
    if "email" in channels and not patient.email:
        errors.append(FieldError("send_instructions", "There is no email address on file; print them."))
    if "sms" in channels and not (patient.phone_mobile and sms_backend() is not None):
        errors.append(
            FieldError("send_instructions", "Text messages cannot be sent to this patient; print them.")
        )
    if errors:
        raise ValidationFailed(errors)


def _override(actor: Actor, decision: DischargeReadiness, override_reason: str) -> str:
    reason = text(override_reason, "override_reason")
    if not reason:
        raise ValidationFailed(FieldError(field, message) for field, message in decision.reasons)
    if not actor.can(Permission.SIGN_DOSES):
        raise ValidationFailed.single(
            "override_reason", "Only a prescriber can discharge before the patient is ready."
        )
    return reason


def _message(session: TreatmentSession, settings: SessionSettings) -> tuple[str, str]:
    """Subject and body: the clinic's name and the practice's instructions, nothing clinical."""
    clinic = session.clinic.name if session.clinic else "Your clinic"
    subject = f"{clinic}: after your treatment today"
    return subject, f"{clinic}\n\n{settings.discharge_instructions}\n"


def _deliver(session_pk: uuid.UUID, patient_pk: uuid.UUID, channel: str, message: tuple[str, str]) -> None:
    """After the discharge commits: send one channel and mark it sent or failed on the session."""
    patient = Patient.objects.get(pk=patient_pk)
    subject, body = message
    sent = send_to_patient(
        patient.phone_mobile,
        patient.email,
        by_sms=channel == "sms",
        subject=subject,
        body=body,
        what="discharge instructions",
    )
    with transaction.atomic():
        session = TreatmentSession.objects.select_for_update().get(pk=session_pk)
        session.instructions_sent = [
            {**row, "status": "sent" if sent else "failed"}
            if row.get("channel") == channel and row.get("status") == "queued"
            else row
            for row in session.instructions_sent
        ]
        session.save(update_fields=["instructions_sent"])
