"""Benchmark: vital-sign readings per second through the monitor-feed API, against a bare insert.

One IV session of the demo practice is brought to dosing through the real services. A monitor then
posts batches of readings (500 each, the API's limit) to `POST /api/v1/sessions/{id}/vitals/batch`
with the nurse's bearer token, in-process through Django's test client: authentication, the strict
request schema, every reading checked for plausibility, phase and alerts worked out against the
session's protocol limits (two readings a batch cross a limit), VitalSigns + SessionVitals +
VitalAlert rows written with `bulk_create`, a prescriber notification and one audit event per
reading and per alert, in one transaction; then the JSON answer. Between batches the open alerts
are answered (not timed), so every batch raises new ones.

Baselines measured in the same run, batch by batch in turn with the API:

- ORM bulk insert: the same VitalSigns rows (the same values) with `VitalSigns.objects.bulk_create`
  in one transaction per batch: no validation, no links, no alerts, no audit, no HTTP;
- driver insert: the same rows with the driver's `executemany` (sqlite3 / psycopg) into the
  vital-signs table, one transaction per batch.

Targets (issue 6): at least 0.25x the bare insert and at least 2,800 readings/s per core. The
process runs on one core (the API work is single-threaded); rates are given in wall-clock time and
in the process's CPU time (which, on PostgreSQL, leaves out the server's share). Nothing is
asserted; the figures are printed and written to benchmarks/results/. `--profile` prints the top
cProfile entries of the API batches.

    uv run python benchmarks/vitals_ingest.py
    uv run python benchmarks/vitals_ingest.py --postgres-url postgres://postgres@127.0.0.1:5432/kf_bench_vitals
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from session_setup import NORMAL, Setup, backend_version, configure, dosing_session

RESULTS = Path(__file__).parent / "results"
BATCH = 500
API = "API batch endpoint (validation, alerts, audit)"
ORM = "baseline: ORM bulk_create of the same VitalSigns rows"
DRIVER = "baseline: driver executemany of the same rows"
PATHS = (API, ORM, DRIVER)


def readings(batch: int, start: datetime) -> list[dict[str, Any]]:
    """One batch of monitor readings a second apart; two of them cross the IV limits."""
    rows = []
    for i in range(BATCH):
        values = dict(NORMAL)
        values["heart_rate"] = 68 + (i * 7) % 15
        values["systolic_bp"] = 118 + (i * 11) % 20
        if i == 100:
            values["systolic_bp"] = 186  # above 180
        if i == 300:
            values["oxygen_saturation"] = 90  # below 92
        values["temperature_c"] = 36.6
        rows.append(
            {**values, "measured_at": (start + timedelta(seconds=i)).isoformat(), "device": f"Bench {batch}"}
        )
    return rows


def vitals_rows(setup: Setup, batch: list[dict[str, Any]]) -> list[Any]:
    from decimal import Decimal

    from django.utils.dateparse import parse_datetime

    from ketaflow.patients.models import VitalSigns

    s = setup.session
    return [
        VitalSigns(
            organization_id=s.organization_id,
            patient_id=s.patient_id,
            recorded_by_id=setup.nurse.user_id,
            measured_at=parse_datetime(r["measured_at"]),
            context=VitalSigns.Context.SESSION,
            systolic_bp=r["systolic_bp"],
            diastolic_bp=r["diastolic_bp"],
            heart_rate=r["heart_rate"],
            respiratory_rate=r["respiratory_rate"],
            oxygen_saturation=r["oxygen_saturation"],
            temperature_c=Decimal(str(r["temperature_c"])),
        )
        for r in batch
    ]


def orm_insert(setup: Setup, batch: list[dict[str, Any]]) -> tuple[float, float]:
    """The same rows through the ORM's bulk insert; (wall, CPU) seconds."""
    from django.db import transaction

    from ketaflow.patients.models import VitalSigns

    wall, cpu = time.perf_counter(), time.process_time()
    rows = vitals_rows(setup, batch)
    with transaction.atomic():
        VitalSigns.objects.bulk_create(rows, batch_size=BATCH)
    return time.perf_counter() - wall, time.process_time() - cpu


def driver_insert(setup: Setup, batch: list[dict[str, Any]]) -> tuple[float, float]:
    """The same rows with the driver's executemany into the vital-signs table; (wall, CPU) seconds."""
    from django.db import connection, transaction

    from ketaflow.patients.models import VitalSigns

    s = setup.session
    table = VitalSigns._meta.db_table
    columns = (
        "id, organization_id, patient_id, recorded_at, recorded_by_id, measured_at, context, systolic_bp, "
        "diastolic_bp, heart_rate, respiratory_rate, oxygen_saturation, temperature_c"
    )
    sqlite = connection.vendor == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * 13)})"
    wall, cpu = time.perf_counter(), time.process_time()

    def moment(value: datetime) -> Any:  # as Django writes it: UTC text on SQLite
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if sqlite else value

    def key(value: uuid.UUID) -> Any:
        return value.hex if sqlite else value

    now = datetime.now(UTC)
    org, patient = key(s.organization_id), key(s.patient_id)
    values = [
        (
            key(uuid.uuid4()),
            org,
            patient,
            moment(now),
            setup.nurse.user_id,
            moment(datetime.fromisoformat(r["measured_at"])),
            "session",
            r["systolic_bp"],
            r["diastolic_bp"],
            r["heart_rate"],
            r["respiratory_rate"],
            r["oxygen_saturation"],
            str(r["temperature_c"]),
        )
        for r in batch
    ]
    with transaction.atomic():
        raw = connection.connection
        cursor = raw.cursor()
        cursor.executemany(sql, values)
        cursor.close()
    return time.perf_counter() - wall, time.process_time() - cpu


