"""The FHIR R4 REST endpoints under /fhir/: metadata, read, search, create, update, Bundle POST.

Views stay thin: authenticate, check the role, call search or the inbound services, reply with the
stored JSON as it is. Errors of every kind reach the client as OperationOutcomes (`fhir_view`).
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record

from . import access
from .capability import capability_statement, writable
from .http import authenticate, fhir_response, fhir_view, json_body
from .models import StoredResource
from .outcome import FhirError, Issue
from .search import search_bundle

FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir")


def not_allowed(request: HttpRequest, allowed: str) -> FhirError:
    return FhirError(
        405,
        [Issue("not-supported", f"{request.method} is not supported here (allowed: {allowed}).")],
        {"Allow": allowed},
    )


def prefers_strict(request: HttpRequest) -> bool:
    """True when the client sent `Prefer: handling=strict` (R4 search: unknown parameters are errors)."""
    prefer = request.headers.get("Prefer", "")
    return any(
        part.strip().replace(" ", "").lower() == "handling=strict"
        for part in prefer.replace(";", ",").split(",")
    )


def resource_headers(row: StoredResource) -> dict[str, str]:
    return {"ETag": f'W/"{row.version_id}"', "Last-Modified": http_date(row.last_updated.timestamp())}


def patient_uuid(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference) if reference else None
    except ValueError:
        return None


def stored_row(actor: Actor, resource_type: str, resource_id: str) -> StoredResource | None:
    return (
        StoredResource.objects.for_organization(actor.organization_id)
        .filter(resource_type=resource_type, resource_id=resource_id)
        .first()
    )


def missing(resource_type: str, resource_id: str) -> FhirError:
    return FhirError.one(404, "not-found", f"{resource_type}/{resource_id} is not known to this server.")


@fhir_view
def metadata(request: HttpRequest) -> HttpResponse:
    if request.method not in {"GET", "HEAD"}:
        raise not_allowed(request, "GET")
    return fhir_response(capability_statement(base_url(request)))


@fhir_view
def system(request: HttpRequest) -> HttpResponse:
    """POST /fhir/ with a transaction or batch Bundle."""
    if request.method != "POST":
        raise not_allowed(request, "POST")
    actor = authenticate(request)
    bundle = json_body(request)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError.one(
            400,
            "invalid",
            "POST to the base takes a Bundle of type transaction or batch.",
            "Bundle.resourceType",
        )
    if bundle.get("type") not in {"transaction", "batch"}:
        raise FhirError.one(400, "invalid", "The Bundle's type must be transaction or batch.", "Bundle.type")
    if not writable():
        raise FhirError.one(405, "not-supported", "This server does not accept writes yet.")
    return fhir_response(_inbound().process_bundle(actor, bundle))


@fhir_view
def type_level(request: HttpRequest, resource_type: str) -> HttpResponse:
    """GET: search. POST: create."""
    if request.method == "GET":
        actor = authenticate(request)
        params = {name: request.GET.getlist(name) for name in request.GET}
        return fhir_response(
            search_bundle(actor, resource_type, params, base_url(request), prefers_strict(request))
        )
    if request.method == "POST":
        return create(request, resource_type)
    raise not_allowed(request, "GET, POST")


@fhir_view
def search_post(request: HttpRequest, resource_type: str) -> HttpResponse:
    """POST [type]/_search with form-encoded parameters (and any in the query string)."""
    if request.method != "POST":
        raise not_allowed(request, "POST")
    actor = authenticate(request)
    kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        raise FhirError.one(
            415, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters."
        )
    params: dict[str, list[str]] = {name: request.GET.getlist(name) for name in request.GET}
    for name in request.POST:
        params.setdefault(name, []).extend(request.POST.getlist(name))
    return fhir_response(
        search_bundle(actor, resource_type, params, base_url(request), prefers_strict(request))
    )


@fhir_view
def instance(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    """GET: read. PUT: update. DELETE is not offered (records are archived in the app, not deleted)."""
    if request.method == "GET":
        return read(request, resource_type, resource_id)
    if request.method == "PUT":
        return update(request, resource_type, resource_id)
    raise not_allowed(request, "GET, PUT")


@fhir_view
def version_read(request: HttpRequest, resource_type: str, resource_id: str, version_id: str) -> HttpResponse:
    """GET [type]/[id]/_history/[vid]: only the current version is kept, so only it is served."""
    if request.method != "GET":
        raise not_allowed(request, "GET")
    return read(request, resource_type, resource_id, version_id)


def read(request: HttpRequest, resource_type: str, resource_id: str, version_id: str = "") -> HttpResponse:
    """The stored resource as it is, with its version as ETag; 304 when If-None-Match has it."""
    actor = authenticate(request)
    access.require_read(actor, resource_type)
    row = stored_row(actor, resource_type, resource_id)
    if row is None:
        raise missing(resource_type, resource_id)
    if version_id and version_id != str(row.version_id):
        raise FhirError.one(
            404,
            "not-found",
            f"Version {version_id} of {resource_type}/{resource_id} is "
            "not kept: this server serves the current version only.",
        )
    headers = resource_headers(row)
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return HttpResponse(status=304, headers=headers)
    with transaction.atomic():
        record(actor, Action.READ, resource_type, resource_id, patient_id=patient_uuid(row.patient_ref))
    return fhir_response(row.body.encode(), 200, headers)


def _inbound() -> Any:
    return importlib.import_module("ketaflow.fhir.inbound")


def _writable_body(
    request: HttpRequest, actor: Actor, resource_type: str, interaction: str
) -> dict[str, Any]:
    """The request's resource, once the type accepts `interaction` and the role may write it."""
    access.known_type(resource_type)
    if interaction not in writable().get(resource_type, frozenset()):
        raise FhirError.one(
            405, "not-supported", f"This server does not accept {interaction} of {resource_type} resources."
        )
    access.require_write(actor, resource_type)
    body = json_body(request)
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        raise FhirError.one(
            400,
            "invalid",
            f"The body must be a {resource_type} resource (its resourceType "
            f"is {body.get('resourceType') if isinstance(body, dict) else 'missing'}).",
            f"{resource_type}.resourceType",
        )
    return body


