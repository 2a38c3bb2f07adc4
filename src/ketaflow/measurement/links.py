"""Single-use, expiring links through which a patient answers questionnaires without signing in.

The token is 32 random bytes (URL-safe); only its SHA-256 is stored. An unknown, expired or used
link is one and the same `LinkUnavailable`, and the page for it names neither patient nor clinic.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import Answers, Instrument, Score
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.validation import FieldError, ValidationFailed

from .library import instrument_for, instruments_for, settings_for
from .models import Invitation, QuestionnaireResponse
from .responses import RecordedResponse, Submitter, checked_score, store_response


class LinkUnavailable(Exception):
    """The link is unknown, expired or already used; which one is deliberately not said."""


@dataclass(frozen=True)
class IssuedLink:
    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        return f"/q/{self.token}/"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def patient_actor(patient: Patient, via: str) -> Actor:
    """The audit identity of a patient acting through a link or the portal: no staff permissions."""
    return Actor(
        user_id=None,
        username=f"patient:{via}",
        organization_id=patient.organization_id,
        roles=frozenset(),
        via=via.removeprefix("patient-"),  # the audit trail's `via` holds 10 characters: "link", "portal"
    )


def issue_link(
    actor: Actor,
    patient_id: uuid.UUID | str,
    instrument_ids: Sequence[str],
    *,
    channel: str = Invitation.Channel.IN_PERSON,
) -> IssuedLink:
    """Create a link for these instruments, valid for the organization's link lifetime."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        patient = _load(actor, patient_id)
        return create_link(actor, patient, instrument_ids, channel=channel)


def create_link(actor: Actor, patient: Patient, instrument_ids: Sequence[str], *, channel: str) -> IssuedLink:
    """Inside the caller's transaction: checks the instruments are patient-reported, then writes the link."""
    known = instruments_for(patient.organization_id)
    chosen = list(dict.fromkeys(instrument_ids))
    if not chosen:
        raise ValidationFailed.single("instruments", "Choose at least one questionnaire.")
    for instrument_id in chosen:
        instrument = known.get(instrument_id)
        if instrument is None:
            raise ValidationFailed.single("instruments", f"Unknown instrument {instrument_id}.")
        if instrument.respondent != "patient" or not instrument.ships_text:
            raise ValidationFailed.single(
                "instruments",
                f"{instrument.short_name} is not answered by the patient; enter it in the chart.",
            )
    token = secrets.token_urlsafe(32)
    ttl = timedelta(hours=settings_for(patient.organization_id).link_ttl_hours)
    invitation = Invitation.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        token_hash=token_hash(token),
        instruments=chosen,
        channel=channel,
        created_by_id=actor.user_id,
        expires_at=timezone.now() + ttl,
    )
    record(
        actor,
        Action.CREATE,
        "Invitation",
        invitation.pk,
        patient_id=patient.pk,
        detail={"instruments": chosen, "channel": channel},
    )
    return IssuedLink(invitation, token)


def open_link(token: str) -> tuple[Invitation, list[Instrument]]:
    """The live invitation and its instruments, or LinkUnavailable."""
    invitation = _live(Invitation.objects.select_related("patient__home_clinic"), token)
    return invitation, [instrument_for(invitation.organization_id, i) for i in invitation.instruments]


def _live(queryset: object, token: str) -> Invitation:
    if not token or len(token) > 100:
        raise LinkUnavailable
    invitation = queryset.filter(token_hash=token_hash(token)).first()  # type: ignore[attr-defined]
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= timezone.now():
        raise LinkUnavailable
    return invitation


def submit_link(token: str, answers: Mapping[str, Answers]) -> list[RecordedResponse]:
    """Score and store every questionnaire of the link at once, then spend the link.

    Raises ValidationFailed (fields like `phq9.9`) with nothing stored, or LinkUnavailable.
    """
    invitation = _live(Invitation.objects.select_related("patient"), token)
    submitter = Submitter(
        patient_actor(invitation.patient, "patient-link"),
        invitation.patient,
        QuestionnaireResponse.Source.LINK,
        invitation,
    )
    scored: list[tuple[Instrument, Score]] = []
    errors: list[FieldError] = []
    # Scored before the transaction, so unfinished safety answers are kept though the rest is refused.
    for instrument_id in invitation.instruments:
        instrument = instrument_for(invitation.organization_id, instrument_id)
        try:
            scored.append(
                (
                    instrument,
                    checked_score(
                        instrument, answers.get(instrument_id, {}), prefix=instrument_id, submitter=submitter
                    ),
                )
            )
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        invitation = _live(Invitation.objects.select_for_update().select_related("patient"), token)
        patient, actor = invitation.patient, submitter.actor
        now = timezone.now()
        invitation.used_at = now
        invitation.save(update_fields=["used_at"])
        return [
            store_response(
                actor,
                patient,
                instrument,
                result,
                authored_at=now,
                source=QuestionnaireResponse.Source.LINK,
                invitation=invitation,
            )
            for instrument, result in scored
        ]
