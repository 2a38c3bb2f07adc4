"""Enquiries and self-screen: the leads front desk works from, and the public self-screen.

Staff operations need VIEW_DEMOGRAPHICS to read and EDIT_DEMOGRAPHICS to change; every read is
audited (the list names the ids shown, one lead is a READ) and every change names its fields.

The public self-screen takes no authentication (`auth=None`, so no session and no CSRF token are
involved; a browser on another site can post it like any public form). It judges the answers and
returns the outcome, its reasons and the practice's crisis resources; with contact details and
consent it also leaves a lead. Each call counts against a per-address limit (429 when spent).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from axes.helpers import get_client_ip_address
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.clinical.self_screen import OUTCOME_LABELS, SelfScreenResult, load_self_screen
from ketaflow.enquiries import leads as service
from ketaflow.enquiries import public
from ketaflow.enquiries.models import Lead, LeadStatus
from ketaflow.enquiries.throttle import TooManyRequests
from ketaflow.patients.services import PossibleDuplicates
from ketaflow.validation import FieldError

from .auth import actor_of
from .errors import error_body
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .patient_schemas import DuplicateConflict, PatientCreate
from .schemas import ErrorsOut, Id, Ref, StrictInput, responses

router = Router(tags=["Enquiries and self-screen"])

# A path id in plain text, as elsewhere: a malformed id is answered like a missing lead (404).
LeadId = Annotated[str, Path(..., description="The lead's id (a UUID).")]
DUPLICATE_MESSAGE = (
    "This person may already be registered. Check the candidates; to register anyway, send the same "
    "body with confirm_not_duplicate: true."
)


# Schemas ------------------------------------------------------------------------------------------


class LeadQuery(PageQuery):
    status: str = Field(
        "open",
        description="open (new, contacted, booked), all, or one status.",
        json_schema_extra={"enum": list(service.STATUS_FILTERS)},
    )


class LeadSummaryOut(Schema):
    id: uuid.UUID
    name: str
    phone: str
    email: str
    preferred_contact: str
    preferred_clinic: Ref | None
    outcome: str
    risk_endorsed: bool
    call_today: bool
    status: str
    assigned_to: Ref | None
    patient_id: uuid.UUID | None
    created_at: datetime


class LeadOut(LeadSummaryOut):
    consent_to_contact: bool
    answers: dict[str, Any]
    screen_version: str
    reasons: list[str]
    red_flags: list[str]
    notes: str
    closed_reason: str
    updated_at: datetime
    contacted_at: datetime | None
    converted_at: datetime | None


class LeadPage(PageOut):
    items: list[LeadSummaryOut]


class LeadPatch(StrictInput):
    """Change some of these; absent fields are left alone (assigned_to_id: null unassigns)."""

    status: str | None = Field(
        None, json_schema_extra={"enum": [s for s in LeadStatus.values if s != LeadStatus.CONVERTED]}
    )
    notes: str | None = None
    assigned_to_id: Id | None = None
    closed_reason: str | None = Field(None, description="Required when the status is closed.")


class LeadConvert(PatientCreate):
    """The patient's registry fields, as for POST /patients."""


class OptionOut(Schema):
    value: str
    label: str


class QuestionOut(Schema):
    id: str
    kind: str
    text: str
    hint: str
    options: list[OptionOut]
    exclusive: list[str]


class SectionOut(Schema):
    id: str
    title: str
    intro: str
    questions: list[QuestionOut]


class SelfScreenDefinitionOut(Schema):
    version: str
    sections: list[SectionOut]
    outcomes: dict[str, str]


class SelfScreenIn(StrictInput):
    organization: str = Field(description="The practice's slug, as in its public page /c/<slug>/.")
    answers: dict[str, Any] = Field(
        description="By question id: text for a single-choice question, a list for a multi-choice one."
    )
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_contact: str | None = Field(None, json_schema_extra={"enum": ["phone", "sms", "email"]})
    consent_to_contact: bool | None = Field(
        None, description="Must be true to leave contact details; without details no lead is made."
    )
    preferred_clinic_id: Id | None = None

    def contact(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k in public.CONTACT_FIELDS}


class CrisisResourceOut(Schema):
    label: str
    contact: str
    href: str


class SelfScreenOut(Schema):
    version: str
    outcome: str
    outcome_label: str
    reasons: list[str]
    risk_endorsed: bool
    not_watched: str
    crisis_resources: list[CrisisResourceOut]
    lead_received: bool


# Bodies -------------------------------------------------------------------------------------------


def _ref(obj: Any, name: str) -> dict[str, Any]:
    return {"id": obj.pk, "name": name}


def _lead_body(lead: Lead, *, full: bool) -> dict[str, Any]:
    clinic, staff = lead.preferred_clinic, lead.assigned_to
    body: dict[str, Any] = {
        "id": lead.pk,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "preferred_contact": lead.preferred_contact,
        "preferred_clinic": _ref(clinic, clinic.name) if clinic else None,
        "outcome": lead.outcome,
        "risk_endorsed": lead.risk_endorsed,
        "call_today": lead.call_today,
        "status": lead.status,
        "assigned_to": _ref(staff, staff.display_name) if staff else None,
        "patient_id": lead.patient_id,
        "created_at": lead.created_at,
    }
    if full:
        body |= {
            "consent_to_contact": lead.consent_to_contact,
            "answers": lead.answers,
            "screen_version": lead.screen_version,
            "reasons": list(lead.reasons),
            "red_flags": list(lead.red_flags),
            "notes": lead.notes,
            "closed_reason": lead.closed_reason,
            "updated_at": lead.updated_at,
            "contacted_at": lead.contacted_at,
            "converted_at": lead.converted_at,
        }
    return body


