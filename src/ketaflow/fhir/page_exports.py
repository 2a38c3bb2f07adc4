"""The export actions of the Data exchange (FHIR) page: start an export, delete one, download a file.

An export started here is the same `fhir.ExportJob` the API's `$export` creates (`bulk.jobs.create_job`,
audited), run by the same runner, so the status endpoint and the files agree whichever way it began.
Files are streamed to signed-in staff of the job's organization (another organization's job is a
404) and each download is audited, with the type and count only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.search import display_zone
from ketaflow.audit.trail import record
from ketaflow.validation import Forbidden, NotFound
from ketaflow.web.access import staff_view

from . import access
from .bulk import jobs, runner
from .bulk.scope import ExportScope, build_scope
from .forms import ExportForm
from .models import ExportJob
from .outcome import FhirError
from .pages import in_words, render_page, unreadable_types
from .values import instant

NDJSON = "application/fhir+ndjson"
EXPORT_REFUSED = (
    "Exporting copies every kind of record out of ketaflow, so it needs a role that may read them all. "
    "Your role may not read: {types}."
)


def require_export(actor: Actor) -> None:
    """Forbidden (with the kinds of record the role may not read) unless the actor may export."""
    missing = unreadable_types(actor)
    if missing:
        raise Forbidden(EXPORT_REFUSED.format(types=in_words(missing)))


@require_POST
@staff_view()
def start_export(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    require_export(actor)
    form = ExportForm(request.POST, organization_id=actor.organization_id)
    if not form.is_valid():
        return render_page(request, 422, export_form=form)
    since = _start_of_day(form.cleaned_data["since"], display_zone(actor))
    chosen: list[str] = form.cleaned_data["types"]
    level = ExportJob.Level.GROUP if form.group_id() else ExportJob.Level.SYSTEM
    try:
        scope = build_scope(actor.organization_id, level, group_id=form.group_id(), types=chosen, since=since)
    except FhirError as refusal:
        form.add_error("types" if refusal.status == 400 else "scope", str(refusal).replace("_type: ", ""))
        return render_page(request, 422, export_form=form)
    for resource_type in scope.types:
        _require_read(actor, resource_type)
    names = [name for name, given in (("_since", since), ("_type", chosen)) if given]
    job = jobs.create_job(actor, scope, _kick_off_url(request, scope, chosen), names)
    runner.start(job.pk)
    messages.success(request, "The export has started. Its files appear below when it is ready.")
    return redirect("fhir_pages:page")


@require_POST
@staff_view()
def delete_export(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Cancel a running export or remove a finished one, with its files."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    _find(actor, job_id)
    require_export(actor)
    jobs.cancel_job(actor, job_id)
    messages.success(request, "The export and its files are deleted.")
    return redirect("fhir_pages:page")


@require_GET
@staff_view()
def download(request: HttpRequest, job_id: uuid.UUID, file_name: str) -> HttpResponse:
    """One NDJSON file of a completed export, streamed as an attachment."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    job = _find(actor, job_id)
    item = next((i for i in job.output if i["file"] == file_name), None)
    path = jobs.job_dir(job.pk) / file_name
    if job.status != ExportJob.Status.COMPLETED or item is None or not path.is_file():
        raise NotFound(file_name)
    _require_read(actor, item["type"])
    with transaction.atomic():
        detail = {"type": item["type"], "count": item["count"]}
        record(actor, Action.EXPORT, "FhirExportFile", job.pk, detail=detail)
    response = FileResponse(path.open("rb"), content_type=NDJSON, as_attachment=True, filename=file_name)
    return response  # type: ignore[return-value]  # staff_view only adds headers, which a stream takes


def _find(actor: Actor, job_id: uuid.UUID) -> ExportJob:
    try:
        return jobs.find_job(actor, job_id)
    except FhirError as missing:
        raise Http404("No such export") from missing


def _require_read(actor: Actor, resource_type: str) -> None:
    try:
        access.require_read(actor, resource_type)
    except FhirError as refusal:
        raise Forbidden(str(refusal)) from refusal


def _start_of_day(day: dt.date | None, zone: dt.tzinfo) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone) if day else None


def _kick_off_url(request: HttpRequest, scope: ExportScope, chosen: list[str]) -> str:
    """The `$export` request this export is equal to, for the job's manifest (`request`)."""
    path = f"/Group/{scope.group_id}/$export" if scope.group_id else "/$export"
    query = {"_type": ",".join(scope.types)} if chosen else {}
    if scope.since is not None:
        query["_since"] = instant(scope.since)
    return request.build_absolute_uri("/fhir") + path + (f"?{urlencode(query, safe=',:')}" if query else "")
