"""Patient intake: send the form's link, list a patient's intakes, read one, mark one reviewed.

Issuing and the list need only demographics (front desk sends the form and sees whether it came
back); reading the answers needs clinical access, and marking reviewed clinical edit rights. The
link itself is returned only for `in_person` (to show the patient now); by email or text message it
is sent, and only whether it was accepted is returned. Every read is audited: the list through
`open_patient`, one intake as a READ of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.intake import services
from ketaflow.intake.delivery import deliver, link_url
from ketaflow.intake.facts import intake_facts, medications_answered
from ketaflow.intake.form import adequate_trials
from ketaflow.intake.models import Intake
from ketaflow.patients import services as registry

from .auth import actor_of
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Patient intake"])

IntakeId = Annotated[str, Path(..., description="The intake's id (a UUID).",
                               example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]


class IssueIn(StrictInput):
    channel: Literal["email", "sms", "in_person"] = Field(
        description="email or sms: ketaflow sends the link; in_person: the link is in this response."
    )


class IssuedOut(Schema):
    id: uuid.UUID
    status: str
    channel: str
    expires_at: datetime
    url: str | None = Field(description="The patient's link, for in_person only; shown this once.")
    sent: bool | None = Field(
        description="For email and sms: whether the mail server or carrier accepted it."
    )


class IntakeOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    status: str
    channel: str
    form_version: str
    issued_at: datetime | None
    expires_at: datetime | None
    started_at: datetime | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    sections_answered: list[str]


class IntakePage(PageOut):
    items: list[IntakeOut]


class CreatedRecordsOut(Schema):
    medications: list[uuid.UUID] = []
    allergies: list[uuid.UUID] = []
    alerts: list[uuid.UUID] = []
    patient_fields: list[str] = []


class IntakeDetailOut(IntakeOut):
    answers: dict[str, dict[str, Any]] = Field(
        description="By section and question id, as in ketaflow.intake.form (skipped questions absent)."
    )
    facts: dict[str, bool | None] = Field(description="Patient-reported eligibility facts (null: not known).")
    adequate_trials: int | None
    medications_answered: bool
    created_records: CreatedRecordsOut
    cssrs_response_id: uuid.UUID | None


def _body(intake: Intake) -> dict[str, Any]:
    by = intake.reviewed_by
    return {
        "id": intake.pk,
        "patient_id": intake.patient_id,
        "status": intake.status,
        "channel": intake.channel,
        "form_version": intake.form_version,
        "issued_at": intake.link_issued_at,
        "expires_at": intake.expires_at,
        "started_at": intake.started_at,
        "submitted_at": intake.submitted_at,
        "reviewed_at": intake.reviewed_at,
        "reviewed_by": (by.get_full_name() or by.username) if by is not None else None,
        "sections_answered": sorted(intake.answers or {}),
    }


def _detail(intake: Intake) -> dict[str, Any]:
    treatments = (intake.answers or {}).get("treatments")
    return _body(intake) | {
        "answers": intake.answers or {},
        "facts": intake_facts(intake),
        "adequate_trials": adequate_trials(treatments) if treatments is not None else None,
        "medications_answered": medications_answered(intake),
        "created_records": intake.created_records or {},
        "cssrs_response_id": intake.cssrs_response_id,
    }


@router.post("/patients/{patient_id}/intakes", response=documented(201, IssuedOut))
def issue_intake(request: HttpRequest, patient_id: PatientId, payload: IssueIn) -> Any:
    """Open the patient's intake (or renew the link of the open one) for 7 days, and send it."""
    actor = actor_of(request)
    issued = services.issue_intake(actor, patient_id, channel=payload.channel)
    intake = issued.intake
    in_person = payload.channel == Intake.Channel.IN_PERSON
    return Status(201, {
        "id": intake.pk,
        "status": intake.status,
        "channel": intake.channel,
        "expires_at": intake.expires_at,
        "url": link_url(issued) if in_person else None,
        "sent": None if in_person else deliver(intake.patient, issued),
    })


@router.get("/patients/{patient_id}/intakes", response=documented(200, IntakePage))
def list_intakes(request: HttpRequest, patient_id: PatientId, query: Query[PageQuery]) -> Any:
    """A patient's intakes, newest first, without their answers; the read is audited."""
    actor = actor_of(request)
    refuse_unknown_query(request, PageQuery)
    patient = registry.open_patient(actor, patient_id, purpose="intakes")
    rows = Intake.objects.for_organization(actor.organization_id).filter(patient=patient)
    body = paged(request, rows.select_related("reviewed_by").order_by("-recorded_at", "id"), query)
    body["items"] = [_body(intake) for intake in body["items"]]
    return body


@router.get("/intakes/{intake_id}", response=documented(200, IntakeDetailOut))
def get_intake(request: HttpRequest, intake_id: IntakeId) -> Any:
    """One intake with the patient's answers and the facts they report; the read is audited."""
    return _detail(services.open_intake(actor_of(request), intake_id, purpose="api"))


@router.post("/intakes/{intake_id}/reviewed", response=documented(200, IntakeDetailOut))
def mark_intake_reviewed(request: HttpRequest, intake_id: IntakeId) -> Any:
    """Record that a clinician has read the submitted intake."""
    actor = actor_of(request)
    services.mark_reviewed(actor, intake_id)
    return _detail(services.open_intake(actor, intake_id, purpose="api:reviewed"))
