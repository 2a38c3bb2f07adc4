"""Benchmark: booking the IV induction series of 200 new patients across 10 clinics.

Ten clinics (open Monday to Saturday 08:00-18:00, four chairs, two nurses and one prescriber
working those hours) get 20 new patients each, every one with a signed, open IV plan made from
the built-in protocol iv-depression (written straight with the ORM: signing needs eligibility and
consent, which is not what is measured). The induction series (6 sessions over 3 weeks) of all 200
is then booked through `scheduling.series_booking.book_series`, the real service: availability
read per day, placement, Appointment, staff, Occupancy and Treatment rows, the due-measure refresh
and the audit trail. Two baselines run on the same plans in the same process:

- core: `clinical.series.series_targets` + `place_series` with a slot function that says every
  15-minute start of an open day is free (the pure placement, no database);
- preview: `preview_series` for every plan (the same reads and placement, no booking rows).

Target (issue 5): all 200 booked in at most 10 s. Nothing is asserted; the figures and ratios are
printed and written to benchmarks/results/. `--profile` prints the top cProfile entries of the
booking.

    uv run python benchmarks/series_generation.py
    uv run python benchmarks/series_generation.py --postgres-url postgres://postgres@127.0.0.1:5432/kf_bench_series
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

RESULTS = Path(__file__).parent / "results"
CLINICS, CHAIRS, PATIENTS_PER_CLINIC = 10, 4, 20
OPEN, CLOSE = clock(8, 0), clock(18, 0)
WEEKDAYS = range(6)  # Monday to Saturday


def ensure_database(database_url: str) -> None:
    """Create the kf_bench* PostgreSQL database when it does not exist yet."""
    import psycopg

    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure(database_url: str | None, data_dir: str) -> None:
    os.environ.update(
        KETAFLOW_MODE="development",
        KETAFLOW_DATA_DIR=data_dir,
        KETAFLOW_LOG_LEVEL="WARNING",
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


# ---------- building blocks (also used by week_calendar.py) ----------


def make_organization(name: str) -> Any:
    from ketaflow.clinics.models import Organization

    return Organization.objects.create(name=name, slug=name.lower().replace(" ", "-")[:60])


def make_clinic(org: Any, name: str, chairs: int) -> tuple[Any, list[Any]]:
    """An open clinic (Monday to Saturday 08:00-18:00) with `chairs` chairs."""
    from ketaflow.clinics.models import Clinic, OpeningHours, Room

    clinic = Clinic.objects.create(organization=org, name=name, timezone="America/New_York")
    OpeningHours.objects.bulk_create(
        OpeningHours(organization=org, clinic=clinic, weekday=d, opens=OPEN, closes=CLOSE) for d in WEEKDAYS
    )
    rooms = Room.objects.bulk_create(
        Room(organization=org, clinic=clinic, name=f"Chair {n:02d}", kind=Room.Kind.CHAIR)
        for n in range(1, chairs + 1)
    )
    return clinic, rooms


def make_staff(org: Any, clinic: Any | None, username: str, role: str, *, hours: bool = True) -> Any:
    """A staff member with one role, assigned to `clinic` and working its opening hours."""
    from ketaflow.accounts.models import StaffMember, StaffRole, User
    from ketaflow.scheduling.models import StaffHours

    user = User(
        username=username,
        first_name="Bench",
        last_name=username.title(),
        organization=org,
        two_factor_exempt=True,
        email=f"{username}@example.test",
    )
    user.set_unusable_password()
    user.save()
    extra = {"credential": "MD", "licence_number": "MD-00000"} if role == "prescriber" else {}
    member = StaffMember.objects.create(organization=org, user=user, **extra)
    StaffRole.objects.create(organization=org, staff=member, role=role)
    if clinic is not None:
        member.clinics.add(clinic)
        if hours:
            StaffHours.objects.bulk_create(
                StaffHours(organization=org, staff=member, clinic=clinic, weekday=d, starts=OPEN, ends=CLOSE)
                for d in WEEKDAYS
            )
    return member


def make_patients(org: Any, clinic: Any, prefix: str, count: int) -> list[Any]:
    from ketaflow.patients.fields import search_text_for
    from ketaflow.patients.models import Patient

    rows = []
    for n in range(count):
        values = {
            "legal_given_name": "Bench",
            "legal_family_name": f"{prefix}{n:03d}",
            "mrn": f"{prefix}-{n:04d}",
        }
        rows.append(
            Patient(
                organization=org,
                home_clinic=clinic,
                date_of_birth=date(1980, 1, 1),
                search_text=search_text_for(values),
                **values,
            )
        )
    return Patient.objects.bulk_create(rows)


def next_monday(weeks_ahead: int = 1) -> date:
    from django.utils import timezone

    start = timezone.localdate() + timedelta(days=7 * weeks_ahead)
    return start - timedelta(days=start.weekday())


def signed_iv_plans(org: Any, clinic: Any, patients: list[Any], prescriber: Any, monday: date) -> list[Any]:
    """A signed, open induction plan of the built-in iv-depression protocol for each patient; the
    starts are spread over Monday to Wednesday."""
    from django.utils import timezone

    from ketaflow.clinical.protocols import builtin_protocols, find
    from ketaflow.plans.models import TreatmentPlan

    protocol = find(builtin_protocols(), "iv-depression")
    assert protocol is not None
    plans = []
    for n, patient in enumerate(patients):
        start = monday + timedelta(days=n % 3)
        plans.append(
            TreatmentPlan(
                organization=org,
                patient=patient,
                clinic=clinic,
                protocol_key=protocol.key,
                protocol_version=protocol.version,
                protocol_name=protocol.name,
                protocol=dict(protocol.definition),
                route=protocol.route.value,
                setting=protocol.setting,
                condition="mdd",
                goals="Synthetic benchmark goal",
                start_date=start,
                status=TreatmentPlan.Status.SIGNED,
                phase="induction",
                phase_started_on=start,
                prescriber=prescriber,
                dose_mg=Decimal("40"),
                dose_summary="40 mg (synthetic)",
                signed_by=prescriber.user,
                signed_at=timezone.now(),
            )
        )
    return TreatmentPlan.objects.bulk_create(plans)


def actor_for(member: Any) -> Any:
    from ketaflow.accounts.services import actor_for as staff_actor

    actor = staff_actor(member.user, ip_address="127.0.0.1")
    assert actor is not None
    return actor


# ---------- this benchmark ----------


def build(clinics: int = CLINICS) -> dict[str, Any]:
    from django.db import transaction

    from ketaflow.scheduling.defaults import ensure_appointment_types

    with transaction.atomic():
        org = make_organization("Bench Series Practice")
        ensure_appointment_types(org.pk)
        desk = make_staff(org, None, "desk", "front_desk")
        monday = next_monday()
        plans = []
        for c in range(clinics):
            clinic, _rooms = make_clinic(org, f"Bench Clinic {c:02d}", CHAIRS)
            for n in (1, 2):
                make_staff(org, clinic, f"nurse{c:02d}{n}", "nurse")
            prescriber = make_staff(org, clinic, f"prescriber{c:02d}", "prescriber")
            patients = make_patients(org, clinic, f"S{c:02d}", PATIENTS_PER_CLINIC)
            plans += signed_iv_plans(org, clinic, patients, prescriber, monday)
    return {"actor": actor_for(desk), "plans": plans}


def core_placement(plans: list[Any]) -> tuple[float, int, int]:
    """The pure placement of every plan's induction with every open 15-minute start free."""
    from django.utils import timezone

    from ketaflow.clinical.series import place_series, series_targets
    from ketaflow.plans.snapshot import protocol_of

    started = time.perf_counter()
    placed = unplaced = 0
    for plan in plans:
        zone = ZoneInfo(plan.clinic.timezone)
        rules = protocol_of(plan).phases["induction"]

        def slots(day: date, zone: ZoneInfo = zone) -> list[datetime]:
            if day.weekday() not in WEEKDAYS:
                return []
            first = datetime.combine(day, OPEN, tzinfo=zone)
            return [first + timedelta(minutes=15 * k) for k in range(35)]  # 08:00-16:30 starts

        today = timezone.now().astimezone(zone).date()
        found = place_series(
            series_targets(rules, plan.start_date),
            slots,
            min_gap_days=rules.min_gap_days,
            tolerance_days=rules.tolerance_days,
            not_before=today + timedelta(days=1),
        )
        placed += len(found.placed)
        unplaced += len(found.unplaced)
    return time.perf_counter() - started, placed, unplaced


