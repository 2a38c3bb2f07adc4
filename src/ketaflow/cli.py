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
@click.option("--measured", type=click.IntRange(0), default=None,
              help="Give questionnaire histories to the first N patients only (default: all).")
@click.option("--serve", "then_serve", is_flag=True, help="Serve the demo on --host/--port afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEMO_PORT, show_default=True, type=int)
def demo(
    patients: int, seed: int, reset: bool, measured: int | None, then_serve: bool, host: str, port: int
) -> None:
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
            summary = load_demo(patients=patients, seed=seed, progress=bar.update, measured=measured)
        click.echo("Plans, appointments and invoices: " + ", ".join(
            f"{count} {kind}" for kind, count in summary.plans.items()))
        click.echo("Sessions, ledger, REMS and home: " + ", ".join(
            f"{count} {kind}" for kind, count in summary.sessions.items()))
    else:
        click.echo("The demo practice is already loaded (use --reset to start again).")
    click.echo(f"\nDemo logins (password for every account: {DEMO_PASSWORD}):")
    for username, description in demo_logins():
        click.echo(f"  {username:<12} {description}")
    organization = demo_organization()
    if organization is not None:
        click.echo(f"\nThe practice's public page, with the self-screen: /c/{organization.slug}/")
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


def _organization(slug: str) -> Any:
    """The organization with this slug (Django must be set up), or a ClickException."""
    from ketaflow.clinics.models import Organization

    found = Organization.objects.filter(slug=slug).first()
    if found is None:
        raise click.ClickException(f"no organization with the slug {slug!r}")
    return found


def _organizations(slug: str | None) -> list[Any]:
    """The one organization named, or every organization."""
    from ketaflow.clinics.models import Organization

    return [_organization(slug)] if slug else list(Organization.objects.order_by("slug"))


def _definition_file(path: str) -> dict[str, Any]:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise click.ClickException(f"{path}: a definition is a JSON object")
    return document


def _range(instrument: Any) -> str:
    low, high = instrument.total_range
    return f"{low:g}-{high:g}"


@main.group()
def instruments() -> None:
    """Questionnaires: list, check and load definitions; score answers."""


@instruments.command("list")
@click.option("--organization", "slug", metavar="SLUG", help="Add this organization's own definitions.")
def instruments_list(slug: str | None) -> None:
    """List the built-in instruments (and an organization's own): id, version, name, range, licence."""
    from ketaflow.clinical.instruments import builtin_instruments

    found = dict(builtin_instruments())
    if slug:
        _django()
        from ketaflow.measurement.library import instruments_for

        found = instruments_for(_organization(slug).id)
    builtin = builtin_instruments()
    rows = [("id", "version", "name", "respondent", "range", "licence")]
    for instrument_id in sorted(found):
        instrument = found[instrument_id]
        origin = "" if builtin.get(instrument_id) is instrument else " (clinic's own)"
        rows.append((instrument.id, instrument.version, instrument.name + origin, instrument.respondent,
                     _range(instrument), instrument.licence))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[5]]))


@instruments.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def instruments_check(file: str) -> None:
    """Validate an instrument definition (JSON); exit 1 naming the first problem."""
    from ketaflow.clinical.instruments import DefinitionError, builtin_instruments, parse_definition

    try:
        instrument = parse_definition(_definition_file(file))
    except DefinitionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"OK {instrument.id} version {instrument.version}: {len(instrument.items)} items, "
        f"total {_range(instrument)} ({instrument.scoring.method}), {instrument.respondent}-rated"
    )
    if instrument.id in builtin_instruments():
        click.echo(f"note: {instrument.id} is a built-in id; `instruments load` refuses it (choose another).")


@instruments.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--organization", "slug", metavar="SLUG", required=True, help="The organization that loads it.")
def instruments_load(file: str, slug: str) -> None:
    """Load a clinic's own (licensed) definition for an organization; a newer version replaces it."""
    document = _definition_file(file)
    _django()
    from ketaflow.accounts.actor import Actor
    from ketaflow.measurement.library import load_clinic_instrument
    from ketaflow.validation import ValidationFailed

    organization = _organization(slug)
    try:
        row = load_clinic_instrument(Actor.system(organization.id, via="cli"), document)
    except ValidationFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Loaded {row.instrument_id} version {row.version} for {organization.name}.")


