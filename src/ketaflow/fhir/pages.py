"""Settings → Data exchange (FHIR): the staff page for clinic owners who connect other systems.

It shows how to reach the FHIR API, starts bulk exports (the same jobs and runner as `$export`),
lists the organization's recent exports with their progress and files, and imports uploaded FHIR
files. The export and import actions live in `page_exports` and `page_imports`; this module builds
the page and the job list both share.

Exporting the whole practice needs every read permission of the exported types, as the API asks, so
roles without them see the page read-only with the reason. Imports check write permission per
resource inside the inbound services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Role
from ketaflow.audit.search import display_zone
from ketaflow.clinics.models import Clinic
from ketaflow.web.access import staff_view

from . import access
from .bulk import jobs
from .bulk.scope import SYSTEM_TYPES, level_types
from .forms import ExportForm, ImportForm, type_label
from .inbound import WRITABLE
from .models import ExportJob
from .outcome import FhirError

FHIR_VERSION = "4.0.1"
# What an import of each writable type records, in the clinic's words.
IMPORTED = {
    "Patient": "patients",
    "Condition": "diagnoses and problems",
    "Observation": "vital signs",
    "QuestionnaireResponse": "completed questionnaires",
    "MedicationStatement": "medications patients take",
}
RECENT_JOBS = 10
Status = ExportJob.Status


def unreadable_types(actor: Actor, types: tuple[str, ...] = SYSTEM_TYPES) -> list[str]:
    """The types among `types` the actor may not read; empty means the actor may export them all."""
    return [name for name in types if not _allowed(access.require_read, actor, name)]


def in_words(types: list[str]) -> str:
    """The kinds of record `types` hold, for a sentence: "diagnoses and problems, doses given"."""
    return ", ".join(type_label(name).lower() for name in types)


def roles_that_export(actor: Actor) -> list[str]:
    """The labels of the roles that may export the whole practice on their own."""
    return [
        role.label
        for role in Role
        if not unreadable_types(Actor(None, "", actor.organization_id, frozenset({role})))
    ]


def unwritable_types(actor: Actor) -> list[str]:
    """The importable types the actor's role may not write."""
    return [name for name in WRITABLE if not _allowed(access.require_write, actor, name)]


def _allowed(check: Any, actor: Actor, resource_type: str) -> bool:
    try:
        check(actor, resource_type)
    except FhirError:
        return False
    return True


@dataclass(frozen=True)
class OutputRow:
    resource_type: str
    label: str
    count: int
    file_name: str
    readable: bool

    @property
    def count_text(self) -> str:
        return f"{self.count:,}"


@dataclass(frozen=True)
class JobRow:
    """One export as the page shows it."""

    job: ExportJob
    requested_by: str
    created: dt.datetime
    what: str
    kinds: str
    since: dt.datetime | None
    progress: str
    files: list[OutputRow]

    @property
    def running(self) -> bool:
        return self.job.status in (Status.ACCEPTED, Status.RUNNING)


def recent_jobs(actor: Actor) -> list[JobRow]:
    """The organization's latest exports (cancelled ones are gone), newest first. A job whose
    process died is marked failed here, as the status endpoint would."""
    found = (
        ExportJob.objects.filter(organization_id=actor.organization_id)
        .exclude(status=Status.CANCELLED)
        .select_related("requested_by")
        .order_by("-created_at")[:RECENT_JOBS]
    )
    now = timezone.now()
    zone = display_zone(actor)
    clinics = dict(Clinic.objects.filter(organization_id=actor.organization_id).values_list("pk", "name"))
    readable = set(SYSTEM_TYPES) - set(unreadable_types(actor))
    rows = []
    for job in found:
        if jobs.is_stale(job, now):
            job = jobs.find_job(actor, job.pk)
        rows.append(_job_row(job, zone, clinics, readable))
    return rows


def _job_row(job: ExportJob, zone: dt.tzinfo, clinics: dict[Any, str], readable: set[str]) -> JobRow:
    user = job.requested_by
    return JobRow(
        job=job,
        requested_by=(user.get_full_name() or user.get_username()) if user else "",
        created=timezone.localtime(job.created_at, zone),
        what=_what(job, clinics),
        kinds=_kinds(job),
        since=timezone.localtime(job.since, zone) if job.since else None,
        progress=jobs.progress_text(job),
        files=[
            OutputRow(
                item["type"], type_label(item["type"]), item["count"], item["file"], item["type"] in readable
            )
            for item in job.output
        ],
    )


def _what(job: ExportJob, clinics: dict[Any, str]) -> str:
    if job.level == ExportJob.Level.SYSTEM:
        return "The whole practice"
    if job.level == ExportJob.Level.PATIENT:
        return "All patients"
    name = next((n for pk, n in clinics.items() if str(pk) == job.group_id), "a clinic")
    return f"Patients of {name}"


def _kinds(job: ExportJob) -> str:
    if set(job.types) >= set(level_types(job.level)):
        return "Every kind"
    return ", ".join(job.types)


def page_context(
    request: HttpRequest,
    *,
    export_form: ExportForm | None = None,
    import_form: ImportForm | None = None,
    import_result: Any = None,
) -> dict[str, Any]:
    """Everything the page shows; the forms given keep what was typed and their errors."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    base_url = request.build_absolute_uri("/fhir")
    rows = recent_jobs(actor)
    clinics = Clinic.objects.filter(organization_id=actor.organization_id, is_active=True).order_by("name")
    cannot_read = unreadable_types(actor)
    return {
        "section": "settings",
        "base_url": base_url,
        "metadata_url": f"{base_url}/metadata",
        "fhir_version": FHIR_VERSION,
        "zone_name": str(display_zone(actor)),
        "groups": [(clinic.name, str(clinic.pk)) for clinic in clinics],
        "cannot_read": cannot_read,
        "cannot_read_words": in_words(cannot_read),
        "export_roles": roles_that_export(actor),
        "cannot_write": unwritable_types(actor),
        "importable": [f"{IMPORTED.get(name, 'records')} ({name})" for name in WRITABLE],
        "export_form": export_form or ExportForm(organization_id=actor.organization_id),
        "import_form": import_form or ImportForm(),
        "import_result": import_result,
        "jobs": rows,
        "any_running": any(row.running for row in rows),
    }


def render_page(request: HttpRequest, status: int = 200, **forms: Any) -> HttpResponse:
    return render(request, "fhir/data_exchange.html", page_context(request, **forms), status=status)


@require_GET
@staff_view()
def data_exchange(request: HttpRequest) -> HttpResponse:
    return render_page(request)


@require_GET
@staff_view()
def jobs_panel(request: HttpRequest) -> HttpResponse:
    """The recent-exports card alone: what the page's HTMX polling swaps in while a job runs."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    rows = recent_jobs(actor)
    context = {
        "jobs": rows,
        "any_running": any(row.running for row in rows),
        "cannot_read": unreadable_types(actor),
        "zone_name": str(display_zone(actor)),
    }
    return render(request, "fhir/_jobs.html", context)
