"""Importing FHIR files into an organization: `.json` (a Bundle of any type, or one resource) and
`.ndjson` (one resource per line, as bulk export writes them).

Each file is one transaction: a resource that cannot be written (invalid, refused by ketaflow's
rules, or referring to an unknown patient) means the file writes nothing, and the error names the
file, the line (NDJSON) and the element path. Patients in a file are written first, so the file's
other resources may refer to them; the id each resource had in its file is kept (`ImportedId`), so a
later file's `Patient/<that id>` resolves, and importing a file again updates its Patients,
Conditions and MedicationStatements and skips the Observations and responses already imported.
Types ketaflow does not import, and resources carrying nothing it records (a BMI, a panel of
references), are counted as skipped with the reason, never dropped silently. Writes go through the
domain services (which audit each record); each file adds one audit event with its counts (no PHI).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record

from .inbound.context import Context, Origin
from .inbound.references import imported_local_id, remember_import
from .inbound.refusals import NotStored, within
from .inbound.writes import WRITABLE, write_existing, write_new
from .outcome import FhirError

Progress = Callable[[Path], None]  # called with each file once it is done


@dataclass(frozen=True)
class Problem:
    """Why a file wrote nothing: where (file, NDJSON line, element paths) and what."""

    file: str
    line: int | None
    paths: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {', '.join(self.paths) + ': ' if self.paths else ''}{self.message}"


@dataclass(frozen=True)
class Skip:
    """A resource not imported, and why."""

    file: str
    line: int | None
    resource_type: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.resource_type} skipped: {self.reason}"


@dataclass
class FileReport:
    file: str
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    skips: list[Skip] = field(default_factory=list)
    error: Problem | None = None


@dataclass
class ImportReport:
    files: list[FileReport]

    def _total(self, name: str) -> Counter[str]:
        return sum((getattr(f, name) for f in self.files if f.error is None), Counter())

    @property
    def created(self) -> Counter[str]:
        """Resources created per type, in files that were imported."""
        return self._total("created")

    @property
    def updated(self) -> Counter[str]:
        return self._total("updated")

    @property
    def skipped(self) -> Counter[str]:
        return self._total("skipped")

    @property
    def skips(self) -> list[Skip]:
        return [s for f in self.files if f.error is None for s in f.skips]

    @property
    def errors(self) -> list[Problem]:
        return [f.error for f in self.files if f.error is not None]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_lines(self) -> list[str]:
        """What happened, for a person: each file's outcome, each skip and error, then the totals."""
        lines = []
        for found in self.files:
            if found.error is not None:
                lines.append(f"{found.error} (nothing imported from this file)")
                continue
            counts = _counts(found.created, "created"), _counts(found.updated, "updated")
            lines.append(f"{found.file}: " + ("; ".join(c for c in counts if c) or "nothing imported"))
            lines.extend(f"  {skip}" for skip in found.skips)
        totals = [
            _counts(self.created, "created"),
            _counts(self.updated, "updated"),
            _counts(self.skipped, "skipped"),
        ]
        lines.append(
            "Total: "
            + ("; ".join(t for t in totals if t) or "nothing imported")
            + (f"; {len(self.errors)} file(s) refused" if self.errors else "")
        )
        return lines


def _counts(counter: Counter[str], verb: str) -> str:
    return f"{verb} " + ", ".join(f"{n} {kind}" for kind, n in sorted(counter.items())) if counter else ""


@dataclass(frozen=True)
class Item:
    """One resource of a file: its NDJSON line or Bundle entry path, and the entry's fullUrl."""

    line: int | None
    at: str
    body: Any
    full_url: str = ""

    @property
    def resource_type(self) -> str:
        return str(self.body.get("resourceType", "")) if isinstance(self.body, dict) else ""


