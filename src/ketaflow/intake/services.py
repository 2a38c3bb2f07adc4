"""The patient's intake: issuing the link, answering section by section, reading it, reviewing it.

Staff issue an intake (`issue_intake`); the patient answers through the link or the portal, one
section at a time (`save_section`, status in progress), and submits once (`submission.submit_intake`).
One intake per patient is open at a time: issuing again renews its link. The link works for
`LINK_LIFETIME_DAYS` days and stops working when the intake is submitted. Every write is audited in
its transaction; staff reads are audited; the patient's own reads are audited as the patient.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.instruments import AnswerError, score_instrument
from ketaflow.measurement.library import instrument_for
from ketaflow.measurement.links import patient_actor, token_hash
from ketaflow.measurement.models import QuestionnaireResponse
from ketaflow.measurement.responses import Submitter, keep_unfinished_safety_answers
from ketaflow.measurement.sms import sms_backend
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import NotFound, ValidationFailed

from . import form
from .models import Intake

__all__ = [
    "LINK_LIFETIME_DAYS",
    "IntakeUnavailable",
    "IssuedIntake",
    "Respondent",
    "issue_intake",
    "latest_submitted_intake",
    "mark_reviewed",
    "open_intake",
    "respondent_for_portal",
    "respondent_for_token",
    "save_section",
]

LINK_LIFETIME_DAYS = 7
LINK_LIFETIME = timedelta(days=LINK_LIFETIME_DAYS)
ISSUE_CHANNELS = (Intake.Channel.EMAIL, Intake.Channel.SMS, Intake.Channel.IN_PERSON)
OPEN = (Intake.Status.INVITED, Intake.Status.IN_PROGRESS)
MAX_IDENTITY_FAILURES = 5
RECORD_SECTION = "about"  # the contact details, kept as the changes the patient made to the record


class IntakeUnavailable(Exception):
    """The link is unknown, expired, locked or its intake already submitted; which one is not said."""


@dataclass(frozen=True)
class IssuedIntake:
    intake: Intake
    token: str

    @property
    def path(self) -> str:
        return f"/intake/{self.token}/"


# ---------- staff: issuing the link ----------


def issue_intake(actor: Actor, patient_id: uuid.UUID | str, *, channel: str) -> IssuedIntake:
    """Open an intake for the patient (or renew the link of the open one), valid for 7 days.

    Raises ValidationFailed (`channel`: unknown, text messages not set up, or no email address /
    mobile number on file; an archived patient), NotFound or Forbidden. Delivering the link is the
    caller's (`delivery`).
    """
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    if channel not in ISSUE_CHANNELS:
        raise ValidationFailed.single("channel", "Choose email, text message or in person.")
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)  # one issuer at a time: one open intake
        if patient.is_archived:
            raise ValidationFailed.single(None, "This patient is archived; restore the record first.")
        if channel == Intake.Channel.SMS and sms_backend() is None:
            raise ValidationFailed.single("channel", "Text messages are not set up for this clinic; send the "
                                                     "link by email or give it in person.")
        if channel == Intake.Channel.EMAIL and not patient.email:
            raise ValidationFailed.single("channel", "There is no email address on file; give the link in "
                                                     "person or add an email address first.")
        if channel == Intake.Channel.SMS and not patient.phone_mobile:
            raise ValidationFailed.single("channel", "There is no mobile number on file; give the link in "
                                                     "person or add a mobile number first.")
        now = timezone.now()
        token = secrets.token_urlsafe(32)
        intake = open_intake_of(patient)
        created = intake is None
        if intake is None:
            intake = Intake(organization_id=patient.organization_id, patient=patient,
                            recorded_by_id=actor.user_id, form_version=form.FORM_VERSION)
        intake.channel = channel
        intake.token_hash = token_hash(token)
        intake.expires_at = now + LINK_LIFETIME
        intake.link_issued_at = now
        intake.identity_failures = 0
        intake.save()
        record(actor, Action.CREATE if created else Action.UPDATE, "Intake", intake.pk, patient_id=patient.pk,
               detail={"channel": channel, "event": "issued" if created else "link renewed"})
    return IssuedIntake(intake, token)


def _open_intakes(organization_id: uuid.UUID, patient_id: uuid.UUID) -> QuerySet[Intake]:
    """A patient's open (invited or in-progress) intakes, newest first (there is one at most)."""
    return (
        Intake.objects.for_organization(organization_id)
        .filter(patient_id=patient_id, status__in=OPEN)
        .order_by("-recorded_at")
    )


def open_intake_of(patient: Patient) -> Intake | None:
    """The patient's open intake, if any. No audit: callers audit their page."""
    return _open_intakes(patient.organization_id, patient.pk).first()