def _parse_answers(raw: tuple[str, ...]) -> list[int | None] | dict[str | int, int | None]:
    """`1 0 2 -` (item order, `-` for no answer) or `1=1 9=0` (by item id); not both."""

    def value(text: str) -> int | None:
        if text in ("-", ""):
            return None
        try:
            return int(text)
        except ValueError:
            raise click.BadParameter(f"{text!r} is not a whole number (or - for no answer)") from None

    by_id = ["=" in entry for entry in raw]
    if all(by_id):
        return {key: value(answer) for key, answer in (entry.split("=", 1) for entry in raw)}
    if any(by_id):
        raise click.BadParameter("give answers in item order or as ITEM=VALUE, not both")
    return [value(entry) for entry in raw]


@instruments.command("score")
@click.argument("instrument_id", metavar="ID")
@click.argument("answers", nargs=-1, required=True)
@click.option("--organization", "slug", metavar="SLUG", help="Score an organization's loaded definition.")
def instruments_score(instrument_id: str, answers: tuple[str, ...], slug: str | None) -> None:
    """Score answers (in item order, - for none, or ITEM=VALUE): total, band, subscores, flags."""
    from ketaflow.clinical.instruments import AnswerError, builtin_instruments, score_instrument

    known = dict(builtin_instruments())
    if slug:
        _django()
        from ketaflow.measurement.library import instruments_for

        known = instruments_for(_organization(slug).id)
    instrument = known.get(instrument_id)
    if instrument is None:
        names = ", ".join(sorted(known))
        raise click.ClickException(f"unknown instrument {instrument_id!r} (known: {names})")
    try:
        result = score_instrument(instrument, _parse_answers(answers))
    except AnswerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{instrument.short_name} ({instrument.id} version {instrument.version})")
    if result.complete:
        click.echo(f"total: {result.total:g} (range {_range(instrument)})")
        click.echo(f"band: {result.band or '-'}")
    else:
        click.echo(f"total: not scored, incomplete (no answer to item {', '.join(result.missing)})")
    if result.subscores:
        click.echo("subscores: " + ", ".join(f"{key} {value:g}" for key, value in result.subscores.items()))
    labels = {finding.name: finding.label for finding in instrument.findings}
    for name in result.findings:
        click.echo(f"finding: {name}: {labels.get(name, '')}")
    for flag in result.safety_details:
        click.echo(f"SAFETY FLAG {flag.name}: {flag.message}")
    if not result.safety_details:
        click.echo("safety flags: none")


@main.group()
def measures() -> None:
    """Measurement-based care: due questionnaires and reminders."""


@measures.command("remind")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def measures_remind(slug: str | None) -> None:
    """Send the due-questionnaire reminders (run it from cron); exit 1 if any failed to send."""
    _django()
    from ketaflow.measurement.reminders import send_due_reminders

    failed = 0
    for organization in _organizations(slug):
        run = send_due_reminders(organization.id)
        click.echo(
            f"{organization.slug}: {run.patients} patients, {run.sent} sent, {run.failed} failed, "
            f"{run.skipped} skipped"
        )
        failed += run.failed
    if failed:
        raise click.ClickException(f"{failed} reminder(s) failed to send; they are retried on a later run")


@measures.command("refresh")
@click.option("--organization", "slug", metavar="SLUG", help="One organization (default: every one).")
def measures_refresh(slug: str | None) -> None:
    """Recompute the due questionnaires of every patient with a measurement plan."""
    _django()
    from django.db import transaction

    from ketaflow.measurement.models import MeasurementPlan
    from ketaflow.measurement.schedule import refresh_due

    for organization in _organizations(slug):
        plans = MeasurementPlan.objects.for_organization(organization.id).select_related("patient")
        count = plans.count()
        rows = plans.iterator()
        with click.progressbar(rows, length=count, label=organization.slug, file=sys.stderr) as bar:
            for plan in bar:
                with transaction.atomic():
                    refresh_due(plan.patient)
        click.echo(f"{organization.slug}: due measures refreshed for {count} patients")


class BadInput(click.ClickException):
    """Input the command cannot use (a fact, a parameter, a JSON file); exits 2 like a usage error."""

    exit_code = 2


def _ruleset(path: str | None) -> Any:
    """The built-in rules, or a rules document read from `path` (ClickException naming the problem)."""
    from ketaflow.clinical.eligibility import RuleError, builtin_rules, parse_rules

    if path is None:
        return builtin_rules()
    try:
        return parse_rules(_definition_file(path))
    except RuleError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def _routes_text(routes: Any) -> str:
    from ketaflow.clinical.eligibility import Route

    return ",".join(route.value for route in Route if route in routes)


@main.group()
def eligibility() -> None:
    """Eligibility per route: list the rules, assess facts from a JSON file (no database needed)."""


