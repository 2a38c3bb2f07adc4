"""Informed consent: the JSON API.

Consent templates (MANAGE_CONSENT_FORMS): list and read versions, write a new version (versions are
never changed; the highest is current). A patient's consents (clinical view to read, clinical edit
to change): list and read (audited), request one for a route (pinning the current version),
countersign a signed one, withdraw one (a reason is required), and download the PDF. Signing is the
patient's act, in the portal or on a clinic tablet, so it has no API operation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Permission
from ketaflow.consent import services
from ketaflow.consent import template_versions as versions
from ketaflow.consent.models import ALLOWED_SETTINGS, Consent, ConsentTemplate, Setting, route_label
from ketaflow.consent.pdf import consent_pdf
from ketaflow.consent.text import text_hash
from ketaflow.paging import paginate
from ketaflow.patients import services as registry

from .auth import actor_of
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Informed consent"])

ConsentId = Annotated[str, Path(..., description="The consent's id (a UUID).",
                                example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]
ConsentTemplateId = Annotated[str, Path(..., description="The consent template version's id (a UUID).",
                                        example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]
ROUTES = list(ALLOWED_SETTINGS)
SETTINGS = [value for value, _label in Setting.choices]


def _enum(values: list[str]) -> Any:
    return {"enum": values}


# Bodies --------------------------------------------------------------------------------------------


class TemplateSummaryOut(Schema):
    id: uuid.UUID
    route: str = Field(json_schema_extra=_enum(ROUTES))
    route_label: str
    setting: str = Field(json_schema_extra=_enum(SETTINGS))
    version: int
    title: str
    note: str = Field(description="What changed in this version.")
    is_sample: bool = Field(description="ketaflow's sample wording: have it reviewed before clinical use.")
    is_current: bool
    created_at: datetime
    created_by: str | None = Field(description="Who saved it (null for the seeded sample wording).")


class TemplateOut(TemplateSummaryOut):
    body: str = Field(description="Plain text: '# ' headings, '- ' bullets, blank lines between paragraphs.")
    text_sha256: str = Field(description="SHA-256 of the title, a blank line and the body: what a signature "
                                         "on this version stores.")


class TemplatePage(PageOut):
    items: list[TemplateSummaryOut]


class TemplateQuery(PageQuery):
    route: str | None = Field(None, description="Only this route's versions.")
    setting: str | None = None
    current_only: bool = Field(False, description="Only the current version of each route and setting.")


class TemplateIn(StrictInput):
    route: str = Field(json_schema_extra=_enum(ROUTES))
    setting: str | None = Field(None, description="Default: the route's only allowed setting.")
    title: str
    body: str
    note: str = Field(description="What changed (shown in the version history).")
    based_on_version: int | None = Field(
        None, description="The version you edited: refused (422) if another version was saved since."
    )


class TemplateRef(Schema):
    id: uuid.UUID
    version: int
    title: str


class ConsentOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    route: str = Field(json_schema_extra=_enum(ROUTES))
    route_label: str
    setting: str = Field(json_schema_extra=_enum(SETTINGS))
    status: str = Field(json_schema_extra=_enum([value for value, _label in Consent.Status.choices]))
    state: str = Field(json_schema_extra=_enum(["requested", "awaiting_countersignature", "current",
                                                "withdrawn"]))
    is_current: bool = Field(description="Signed, countersigned and not withdrawn: the route may start.")
    template: TemplateRef
    requested_at: datetime
    requested_by: str | None
    signed_at: datetime | None
    typed_name: str | None
    has_drawn_signature: bool
    text_sha256: str | None = Field(description="SHA-256 of the exact text the patient signed.")
    channel: str | None = Field(json_schema_extra=_enum(["portal", "tablet"]))
    ip_address: str | None
    user_agent: str | None
    witnessed_by: str | None = Field(description="On a clinic tablet: the staff member who handed it over.")
    countersigned_at: datetime | None
    countersigned_by: str | None
    copy_emailed_at: datetime | None
    withdrawn_at: datetime | None
    withdrawn_via: str | None = Field(json_schema_extra=_enum(["portal", "staff"]))
    withdrawal_reason: str | None
    withdrawn_recorded_by: str | None


class ConsentPage(PageOut):
    items: list[ConsentOut]


class ConsentQuery(PageQuery):
    route: str | None = None
    status: str | None = None


class ConsentRequestIn(StrictInput):
    route: str = Field(json_schema_extra=_enum(ROUTES))
    setting: str | None = Field(None, description="Default: the route's only allowed setting.")


class WithdrawIn(StrictInput):
    reason: str = Field(description="What the patient said, or why the request is cancelled (required).")


class RouteStatusOut(Schema):
    route: str
    route_label: str
    has_current_consent: bool
    current_consent_id: uuid.UUID | None


class ConsentStatusOut(Schema):
    patient_id: uuid.UUID
    routes: list[RouteStatusOut]


def _name(user: User | None) -> str | None:
    return (user.get_full_name() or user.username) if user is not None else None


def _template_body(template: ConsentTemplate, *, current_ids: set[uuid.UUID], full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": template.pk, "route": template.route, "route_label": template.route_label,
        "setting": template.setting, "version": template.version, "title": template.title,
        "note": template.note, "is_sample": template.is_sample, "is_current": template.pk in current_ids,
        "created_at": template.created_at, "created_by": _name(template.created_by),
    }
    if full:
        body |= {"body": template.body, "text_sha256": text_hash(template)}
    return body


def _consent_body(consent: Consent) -> dict[str, Any]:
    return {
        "id": consent.pk, "patient_id": consent.patient_id, "route": consent.route,
        "route_label": consent.route_label, "setting": consent.setting, "status": consent.status,
        "state": consent.state, "is_current": consent.is_current,
        "template": {"id": consent.template.pk, "version": consent.template.version,
                     "title": consent.template.title},
        "requested_at": consent.requested_at, "requested_by": _name(consent.requested_by),
        "signed_at": consent.signed_at, "typed_name": consent.typed_name or None,
        "has_drawn_signature": bool(consent.signature_png),
        "text_sha256": consent.text_hash or None, "channel": consent.channel or None,
        "ip_address": consent.ip_address, "user_agent": consent.user_agent or None,
        "witnessed_by": _name(consent.witnessed_by),
        "countersigned_at": consent.countersigned_at, "countersigned_by": _name(consent.countersigned_by),
        "copy_emailed_at": consent.copy_emailed_at,
        "withdrawn_at": consent.withdrawn_at, "withdrawn_via": consent.withdrawn_via or None,
        "withdrawal_reason": consent.withdrawal_reason or None,
        "withdrawn_recorded_by": _name(consent.withdrawn_recorded_by),
    }


def _reloaded(request: HttpRequest, consent_id: uuid.UUID, purpose: str) -> dict[str, Any]:
    """The consent as it is now (an audited read), for the response of a change."""
    return _consent_body(services.open_consent(actor_of(request), consent_id, purpose=purpose))


# Templates -----------------------------------------------------------------------------------------


@router.get("/consent-templates", response=documented(200, TemplatePage))
def list_consent_templates(request: HttpRequest, query: Query[TemplateQuery]) -> Any:
    """Every version of your consent templates, by route and setting, newest version first. The
    sample wording is written as version 1 of each the first time consent is used."""
    actor = actor_of(request)
    actor.require(Permission.MANAGE_CONSENT_FORMS)
    refuse_unknown_query(request, TemplateQuery)
    current_ids = {row.pk for row in versions.current_templates(actor)}
    rows = versions.templates_of(actor.organization_id).select_related("created_by")
    if query.route:
        rows = rows.filter(route=query.route)
    if query.setting:
        rows = rows.filter(setting=query.setting)
    if query.current_only:
        rows = rows.filter(pk__in=current_ids)
    page = paginate(rows.order_by("route", "setting", "-version"), query.page, query.page_size)
    body = page_body(request, page)
    body["items"] = [_template_body(t, current_ids=current_ids, full=False) for t in page.items]
    return body


@router.get("/consent-templates/{consent_template_id}", response=documented(200, TemplateOut))
def get_consent_template(request: HttpRequest, consent_template_id: ConsentTemplateId) -> Any:
    """One version with its full text and the hash a signature on it stores."""
    actor = actor_of(request)
    template = versions.open_template(actor, consent_template_id)
    current = versions.current_template(actor.organization_id, template.route, template.setting)
    return _template_body(template, current_ids={current.pk}, full=True)


@router.post("/consent-templates", response=documented(201, TemplateOut))
def create_consent_template_version(request: HttpRequest, payload: TemplateIn) -> Any:
    """Write the next version for the route and setting; it becomes current. Consents already
    requested or signed keep the version they pinned."""
    actor = actor_of(request)
    created = versions.create_version(
        actor, payload.route, payload.setting, title=payload.title, body=payload.body, note=payload.note,
        based_on=payload.based_on_version,
    )
    return Status(201, _template_body(created, current_ids={created.pk}, full=True))


# A patient's consents ------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/consents", response=documented(200, ConsentPage))
def list_patient_consents(request: HttpRequest, patient_id: PatientId, query: Query[ConsentQuery]) -> Any:
    """The patient's consents, newest request first; the read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, ConsentQuery)
    patient = registry.open_patient(actor, patient_id, purpose="consents")
    rows = services.consents_of(actor.organization_id).filter(patient=patient)
    if query.route:
        rows = rows.filter(route=query.route)
    if query.status:
        rows = rows.filter(status=query.status)
    rows = rows.select_related("template", "requested_by", "witnessed_by", "countersigned_by",
                               "withdrawn_recorded_by").order_by("-requested_at", "id")
    page = paginate(rows, query.page, query.page_size)
    body = page_body(request, page)
    body["items"] = [_consent_body(c) for c in page.items]
    return body