def api_batch(client: Any, url: str, batch: list[dict[str, Any]]) -> tuple[float, float]:
    """Post one batch; (wall seconds, process CPU seconds)."""
    body = json.dumps({"readings": batch})
    wall, cpu = time.perf_counter(), time.process_time()
    response = client.post(url, data=body, content_type="application/json")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if response.status_code != 201:
        sys.exit(f"the batch endpoint answered {response.status_code}: {response.content[:300]!r}")
    if response.json()["stored"] != len(batch):
        sys.exit("the batch endpoint stored fewer readings than sent")
    return wall, cpu


def answer_alerts(setup: Setup) -> int:
    from ketaflow.sessions.models import VitalAlert
    from ketaflow.sessions.vitals import respond_to_alert

    open_ids = list(
        VitalAlert.objects.filter(session=setup.session, responded_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    for pk in open_ids:
        respond_to_alert(setup.nurse, pk, response="call_prescriber", note="Benchmark: observed")
    return len(open_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="timed batches of 500 readings each")
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args.postgres_url or None, data_dir)
        from django.db import connection
        from django.test import Client

        from ketaflow.audit.models import AuditEvent
        from ketaflow.sessions.models import SessionVitals

        setup = dosing_session()
        client = Client(headers={"Authorization": f"Bearer {setup.token}"})
        url = f"/api/v1/sessions/{setup.session.pk}/vitals/batch"
        origin = datetime.now().astimezone() - timedelta(hours=args.batches + 2)
        for warm in range(2):  # warm-up: imports, caches, the first statements
            api_batch(client, url, readings(-warm, origin - timedelta(hours=warm + 1)))
            orm_insert(setup, readings(-warm, origin - timedelta(hours=warm + 1)))
            driver_insert(setup, readings(-warm, origin - timedelta(hours=warm + 1)))
            answer_alerts(setup)
        audit_before = AuditEvent.objects.count()
        links_before = SessionVitals.objects.filter(session=setup.session).count()
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
        alerts = 0
        profiler = cProfile.Profile() if args.profile else None
        for n in range(args.batches):
            batch = readings(n, origin + timedelta(hours=n))
            if profiler:
                profiler.enable()
            timings[API].append(api_batch(client, url, batch))
            if profiler:
                profiler.disable()
            timings[ORM].append(orm_insert(setup, batch))
            timings[DRIVER].append(driver_insert(setup, batch))
            alerts += answer_alerts(setup)
        stored = SessionVitals.objects.filter(session=setup.session).count() - links_before
        audited = AuditEvent.objects.count() - audit_before
        version = backend_version(connection)
        backend = f"{connection.vendor} {version}"
    total = args.batches * BATCH
    rows = []
    for name, pairs in timings.items():
        wall, cpu = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        rows.append(
            {
                "path": name,
                "wall_rate": total / wall,
                "cpu_rate": total / cpu,
                "median_ms": statistics.median(p[0] for p in pairs) * 1000,
            }
        )
    for row in rows:
        for key, base in (("orm", rows[1]), ("driver", rows[2])):
            row[f"x_{key}_wall"] = row["wall_rate"] / base["wall_rate"]
            row[f"x_{key}_cpu"] = row["cpu_rate"] / base["cpu_rate"]
    print(
        f"\n{backend}: {args.batches} batches of {BATCH} readings ({total} readings), "
        f"{stored} stored through the API, {alerts} alerts raised, {audited} audit events\n"
    )
    print(
        "| path | readings/s (wall) | readings/s (CPU) | ms per batch (median, wall) "
        "| x ORM insert (wall / CPU) | x driver insert (wall / CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['path']} | {row['wall_rate']:,.0f} | {row['cpu_rate']:,.0f} | {row['median_ms']:.1f} "
            f"| {row['x_orm_wall']:.2f} / {row['x_orm_cpu']:.2f} "
            f"| {row['x_driver_wall']:.2f} / {row['x_driver_cpu']:.2f} |"
        )
    print("\nTargets: at least 0.25x the bare insert; at least 2,800 readings/s per core (CPU column).")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(25)
        stats.print_stats("ketaflow|bulk_create|hashlib|json", 30)
        print(out.getvalue())
    RESULTS.mkdir(exist_ok=True)
    name = "postgresql" if args.postgres_url else "sqlite"
    out_file = RESULTS / f"vitals_ingest-{name}-{int(time.time())}.json"
    out_file.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "backend": backend,
                "batches": args.batches,
                "batch_size": BATCH,
                "stored": stored,
                "alerts": alerts,
                "audit_events": audited,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out_file}")


if __name__ == "__main__":
    main()