@eligibility.command("rules")
@click.option("--rules", "rules_file", metavar="FILE", help="Check and list this rules document instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the rules and parameters as JSON.")
def eligibility_rules(rules_file: str | None, as_json: bool) -> None:
    """List the eligibility rules (id, routes, severity, verify) and their parameters."""
    import json

    from ketaflow.clinical.eligibility import describe_condition

    ruleset = _ruleset(rules_file)
    if as_json:
        click.echo(json.dumps({
            "version": ruleset.version,
            "source": ruleset.source,
            "parameters": {
                p.name: {"default": p.default, "unit": p.unit, "label": p.label, "source": p.source,
                         "verify": p.verify}
                for p in ruleset.parameters.values()
            },
            "rules": [
                {"id": rule.id, "routes": _routes_text(rule.routes).split(","),
                 "severity": rule.severity.value, "when": rule.when,
                 "condition": describe_condition(rule.when, ruleset.parameters), "facts": list(rule.facts),
                 "message": rule.message, "source": rule.source, "verify": rule.verify}
                for rule in ruleset.rules
            ],
        }, indent=2, ensure_ascii=False))
        return
    rows = [("id", "routes", "severity", "verify")]
    rows += [(rule.id, _routes_text(rule.routes), rule.severity.value, "verify" if rule.verify else "")
             for rule in ruleset.rules]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]).rstrip())
    click.echo(f"\n{len(ruleset.rules)} rules, version {ruleset.version}. "
               "Parameters (a clinic may change them):")
    for p in ruleset.parameters.values():
        click.echo(f"  {p.name} = {p.default:g} {p.unit}{'  verify' if p.verify else ''}")


def _parameter_overrides(entries: tuple[str, ...]) -> dict[str, float]:
    import math

    overrides: dict[str, float] = {}
    for entry in entries:
        name, sep, text = entry.partition("=")
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number):
            raise BadInput(f"--param {entry!r}: give NAME=NUMBER, e.g. bp_exclude_systolic=150")
        overrides[name] = int(number) if number.is_integer() else number
    return overrides


def _echo_route(result: Any) -> None:
    click.echo(f"\n{result.route.label} [{result.route.value}]: {result.status.label}")
    for finding in result.findings:
        verify = " [verify]" if finding.verify else ""
        click.echo(f"  fired  {finding.severity.value}  {finding.rule_id}: {finding.message}")
        click.echo(f"         source: {finding.source}{verify}")
    for item in result.unresolved:
        click.echo(f"  open   {item.severity.value}  {item.rule_id}: missing {', '.join(item.missing)}")
    click.echo(f"  missing facts: {', '.join(result.missing_facts) or 'none'}")


@eligibility.command("assess")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--route", "routes", multiple=True, metavar="ROUTE",
              type=click.Choice(["iv", "im", "sublingual_home", "esketamine"]),
              help="Only this route (repeatable; default every route).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a rule parameter as a clinic does (repeatable).")
@click.option("--rules", "rules_file", metavar="FILE", help="Assess with this rules document instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the assessment as JSON.")
def eligibility_assess(
    file: Any, routes: tuple[str, ...], params: tuple[str, ...], rules_file: str | None, as_json: bool
) -> None:
    """Assess facts in a JSON FILE (- for stdin): status per route, fired rules, missing facts."""
    import json

    from ketaflow.clinical.eligibility import FactError, RuleError, assess, facts_from_mapping

    ruleset = _ruleset(rules_file)
    try:
        raw = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{file.name} is not valid JSON: {exc}") from exc
    try:
        facts = facts_from_mapping(raw)
    except FactError as exc:
        raise BadInput(f"fact {exc.field}: {exc.message}") from exc
    try:
        result = assess(facts, routes=routes or None, rules=ruleset, parameters=_parameter_overrides(params))
    except RuleError as exc:
        raise BadInput(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    changed = {k: v for k, v in result.parameters.items() if v != ruleset.parameters[k].default}
    click.echo(f"Eligibility under rules version {result.rules_version}"
               + (f" (parameters changed: {', '.join(f'{k}={v:g}' for k, v in changed.items())})"
                  if changed else ""))
    for route_result in result.results:
        _echo_route(route_result)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run a Django management command (for operators), e.g. `ketaflow manage shell`."""
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ketaflow manage", *args])


def _register_app_commands() -> None:
    """The apps' own command groups, registered here so every command is listed in one file."""
    from ketaflow.fhir.commands import fhir
    from ketaflow.ledger.commands import ledger
    from ketaflow.plans.commands import plans
    from ketaflow.scheduling.commands import schedule
    from ketaflow.sessions.commands import sessions

    main.add_command(plans)
    main.add_command(schedule)
    main.add_command(sessions)
    main.add_command(ledger)
    main.add_command(fhir)


_register_app_commands()
