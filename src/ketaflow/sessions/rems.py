"""Spravato REMS: patient enrolment, the monitoring form of each esketamine session, and the board.

A certified setting enrols each patient before the first dose (`enrol`; `checkin.may_start` refuses
an esketamine start without it) and files a Patient Monitoring Form within 7 days of every dose
(clinical reference §4). Discharge creates the form, answered from the session record
(`create_form`); staff check it, download the PDF, file it with the REMS and mark it submitted
(`submit_form`). The board lists forms due, overdue and submitted, and the esketamine plans whose
patient is not yet enrolled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.rems import rems_answers
from ketaflow.patients.models import Patient
from ketaflow.plans.measures import clinic_today
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.validation import FieldError, ValidationFailed

from .models import RemsEnrolment, RemsForm, TreatmentSession
from .recovery_common import session_settings
from .rems_facts import session_facts, treatment_day

BOARD_DAYS = 7  # the board's "due within" window (the issue: forms due within 7 days)
SUBMITTED_SHOWN = 50
REMS_ID_MAX = 40
CONFIRMATION_MAX = 80


def forms_of(organization_id: uuid.UUID) -> Any:
    return RemsForm.objects.for_organization(organization_id)


def rems_due_days(organization_id: uuid.UUID) -> int:
    """The practice's REMS window in days (the settings' default, 7, unless it set its own)."""
    return session_settings(organization_id).rems_due_days


# ---------- enrolment ----------


def enrolment_of(organization_id: uuid.UUID, patient_id: uuid.UUID | str) -> RemsEnrolment | None:
    return RemsEnrolment.objects.for_organization(organization_id).filter(patient_id=patient_id).first()


def enrol(
    actor: Actor, patient_id: uuid.UUID | str, *, enrolled_on: date | None, rems_patient_id: str = ""
) -> RemsEnrolment:
    """Record the patient's REMS enrolment (once per patient). Raises ValidationFailed (`enrolled_on`
    missing or in the future, `rems_patient_id` too long, already enrolled), NotFound, Forbidden."""
    actor.require(Permission.CHART_SESSIONS)
    rems_id = (rems_patient_id or "").strip()
    with transaction.atomic():
        patient = (
            Patient.objects.for_organization(actor.organization_id)
            .select_related("home_clinic")
            .select_for_update(of=("self",))
            .one(patient_id, "patient")
        )
        errors = []
        if enrolled_on is None:
            errors.append(FieldError("enrolled_on", "Enter the date the patient was enrolled."))
        elif enrolled_on > clinic_today(patient):
            errors.append(FieldError("enrolled_on", "The enrolment date cannot be in the future."))
        if len(rems_id) > REMS_ID_MAX:
            errors.append(FieldError("rems_patient_id", f"Use at most {REMS_ID_MAX} characters."))
        existing = enrolment_of(actor.organization_id, patient.pk)
        if existing is not None:
            errors.append(
                FieldError(None, f"This patient is already enrolled (since {existing.enrolled_on:%d %b %Y}).")
            )
        if errors:
            raise ValidationFailed(errors)
        assert enrolled_on is not None
        try:
            with transaction.atomic():
                enrolment = RemsEnrolment.objects.create(
                    organization_id=actor.organization_id,
                    patient=patient,
                    recorded_by_id=actor.user_id,
                    enrolled_on=enrolled_on,
                    rems_patient_id=rems_id,
                )
        except IntegrityError as exc:
            raise ValidationFailed.single(None, "This patient is already enrolled.") from exc
        record(actor, Action.CREATE, "RemsEnrolment", enrolment.pk, patient_id=patient.pk)
    return enrolment


# ---------- the form ----------


def create_form(session: TreatmentSession, *, actor: Actor | None = None) -> RemsForm:
    """The session's monitoring form, answered from its record and due `rems_due_days` after the
    treatment date; the existing one when the session has a form already.

    Runs inside the caller's transaction (discharge); audited as CREATE by `actor`, or by the
    software itself ("system:discharge") when no actor is given.
    """
    with transaction.atomic():
        existing = forms_of(session.organization_id).filter(session=session).first()
        if existing is not None:
            return existing
        facts = session_facts(session)
        zone = ZoneInfo((session.clinic or session.plan.clinic).timezone)
        form = RemsForm.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=actor.user_id if actor else None,
            session=session,
            due_on=treatment_day(session, zone) + timedelta(days=rems_due_days(session.organization_id)),
            fields=rems_answers(facts).as_dict(),
        )
        who = actor or Actor.system(session.organization_id, via="discharge")
        record(
            who,
            Action.CREATE,
            "RemsForm",
            form.pk,
            patient_id=session.patient_id,
            detail={"session": str(session.pk), "due_on": form.due_on.isoformat()},
        )
    return form


def open_form(actor: Actor, form_id: uuid.UUID | str, *, purpose: str = "view") -> RemsForm:
    """One form for reading (VIEW_CLINICAL); NotFound for another organization's; audited."""
    actor.require(Permission.VIEW_CLINICAL)
    with transaction.atomic():
        form: RemsForm = (
            forms_of(actor.organization_id)
            .select_related("patient__home_clinic", "session__clinic", "submitted_by")
            .one(form_id, "REMS form")
        )
        record(
            actor, Action.READ, "RemsForm", form.pk, patient_id=form.patient_id, detail={"purpose": purpose}
        )
    return form


