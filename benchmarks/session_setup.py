"""Shared set-up of the session benchmarks: a fresh database with the demo practice and one IV
session brought to dosing through the real services. (Imported by vitals_ingest.py and
session_page.py; not a benchmark itself.)"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any


def ensure_database(database_url: str) -> None:
    """Create the kf_bench* PostgreSQL database when it does not exist yet."""
    import psycopg

    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure(database_url: str | None, data_dir: str) -> None:
    """Django on a fresh SQLite file in `data_dir`, or on a flushed kf_bench* PostgreSQL database."""
    os.environ.update(
        KETAFLOW_MODE="development",
        KETAFLOW_DATA_DIR=data_dir,
        KETAFLOW_LOG_LEVEL="WARNING",
        KETAFLOW_EMAIL_URL="memory:",  # the demo's mail is not printed
        DJANGO_SETTINGS_MODULE="ketaflow.config.settings",
    )
    if database_url:
        if not database_url.rsplit("/", 1)[-1].startswith("kf_bench"):
            sys.exit("refusing a database whose name does not start with kf_bench")
        ensure_database(database_url)
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if database_url:
        call_command("flush", interactive=False, verbosity=0)


def backend_version(connection: Any) -> str:
    """'3.40.1' for SQLite, '15.20' for PostgreSQL."""
    if connection.vendor == "sqlite":
        return str(connection.Database.sqlite_version)
    return f"{connection.pg_version // 10000}.{connection.pg_version % 10000}"


@dataclass
class Setup:
    organization_id: Any
    session: Any  # TreatmentSession, dosing
    nurse: Any  # Actor
    nurse_user: Any  # User
    prescriber: Any  # Actor
    token: str  # the nurse's API token


DEMO_PATIENTS = 40  # enough for the demo to give some of them signed IV plans
NORMAL = {
    "systolic_bp": 124,
    "diastolic_bp": 78,
    "heart_rate": 72,
    "respiratory_rate": 14,
    "oxygen_saturation": 98,
}


def dosing_session(started_minutes_ago: int = 45) -> Setup:
    """The demo practice, and one of its signed IV plans' patients checked in today, the checklist
    done, the dose drawn from a received lot, verified by a second nurse and the pump started."""
    from django.utils import timezone

    from ketaflow.accounts.models import User
    from ketaflow.accounts.services import actor_for, issue_api_token
    from ketaflow.demo.loader import demo_organization, load_demo
    from ketaflow.ledger.models import StorageLocation
    from ketaflow.ledger.setup import ensure_products
    from ketaflow.ledger.stock import receive
    from ketaflow.sessions.checkin import record_checklist
    from ketaflow.sessions.doses import prepare_dose, record_event, verify_preparation
    from ketaflow.sessions.models import TreatmentSession

    load_demo(patients=DEMO_PATIENTS)
    org = demo_organization()
    assert org is not None
    users = {u.username: u for u in User.objects.filter(organization=org)}
    nurse, second, prescriber = (actor_for(users[n], via="benchmark") for n in ("nurse", "nurse2", "owner"))
    assert nurse and second and prescriber
    session = check_in_next(nurse)
    started = timezone.now() - timedelta(minutes=started_minutes_ago)
    # The pump was started in the past: the patient arrived before it (the service stamps check-in now).
    TreatmentSession.objects.filter(pk=session.pk).update(checked_in_at=started - timedelta(minutes=15))
    record_checklist(
        nurse,
        session.pk,
        fasting_confirmed=True,
        escort_name="Sam Synthetic",
        escort_phone="+15035550199",
        medications_taken="none",
        pregnancy_test="not_applicable",
        pre_dose=dict(NORMAL),
    )
    product = next(p for p in ensure_products(org) if p.drug == "ketamine" and p.form == "vial")
    safe, _ = StorageLocation.objects.get_or_create(
        organization=org, clinic=session.clinic, name="Bench safe"
    )
    entry = receive(
        nurse,
        product_id=product.pk,
        lot_number="BENCH-1",
        expires_on=timezone.localdate() + timedelta(days=365),
        supplier="Synthetic Pharma Supply",
        invoice_number="INV-BENCH",
        quantity_mg=5000,
        location_id=safe.pk,
    )
    session.refresh_from_db()
    volume = (Decimal(session.planned_mg) / product.concentration_mg_per_ml).quantize(Decimal("0.01"))
    preparation = prepare_dose(
        nurse,
        session.pk,
        lot_id=entry.lot_id,
        location_id=safe.pk,
        volume_drawn_ml=volume,
        bag_ml=Decimal(100),
        pump_rate_ml_per_h=Decimal(150),
    )
    verify_preparation(second, preparation.pk)
    record_event(nurse, session.pk, kind="start", at=started, rate_ml_per_h=Decimal(150))
    session.refresh_from_db()
    token = issue_api_token(users["nurse"], "benchmark")
    return Setup(org.pk, session, nurse, users["nurse"], prescriber, token)


def check_in_next(nurse: Any) -> Any:
    """Book a treatment today for the next signed IV plan without a session, and check in."""
    from django.utils import timezone

    from ketaflow.measurement.models import Treatment
    from ketaflow.plans.models import TreatmentPlan
    from ketaflow.scheduling.defaults import ensure_appointment_types
    from ketaflow.scheduling.models import Appointment, AppointmentType
    from ketaflow.sessions.checkin import check_in

    org_id = nurse.organization_id
    plan = (
        TreatmentPlan.objects.for_organization(org_id)
        .filter(route="iv", status=TreatmentPlan.Status.SIGNED, sessions__isnull=True)
        .exclude(phase__in=("completed", "discontinued"))
        .select_related("clinic")
        .order_by("pk")
        .first()
    )
    if plan is None:
        sys.exit("the demo practice has no signed IV plan left to dose")
    ensure_appointment_types(org_id)
    kind = AppointmentType.objects.for_organization(org_id).get(key="iv")
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    treatment = Treatment.objects.create(
        organization_id=org_id, patient=plan.patient, occurred_at=start, status=Treatment.Status.SCHEDULED
    )
    visit = Appointment.objects.create(
        organization_id=org_id,
        patient=plan.patient,
        clinic=plan.clinic,
        appointment_type=kind,
        plan=plan,
        phase=plan.phase,
        series_number=1,
        starts_at=start,
        ends_at=start + timedelta(minutes=kind.minutes),
        treatment=treatment,
    )
    return check_in(nurse, visit.pk)
