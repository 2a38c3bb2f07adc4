"""The patient portal: invitations, activation, and what a signed-in patient may read and answer.

Staff invite a patient (`invite_to_portal`); the patient sets a password with the emailed single-use
token (`activate_account`) and signs in with their email address. Everything the portal shows of
the patient's record is read here and audited with the patient as the actor; answers are stored
through `responses.store_response` like every other path, so scoring and safety alerts are the same.
"""

from __future__ import annotations

import secrets
import smtplib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import Answers, Instrument
from ketaflow.measurement.library import instruments_for
from ketaflow.measurement.links import patient_actor, token_hash
from ketaflow.measurement.models import MeasureDue, QuestionnaireResponse
from ketaflow.measurement.progress import InstrumentProgress, patient_progress
from ketaflow.measurement.responses import RecordedResponse, Submitter, checked_score, store_response
from ketaflow.patients.services import _load
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .models import PortalAccount

INVITE_HOURS = 72  # how long a set-password link works (a security choice, not a clinical one)
INVITE_TTL = timedelta(hours=INVITE_HOURS)
USERNAME_MAX = 150  # the sign-in name is the email address, in User.username
INVITE_SUBJECT = "Your patient portal invitation"


class InvitationUnavailable(Exception):
    """The set-password link is unknown, expired or used; which one is deliberately not said."""


@dataclass(frozen=True)
class PortalInvitation:
    account: PortalAccount
    token: str

    @property
    def path(self) -> str:
        return f"/portal/activate/{self.token}/"


# ---------- staff: the invitation ----------


def invite_to_portal(actor: Actor, patient_id: uuid.UUID | str) -> PortalInvitation:
    """Create (or renew) the patient's portal account and email a set-password link valid
    `INVITE_HOURS` hours.

    A renewed invitation replaces any earlier link; for an activated account it lets the patient
    choose a new password. Raises ValidationFailed (no email address, an archived patient, an email
    address already used by another login), NotFound or Forbidden.
    """
    actor.require(Permission.EDIT_DEMOGRAPHICS)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        email = (patient.email or "").strip().lower()
        if patient.archived_at is not None:
            raise ValidationFailed.single(None, "This patient is archived; restore the record first.")
        if not email:
            raise ValidationFailed.single("email", "Add the patient's email address before inviting them.")
        if len(email) > USERNAME_MAX:
            raise ValidationFailed.single(
                "email", f"The portal needs an email address of at most {USERNAME_MAX} characters."
            )
        account = (
            PortalAccount.objects.for_organization(actor.organization_id)
            .select_related("user")
            .filter(patient=patient)
            .first()
        )
        clash = User.objects.filter(username__iexact=email)
        if account is not None:
            clash = clash.exclude(pk=account.user_id)
        if clash.exists():
            raise ValidationFailed.single(
                "email", "This email address already signs in to ketaflow; the portal needs its own address."
            )
        now = timezone.now()
        token = secrets.token_urlsafe(32)
        if account is None:
            user = User(username=email, email=email, organization_id=actor.organization_id,
                        first_name=patient.preferred_name or patient.legal_given_name)
            user.set_unusable_password()
            user.save()
            account = PortalAccount(organization_id=actor.organization_id, user=user, patient=patient)
            action = Action.CREATE
        else:
            user = account.user
            if user.username != email or user.email != email:
                user.username, user.email = email, email
                user.save(update_fields=["username", "email"])
            action = Action.UPDATE
        account.invite_token_hash = token_hash(token)
        account.invite_expires_at = now + INVITE_TTL
        account.invited_at = now
        account.invited_by_id = actor.user_id
        account.save()
        record(actor, action, "PortalAccount", account.pk, patient_id=patient.pk, detail={"event": "invited"})
        clinic = patient.home_clinic.name
    invitation = PortalInvitation(account, token)
    _email_invitation(email, clinic, invitation)
    return invitation


