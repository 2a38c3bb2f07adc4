"""The one way into a session: this organization's rows only, the read audited, locks on request.

Every service, page and API handler of the sessions app starts here, so a user of one clinic never
reaches another clinic's session (a foreign id is simply not found).
"""

from __future__ import annotations

import uuid

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.validation import ValidationFailed

from .models import TreatmentSession


def sessions_of(organization_id: uuid.UUID) -> TenantQuerySet:
    return TreatmentSession.objects.for_organization(organization_id)


def open_session(actor: Actor, session_id: uuid.UUID | str, *, purpose: str = "view") -> TreatmentSession:
    """One session for reading (VIEW_CLINICAL); NotFound for another organization's; audited."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        session: TreatmentSession = (
            sessions_of(actor.organization_id)
            .select_related("patient", "plan", "clinic", "appointment")
            .one(session_id, "session")
        )
        record(
            actor,
            Action.READ,
            "TreatmentSession",
            session.pk,
            patient_id=session.patient_id,
            detail={"purpose": purpose},
        )
    return session


def locked_session(
    actor: Actor, session_id: uuid.UUID | str, *, allow_signed: bool = False
) -> TreatmentSession:
    """The session locked for a change, inside the caller's transaction (CHART_SESSIONS). A signed
    note locks the record: only an amendment (`allow_signed`) may touch it then."""
    actor.require(Permission.CHART_SESSIONS)
    session: TreatmentSession = (
        sessions_of(actor.organization_id)
        .select_for_update(of=("self",))
        .select_related("patient", "plan", "clinic", "appointment")
        .one(session_id, "session")
    )
    if session.is_locked and not allow_signed:
        raise ValidationFailed.single(None, "This session's note is signed; changes are made as amendments.")
    return session
