"""Export to a directory, synchronously: what `ketaflow fhir export` runs.

Writes the same NDJSON files as an `$export` job, with the same writer and the same scopes, and
records one EXPORT audit event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from django.db import transaction

from ketaflow.accounts.actor import Actor

from .jobs import record_export
from .scope import build_scope
from .writer import OutputFile, Progress, write_export


def export_to_directory(
    organization_id: uuid.UUID,
    out_dir: Path,
    *,
    level: str = "system",
    group_id: str | None = None,
    types: list[str] | None = None,
    since: dt.datetime | None = None,
    progress: Progress | None = None,
    actor: Actor | None = None,
) -> list[OutputFile]:
    """Write one `<Type>.ndjson` file per exported type that has resources into `out_dir`; returns
    (type, path, count) of each. `level` is system, patient or group (`group_id`: a clinic id).
    Raises FhirError (status 400 or 404, readable message) for an unknown type, level or group.
    `actor` is who the audit trail names (the system acting through the CLI by default)."""
    scope = build_scope(organization_id, level, group_id=group_id or "", types=types, since=since)
    with transaction.atomic():
        record_export(actor or Actor.system(organization_id, via="cli"), scope)
    return write_export(scope, out_dir, progress)
