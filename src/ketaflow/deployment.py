"""Installation tasks and the deployment self-check behind `ketaflow check`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core import checks as django_checks
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.validation import ValidationFailed


def pending_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def create_first_owner(
    *, username: str, email: str, first_name: str, last_name: str, organization_name: str, password: str
) -> User:
    """A new organization (or the existing one of that name) with an owner who is also superuser."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from ketaflow.accounts.services import create_staff
    from ketaflow.clinics.models import Organization
    from ketaflow.clinics.services import create_organization

    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationFailed.single("password", " ".join(exc.messages)) from exc
    with transaction.atomic():
        org = Organization.objects.filter(name=organization_name.strip()).first()
        if org is None:
            org = create_organization(organization_name)
        staff, _ = create_staff(
            Actor.system(org.pk),
            {
                "username": username,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "roles": [Role.OWNER.value],
                "clinic_ids": [],
            },
            password=password,
        )
        user = staff.user
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def run_checks() -> Iterator[CheckResult]:
    from ketaflow.audit.trail import append_only_triggers_present

    yield CheckResult("mode", True, f"{settings.KETAFLOW_MODE} (DEBUG {'on' if settings.DEBUG else 'off'})")
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        yield CheckResult("database", True, f"{vendor} reachable")
    except Exception as exc:
        yield CheckResult("database", False, f"not reachable: {type(exc).__name__}")
        return
    pending = pending_migrations()
    yield CheckResult(
        "migrations",
        not pending,
        "all applied" if not pending else f"{len(pending)} pending; run `ketaflow migrate`",
    )
    if pending:
        return
    yield CheckResult(
        "audit trail",
        append_only_triggers_present(),
        "append-only triggers in place"
        if append_only_triggers_present()
        else "append-only triggers missing; re-run migrations",
    )
    production = settings.KETAFLOW_MODE == "production"
    yield CheckResult(
        "two-factor",
        settings.KETAFLOW_REQUIRE_2FA or not production,
        "required for every staff account"
        if settings.KETAFLOW_REQUIRE_2FA
        else "not enforced for accounts the demo marks exempt (demo/development only)",
    )
    yield CheckResult("idle time-out", True, f"{settings.KETAFLOW_IDLE_TIMEOUT_MINUTES} minutes")
    email_ok = not production or "smtp" in settings.EMAIL_BACKEND
    yield CheckResult(
        "email",
        email_ok,
        settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
        + ("" if email_ok else ": set KETAFLOW_EMAIL_URL=smtp://… for production"),
    )
    tags = [django_checks.Tags.security] if production else None
    messages = django_checks.run_checks(tags=tags, include_deployment_checks=production)
    serious = [m for m in messages if m.level >= django_checks.WARNING and not m.is_silenced()]
    yield CheckResult(
        "django checks",
        not serious,
        "no warnings" if not serious else "; ".join(f"{m.id}: {m.msg}" for m in serious),
    )