def create(request: HttpRequest, resource_type: str) -> HttpResponse:
    actor = authenticate(request)
    body = _writable_body(request, actor, resource_type, "create")
    row: StoredResource = _inbound().create(actor, body)
    location = f"{base_url(request)}/{row.resource_type}/{row.resource_id}/_history/{row.version_id}"
    return fhir_response(row.body.encode(), 201, {**resource_headers(row), "Location": location})


def update(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    actor = authenticate(request)
    body = _writable_body(request, actor, resource_type, "update")
    if str(body.get("id", "")) != resource_id:
        raise FhirError.one(
            400,
            "invalid",
            f"The body's id ({body.get('id') or 'missing'}) must be the id in the URL ({resource_id}).",
            f"{resource_type}.id",
        )
    with transaction.atomic():
        current = (
            StoredResource.objects.for_organization(actor.organization_id)
            .select_for_update()
            .filter(resource_type=resource_type, resource_id=resource_id)
            .first()
        )
        expected = request.headers.get("If-Match")
        if expected is not None and (current is None or resource_headers(current)["ETag"] != _weak(expected)):
            raise FhirError.one(
                412,
                "conflict",
                f"{resource_type}/{resource_id} has changed: it is at version "
                f"{current.version_id if current else 'none'}, not {expected}.",
            )
        row: StoredResource = _inbound().update(actor, resource_type, resource_id, body)
    return fhir_response(row.body.encode(), 200 if current is not None else 201, resource_headers(row))


def _weak(etag: str) -> str:
    """An ETag as this server writes it (W/"n"), whether the client sent it weak or strong."""
    tag = etag.strip()
    return tag if tag.startswith("W/") else f"W/{tag}"
