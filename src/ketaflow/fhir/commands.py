"""`ketaflow fhir ...`: bulk export to NDJSON, import of Bundles and NDJSON, and rebuilding the
stored FHIR projection (registered in ketaflow/cli.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click


def _setup() -> None:
    from ketaflow.cli import _django

    _django()


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    from ketaflow.fhir.bulk.params import parse_instant
    from ketaflow.fhir.outcome import FhirError

    try:
        return parse_instant(value)
    except FhirError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


@click.group()
def fhir() -> None:
    """FHIR R4: bulk export, import, and rebuilding the stored resources."""


@fhir.command("export")
@click.option("--organization", "slug", metavar="SLUG", required=True, help="The organization to export.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the NDJSON files (created if missing).",
)
@click.option(
    "--type", "types", metavar="TYPE", multiple=True, help="Only these resource types (repeatable)."
)
@click.option("--group", "group_id", metavar="CLINIC_ID", help="Only patients whose home clinic this is.")
@click.option(
    "--patients", "patients_only", is_flag=True, help="Patient-level: the patient compartment only."
)
@click.option(
    "--since",
    metavar="INSTANT",
    help="Only resources changed at or after this instant, e.g. 2026-01-01T00:00:00Z.",
)
def export(
    slug: str,
    out_dir: Path,
    types: tuple[str, ...],
    group_id: str | None,
    patients_only: bool,
    since: str | None,
) -> None:
    """Write one NDJSON file per resource type (Bulk Data format), streamed from the stored JSON."""
    _setup()
    after = _instant(since)
    from ketaflow.cli import _organization
    from ketaflow.fhir.bulk.directory import export_to_directory
    from ketaflow.fhir.outcome import FhirError

    organization = _organization(slug)
    level = "group" if group_id else "patient" if patients_only else "system"
    with click.progressbar(length=0, label="Exporting", show_pos=True) as bar:

        def progress(resource_type: str, done: int, total: int) -> None:
            bar.length = total
            bar.label = f"Exporting {resource_type}"
            bar.update(done - bar.pos)

        try:
            files = export_to_directory(
                organization.id,
                out_dir,
                level=level,
                group_id=group_id,
                types=list(types) or None,
                since=after,
                progress=progress,
            )
        except FhirError as exc:
            raise click.UsageError(str(exc)) from exc
    for output in files:
        click.echo(f"{output.type}: {output.count} resource(s) -> {output.path}")


@fhir.command("import")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--organization", "slug", metavar="SLUG", required=True, help="The organization importing.")
def import_(paths: tuple[Path, ...], slug: str) -> None:
    """Import FHIR Bundles, single resources (.json) or NDJSON files of Patient, Condition,
    Observation (vital signs), QuestionnaireResponse and MedicationStatement. Each file is all or
    nothing; exit 1 when any file was refused."""
    _setup()
    from ketaflow.accounts.actor import Actor
    from ketaflow.cli import _organization
    from ketaflow.fhir.imports import import_files

    organization = _organization(slug)
    actor = Actor.system(organization.id, via="import")
    with click.progressbar(length=len(paths), label="Importing", show_pos=True) as bar:
        report = import_files(actor, list(paths), progress=lambda _path: bar.update(1))
    for line in report.summary_lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


@fhir.command("reindex")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def reindex(slug: str | None) -> None:
    """Rebuild the stored FHIR resources from ketaflow's records. Unchanged resources keep their
    version; run it after restoring a backup or loading rows in bulk."""
    _setup()
    from ketaflow.cli import _organizations
    from ketaflow.fhir.projection import reindex as rebuild

    for organization in _organizations(slug):
        report = rebuild(organization.id)
        click.echo(
            f"{organization.slug}: {report.written} written, {report.unchanged} unchanged, "
            f"{report.removed} removed"
        )