class _Failed(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def import_files(actor: Actor, paths: Iterable[str | Path], progress: Progress | None = None) -> ImportReport:
    """Import each file in turn (each all or nothing); the counts, skips and errors of each."""
    reports = []
    for path in map(Path, paths):
        reports.append(import_file(actor, path))
        if progress is not None:
            progress(path)
    return ImportReport(reports)


def import_file(actor: Actor, path: Path) -> FileReport:
    report = FileReport(str(path))
    try:
        with transaction.atomic():
            ctx = Context(actor, Origin.IMPORT, shared=True)
            for item in _ordered(path):
                _import(ctx, item, report)
            digest = _digest(path)
            record(actor, Action.CREATE, "FhirImport", digest, detail=_audit_detail(path, digest, report))
    except _Failed as failed:
        return FileReport(str(path), error=failed.problem)
    except (OSError, UnicodeDecodeError) as exc:
        return FileReport(str(path), error=Problem(str(path), None, (), f"Cannot read the file: {exc}."))
    return report


def _ordered(path: Path) -> Iterator[Item]:
    """The file's resources, Patients first (the file is read twice rather than held in memory)."""
    yield from (item for item in _items(path) if item.resource_type == "Patient")
    yield from (item for item in _items(path) if item.resource_type != "Patient")


def _items(path: Path) -> Iterator[Item]:
    if path.suffix == ".ndjson":
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield Item(number, "", _json(path, line, number))
    elif path.suffix == ".json":
        body = _json(path, path.read_text(encoding="utf-8"), None)
        if isinstance(body, dict) and body.get("resourceType") == "Bundle":
            for i, entry in enumerate(body.get("entry", [])):
                entry = entry if isinstance(entry, dict) else {}
                yield Item(
                    None,
                    f"Bundle.entry[{i}].resource",
                    entry.get("resource"),
                    str(entry.get("fullUrl") or ""),
                )
        else:
            yield Item(None, "", body)
    else:
        raise _Failed(Problem(str(path), None, (), "Import .json (a Bundle or a resource) or .ndjson files."))


def _json(path: Path, text: str, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Failed(Problem(str(path), line or exc.lineno, (), f"Not valid JSON: {exc.msg}.")) from exc


def _import(ctx: Context, item: Item, report: FileReport) -> None:
    kind = item.resource_type
    if kind not in WRITABLE:
        _skip(
            report, item, kind or "(not a resource)", f"ketaflow does not import {kind or 'this'} resources."
        )
        return
    source_id = str(item.body.get("id") or "")
    try:
        with transaction.atomic():  # a resource skipped midway leaves nothing behind
            _write(ctx, item, source_id, report)
    except NotStored as refusal:
        _skip(report, item, kind, refusal.reason)
    except FhirError as error:
        moved = within(error, item.at) if item.at else error
        paths = tuple(p for issue in moved.issues for p in issue.expression)
        raise _Failed(Problem(report.file, item.line, paths, str(error))) from error


def _write(ctx: Context, item: Item, source_id: str, report: FileReport) -> None:
    kind = item.resource_type
    local = imported_local_id(ctx.actor, kind, source_id) if source_id else None
    if local is None:
        stored = write_new(ctx, item.body)
        if source_id:
            remember_import(ctx.actor, kind, source_id, stored.resource_id)
        report.created[kind] += 1
    elif "update" in WRITABLE[kind]:
        stored = write_existing(ctx, kind, local, {**item.body, "id": local})
        report.updated[kind] += 1
    else:
        _skip(report, item, kind, f"Already imported (as {kind}/{local}).")
        return
    if kind == "Patient":
        ctx.references.remember(stored.resource_id, item.full_url)


def _skip(report: FileReport, item: Item, kind: str, reason: str) -> None:
    report.skipped[kind] += 1
    report.skips.append(Skip(report.file, item.line, kind, reason))


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _audit_detail(path: Path, digest: str, report: FileReport) -> dict[str, Any]:
    """Counts only: no file name (it may name a patient) and no content."""
    return {
        "format": path.suffix.lstrip("."),
        "sha256": digest,
        "created": dict(report.created),
        "updated": dict(report.updated),
        "skipped": dict(report.skipped),
    }