def _email_invitation(address: str, clinic: str, invitation: PortalInvitation) -> None:
    body = (
        f"{clinic} has invited you to its patient portal, where you can answer your questionnaires "
        "and follow your progress.\n\n"
        f"Choose your password here (the link works once, for {INVITE_HOURS} hours):\n"
        f"{settings.KETAFLOW_BASE_URL}{invitation.path}\n\n"
        "You will sign in with this email address. If you did not expect this message, ignore it.\n\n"
        "If you are thinking about harming yourself or are in danger, call or text 988, or call 911."
    )
    try:
        send_mail(INVITE_SUBJECT, body, None, [address])
    except (OSError, smtplib.SMTPException) as exc:
        raise ValidationFailed.single(
            None, "The invitation email could not be sent; check the address and try again."
        ) from exc


# ---------- the patient: activation and sign-in ----------


def _pending(token: str, *, for_update: bool = False) -> PortalAccount:
    if not token or len(token) > 100:
        raise InvitationUnavailable
    rows = PortalAccount.objects.select_related("user", "patient__home_clinic")
    if for_update:
        rows = rows.select_for_update(of=("self",))
    account = rows.filter(invite_token_hash=token_hash(token)).first()
    if (
        account is None
        or account.invite_expires_at is None
        or account.invite_expires_at <= timezone.now()
        or not account.user.is_active
        or account.patient.archived_at is not None
    ):
        raise InvitationUnavailable
    return account


def account_for_invitation(token: str) -> PortalAccount:
    """The account a live set-password link belongs to, or InvitationUnavailable."""
    return _pending(token)


def activate_account(
    token: str, password: str, confirm: str, *, ip_address: str | None = None
) -> PortalAccount:
    """Set the patient's password (Django's password validators) and spend the link.

    Raises ValidationFailed (fields `password`, `confirm`) with nothing changed, or InvitationUnavailable.
    """
    with transaction.atomic():
        account = _pending(token, for_update=True)
        errors = []
        if not password:
            errors.append(FieldError("password", "Choose a password."))
        else:
            try:
                validate_password(password, account.user)
            except DjangoValidationError as exc:
                errors.extend(FieldError("password", message) for message in exc.messages)
            if password != confirm:
                errors.append(FieldError("confirm", "The two passwords do not match."))
        if errors:
            raise ValidationFailed(errors)
        account.user.set_password(password)
        account.user.save(update_fields=["password"])
        now = timezone.now()
        account.invite_token_hash = None
        account.invite_expires_at = None
        account.activated_at = account.activated_at or now
        account.save(update_fields=["invite_token_hash", "invite_expires_at", "activated_at"])
        record(portal_actor(account, ip_address), Action.UPDATE, "PortalAccount", account.pk,
               patient_id=account.patient_id, detail={"event": "password set"})
    return account


def account_for(user: Any) -> PortalAccount | None:
    """The signed-in user's active portal account, or None (staff, a pending or disabled account)."""
    if not getattr(user, "is_authenticated", False):
        return None
    account = (
        PortalAccount.objects.select_related("user", "patient__home_clinic")
        .filter(user_id=user.pk, activated_at__isnull=False)
        .first()
    )
    if account is None or not account.is_active:
        return None
    return account


def portal_actor(account: PortalAccount, ip_address: str | None = None) -> Actor:
    """The patient acting in the portal: the audit identity of `links.patient_actor`, with their login."""
    return replace(patient_actor(account.patient, "portal"), user_id=account.user_id, ip_address=ip_address)


def record_sign_in(account: PortalAccount, action: str, ip_address: str | None = None) -> None:
    """Audit a portal sign-in or sign-out (Action.LOGIN / Action.LOGOUT)."""
    with transaction.atomic():
        record(portal_actor(account, ip_address), action, "User", account.user_id)


# ---------- the patient: what is due, progress, answering ----------


def patient_instruments(account: PortalAccount) -> dict[str, Instrument]:
    """The instruments a patient answers themselves and whose text ketaflow may show."""
    return {
        key: instrument
        for key, instrument in instruments_for(account.organization_id).items()
        if instrument.respondent == "patient" and instrument.ships_text
    }


@dataclass(frozen=True)
class DueQuestionnaire:
    instrument: Instrument
    due_at: datetime
    is_due: bool  # due now (else coming up)