def previews(actor: Any, plans: list[Any]) -> tuple[float, int, int]:
    from ketaflow.scheduling.series_booking import preview_series

    started = time.perf_counter()
    placed = unplaced = 0
    for plan in plans:
        found = preview_series(actor, plan.pk)
        placed += len(found.proposed)
        unplaced += len(found.unplaced)
    return time.perf_counter() - started, placed, unplaced


def bookings(actor: Any, plans: list[Any]) -> tuple[float, int, int, list[str]]:
    from ketaflow.scheduling.series_booking import book_series

    started = time.perf_counter()
    booked = unplaced = 0
    reasons: list[str] = []
    for plan in plans:
        found = book_series(actor, plan.pk)
        booked += len(found.booked)
        unplaced += len(found.unplaced)
        reasons += [u.reason for u in found.unplaced[:1]]
    return time.perf_counter() - started, booked, unplaced, reasons


def profiled(function: Any, *args: Any) -> tuple[Any, str]:
    profile = cProfile.Profile()
    result = profile.runcall(function, *args)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    return result, out.getvalue()


def query_count(function: Any, *args: Any) -> tuple[Any, int]:
    """`function(*args)` and the number of SQL statements it ran (a cheap counting wrapper)."""
    from django.db import connection

    seen = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        result = function(*args)
    return result, seen[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--profile", action="store_true", help="print cProfile top entries of the booking")
    parser.add_argument("--clinics", type=int, default=CLINICS, help="fewer clinics for a quick profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args.postgres_url or None, data_dir)
        setup = build(args.clinics)
        actor, plans = setup["actor"], setup["plans"]
        from ketaflow.plans.models import TreatmentPlan

        plans = list(
            TreatmentPlan.objects.filter(pk__in=[p.pk for p in plans])
            .select_related("clinic")
            .order_by("clinic__name", "patient__mrn")
        )
        core_s, core_placed, core_unplaced = core_placement(plans)
        (preview_s, preview_placed, preview_unplaced), preview_queries = query_count(previews, actor, plans)
        if args.profile:
            (book_s, booked, unplaced, reasons), report = profiled(bookings, actor, plans)
            book_queries = -1
        else:
            (book_s, booked, unplaced, reasons), book_queries = query_count(bookings, actor, plans)
            report = ""
    count = len(plans)
    rows = [
        {
            "step": "book_series (the real service)",
            "seconds": round(book_s, 2),
            "ms_per_patient": round(book_s * 1000 / count, 1),
            "placed": booked,
            "unplaced": unplaced,
            "queries": book_queries,
            "x_core": round(book_s / core_s, 1),
            "x_preview": round(book_s / preview_s, 2),
        },
        {
            "step": "baseline: preview_series (reads only)",
            "seconds": round(preview_s, 2),
            "ms_per_patient": round(preview_s * 1000 / count, 1),
            "placed": preview_placed,
            "unplaced": preview_unplaced,
            "queries": preview_queries,
            "x_core": round(preview_s / core_s, 1),
            "x_preview": 1.0,
        },
        {
            "step": "baseline: core placement, all slots free",
            "seconds": round(core_s, 3),
            "ms_per_patient": round(core_s * 1000 / count, 2),
            "placed": core_placed,
            "unplaced": core_unplaced,
            "queries": 0,
            "x_core": 1.0,
            "x_preview": round(core_s / preview_s, 3),
        },
    ]
    print(
        f"{count} patients, {args.clinics} clinics x {CHAIRS} chairs; "
        "target: book_series at most 10 s in all\n"
    )
    print("| step | s | ms / patient | sessions placed | unplaced | queries | x core | x preview |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['step']} | {row['seconds']} | {row['ms_per_patient']} | {row['placed']} | "
            f"{row['unplaced']} | {row['queries']} | {row['x_core']} | {row['x_preview']} |"
        )
    if reasons:
        print("\nfirst unplaced reasons:\n  " + "\n  ".join(reasons[:5]))
    if report:
        print(report)
    RESULTS.mkdir(exist_ok=True)
    backend = "postgresql" if args.postgres_url else "sqlite"
    out = RESULTS / f"series_generation-{backend}-{int(time.time())}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "backend": backend,
                "patients": count,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
