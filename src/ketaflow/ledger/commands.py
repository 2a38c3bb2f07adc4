"""`ketaflow ledger ...`: the controlled-substance ledger from the command line (registered in
ketaflow/cli.py): expiry alerts, the discrepancy check, and inventory reports as CSV or PDF."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import click


def _setup() -> None:
    from ketaflow.cli import _django

    _django()


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from exc


@click.group()
def ledger() -> None:
    """Controlled substances: expiry alerts, the discrepancy check, inventory reports."""


@ledger.command("expiry")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def expiry(slug: str | None) -> None:
    """List stock on hand that has expired or expires within the warning window."""
    _setup()
    from django.utils import timezone

    from ketaflow.cli import _organizations
    from ketaflow.ledger.expiry import expiry_alerts

    for organization in _organizations(slug):
        alerts = expiry_alerts(organization.id, timezone.localdate())
        click.echo(f"{organization.slug}: {len(alerts)} lot(s) expired or expiring")
        for alert in alerts:
            click.echo(f"  {'EXPIRED ' if alert.expired else 'expiring'} {alert.message}")


@ledger.command("check")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
@click.option("--since", metavar="DATE", help="Walk entries and sessions from this date (default: all).")
@click.option("--until", metavar="DATE", help="... up to the end of this date.")
def check(slug: str | None, since: str | None, until: str | None) -> None:
    """Recompute every balance from its entries and each session's reconciliation; exit 1 on a
    discrepancy. Flagged session doses are listed too."""
    first, last = _day(since, "--since"), _day(until, "--until")
    _setup()
    from datetime import timedelta

    from django.utils import timezone

    from ketaflow.cli import _organizations
    from ketaflow.ledger.reconciliation import ledger_check, unreconciled_sessions

    zone = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, tzinfo=zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) if last else None
    bad = 0
    for organization in _organizations(slug):
        report = ledger_check(organization.id, start, end)
        flagged = unreconciled_sessions(organization.id).count()
        status = "agrees" if report.ok else f"{len(report.problems)} DISCREPANCY(IES)"
        click.echo(
            f"{organization.slug}: {report.places} balances, {report.entries} entries, "
            f"{report.sessions} sessions checked: {status}; {flagged} session dose(s) flagged"
        )
        for problem in report.problems:
            click.echo(f"  - {problem.message}")
        bad += not report.ok
    if bad:
        raise click.ClickException("the ledger check found discrepancies")


def _location(reference: str, slug: str | None) -> Any:
    """A storage location by id, or by name (within --organization when names repeat)."""
    from ketaflow.cli import _organization
    from ketaflow.ledger.models import StorageLocation

    rows = StorageLocation.objects.select_related("clinic")
    if slug:
        rows = rows.filter(organization=_organization(slug))
    try:
        found = list(rows.filter(pk=uuid.UUID(reference)))
    except ValueError:
        found = list(rows.filter(name__iexact=reference.strip()))
    if not found:
        raise click.ClickException(f"no storage location {reference!r}")
    if len(found) > 1:
        raise click.ClickException(
            f"{len(found)} locations are called {reference!r}; give its id or --organization"
        )
    return found[0]


@ledger.command("report")
@click.option("--kind", type=click.Choice(["periodic", "biennial"]), default="periodic", show_default=True)
@click.option("--location", "reference", required=True, metavar="ID|NAME", help="The storage location.")
@click.option("--start", metavar="DATE", help="Periodic: the first day (default: the first of the month).")
@click.option("--end", metavar="DATE", help="The last day, or the biennial inventory's date (default today).")
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf"]), default="csv", show_default=True)
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write."
)
@click.option("--organization", "slug", metavar="SLUG", help="The organization (when names repeat).")
def report(
    kind: str,
    reference: str,
    start: str | None,
    end: str | None,
    fmt: str,
    output: str,
    slug: str | None,
) -> None:
    """Write a periodic or biennial inventory report of one location as CSV or PDF."""
    first, last = _day(start, "--start"), _day(end, "--end")
    _setup()
    from django.utils import timezone

    from ketaflow.accounts.actor import Actor
    from ketaflow.ledger.reports import export_report, inventory_report
    from ketaflow.validation import ValidationFailed

    location = _location(reference, slug)
    actor = Actor.system(location.organization_id, via="cli")
    try:
        found = inventory_report(
            actor, kind=kind, location_id=location.pk, end=last or timezone.localdate(), start=first
        )
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from exc
    document = export_report(actor, found, fmt)
    try:
        with open(output, "wb") as handle:
            handle.write(document.content)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc}") from exc
    click.echo(
        f"{found.title} of {location.name} ({found.period_text}): {len(found.rows)} lot(s) in {output}"
    )