@router.get("/patients/{patient_id}/consent-status", response=documented(200, ConsentStatusOut))
def get_patient_consent_status(request: HttpRequest, patient_id: PatientId) -> Any:
    """Per route: whether the patient has a current consent (what a plan or session checks)."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    patient = registry.open_patient(actor, patient_id, purpose="consent status")
    found = []
    for route in ALLOWED_SETTINGS:
        current = services.current_consent(patient, route)
        found.append({"route": route, "route_label": route_label(route),
                      "has_current_consent": current is not None,
                      "current_consent_id": current.pk if current else None})
    return {"patient_id": patient.pk, "routes": found}


@router.post("/patients/{patient_id}/consents", response=documented(201, ConsentOut))
def request_patient_consent(request: HttpRequest, patient_id: PatientId, payload: ConsentRequestIn) -> Any:
    """Ask the patient to sign the current version for the route (the version is pinned). 422 when a
    request for the route is already waiting."""
    consent = services.request_consent(actor_of(request), patient_id, payload.route, payload.setting)
    return Status(201, _reloaded(request, consent.pk, "requested"))


@router.get("/consents/{consent_id}", response=documented(200, ConsentOut))
def get_consent(request: HttpRequest, consent_id: ConsentId) -> Any:
    return _consent_body(services.open_consent(actor_of(request), consent_id, purpose="api"))


@router.post("/consents/{consent_id}/countersign", response=documented(200, ConsentOut))
def countersign_consent(request: HttpRequest, consent_id: ConsentId) -> Any:
    """Countersign a signed consent, which makes it current; the patient is emailed the PDF after."""
    consent = services.countersign(actor_of(request), consent_id)
    return _reloaded(request, consent.pk, "countersigned")


@router.post("/consents/{consent_id}/withdraw", response=documented(200, ConsentOut))
def withdraw_consent(request: HttpRequest, consent_id: ConsentId, payload: WithdrawIn) -> Any:
    """Record the patient's withdrawal (of every signed consent for the route), or cancel a request."""
    consent = services.withdraw_by_staff(actor_of(request), consent_id, payload.reason)
    return _reloaded(request, consent.pk, "withdrawn")


PDF_RESPONSE = {
    "responses": {
        200: {
            "description": "The consent as a PDF (the text, version, hash, signature and countersignature).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get("/consents/{consent_id}/pdf", response=documented(200, None), openapi_extra=PDF_RESPONSE)
def download_consent_pdf(request: HttpRequest, consent_id: ConsentId) -> Any:
    """The PDF copy; producing it is an audited export."""
    document = consent_pdf(actor_of(request), consent_id)
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response

