"""Recording questionnaire responses: score, store answers and observations, raise safety alerts.

Every path (staff entry, the patient's link, the portal, the API) goes through `store_response`, so
a response is scored one way, stored whole or not at all, and a safety answer always raises an alert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.changes import announce
from ketaflow.clinical.instruments import AnswerError, Answers, Instrument, Score, score_instrument
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.validation import FieldError, ValidationFailed

from . import safety
from .library import instrument_for
from .models import (
    INSTRUMENT_CODE_SYSTEM,
    LOINC,
    Invitation,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
)
from .schedule import response_recorded

# A response dated slightly ahead of the server clock (a phone's clock) is accepted; more is an error.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RecordedResponse:
    response: QuestionnaireResponse
    score: Score
    alert: SafetyAlert | None


@dataclass(frozen=True)
class Submitter:
    """Who is submitting, for whom and how: what `checked_score` needs to keep unfinished safety answers."""

    actor: Actor
    patient: Patient
    source: str
    invitation: Invitation | None = None


def checked_score(
    instrument: Instrument, answers: Answers, *, prefix: str = "answers", submitter: Submitter | None = None
) -> Score:
    """Score a submitted answer set, or raise ValidationFailed naming each bad or missing item.

    An unfinished set that already endorses a safety item (PHQ-9 item 9, say) is refused like any
    other, but with a `submitter` its answers are first kept, unscored, as an in-progress response
    and the safety alert is raised, in their own committed transaction: the person may never come
    back to finish. Call it outside any transaction that the refusal would roll back.
    """
    try:
        result = score_instrument(instrument, answers)
    except AnswerError as exc:
        field = f"{prefix}.{exc.item}" if exc.item else prefix
        raise ValidationFailed.single(field, str(exc)) from exc
    if not result.complete:
        if submitter is not None and result.safety_details:
            keep_unfinished_safety_answers(submitter, instrument, result)
        raise ValidationFailed(
            FieldError(f"{prefix}.{item}", f"{instrument.short_name} item {item} needs an answer.")
            for item in result.missing
        )
    return result


def keep_unfinished_safety_answers(
    submitter: Submitter, instrument: Instrument, result: Score
) -> SafetyAlert:
    """Store the unfinished answers (status in-progress, no observations) and raise the alert."""
    with transaction.atomic():
        response = QuestionnaireResponse.objects.create(
            organization_id=submitter.patient.organization_id,
            patient=submitter.patient,
            recorded_by_id=submitter.actor.user_id,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            authored_at=timezone.now(),
            source=submitter.source,
            status=QuestionnaireResponse.Status.IN_PROGRESS,
            answers=answer_rows(instrument, result.answers),
            safety_flags=[flag.name for flag in result.safety_details],
            invitation=submitter.invitation,
        )
        record(
            submitter.actor,
            Action.CREATE,
            "QuestionnaireResponse",
            response.pk,
            patient_id=submitter.patient.pk,
            detail={"instrument": instrument.id, "source": submitter.source, "status": "in-progress"},
        )
        return safety.raise_alert(submitter.actor, submitter.patient, instrument, result, response)


def record_response(
    actor: Actor,
    patient_id: uuid.UUID | str,
    instrument_id: str,
    answers: Answers,
    *,
    authored_at: datetime | None = None,
    source: str = QuestionnaireResponse.Source.CLINICIAN,
) -> RecordedResponse:
    """Staff (or an API client) record a complete response. Raises ValidationFailed, NotFound, Forbidden."""
    actor.require(Permission.EDIT_CLINICAL)
    instrument = instrument_for(actor.organization_id, instrument_id)
    patient = _load(actor, patient_id)
    result = checked_score(instrument, answers, submitter=Submitter(actor, patient, source))
    now = timezone.now()
    when = authored_at or now
    if timezone.is_naive(when):
        raise ValidationFailed.single("authored_at", "Give a time zone with the time.")
    if when > now + CLOCK_SKEW:
        raise ValidationFailed.single("authored_at", "A response cannot be dated in the future.")
    with transaction.atomic():
        return store_response(actor, patient, instrument, result, authored_at=when, source=source)


def store_response(
    actor: Actor,
    patient: Patient,
    instrument: Instrument,
    result: Score,
    *,
    authored_at: datetime,
    source: str,
    invitation: Invitation | None = None,
) -> RecordedResponse:
    """Write one scored, complete response; must run inside the caller's transaction."""
    response = QuestionnaireResponse.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        recorded_by_id=actor.user_id,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        authored_at=authored_at,
        source=source,
        answers=answer_rows(instrument, result.answers),
        safety_flags=[flag.name for flag in result.safety_details],
        findings=list(result.findings),
        invitation=invitation,
    )
    scores = ScoreObservation.objects.bulk_create(observations_for(instrument, result, response))
    announce(ScoreObservation, scores)
    record(
        actor,
        Action.CREATE,
        "QuestionnaireResponse",
        response.pk,
        patient_id=patient.pk,
        detail={"instrument": instrument.id, "source": source},
    )
    alert = (
        safety.raise_alert(actor, patient, instrument, result, response) if result.safety_details else None
    )
    response_recorded(patient, instrument.id, response)
    return RecordedResponse(response, result, alert)


