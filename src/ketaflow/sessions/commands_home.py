"""`ketaflow sessions check-home`: alert staff about missed at-home check-ins (added by the lead to
the `sessions` command group in ketaflow/cli.py; run it from cron, e.g. every 15 minutes)."""

from __future__ import annotations

import click


@click.command("check-home")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def check_home(slug: str | None) -> None:
    """Notify the prescriber of each home session whose check-in is overdue (once per session)."""
    from ketaflow.cli import _django

    _django()
    from django.utils import timezone

    from ketaflow.cli import _organizations
    from ketaflow.sessions.home import alert_missed_check_ins

    now = timezone.now()
    total = 0
    for organization in _organizations(slug):
        alerted = alert_missed_check_ins(now, organization_id=organization.id)
        click.echo(f"{organization.slug}: {alerted} missed check-in(s) alerted")
        total += alerted
    click.echo(f"{total} alerted in all")
