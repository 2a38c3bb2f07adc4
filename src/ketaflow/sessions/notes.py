"""The session note: assembled from the record, signed and locked by a prescriber, amended with a
reason afterwards (the text it replaced is kept).

Signing sets `signed_at`, which locks the session: `access.locked_session` refuses every later
change except an amendment here.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.validation import FieldError, ValidationFailed

from .access import locked_session
from .models import NoteAmendment, TreatmentSession
from .note_text import assemble_note, refresh_note

__all__ = ["amend_note", "assemble_note", "refresh_note", "sign_note"]

NOTE_LIMIT = 20000


def sign_note(actor: Actor, session_id: uuid.UUID | str, *, note: str | None = None) -> TreatmentSession:
    """Sign and lock a discharged session's note (SIGN_DOSES): the given text, or the note assembled
    afresh from the record. ValidationFailed('status') before discharge or when already signed."""
    actor.require(Permission.SIGN_DOSES)
    text = None if note is None else _text(note, "note")
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status != TreatmentSession.Status.DISCHARGED:
            raise ValidationFailed.single("status", "Discharge the patient before signing the note.")
        session.note = text if text is not None else assemble_note(session)
        session.signed_at = timezone.now()
        session.signed_by_id = actor.user_id
        session.status = TreatmentSession.Status.SIGNED
        session.save(update_fields=["note", "signed_at", "signed_by", "status", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"status": "signed", "edited": note is not None},
        )
    return session


def amend_note(actor: Actor, session_id: uuid.UUID | str, *, note: str, reason: str) -> NoteAmendment:
    """Change a signed note (SIGN_DOSES): the new text with its reason; the replaced text is kept in
    the amendment. ValidationFailed names `reason`, `note` or `status` (not signed yet)."""
    actor.require(Permission.SIGN_DOSES)
    errors = []
    why = (reason or "").strip()
    if not why:
        errors.append(FieldError("reason", "Say why the signed note is changed."))
    elif len(why) > 300:
        errors.append(FieldError("reason", "Keep the reason under 300 characters."))
    try:
        text = _text(note, "note")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        text = ""
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        session = locked_session(actor, session_id, allow_signed=True)
        if not session.is_locked:
            raise ValidationFailed.single("status", "Only a signed note is amended; sign it first.")
        if text == session.note.strip():
            raise ValidationFailed.single("note", "The amended note is the same as the signed one.")
        amendment = NoteAmendment.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=actor.user_id,
            session=session,
            reason=why,
            previous_note=session.note,
            note=text,
        )
        session.note = text
        session.save(update_fields=["note", "updated_at"])
        record(
            actor,
            Action.CREATE,
            "NoteAmendment",
            amendment.pk,
            patient_id=session.patient_id,
            detail={"session": str(session.pk)},
        )
    return amendment


def _text(value: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed.single(field, "The note cannot be empty.")
    if len(text) > NOTE_LIMIT:
        raise ValidationFailed.single(field, f"Keep the note under {NOTE_LIMIT} characters.")
    return text
