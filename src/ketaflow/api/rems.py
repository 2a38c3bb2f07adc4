"""Spravato REMS: the JSON API of the patient monitoring forms and enrolment (clinical reference §4).

Every esketamine session's form is filled from its record at discharge and is due within the
practice's window (7 days unless changed). List them (by status, soonest due first), read one (the
read is audited), mark one submitted with the REMS confirmation, and record a patient's enrolment,
which dosing requires before the first esketamine dose.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.paging import paginate
from ketaflow.sessions import rems
from ketaflow.sessions.models import RemsEnrolment, RemsForm

from .auth import actor_of
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import IsoDate, PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Spravato REMS"])

FormId = Annotated[
    str,
    Path(
        ...,
        description="The REMS monitoring form's id (a UUID).",
        example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b",
    ),
]


class FormQuery(PageQuery):
    status: Literal["due", "submitted"] | None = None


class SubmitFormIn(StrictInput):
    confirmation: str = Field("", description="The REMS's confirmation number, when it gives one.")


class EnrolmentIn(StrictInput):
    enrolled_on: IsoDate
    rems_patient_id: str = Field("", description="The patient's REMS id.")


class FormOut(Schema):
    id: uuid.UUID
    session_id: uuid.UUID
    patient_id: uuid.UUID
    due_on: date
    overdue: bool
    status: str = Field(json_schema_extra={"enum": ["due", "submitted"]})
    fields: dict[str, Any] = Field(description="The form's answers, filled from the session.")
    submitted_at: datetime | None
    confirmation: str


class FormPage(PageOut):
    items: list[FormOut]


class EnrolmentOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    enrolled_on: date
    rems_patient_id: str


def form_body(form: RemsForm, today: date) -> dict[str, Any]:
    return {
        "id": form.pk,
        "session_id": form.session_id,
        "patient_id": form.patient_id,
        "due_on": form.due_on,
        "overdue": form.status == RemsForm.Status.DUE and form.due_on < today,
        "status": form.status,
        "fields": form.fields,
        "submitted_at": form.submitted_at,
        "confirmation": form.confirmation,
    }


@router.get("/rems/forms", response=documented(200, FormPage))
def list_rems_forms(request: HttpRequest, query: Query[FormQuery]) -> Any:
    """Monitoring forms, soonest due first; `status=due` for those still to file. Audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, FormQuery)
    rows = rems.forms_of(actor.organization_id).order_by("due_on", "pk")
    if query.status:
        rows = rows.filter(status=query.status)
    with transaction.atomic():
        page = paginate(rows, query.page, query.page_size)
        record(actor, Action.LIST, "RemsForm", detail={"count": page.total})
    today = timezone.localdate()
    body = page_body(request, page)
    body["items"] = [form_body(f, today) for f in page.items]
    return body


@router.get("/rems/forms/{form_id}", response=documented(200, FormOut))
def get_rems_form(request: HttpRequest, form_id: FormId) -> Any:
    return form_body(rems.open_form(actor_of(request), form_id, purpose="api"), timezone.localdate())


@router.post("/rems/forms/{form_id}/submit", response=documented(200, FormOut))
def submit_rems_form(request: HttpRequest, form_id: FormId, payload: SubmitFormIn) -> Any:
    """Mark the form filed with the REMS (once)."""
    form = rems.submit_form(actor_of(request), form_id, confirmation=payload.confirmation)
    return form_body(form, timezone.localdate())


@router.post("/patients/{patient_id}/rems-enrolment", response=documented(201, EnrolmentOut))
def enrol_patient_in_rems(request: HttpRequest, patient_id: PatientId, payload: EnrolmentIn) -> Any:
    """Record the patient's REMS enrolment (once per patient); required before the first dose."""
    enrolment: RemsEnrolment = rems.enrol(
        actor_of(request),
        patient_id,
        enrolled_on=payload.enrolled_on,
        rems_patient_id=payload.rems_patient_id,
    )
    return Status(
        201,
        {
            "id": enrolment.pk,
            "patient_id": enrolment.patient_id,
            "enrolled_on": enrolment.enrolled_on,
            "rems_patient_id": enrolment.rems_patient_id,
        },
    )