def _screen_body(result: SelfScreenResult, organization_id: uuid.UUID, lead_received: bool) -> dict[str, Any]:
    return {
        "version": result.version,
        "outcome": result.outcome.value,
        "outcome_label": result.outcome.label,
        "reasons": list(result.reasons),
        "risk_endorsed": result.risk_endorsed,
        "not_watched": public.NOT_WATCHED,
        "crisis_resources": public.public_crisis_resources(organization_id),
        "lead_received": lead_received,
    }


# Staff --------------------------------------------------------------------------------------------


@router.get("/leads", response=responses(200, LeadPage))
def list_leads(request: HttpRequest, query: Query[LeadQuery]) -> Any:
    """Leads, those to call today first (risk endorsed, not yet contacted), then newest first."""
    refuse_unknown_query(request, LeadQuery)
    page = service.lead_worklist(actor_of(request), status=query.status, page=query.page,
                                 page_size=query.page_size)
    body = page_body(request, page)
    body["items"] = [_lead_body(lead, full=False) for lead in page.items]
    return body


@router.get("/leads/{lead_id}", response=responses(200, LeadOut))
def get_lead(request: HttpRequest, lead_id: LeadId) -> Any:
    """One lead with its answers, outcome and reasons; the read is audited."""
    return _lead_body(service.open_lead(actor_of(request), lead_id, purpose="api"), full=True)


@router.patch("/leads/{lead_id}", response=responses(200, LeadOut))
def update_lead(request: HttpRequest, lead_id: LeadId, payload: LeadPatch) -> Any:
    """Change status, notes, assignee or closing reason; the audit names the fields changed."""
    return _lead_body(service.update_lead(actor_of(request), lead_id, payload.changes()), full=True)


@router.post("/leads/{lead_id}/convert", response=responses(201, LeadOut, {409: DuplicateConflict}))
def convert_lead(request: HttpRequest, lead_id: LeadId, payload: LeadConvert) -> Any:
    """Register the lead's person as a patient and link the lead (once). 409 lists possible duplicates."""
    actor = actor_of(request)
    try:
        service.convert_lead(
            actor, lead_id, payload.fields(), confirm_not_duplicate=payload.confirm_not_duplicate
        )
    except PossibleDuplicates as exc:
        duplicates = [
            {"id": p.pk, "mrn": p.mrn, "name": p.legal_name, "date_of_birth": p.date_of_birth,
             "score": m.score, "reasons": list(m.reasons)}
            for p, m in exc.matches
        ]
        errors = [{"field": None, "message": DUPLICATE_MESSAGE}]
        return Status(409, {"errors": errors, "duplicates": duplicates})
    lead = service.leads_for(actor).select_related("preferred_clinic", "assigned_to__user").get(pk=lead_id)
    return Status(201, _lead_body(lead, full=True))


# Public -------------------------------------------------------------------------------------------


@router.get("/public/self-screen", auth=None, response=responses(200, SelfScreenDefinitionOut))
def self_screen_definition(request: HttpRequest) -> Any:
    """The self-screen's questions, for a practice's own website (no authentication)."""
    screen = load_self_screen()
    return {
        "version": screen.version,
        "sections": [
            {
                "id": section.id,
                "title": section.title,
                "intro": section.intro,
                "questions": [
                    {"id": q.id, "kind": q.kind, "text": q.text, "hint": q.hint,
                     "options": [{"value": o.value, "label": o.label} for o in q.options],
                     "exclusive": list(q.exclusive)}
                    for q in screen.questions_in(section.id)
                ],
            }
            for section in screen.sections
        ],
        "outcomes": {outcome.value: label for outcome, label in OUTCOME_LABELS.items()},
    }


@router.post(
    "/public/self-screen", auth=None,
    response=responses(200, SelfScreenOut, {201: SelfScreenOut, 429: ErrorsOut}),
)
def submit_self_screen(request: HttpRequest, payload: SelfScreenIn) -> Any:
    """Judge the answers: the outcome, its reasons and crisis resources (no authentication).

    With contact details (and consent_to_contact: true) the answers and details are kept as a lead
    for the practice (201); without them nothing is stored (200). Errors name `answers.<question>`
    or the contact field. Too many calls from one address answer 429.
    """
    organization = public.public_organization(payload.organization)
    address = get_client_ip_address(request)
    contact = payload.contact()
    try:
        if any(contact.get(name) for name in ("name", "email", "phone", "consent_to_contact")):
            _lead, result = public.submit_lead(organization, payload.answers, contact, address=address,
                                               via="public-api")
            return Status(201, _screen_body(result, organization.pk, lead_received=True))
        result = public.screen(payload.answers, address=address)
    except TooManyRequests as exc:
        return Status(429, error_body([FieldError(None, str(exc))]))
    return Status(200, _screen_body(result, organization.pk, lead_received=False))