def submit_form(actor: Actor, form_id: uuid.UUID | str, *, confirmation: str = "") -> RemsForm:
    """Mark the form filed with the REMS (CHART_SESSIONS), with the REMS confirmation if one was
    given. Raises ValidationFailed (already submitted, confirmation too long), NotFound, Forbidden."""
    actor.require(Permission.CHART_SESSIONS)
    confirmation = (confirmation or "").strip()
    if len(confirmation) > CONFIRMATION_MAX:
        raise ValidationFailed.single("confirmation", f"Use at most {CONFIRMATION_MAX} characters.")
    with transaction.atomic():
        form: RemsForm = forms_of(actor.organization_id).select_for_update().one(form_id, "REMS form")
        if form.status == RemsForm.Status.SUBMITTED:
            raise ValidationFailed.single(
                None, f"This form was already submitted on {timezone.localtime(form.submitted_at):%d %b %Y}."
            )
        form.status = RemsForm.Status.SUBMITTED
        form.submitted_at = timezone.now()
        form.submitted_by_id = actor.user_id
        form.confirmation = confirmation
        form.save(update_fields=["status", "submitted_at", "submitted_by", "confirmation"])
        record(
            actor,
            Action.UPDATE,
            "RemsForm",
            form.pk,
            patient_id=form.patient_id,
            detail={"event": "submitted", "confirmation": bool(confirmation)},
        )
    return form


# ---------- the board ----------


@dataclass(frozen=True)
class MissingEnrolment:
    """An open esketamine plan whose patient is not enrolled in the REMS yet."""

    plan: TreatmentPlan

    @property
    def patient(self) -> Patient:
        return self.plan.patient


@dataclass(frozen=True)
class RemsBoard:
    today: date
    overdue: list[RemsForm]
    due: list[RemsForm]  # due within BOARD_DAYS days
    later: list[RemsForm]  # due after that (a practice with a longer window)
    submitted: list[RemsForm]  # the most recent
    missing_enrolments: list[MissingEnrolment]


def missing_enrolments(organization_id: uuid.UUID) -> list[MissingEnrolment]:
    """Open esketamine plans (draft or signed) whose patient has no REMS enrolment, by start date."""
    enrolled = RemsEnrolment.objects.for_organization(organization_id).values("patient_id")
    plans = (
        TreatmentPlan.objects.for_organization(organization_id)
        .filter(route="esketamine", phase__in=[p.value for p in OPEN_PHASES])
        .exclude(patient_id__in=enrolled)
        .select_related("patient")
        .order_by("start_date", "pk")
    )
    return [MissingEnrolment(plan) for plan in plans]


def rems_board(actor: Actor, today: date) -> RemsBoard:
    """The forms due (within 7 days, and later), overdue and recently submitted, and the patients
    missing an enrolment. Audited as one LIST."""
    actor.require(Permission.VIEW_CLINICAL)
    rows = forms_of(actor.organization_id).select_related("patient", "session")
    open_forms = list(rows.filter(status=RemsForm.Status.DUE).order_by("due_on", "pk"))
    submitted = list(
        rows.filter(status=RemsForm.Status.SUBMITTED)
        .select_related("submitted_by")
        .order_by("-submitted_at")[:SUBMITTED_SHOWN]
    )
    horizon = today + timedelta(days=BOARD_DAYS)
    missing = missing_enrolments(actor.organization_id)
    board = RemsBoard(
        today=today,
        overdue=[f for f in open_forms if f.due_on < today],
        due=[f for f in open_forms if today <= f.due_on <= horizon],
        later=[f for f in open_forms if f.due_on > horizon],
        submitted=submitted,
        missing_enrolments=missing,
    )
    with transaction.atomic():
        record(
            actor,
            Action.LIST,
            "RemsForm",
            detail={
                "purpose": "rems-board",
                "overdue": len(board.overdue),
                "due": len(board.due) + len(board.later),
                "submitted": len(submitted),
                "missing_enrolments": len(missing),
            },
        )
    return board
