"""The import action of the Data exchange (FHIR) page: uploaded FHIR files through `import_files`.

The uploads are copied to a private temporary directory under neutral names and imported as the
signed-in staff member, each file all or nothing, exactly as `ketaflow fhir import` does (the write
permission of each resource is checked inside the inbound services). The result names the files as
they were uploaded: what each created or updated by type, what was skipped and why (grouped by
reason), and for a refused file where (file:line) and which element.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import forms
from .forms import ImportForm
from .imports import FileReport, ImportReport, import_files
from .pages import render_page

LINES_SHOWN = 5  # line numbers listed per group of skipped resources
TOO_MANY = (
    "These files hold {count:,} records; this page imports up to {limit:,} at a time. Split them, or "
    "import them on the server with ketaflow fhir import."
)


@dataclass(frozen=True)
class SkipGroup:
    """Resources of one type skipped for the same reason, with where the first few were."""

    resource_type: str
    reason: str
    count: int
    places: list[str]


@dataclass(frozen=True)
class FileProblem:
    where: str  # "name.ndjson:4", or the name alone for a .json file
    paths: tuple[str, ...]
    message: str


@dataclass
class FileResult:
    name: str
    created: list[tuple[str, str]] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[SkipGroup] = field(default_factory=list)
    problem: FileProblem | None = None


@dataclass(frozen=True)
class ImportResult:
    files: list[FileResult]
    totals: str  # "2 Patient created, 1 Condition updated" over the files imported
    refused: int


@require_POST
@staff_view()
def upload(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_page(request, 422, import_form=form)
    try:
        result = import_uploads(actor, form.cleaned_data["uploads"])
    except ValidationFailed as refusal:
        show_errors(form, refusal)
        return render_page(request, 422, import_form=form)
    return render_page(request, import_result=result)


def import_uploads(actor: Actor, uploads: list[UploadedFile]) -> ImportResult:
    """Import the uploaded files in the order given; the outcome named by the uploaded names.
    ValidationFailed (nothing imported) when they hold more than `forms.MAX_RESOURCES` resources."""
    with tempfile.TemporaryDirectory(prefix="ketaflow-import-") as directory:
        names = _save(uploads, Path(directory))
        count = sum(_resource_count(path) for path in names)
        if count > forms.MAX_RESOURCES:
            raise ValidationFailed.single("uploads", TOO_MANY.format(count=count, limit=forms.MAX_RESOURCES))
        report = import_files(actor, list(names))
        return _result(report, {str(path): name for path, name in names.items()}, directory)


def _save(uploads: list[UploadedFile], directory: Path) -> dict[Path, str]:
    """Each upload written as `<n>.json` / `<n>.ndjson` (the suffix decides how it is read)."""
    names = {}
    for number, upload in enumerate(uploads, start=1):
        shown = Path(upload.name or f"file {number}").name
        suffix = ".ndjson" if shown.lower().endswith(".ndjson") else ".json"
        path = directory / f"{number}{suffix}"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        names[path] = shown
    return names


def _resource_count(path: Path) -> int:
    """Resources in a file: NDJSON lines, or a Bundle's entries (1 for a single resource or a file
    that is not JSON, which the import then reports)."""
    if path.suffix == ".ndjson":
        with path.open("rb") as lines:
            return sum(1 for line in lines if line.strip())
    try:
        body = json.loads(path.read_bytes())
    except ValueError:
        return 1
    entries = body.get("entry") if isinstance(body, dict) and body.get("resourceType") == "Bundle" else None
    return len(entries) if isinstance(entries, list) else 1


def _result(report: ImportReport, names: dict[str, str], directory: str) -> ImportResult:
    files = [_file_result(found, names[found.file], directory) for found in report.files]
    totals = [f"{n} {kind} created" for kind, n in _sorted(report.created)]
    totals += [f"{n} {kind} updated" for kind, n in _sorted(report.updated)]
    return ImportResult(files, ", ".join(totals), len(report.errors))


def _file_result(found: FileReport, name: str, directory: str) -> FileResult:
    if found.error is not None:
        error = found.error
        where = f"{name}:{error.line}" if error.line else name
        message = error.message.replace(found.file, name).replace(f"{directory}/", "")
        return FileResult(name, problem=FileProblem(where, error.paths, message))
    return FileResult(name, _sorted(found.created), _sorted(found.updated), _skip_groups(found, name))


def _skip_groups(found: FileReport, name: str) -> list[SkipGroup]:
    counts: Counter[tuple[str, str]] = Counter()
    places: dict[tuple[str, str], list[str]] = {}
    for skip in found.skips:
        key = (skip.resource_type, skip.reason)
        counts[key] += 1
        shown = places.setdefault(key, [])
        if skip.line and len(shown) < LINES_SHOWN:
            shown.append(f"{name}:{skip.line}")
    return [SkipGroup(kind, reason, n, places[(kind, reason)]) for (kind, reason), n in counts.items()]


def _sorted(counter: Counter[str]) -> list[tuple[str, str]]:
    """(type, count as text with thousands separators), by type."""
    return [(kind, f"{n:,}") for kind, n in sorted(counter.items())]
