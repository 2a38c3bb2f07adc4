"""Bulk export jobs (`fhir.ExportJob`): creating one, finding it for its organization, its progress,
cancelling it, and where its files live.

A job's files are under `<data dir>/fhir-exports/<job id>/`. Only the organization that asked for a
job sees it; a cancelled job is gone (404), as the Bulk Data IG asks. A job whose process died
while it was accepted or running is reported failed once it has made no progress for STALE_AFTER.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record

from ..models import ExportJob
from ..outcome import FhirError
from .scope import ExportScope

Status = ExportJob.Status
STALE_AFTER = dt.timedelta(minutes=10)
STALE_ERROR = "The export stopped: the process running it ended before it finished. Start a new export."


def export_root() -> Path:
    """`<KETAFLOW_DATA_DIR>/fhir-exports`; the data directory defaults to the configured one."""
    data_dir = getattr(settings, "KETAFLOW_DATA_DIR", None) or settings.CONFIG.data_dir
    return Path(data_dir) / "fhir-exports"


def job_dir(job_id: uuid.UUID) -> Path:
    return export_root() / str(job_id)


def record_export(
    actor: Actor, scope: ExportScope, object_id: object = "", parameters: list[str] | None = None
) -> None:
    """The audit entry of one export: its level, types and group; parameter names, never values."""
    detail: dict[str, object] = {"level": scope.level, "types": list(scope.types)}
    if scope.group_id:
        detail["group"] = scope.group_id
    if parameters:
        detail["parameters"] = sorted(parameters)
    record(actor, Action.EXPORT, "FhirExport", object_id, detail=detail)


def create_job(
    actor: Actor, scope: ExportScope, request_url: str, parameters: list[str] | None = None
) -> ExportJob:
    """A new accepted job for `scope`, audited in the same transaction."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            organization_id=actor.organization_id,
            requested_by_id=actor.user_id,
            level=scope.level,
            group_id=scope.group_id,
            types=list(scope.types),
            since=scope.since,
            request_url=request_url[:2000],
        )
        record_export(actor, scope, job.pk, parameters)
    return job


def scope_of(job: ExportJob) -> ExportScope:
    return ExportScope(job.organization_id, job.level, tuple(job.types), job.group_id, job.since)


def find_job(actor: Actor, job_id: uuid.UUID) -> ExportJob:
    """The organization's job (404 for another organization's, an unknown or a cancelled one); a
    stale accepted or running job is marked failed first."""
    job = ExportJob.objects.filter(organization_id=actor.organization_id, pk=job_id).first()
    if job is None or job.status == Status.CANCELLED:
        raise FhirError.one(404, "not-found", f"There is no export job {job_id}.")
    if is_stale(job, timezone.now()):
        ExportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=Status.FAILED, errors=[STALE_ERROR], finished_at=timezone.now()
        )
        job.refresh_from_db()
    return job


def is_stale(job: ExportJob, now: dt.datetime) -> bool:
    if job.status == Status.ACCEPTED:
        return now - job.created_at > STALE_AFTER
    if job.status == Status.RUNNING:
        return now - last_progress(job) > STALE_AFTER
    return False


def last_progress(job: ExportJob) -> dt.datetime:
    at = (job.progress or {}).get("at")
    return dt.datetime.fromisoformat(at) if at else job.transaction_time or job.created_at


def progress_text(job: ExportJob) -> str:
    """The X-Progress header: e.g. "Observation: 40,000 of 120,000 resources"."""
    progress = job.progress or {}
    if job.status == Status.ACCEPTED or "type" not in progress:
        return "Waiting to start"
    return f"{progress['type']}: {progress['done']:,} of {progress['total']:,} resources"


def cancel_job(actor: Actor, job_id: uuid.UUID) -> None:
    """Cancel the job (a running export stops at its next progress report) and remove its files."""
    job = find_job(actor, job_id)
    ExportJob.objects.filter(pk=job.pk).update(status=Status.CANCELLED, finished_at=timezone.now())
    remove_files(job.pk)


def remove_files(job_id: uuid.UUID) -> None:
    shutil.rmtree(job_dir(job_id), ignore_errors=True)
