"""The Bulk Data endpoints: `$export` kick-off at system, Patient and Group level, the job's status
(and cancelling it), and its NDJSON files.

Kick-off requires `Prefer: respond-async`, checks the parameters and the caller's right to read every
exported type, records one EXPORT audit event and answers 202 with the status URL. Status answers
202 with X-Progress while the job runs, then the manifest (plain JSON); files are streamed to a
caller of the same organization holding a bearer token.
"""

from __future__ import annotations

import uuid

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from ketaflow.accounts.actor import Actor

from .. import access
from ..http import authenticate, fhir_response, fhir_view, outcome_response
from ..models import ExportJob
from ..outcome import FhirError, Issue, operation_outcome
from ..values import instant
from . import jobs, params, runner
from .scope import build_scope

NDJSON = "application/fhir+ndjson"
RETRY_AFTER_SECONDS = "3"
Status = ExportJob.Status


@fhir_view
def system_export(request: HttpRequest) -> HttpResponse:
    return kick_off(request, ExportJob.Level.SYSTEM)


@fhir_view
def patient_export(request: HttpRequest) -> HttpResponse:
    return kick_off(request, ExportJob.Level.PATIENT)


@fhir_view
def group_export(request: HttpRequest, group_id: str) -> HttpResponse:
    return kick_off(request, ExportJob.Level.GROUP, group_id)


def kick_off(request: HttpRequest, level: str, group_id: str = "") -> HttpResponse:
    """Start an export job and answer 202 with its status URL in Content-Location."""
    _allow(request, "GET", "POST")
    actor = authenticate(request)
    if "respond-async" not in request.headers.get("Prefer", "").lower():
        raise FhirError.one(400, "invalid", "Bulk export is asynchronous: send Prefer: respond-async.")
    given = params.from_request(request)
    scope = build_scope(actor.organization_id, level, group_id=group_id, types=given.types, since=given.since)
    for resource_type in scope.types:
        access.require_read(actor, resource_type)
    job = jobs.create_job(actor, scope, request.build_absolute_uri(), given.names)
    runner.start(job.pk)
    status_url = request.build_absolute_uri(reverse("fhir:fhir-bulk-status", args=[job.pk]))
    return fhir_response(_information("The export has started."), 202, {"Content-Location": status_url})


@fhir_view
def export_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """GET: progress (202), the manifest (200) or the failure (500). DELETE: cancel (202)."""
    _allow(request, "GET", "DELETE")
    actor = authenticate(request)
    if request.method == "DELETE":
        jobs.cancel_job(actor, job_id)
        return fhir_response(_information("The export was cancelled and its files removed."), 202)
    job = jobs.find_job(actor, job_id)
    if job.status == Status.COMPLETED:
        return JsonResponse(manifest(request, job))
    if job.status == Status.FAILED:
        issues = [Issue("exception", str(text)) for text in job.errors or ["The export failed."]]
        return fhir_response(operation_outcome(issues), 500)
    response = HttpResponse(status=202)
    response["X-Progress"] = jobs.progress_text(job)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def manifest(request: HttpRequest, job: ExportJob) -> dict[str, object]:
    """The completion manifest of the Bulk Data IG; one output entry per non-empty file."""
    assert job.transaction_time is not None  # set when the job started running
    return {
        "transactionTime": instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "count": item["count"],
                "url": request.build_absolute_uri(
                    reverse("fhir:fhir-bulk-file", args=[job.pk, item["file"]])
                ),
            }
            for item in job.output
        ],
        "error": [],
    }


@csrf_exempt
def export_file(request: HttpRequest, job_id: uuid.UUID, name: str) -> HttpResponseBase:
    """One NDJSON file of a completed job, streamed. Not wrapped in `fhir_view`: clients ask for
    files with `Accept: application/fhir+ndjson`, which the JSON negotiation would refuse."""
    try:
        _allow(request, "GET")
        actor = authenticate(request)
        return _file_response(actor, job_id, name)
    except FhirError as error:
        return outcome_response(error)


def _file_response(actor: Actor, job_id: uuid.UUID, name: str) -> FileResponse:
    job = jobs.find_job(actor, job_id)
    item = (
        next((i for i in job.output if i["file"] == name), None) if job.status == Status.COMPLETED else None
    )
    path = jobs.job_dir(job.pk) / name
    if item is None or not path.is_file():
        raise FhirError.one(404, "not-found", f"Export {job_id} has no file {name}.")
    access.require_read(actor, item["type"])
    return FileResponse(path.open("rb"), content_type=NDJSON)


def _information(text: str) -> dict[str, object]:
    return operation_outcome([Issue("informational", text, severity="information")])


def _allow(request: HttpRequest, *methods: str) -> None:
    if request.method not in methods:
        raise FhirError(
            405, [Issue("not-supported", f"Use {' or '.join(methods)} here.")], {"Allow": ", ".join(methods)}
        )
