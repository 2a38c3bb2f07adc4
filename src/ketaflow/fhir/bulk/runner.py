"""Running an export job: in a background thread by default, inline when
`settings.KETAFLOW_FHIR_EXPORT_INLINE` is true (tests, where another thread cannot see the test's
transaction).

A run marks the job running with its transaction time (the moment it starts reading: resources
changed later may or may not be in the files), writes the files with the streaming writer while
reporting progress, and marks the job completed or failed. A cancelled job stops at its next
progress report and its files are removed. Failures are recorded by exception type and traceback lines,
never the exception's message: no patient data reaches the job row or the log.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from ..models import ExportJob
from .jobs import job_dir, remove_files, scope_of
from .writer import OutputFile, Progress, write_export

log = logging.getLogger(__name__)
Status = ExportJob.Status


class ExportCancelled(Exception):
    """The job was cancelled (or another run took it over) while it was being written."""


def start(job_id: uuid.UUID) -> None:
    """Run the job now (inline mode) or in a thread once the job's row is committed."""
    if getattr(settings, "KETAFLOW_FHIR_EXPORT_INLINE", False):
        run(job_id)
        return
    thread = threading.Thread(
        target=_run_in_thread, args=(job_id,), name=f"fhir-export-{job_id}", daemon=True
    )
    transaction.on_commit(thread.start)


def _run_in_thread(job_id: uuid.UUID) -> None:
    close_old_connections()
    try:
        run(job_id)
    except Exception as error:  # the job could not even be marked failed (database gone): it goes stale
        _log_failure("FHIR export %s could not record its outcome", job_id, error)
    finally:
        connection.close()


def run(job_id: uuid.UUID) -> None:
    """Write the files of an accepted job and record the outcome; a job not accepted is left alone."""
    now = timezone.now()
    taken = ExportJob.objects.filter(pk=job_id, status=Status.ACCEPTED).update(
        status=Status.RUNNING, transaction_time=now, progress={"at": now.isoformat()}
    )
    if not taken:
        return
    job = ExportJob.objects.get(pk=job_id)
    try:
        files = write_export(scope_of(job), job_dir(job_id), _reporter(job_id))
    except ExportCancelled:
        remove_files(job_id)
    except Exception as error:
        _log_failure("FHIR export %s failed", job_id, error)
        _finish(
            job_id,
            Status.FAILED,
            errors=[f"The export failed ({type(error).__name__}). The server log has the details."],
        )
        remove_files(job_id)
    else:
        if not _finish(job_id, Status.COMPLETED, output=[_output(f) for f in files]):
            remove_files(job_id)  # cancelled after the last progress report


def _reporter(job_id: uuid.UUID) -> Progress:
    """A progress callback that records the position (a cheap UPDATE) and stops a cancelled job."""

    def report(resource_type: str, done: int, total: int) -> None:
        progress = {"type": resource_type, "done": done, "total": total, "at": timezone.now().isoformat()}
        if not ExportJob.objects.filter(pk=job_id, status=Status.RUNNING).update(progress=progress):
            raise ExportCancelled

    return report


def _finish(
    job_id: uuid.UUID,
    status: str,
    *,
    output: list[dict[str, object]] | None = None,
    errors: list[str] | None = None,
) -> bool:
    """Record the outcome of a job still running; False if it was cancelled meanwhile."""
    return bool(
        ExportJob.objects.filter(pk=job_id, status=Status.RUNNING).update(
            status=status, output=output or [], errors=errors or [], finished_at=timezone.now()
        )
    )


def _log_failure(message: str, job_id: uuid.UUID, error: Exception) -> None:
    """Log the exception's type and where it was raised, not its message (which may quote data)."""
    where = "".join(traceback.format_tb(error.__traceback__))
    log.error(message + " (%s)\n%s", job_id, type(error).__name__, where)


def _output(file: OutputFile) -> dict[str, object]:
    return {"type": file.type, "file": file.path.name, "count": file.count}