def answer_rows(instrument: Instrument, answers: Mapping[str, int | None]) -> list[dict[str, Any]]:
    """Each given answer with its item id, LOINC code (when the item has one) and option label."""
    rows = []
    for item in instrument.items:
        value = answers.get(item.id)
        if value is None:
            continue
        rows.append({"item": item.id, "code": item.loinc, "value": value, "display": item.label_for(value)})
    return rows


def observations_for(
    instrument: Instrument, result: Score, response: QuestionnaireResponse
) -> list[ScoreObservation]:
    """The total (or risk level) and each subscale, coded in LOINC where the definition has a code."""
    common = {
        "organization_id": response.organization_id,
        "patient_id": response.patient_id,
        "response": response,
        "instrument_id": instrument.id,
        "effective_at": response.authored_at,
    }
    total_label = "risk level" if instrument.scoring.method == "risk_level" else "total score"
    rows = [
        ScoreObservation(
            kind=ScoreObservation.Kind.TOTAL,
            key="total",
            code_system=LOINC if instrument.loinc_total else INSTRUMENT_CODE_SYSTEM,
            code=instrument.loinc_total or f"{instrument.id}-total",
            display=f"{instrument.short_name} {total_label}",
            value=float(result.total or 0),
            band=result.band or "",
            **common,
        )
    ]
    for key, value in result.subscores.items():
        loinc = instrument.loinc_subscores.get(key)
        rows.append(
            ScoreObservation(
                kind=ScoreObservation.Kind.SUBSCORE,
                key=key,
                code_system=LOINC if loinc else INSTRUMENT_CODE_SYSTEM,
                code=loinc or f"{instrument.id}-{key}",
                display=f"{instrument.short_name} cluster {key}",
                value=float(value),
                **common,
            )
        )
    return rows


def open_response(actor: Actor, response_id: uuid.UUID | str) -> QuestionnaireResponse:
    """One response of this organization with its observations; the read is audited."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        scope = QuestionnaireResponse.objects.for_organization(actor.organization_id)
        found: QuestionnaireResponse = scope.prefetch_related("observations").one(
            response_id, "questionnaire response"
        )
        record(actor, Action.READ, "QuestionnaireResponse", found.pk, patient_id=found.patient_id)
    return found


def mark_entered_in_error(actor: Actor, response_id: uuid.UUID | str, reason: str) -> QuestionnaireResponse:
    """Withdraw a response recorded by mistake: it leaves the trajectory and outcomes, and stays on file."""
    actor.require(Permission.EDIT_CLINICAL)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.single("reason", "Say why this response was entered in error.")
    with transaction.atomic():
        scope = QuestionnaireResponse.objects.for_organization(actor.organization_id)
        response = scope.select_for_update().one(response_id, "questionnaire response")
        if response.status == QuestionnaireResponse.Status.ENTERED_IN_ERROR:
            raise ValidationFailed.single(None, "This response is already marked as entered in error.")
        response.status = QuestionnaireResponse.Status.ENTERED_IN_ERROR
        response.save(update_fields=["status"])
        scores = ScoreObservation.objects.for_organization(actor.organization_id).filter(response=response)
        scores.update(is_current=False)
        announce(ScoreObservation, scores)
        record(
            actor,
            Action.UPDATE,
            "QuestionnaireResponse",
            response.pk,
            patient_id=response.patient_id,
            detail={"status": "entered-in-error", "reason": reason[:300]},
        )
    return response