def latest_submitted_intake(patient: Patient) -> Intake | None:
    """The patient's most recently submitted intake (a later one supersedes it). No audit: the caller
    audits the page that shows it."""
    return (
        Intake.objects.for_organization(patient.organization_id)
        .filter(patient=patient, status=Intake.Status.SUBMITTED)
        .order_by("-submitted_at")
        .first()
    )


# ---------- staff: reading and reviewing ----------


def intakes_of(actor: Actor, patient: Patient) -> list[Intake]:
    """A patient's intakes, newest first, for an actor who already opened (and audited) the patient."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    return list(
        Intake.objects.for_organization(actor.organization_id).filter(patient=patient)
        .select_related("reviewed_by").order_by("-recorded_at")
    )


def open_intake(actor: Actor, intake_id: uuid.UUID | str, *, purpose: str = "intake") -> Intake:
    """One intake with its answers; the read is audited. NotFound for another organization's."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        scope = Intake.objects.for_organization(actor.organization_id).select_related(
            "patient__home_clinic", "reviewed_by"
        )
        intake: Intake = scope.one(intake_id, "intake")
        record(actor, Action.READ, "Intake", intake.pk, patient_id=intake.patient_id,
               detail={"purpose": purpose})
    return intake


def mark_reviewed(actor: Actor, intake_id: uuid.UUID | str) -> Intake:
    """Record that a clinician has read the submitted intake. Raises ValidationFailed when it is not
    submitted or already reviewed, NotFound, Forbidden (EDIT_CLINICAL)."""
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        scope = Intake.objects.for_organization(actor.organization_id).select_for_update()
        intake: Intake = scope.one(intake_id, "intake")
        if intake.status != Intake.Status.SUBMITTED:
            raise ValidationFailed.single(None, "Only a submitted intake can be marked reviewed.")
        if intake.reviewed_at is not None:
            raise ValidationFailed.single(None, "This intake is already marked reviewed.")
        intake.reviewed_at = timezone.now()
        intake.reviewed_by_id = actor.user_id
        intake.save(update_fields=["reviewed_at", "reviewed_by"])
        record(actor, Action.UPDATE, "Intake", intake.pk, patient_id=intake.patient_id,
               detail={"event": "reviewed"})
    return intake


# ---------- the patient: who is answering ----------


@dataclass(frozen=True)
class Respondent:
    """The patient answering an open intake, through the link (`token`) or the portal."""

    intake: Intake
    actor: Actor
    source: str  # the QuestionnaireResponse source of the C-SSRS answers
    token: str | None = None

    @property
    def patient(self) -> Patient:
        return self.intake.patient

    @property
    def today(self) -> date:
        """The date at the patient's home clinic."""
        return timezone.localdate(timezone=ZoneInfo(self.patient.home_clinic.timezone))

    def clean_kwargs(self) -> dict[str, Any]:
        patient = self.patient
        return {"today": self.today, "region": patient.organization.country,
                "sex_at_birth": patient.sex_at_birth, "date_of_birth": patient.date_of_birth}


def _by_token(token: str, *, for_update: bool = False) -> Intake:
    if not token or len(token) > 100:
        raise IntakeUnavailable
    rows = Intake.objects.select_related("patient__home_clinic", "patient__organization")
    if for_update:
        rows = rows.select_for_update(of=("self",))
    intake = rows.filter(token_hash=token_hash(token)).first()
    if (
        intake is None
        or not intake.is_open
        or intake.expires_at is None
        or intake.expires_at <= timezone.now()
        or intake.patient.is_archived
    ):
        raise IntakeUnavailable
    return intake


def respondent_for_token(token: str) -> Respondent:
    """The patient behind a live intake link, or IntakeUnavailable."""
    intake = _by_token(token)
    return Respondent(intake, patient_actor(intake.patient, "patient-intake"),
                      QuestionnaireResponse.Source.LINK, token)


def respondent_for_portal(account: PortalAccount, ip_address: str | None = None) -> Respondent:
    """The signed-in patient's open intake, or NotFound when there is none."""
    intake = (
        _open_intakes(account.organization_id, account.patient_id)
        .select_related("patient__home_clinic", "patient__organization")
        .first()
    )
    if intake is None:
        raise NotFound("intake")
    return Respondent(intake, portal_actor(account, ip_address), QuestionnaireResponse.Source.PORTAL)


def locked(respondent: Respondent) -> Intake:
    """Inside a transaction: the respondent's intake, locked and still open (else IntakeUnavailable)."""
    if respondent.token is not None:
        return _by_token(respondent.token, for_update=True)
    intake = (
        Intake.objects.select_for_update(of=("self",))
        .select_related("patient__home_clinic", "patient__organization")
        .filter(pk=respondent.intake.pk).first()
    )
    if intake is None or not intake.is_open:
        raise IntakeUnavailable
    return intake


