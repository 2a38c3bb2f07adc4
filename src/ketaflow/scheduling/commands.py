"""`ketaflow schedule ...`: scheduling commands (registered in ketaflow/cli.py)."""

from __future__ import annotations

import click


@click.group()
def schedule() -> None:
    """Appointments: reminders."""


@schedule.command("remind")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def remind(slug: str | None) -> None:
    """Send the due appointment reminders (run it from cron); exit 1 if any failed to send."""
    from ketaflow.cli import _django

    _django()
    from ketaflow.cli import _organizations
    from ketaflow.scheduling.reminders import send_appointment_reminders

    failed = 0
    for organization in _organizations(slug):
        run = send_appointment_reminders(organization.id)
        click.echo(
            f"{organization.slug}: {run.due} due, {run.sent} sent, {run.failed} failed, "
            f"{run.skipped} skipped (no usable contact)"
        )
        failed += run.failed
    if failed:
        raise click.ClickException(f"{failed} reminder(s) failed to send; they are retried on a later run")
