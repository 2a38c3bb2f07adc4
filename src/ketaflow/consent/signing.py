"""Signing a consent: the patient signs in the portal, or on a clinic tablet a staff member hands over.

The form sends the typed name, an optional drawn signature (a PNG data URL), the agreement and the
hash of the text the page showed. All are checked together, so every problem is named at once and
nothing is saved until all are right. See services.py for the rules (name matching, the witness).
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.patients.models import Patient
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import FieldError, ValidationFailed

from .models import Consent
from .services import consents_of, open_consent
from .signature import BadSignature, png_from_data_url
from .text import text_hash

USER_AGENT_MAX = 300


@dataclass(frozen=True)
class Signing:
    """What the signing form sent."""

    typed_name: str
    signature: str  # a PNG data URL from the canvas, or ""
    agreed: bool
    text_hash: str  # the hash of the text the page showed


@dataclass(frozen=True)
class Device:
    """Where the signature came from."""

    ip_address: str | None
    user_agent: str = ""


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if not ch.isspace() and ch not in ".,")


def name_matches(patient: Patient, typed: str) -> bool:
    """True when `typed` is the legal first and last name (or first, middle and last), ignoring case,
    spaces, full stops and commas."""
    wanted = {_folded(patient.legal_given_name + patient.legal_family_name)}
    if patient.legal_middle_name:
        wanted.add(_folded(patient.legal_given_name + patient.legal_middle_name + patient.legal_family_name))
    return _folded(typed) in wanted


def _not_waiting(consent: Consent) -> ValidationFailed:
    if consent.status == Consent.Status.WITHDRAWN:
        return ValidationFailed.single(
            None, "This consent request was withdrawn; it can no longer be signed."
        )
    return ValidationFailed.single(None, "This consent form is already signed.")


def _sign(
    actor: Actor,
    scope: TenantQuerySet,
    consent_id: uuid.UUID | str,
    signing: Signing,
    device: Device,
    *,
    channel: str,
    witness_id: int | None,
) -> Consent:
    with transaction.atomic():
        consent: Consent = (
            scope.select_for_update(of=("self",))
            .select_related("template", "patient")
            .one(consent_id, "consent")
        )
        if consent.status != Consent.Status.REQUESTED:
            raise _not_waiting(consent)
        errors: list[FieldError] = []
        typed = " ".join((signing.typed_name or "").split())
        if not typed:
            errors.append(FieldError("typed_name", "Type your full name to sign."))
        elif len(typed) > 200 or not name_matches(consent.patient, typed):
            errors.append(FieldError("typed_name", (
                "Type your name as it is on your record: your legal first and last name."
            )))
        png = None
        try:
            png = png_from_data_url(signing.signature)
        except BadSignature as exc:
            errors.append(FieldError("signature", str(exc)))
        if not signing.agreed:
            errors.append(
                FieldError("agree", "Tick the box to confirm you have read the form and agree to it.")
            )
        expected = text_hash(consent.template)
        if signing.text_hash != expected:
            errors.append(FieldError("text_hash", (
                "The consent text is not the one this page showed, so nothing was signed. "
                "Read the form again, then sign."
            )))
        if errors:
            raise ValidationFailed(errors)
        consent.status = Consent.Status.SIGNED
        consent.typed_name = typed
        consent.signature_png = png
        consent.text_hash = expected
        consent.signed_at = timezone.now()
        consent.ip_address = device.ip_address
        consent.user_agent = (device.user_agent or "")[:USER_AGENT_MAX]
        consent.channel = channel
        consent.witnessed_by_id = witness_id
        consent.save(update_fields=[
            "status", "typed_name", "signature_png", "text_hash", "signed_at", "ip_address", "user_agent",
            "channel", "witnessed_by",
        ])
        record(actor, Action.UPDATE, "Consent", consent.pk, patient_id=consent.patient_id, detail={
            "event": "signed", "signer": "patient", "channel": channel, "route": consent.route,
            "version": consent.template.version, "signature_image": png is not None,
            "witness_user_id": witness_id,
        })
    return consent


def open_for_tablet(actor: Actor, consent_id: uuid.UUID | str) -> Consent:
    """A consent to hand to the patient on this device (audited read); needs clinical edit rights."""
    actor.require(Permission.EDIT_CLINICAL)
    return open_consent(actor, consent_id, purpose="tablet")


def sign_on_tablet(actor: Actor, consent_id: uuid.UUID | str, signing: Signing, device: Device) -> Consent:
    """The patient signs on a device a staff member is signed in to; that staff member is the witness.

    Raises ValidationFailed (typed_name, signature, agree, text_hash; or a consent no longer waiting)
    with nothing saved, NotFound or Forbidden.
    """
    actor.require(Permission.EDIT_CLINICAL)
    return _sign(actor, consents_of(actor.organization_id), consent_id, signing, device,
                 channel=Consent.Channel.TABLET, witness_id=actor.user_id)


def sign_in_portal(
    account: PortalAccount, consent_id: uuid.UUID | str, signing: Signing, device: Device
) -> Consent:
    """The patient signs their own consent in the portal. Another patient's consent is NotFound."""
    scope = consents_of(account.organization_id).filter(patient_id=account.patient_id)
    return _sign(portal_actor(account, device.ip_address), scope, consent_id, signing, device,
                 channel=Consent.Channel.PORTAL, witness_id=None)
