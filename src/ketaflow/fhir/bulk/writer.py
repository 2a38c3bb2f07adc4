"""The streaming NDJSON writer: stored FHIR JSON straight from the database to one file per type.

Each line is a `StoredResource.body` exactly as stored, read in primary-key order through a
chunked (server-side on PostgreSQL) cursor. Nothing is parsed or rebuilt per resource and no list
of bodies is kept, so memory stays flat whatever the export size, and the throughput is close to a
raw SELECT written to a file (see benchmarks/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from ..models import StoredResource
from .scope import ExportScope, rows

CHUNK_ROWS = 2000  # rows fetched per round trip
PROGRESS_EVERY = 10_000  # rows between progress reports

# progress(resource_type, done, total); it may raise to stop the export (a cancelled job).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class OutputFile:
    """One written file: the resource type, where it is, and how many resources (lines) it holds."""

    type: str
    path: Path
    count: int


def file_name(resource_type: str) -> str:
    return f"{resource_type}.ndjson"


def write_export(scope: ExportScope, out_dir: Path, progress: Progress | None = None) -> list[OutputFile]:
    """Write one NDJSON file per type of `scope` that has resources into `out_dir` (created if
    missing); types with none get no file. Returns the files written, in the scope's type order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[OutputFile] = []
    for resource_type in scope.types:
        query = rows(scope, resource_type)
        total = query.count()
        if progress is not None:
            progress(resource_type, 0, total)
        if total == 0:
            continue
        path = out_dir / file_name(resource_type)
        count = write_ndjson(query, path, _per_type(progress, resource_type, total))
        if count:
            written.append(OutputFile(resource_type, path, count))
        else:  # every row went between the count and the read
            path.unlink()
    return written


def write_ndjson(
    query: QuerySet[StoredResource], path: Path, progress: Callable[[int], None] | None = None
) -> int:
    """Write the bodies of `query` to `path`, one per line; returns the number of lines.
    `progress(done)` is called every PROGRESS_EVERY lines."""
    count = 0
    bodies = query.values_list("body", flat=True).iterator(chunk_size=CHUNK_ROWS)
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        for body in bodies:
            out.write(body)
            out.write("\n")
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    return count


def _per_type(progress: Progress | None, resource_type: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda done: progress(resource_type, done, total)
