"""Benchmark: server time of the week and day calendars of a 20-chair clinic with a full week booked.

One clinic (open Monday to Saturday 08:00-18:00, 20 chairs, 8 nurses and a prescriber working
those hours) has 6 IV appointments per chair per day, Monday to Saturday (720 in the week, each
with its nurse row and occupancy rows, written straight with the ORM), for 240 synthetic patients.
A front-desk user requests `scheduling:week` and `scheduling:day` (the Wednesday) in-process
through Django's test client (middleware, the audited LIST read, queries, layout, templates),
interleaved round by round with a baseline page measured in the same run: the patients list
(/patients/).

Target (issue 5): p95 at most 100 ms for the week page. Nothing is asserted; the figures and ratios
are printed and written to benchmarks/results/. `--profile` prints the top cProfile entries of 20
week requests; the SQL statements per request are counted.

    uv run python benchmarks/week_calendar.py
    uv run python benchmarks/week_calendar.py --postgres-url postgres://postgres@127.0.0.1:5432/kf_bench_week
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from series_generation import (
    OPEN,
    WEEKDAYS,
    configure,
    make_clinic,
    make_organization,
    make_patients,
    make_staff,
    next_monday,
)

RESULTS = Path(__file__).parent / "results"
CHAIRS, PER_CHAIR_PER_DAY, NURSES, PATIENTS = 20, 6, 8, 240
VISIT = timedelta(minutes=90)


def build() -> dict[str, Any]:
    from django.db import transaction

    from ketaflow.scheduling.defaults import ensure_appointment_types
    from ketaflow.scheduling.models import (
        SLOT_MINUTES,
        Appointment,
        AppointmentStaff,
        AppointmentType,
        Occupancy,
    )

    with transaction.atomic():
        org = make_organization("Bench Week Practice")
        ensure_appointment_types(org.pk)
        kind = AppointmentType.objects.get(organization=org, key="iv")
        clinic, chairs = make_clinic(org, "Bench Week Clinic", CHAIRS)
        desk = make_staff(org, clinic, "desk", "front_desk", hours=False)
        nurses = [make_staff(org, clinic, f"nurse{n:02d}", "nurse") for n in range(NURSES)]
        make_staff(org, clinic, "prescriber", "prescriber")
        patients = make_patients(org, clinic, "W", PATIENTS)
        monday = next_monday()
        zone = ZoneInfo(clinic.timezone)
        appointments, nurse_of = [], []
        for d in WEEKDAYS:
            for c, chair in enumerate(chairs):
                for k in range(PER_CHAIR_PER_DAY):
                    starts = datetime.combine(monday + timedelta(days=d), OPEN, tzinfo=zone) + k * VISIT
                    n = len(appointments)
                    appointments.append(
                        Appointment(
                            organization=org,
                            patient=patients[n % PATIENTS],
                            clinic=clinic,
                            appointment_type=kind,
                            starts_at=starts,
                            ends_at=starts + VISIT,
                            room=chair,
                            phase="induction",
                        )
                    )
                    nurse_of.append(nurses[c % NURSES])
        Appointment.objects.bulk_create(appointments, batch_size=200)
        AppointmentStaff.objects.bulk_create(
            (
                AppointmentStaff(organization=org, appointment=a, staff=s, role="nurse")
                for a, s in zip(appointments, nurse_of, strict=True)
            ),
            batch_size=500,
        )
        claims = []
        for a in appointments:
            moment = a.starts_at
            while moment < a.ends_at:
                claims.append(Occupancy(organization=org, appointment=a, room=a.room, slot=moment))
                moment += timedelta(minutes=SLOT_MINUTES)
        Occupancy.objects.bulk_create(claims, batch_size=500)
    return {"user": desk.user, "clinic": clinic.pk, "monday": monday, "appointments": len(appointments)}


def measure(client: Any, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return elapsed * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def statements(client: Any, url: str) -> int:
    from django.db import connection

    seen = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    return seen[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--profile", action="store_true", help="print cProfile top entries of the week page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args.postgres_url or None, data_dir)
        setup = build()
        from django.test import Client
        from django.urls import reverse

        client = Client()
        client.force_login(setup["user"])
        query = f"?clinic={setup['clinic']}&date="
        pages = {
            f"week ({setup['appointments']} appointments, 20 chairs)": reverse("scheduling:week")
            + query
            + setup["monday"].isoformat(),
            f"day (Wednesday, {CHAIRS * PER_CHAIR_PER_DAY} appointments)": reverse("scheduling:day")
            + query
            + (setup["monday"] + timedelta(days=2)).isoformat(),
            "baseline: patients list": "/patients/",
        }
        for url in pages.values():
            for _ in range(5):
                measure(client, url)
        counts = {name: statements(client, url) for name, url in pages.items()}
        timings: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            for name, url in pages.items():
                timings[name].append(measure(client, url))
        report = ""
        if args.profile:
            profile = cProfile.Profile()
            week_url = next(iter(pages.values()))
            profile.runcall(lambda: [client.get(week_url) for _ in range(20)])
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
            report = out.getvalue()
    base_p95 = percentile(timings["baseline: patients list"], 0.95)
    rows = []
    for name, values in timings.items():
        p95 = percentile(values, 0.95)
        rows.append(
            {
                "page": name,
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": round(p95, 1),
                "p95_vs_baseline": round(p95 / base_p95, 2),
                "queries": counts[name],
            }
        )
    print("| page | p50 ms | p95 ms | p95 / patients list | SQL statements |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['page']} | {row['p50_ms']} | {row['p95_ms']} | "
            f"{row['p95_vs_baseline']}x | {row['queries']} |"
        )
    if report:
        print(report)
    RESULTS.mkdir(exist_ok=True)
    backend = "postgresql" if args.postgres_url else "sqlite"
    out = RESULTS / f"week_calendar-{backend}-{int(time.time())}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "backend": backend,
                "rounds": args.rounds,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
