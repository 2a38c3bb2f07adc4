"""The `ketaflow` command (also `python -m ketaflow`). Every command is registered here, once.

Commands call services; none runs raw SQL. Django is set up lazily, after the command has had a
chance to choose the mode (the demo runs in demo mode).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

DEMO_PORT = 8000


def _django(mode: str | None = None) -> None:
    if mode:
        os.environ.setdefault("KETAFLOW_MODE", mode)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.config.settings")
    from ketaflow.config.env import InsecureConfiguration

    try:
        import django

        django.setup()
    except InsecureConfiguration as exc:
        raise click.ClickException(str(exc)) from exc


def _call(name: str, *args: str, **options: Any) -> None:
    from django.core.management import call_command

    call_command(name, *args, **options)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ketaflow")
def main() -> None:
    """ketaflow: run a ketamine-therapy practice."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _django()
    _call("migrate", interactive=False, verbosity=1)


def _serve(host: str, port: int, workers: int, threads: int) -> None:
    from ketaflow.serving import run_gunicorn

    _call("collectstatic", interactive=False, verbosity=0)
    click.echo(f"Serving ketaflow on http://{host}:{port} (gunicorn, {workers} workers). Ctrl-C stops it.")
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEMO_PORT, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web app and API with gunicorn (a production server)."""
    _django()
    from ketaflow.deployment import pending_migrations

    if pending_migrations():
        raise click.ClickException("the database has unapplied migrations; run `ketaflow migrate`")
    _serve(host, port, workers, threads)


@main.command()
@click.option(
    "--patients",
    default=60,
    show_default=True,
    type=click.IntRange(0, 2_000_000),
    help="How many synthetic patients to create.",
)
@click.option(
    "--seed", default=2026, show_default=True, type=int, help="Random seed (same seed, same practice)."
)
@click.option("--reset", is_flag=True, help="Start again from an empty demo database.")
@click.option("--serve", "then_serve", is_flag=True, help="Serve the demo on --host/--port afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEMO_PORT, show_default=True, type=int)
def demo(patients: int, seed: int, reset: bool, then_serve: bool, host: str, port: int) -> None:
    """Create the demo practice: two clinics, staff for every role, synthetic patients."""
    from ketaflow.config.env import load_config

    os.environ.setdefault("KETAFLOW_MODE", "demo")
    config = load_config()
    if reset and config.database_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            path = config.database_url.removeprefix("sqlite:///") + suffix
            if os.path.exists(path):
                os.remove(path)
    _django("demo")
    from ketaflow.demo.loader import DEMO_PASSWORD, demo_logins, demo_organization, load_demo

    _call("migrate", interactive=False, verbosity=0)
    if demo_organization() is None:
        with click.progressbar(length=patients, label="Creating synthetic patients", file=sys.stderr) as bar:
            load_demo(patients=patients, seed=seed, progress=bar.update)
    else:
        click.echo("The demo practice is already loaded (use --reset to start again).")
    click.echo(f"\nDemo logins (password for every account: {DEMO_PASSWORD}):")
    for username, description in demo_logins():
        click.echo(f"  {username:<12} {description}")
    if then_serve:
        click.echo("")
        _serve(host, port, workers=2, threads=4)


@main.command()
@click.option("--username", prompt=True)
@click.option("--email", prompt=True)
@click.option("--first-name", prompt=True)
@click.option("--last-name", prompt=True)
@click.option("--organization", "organization_name", prompt="Organization (practice) name")
@click.password_option(help="Prompted for when not given.")
def createadmin(
    username: str, email: str, first_name: str, last_name: str, organization_name: str, password: str
) -> None:
    """Create the first owner of an organization (also the Django admin superuser)."""
    _django()
    from ketaflow.deployment import create_first_owner
    from ketaflow.validation import ValidationFailed

    try:
        user = create_first_owner(
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            organization_name=organization_name,
            password=password,
        )
    except ValidationFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Created owner {user.username!r} of {user.organization}. "
        "Two-factor set-up is asked for at first login."
    )


@main.command()
def check() -> None:
    """Deployment self-check: settings, database, migrations, audit trail, static files."""
    _django()
    from ketaflow.deployment import run_checks

    failures = 0
    for result in run_checks():
        mark = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {result.name}: {result.detail}")
        failures += not result.ok
    if failures:
        raise click.ClickException(f"{failures} check(s) failed")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def token_create(username: str, name: str) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is kept)."""
    _django()
    from ketaflow.accounts.models import User
    from ketaflow.accounts.services import issue_api_token
    from ketaflow.validation import ValidationFailed

    user = User.objects.filter(username=username.lower()).first()
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    try:
        click.echo(issue_api_token(user, name))
    except ValidationFailed as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute every audit chain; exit 1 if any event was altered, removed or reordered."""
    _django()
    from ketaflow.audit.trail import append_only_triggers_present, verify_all

    bad = 0
    for report in verify_all():
        status = "intact" if report.ok else "BROKEN"
        click.echo(f"chain {report.chain}: {report.checked} events, {status}")
        for problem in report.problems:
            click.echo(f"  - {problem}")
        bad += not report.ok
    if not append_only_triggers_present():
        click.echo("the database triggers that keep the trail append-only are missing")
        bad += 1
    if bad:
        raise click.ClickException("the audit trail failed verification")
    click.echo("audit trail verified")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run a Django management command (for operators), e.g. `ketaflow manage shell`."""
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ketaflow manage", *args])
