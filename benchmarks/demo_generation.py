"""Benchmark: `ketaflow demo --reset --patients N` on SQLite and PostgreSQL, against baselines.

Each backend runs the real command in a subprocess (its wall time and peak RSS measured with
`os.wait4`), once with 0 patients (start-up, migrations, clinics and staff: the fixed cost) and
once with N. Two baselines are measured in the same run, on the same machine:

- raw insert: every row the demo wrote (patients, conditions, allergies, alerts, audit events, and
  the measurement rows: plans, treatments, responses, scores, safety alerts, notifications, due),
  read back and inserted again with the driver's own `executemany` (sqlite3 / psycopg) into tables
  of the same columns and indexes, one transaction per 2,000 rows: the floor for writing that many
  rows of that width, with no ORM, no validation and no hashing;
- generation: producing the same N synthetic patients in memory, writing nothing.

Performance is reported as ratios to these baselines, never asserted. Usage:

    uv run python benchmarks/demo_generation.py --patients 100000
    uv run python benchmarks/demo_generation.py --patients 20000 --no-postgres

PostgreSQL is used when reachable at --postgres-url (default
postgres://postgres@127.0.0.1:5432/kf_bench_demo); the benchmark creates that database and drops
it afterwards, and refuses any database name not starting with `kf_bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RESULTS = Path(__file__).parent / "results"
BATCH = 2000
BUDGET_SECONDS, BUDGET_MB = 300, 1024
TABLES = ("patients_patient", "patients_condition", "patients_allergy", "patients_patientalert",
          "audit_auditevent", "measurement_measurementplan", "measurement_treatment",
          "measurement_questionnaireresponse", "measurement_scoreobservation", "measurement_safetyalert",
          "measurement_notification", "measurement_measuredue")


def run_demo(patients: int, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run the CLI once; wall seconds and peak RSS of the process (and any it waited for)."""
    command = [sys.executable, "-m", "ketaflow", "demo", "--reset", "--patients", str(patients),
               "--measured", os.environ.get("KF_BENCH_MEASURED", str(patients))]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"`{' '.join(command[2:])}` failed ({process.returncode}):\n{log.read_text()[-3000:]}")
    return {"patients": patients, "wall_seconds": round(wall, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}


def generation_baseline(patients: int, seed: int) -> float:
    """Seconds to generate `patients` synthetic patients in memory (no database, no Django)."""
    from ketaflow.demo.patients import PatientGenerator
    from ketaflow.demo.pools import build_pools

    started = time.perf_counter()
    generator = PatientGenerator(seed, build_pools(seed), [uuid.uuid4(), uuid.uuid4()], date.today())
    for _ in range(patients):
        next(generator)
    return time.perf_counter() - started


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def sqlite_raw_insert(source: Path, target: Path) -> float:
    """Seconds to insert every row the demo wrote again with sqlite3.executemany (same DDL)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    spent = 0.0
    for table in TABLES:
        # Foreign keys stay unenforced (sqlite3's default): the referenced tables are not copied.
        for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                                  "AND type IN ('table', 'index') ORDER BY type DESC", (table,)):
            dst.execute(sql)
        cursor = src.execute(f"SELECT * FROM {table}")
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(cursor.description))})"
        while rows := cursor.fetchmany(BATCH):
            started = time.perf_counter()
            dst.execute("BEGIN IMMEDIATE")
            dst.executemany(insert, rows)
            dst.execute("COMMIT")
            spent += time.perf_counter() - started
    src.close()
    dst.close()
    return spent


def bench_sqlite(patients: int, work: Path) -> dict[str, Any]:
    data_dir = work / "sqlite"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"KETAFLOW_DATA_DIR": str(data_dir), "KETAFLOW_MODE": "demo"}
    fixed = run_demo(0, env, work / "sqlite-0.log")
    run = run_demo(patients, env, work / "sqlite-n.log")
    db = data_dir / "ketaflow.sqlite3"
    return {"backend": f"SQLite {sqlite3.sqlite_version}", "fixed": fixed, "run": run,
            "rows": sqlite_counts(db), "database_mb": round(db.stat().st_size / 2**20, 1),
            "raw_insert_seconds": round(sqlite_raw_insert(db, work / "baseline.sqlite3"), 2)}


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_postgres(patients: int, url: str, work: Path) -> dict[str, Any] | None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("kf_bench"):
        sys.exit(f"refusing to use database {name!r}: the benchmark's database name starts with kf_bench")
    admin_url = _with_db(url, "postgres")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {admin_url} ({exc}); skipped", file=sys.stderr)
        return None

    def recreate() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')

    env = os.environ | {"DATABASE_URL": url, "KETAFLOW_DATA_DIR": str(work / "pg"),
                        "KETAFLOW_MODE": "demo"}
    try:
        recreate()
        fixed = run_demo(0, env, work / "pg-0.log")
        recreate()
        run = run_demo(patients, env, work / "pg-n.log")
        with psycopg.connect(url) as db:
            rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            version = db.execute("SHOW server_version").fetchone()[0]
            size = db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        raw = postgres_raw_insert(url)
        return {"backend": f"PostgreSQL {version}", "fixed": fixed, "run": run, "rows": rows,
                "database_mb": round(size / 2**20, 1), "raw_insert_seconds": round(raw, 2)}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_raw_insert(url: str) -> float:
    """Seconds to insert every row the demo wrote again with psycopg executemany, into copies of
    its tables (`LIKE ... INCLUDING ALL`: same columns and indexes; no foreign keys or triggers)."""
    import psycopg
    from psycopg.types.json import Jsonb

    spent = 0.0
    with psycopg.connect(url) as src, psycopg.connect(url) as dst:
        for table in TABLES:
            dst.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
            dst.commit()
            with src.cursor(name=f"read_{table}") as cursor:
                cursor.execute(f"SELECT * FROM {table}")
                while batch := cursor.fetchmany(BATCH):
                    rows = [tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row)
                            for row in batch]
                    insert = f"INSERT INTO bench_{table} VALUES ({', '.join(['%s'] * len(rows[0]))})"
                    started = time.perf_counter()
                    with dst.cursor() as out:
                        out.executemany(insert, rows)
                    dst.commit()
                    spent += time.perf_counter() - started
    return spent


def summarise(result: dict[str, Any], generation: float) -> dict[str, Any]:
    run, fixed = result["run"], result["fixed"]
    n = run["patients"]
    variable = max(run["wall_seconds"] - fixed["wall_seconds"], 1e-9)
    total_rows = sum(result["rows"].values())
    return result | {
        "patients_per_second": round(n / run["wall_seconds"]),
        "patients_per_second_after_startup": round(n / variable),
        "rows_per_second": round(total_rows / run["wall_seconds"]),
        "ratio_to_raw_insert": round(variable / max(result["raw_insert_seconds"], 1e-9), 1),
        "ratio_to_generation": round(variable / max(generation, 1e-9), 1),
        "within_budget": run["wall_seconds"] <= BUDGET_SECONDS and run["peak_rss_mb"] <= BUDGET_MB,
    }


def markdown(results: list[dict[str, Any]], generation: float) -> str:
    lines = [
        "| backend | patients | wall s | start-up s | patients/s | all rows/s | peak RSS MB | "
        "raw insert s | x raw insert | x generation | within 300 s / 1 GB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        run = r["run"]
        lines.append(
            f"| {r['backend']} | {run['patients']:,} | {run['wall_seconds']:.1f} | "
            f"{r['fixed']['wall_seconds']:.1f} | {r['patients_per_second']:,} | {r['rows_per_second']:,} | "
            f"{run['peak_rss_mb']:.0f} | {r['raw_insert_seconds']:.1f} | {r['ratio_to_raw_insert']} | "
            f"{r['ratio_to_generation']} | {'yes' if r['within_budget'] else 'NO'} |")
    lines.append(f"\nGeneration only (in memory, no writes): {generation:.1f} s. Ratios use the wall "
                 "time minus the 0-patient start-up run.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--measured", type=int, default=2000,
                        help="patients given a questionnaire history (about 95 rows each)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "KETAFLOW_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/kf_bench_demo"))
    args = parser.parse_args()
    os.environ["KF_BENCH_MEASURED"] = str(min(args.measured, args.patients))
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="kf-bench-demo-") as tmp:
        work = Path(tmp)
        generation = generation_baseline(args.patients, args.seed)
        results.append(bench_sqlite(args.patients, work))
        if not args.no_postgres and (pg := bench_postgres(args.patients, args.postgres_url, work)):
            results.append(pg)
    results = [summarise(r, generation) for r in results]
    report = {
        "benchmark": "demo_generation", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "patients": args.patients, "seed": args.seed, "generation_seconds": round(generation, 2),
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"demo_generation-{args.patients}-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2))
    print(markdown(results, generation))
    print(f"Load average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()} "
          f"on {os.cpu_count()} CPUs.")
    print(f"\nJSON: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main()
