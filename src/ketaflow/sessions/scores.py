"""Dissociation and sedation scored at the chairside: CADSS-6 and MOAA/S (clinical reference §4).

The answers go the standard response path (`measurement.responses.checked_score` and
`store_response`): the same scoring, stored answers and score observations as any questionnaire,
so the scores also appear in the patient's measurement history. `SessionScore` ties the response to
the session with its total for the chairside page.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import Answers
from ketaflow.measurement.library import instrument_for
from ketaflow.measurement.models import QuestionnaireResponse
from ketaflow.measurement.responses import checked_score, store_response
from ketaflow.validation import ValidationFailed

from .access import locked_session
from .models import SessionScore
from .note_text import refresh_note
from .recovery_common import require_charting

SESSION_INSTRUMENTS = ("cadss6", "moaas")


def score_in_session(
    actor: Actor, session_id: uuid.UUID | str, instrument_id: str, answers: Answers
) -> SessionScore:
    """Score and store a CADSS-6 (`cadss6`, total 0-24) or MOAA/S (`moaas`, 0-5) for the session.
    ValidationFailed names `instrument_id` or each missing or bad `answers.<item>`; nothing is
    written then."""
    if instrument_id not in SESSION_INSTRUMENTS:
        raise ValidationFailed.single("instrument_id", "Score the CADSS-6 or the MOAA/S here.")
    instrument = instrument_for(actor.organization_id, instrument_id)
    result = checked_score(instrument, answers)
    now = timezone.now()
    with transaction.atomic():
        session = locked_session(actor, session_id)
        require_charting(session)
        stored = store_response(
            actor,
            session.patient,
            instrument,
            result,
            authored_at=now,
            source=QuestionnaireResponse.Source.CLINICIAN,
        )
        score = SessionScore.objects.create(
            organization_id=session.organization_id,
            session=session,
            response=stored.response,
            instrument_id=instrument.id,
            value=float(result.total or 0),
            scored_at=now,
        )
        record(
            actor,
            Action.CREATE,
            "SessionScore",
            score.pk,
            patient_id=session.patient_id,
            detail={
                "session": str(session.pk),
                "instrument": instrument.id,
                "response": str(stored.response.pk),
            },
        )
        refresh_note(session)
    return score