def record_patient_read(respondent: Respondent, purpose: str) -> None:
    """Audit the patient's own reading of their intake (a page showing their record or answers)."""
    with transaction.atomic():
        record(respondent.actor, Action.READ, "Intake", respondent.intake.pk,
               patient_id=respondent.intake.patient_id, detail={"purpose": purpose})


def check_identity(respondent: Respondent, date_of_birth: date | None) -> bool:
    """Does `date_of_birth` match the record? After MAX_IDENTITY_FAILURES wrong answers the link
    stops working (staff issue it again). Only the count is kept, never what was typed."""
    if date_of_birth is not None and date_of_birth == respondent.patient.date_of_birth:
        return True
    with transaction.atomic():
        intake = locked(respondent)
        intake.identity_failures += 1
        fields = ["identity_failures"]
        if intake.identity_failures >= MAX_IDENTITY_FAILURES:
            intake.token_hash = None
            fields.append("token_hash")
            record(respondent.actor, Action.UPDATE, "Intake", intake.pk, patient_id=intake.patient_id,
                   detail={"event": "link locked", "failures": intake.identity_failures})
        intake.save(update_fields=fields)
    return False


# ---------- the patient: saving a section ----------


def applicable(respondent: Respondent, section_id: str) -> form.Section:
    """The section, if this patient answers it; NotFound otherwise (pregnancy for a male record)."""
    for candidate in form.sections_for(respondent.patient.sex_at_birth):
        if candidate.id == section_id:
            return candidate
    raise NotFound("intake section")


def save_section(respondent: Respondent, section_id: str, raw: dict[str, Any]) -> Intake:
    """Clean and store one section's answers (status in progress); the patient can come back later.

    Raises ValidationFailed (fields like `medical.home_bp_systolic`) with nothing stored, NotFound
    for a section this patient does not answer, or IntakeUnavailable. C-SSRS answers that already
    endorse a safety item are kept and alerted at once, even when the rest is refused. For "About you"
    only the fields that differ from the record are kept, so submitting later changes just those
    (and never undoes an edit the clinic made in the meantime).
    """
    applicable(respondent, section_id)
    try:
        clean = form.clean_section(section_id, raw, **respondent.clean_kwargs())
    except ValidationFailed:
        if section_id == form.SAFETY_SECTION:
            keep_safety_answers(respondent, raw.get(form.SAFETY_QUESTION))
        raise
    if section_id == form.SAFETY_SECTION:
        keep_safety_answers(respondent, clean.get(form.SAFETY_QUESTION))
    with transaction.atomic():
        intake = locked(respondent)
        if section_id == RECORD_SECTION:  # `locked` read the record with the intake
            clean = {name: value for name, value in clean.items() if getattr(intake.patient, name) != value}
        intake.answers = {**intake.answers, section_id: clean}
        intake.status = Intake.Status.IN_PROGRESS
        intake.started_at = intake.started_at or timezone.now()
        intake.save(update_fields=["answers", "status", "started_at"])
        record(respondent.actor, Action.UPDATE, "Intake", intake.pk, patient_id=intake.patient_id,
               detail={"event": "section saved", "section": section_id})
    return intake


def _numbers(raw: Any) -> dict[str | int, int | None]:
    if not isinstance(raw, dict):
        return {}
    found: dict[str | int, int | None] = {}
    for key, value in raw.items():
        if isinstance(value, int) and not isinstance(value, bool):
            found[str(key)] = value
        elif isinstance(value, str) and value.strip().isdigit():
            found[str(key)] = int(value.strip())
    return found


def keep_safety_answers(respondent: Respondent, raw: Any) -> None:
    """When the C-SSRS answers given so far endorse a safety item, keep them (unscored, in progress)
    and raise the standard safety alert now, through measurement's own path; once per answer set."""
    answers = _numbers(raw)
    instrument = instrument_for(respondent.intake.organization_id, form.section(form.SAFETY_SECTION)
                                .question(form.SAFETY_QUESTION).instrument)
    try:
        result = score_instrument(instrument, answers)
    except AnswerError:
        return
    kept = {key: value for key, value in answers.items() if value is not None}
    if not result.safety_details or respondent.intake.safety_kept == kept:
        return
    with transaction.atomic():
        intake = locked(respondent)
        if intake.safety_kept == kept:
            return
        keep_unfinished_safety_answers(Submitter(respondent.actor, intake.patient, respondent.source),
                                       instrument, result)
        intake.safety_kept = kept
        intake.save(update_fields=["safety_kept"])
    respondent.intake.safety_kept = kept


def endorses_ideation(answers: dict[str, Any]) -> bool:
    """Did the patient answer yes to wishing to be dead or to thoughts of suicide (C-SSRS 1 or 2)?"""
    given = _numbers(answers)
    return given.get("1") == 1 or given.get("2") == 1