def due_questionnaires(account: PortalAccount, ip_address: str | None = None) -> list[DueQuestionnaire]:
    """The patient's open due questionnaires they answer themselves, soonest first; the read is audited."""
    known = patient_instruments(account)
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            MeasureDue.objects.for_organization(account.organization_id)
            .filter(patient_id=account.patient_id, status=MeasureDue.Status.OPEN)
            .filter(instrument_id__in=list(known))
            .order_by("due_at")
        )
        record(portal_actor(account, ip_address), Action.READ, "MeasureDue", "",
               patient_id=account.patient_id, detail={"purpose": "portal:due", "count": len(rows)})
    return [DueQuestionnaire(known[row.instrument_id], row.due_at, row.due_at <= now) for row in rows]


def questionnaire_due(
    account: PortalAccount, instrument_id: str, ip_address: str | None = None
) -> Instrument:
    """The instrument when the patient has it due now, else NotFound; the read is audited."""
    instrument = patient_instruments(account).get(instrument_id)
    if instrument is None:
        raise NotFound("questionnaire")
    with transaction.atomic():
        due = _open_due(account, instrument_id).filter(due_at__lte=timezone.now()).first()
        if due is None:
            raise NotFound("questionnaire")
        record(portal_actor(account, ip_address), Action.READ, "MeasureDue", due.pk,
               patient_id=account.patient_id, detail={"purpose": "portal:answer"})
    return instrument


def _open_due(account: PortalAccount, instrument_id: str) -> Any:
    return MeasureDue.objects.for_organization(account.organization_id).filter(
        patient_id=account.patient_id, instrument_id=instrument_id, status=MeasureDue.Status.OPEN
    )


def answer_questionnaire(
    account: PortalAccount, instrument_id: str, answers: Answers, ip_address: str | None = None
) -> RecordedResponse:
    """Score and store the patient's answers (source: portal) for a questionnaire due now.

    Raises ValidationFailed (fields like `phq9.9`) with nothing stored, or NotFound when the
    questionnaire is not (or no longer) due.
    """
    instrument = patient_instruments(account).get(instrument_id)
    if instrument is None:
        raise NotFound("questionnaire")
    actor = portal_actor(account, ip_address)
    submitter = Submitter(actor, account.patient, QuestionnaireResponse.Source.PORTAL)
    result = checked_score(instrument, answers, prefix=instrument_id, submitter=submitter)
    with transaction.atomic():
        due = _open_due(account, instrument_id).select_for_update().filter(due_at__lte=timezone.now()).first()
        if due is None:
            raise NotFound("questionnaire")
        return store_response(actor, account.patient, instrument, result,
                              authored_at=timezone.now(), source=QuestionnaireResponse.Source.PORTAL)


@dataclass(frozen=True)
class PatientProgress:
    """One instrument's progress as the patient sees it: the chart and a plain-language line."""

    progress: InstrumentProgress
    summary: str
    chart_svg: str

    @property
    def instrument(self) -> Instrument:
        return self.progress.instrument


def _number(value: float) -> str:
    return f"{value:g}"


def plain_summary(item: InstrumentProgress) -> str:
    """E.g. "Your PHQ-9 has gone from 18 to 7." (from the pre-treatment baseline, else the first score)."""
    name = item.instrument.short_name
    latest = item.latest
    if latest is None:
        return f"You have no {name} scores yet."
    start = item.outcome.baseline.total if item.outcome.baseline else item.points[0].value
    if len(item.points) == 1:
        return f"Your first {name} score is {_number(latest.value)}."
    if start == latest.value:
        return f"Your {name} is {_number(latest.value)}, the same as when you started."
    return f"Your {name} has gone from {_number(start)} to {_number(latest.value)}."


def my_progress(account: PortalAccount, ip_address: str | None = None) -> list[PatientProgress]:
    """The patient's own questionnaires over time (no clinician-rated scales and no risk screeners,
    which are triage for the clinician, not a trajectory to follow); the read is audited."""
    shown = [
        key for key, instrument in patient_instruments(account).items()
        if instrument.scoring.method != "risk_level"
    ]
    with transaction.atomic():
        found = patient_progress(account.patient, instrument_ids=shown)
        record(portal_actor(account, ip_address), Action.READ, "ScoreObservation", "",
               patient_id=account.patient_id,
               detail={"purpose": "portal:progress", "instruments": [p.instrument.id for p in found]})
    return [PatientProgress(p, plain_summary(p), p.chart(width=360, height=220)) for p in found]
