"""Benchmark: FHIR bulk export of stored Observations to NDJSON, against a raw SELECT written to a file.

Set-up (not timed): a fresh kf_bench* PostgreSQL database (or, with `--sqlite`, a SQLite file),
migrated; one organization with a clinic holding N heart-rate Observations (LOINC 8867-4) over
10,000 patients, in the shape ketaflow's vitals mapper builds (checked byte for byte against it:
vital-signs category, code, subject, effectiveDateTime, performer, valueQuantity, and the meta the
projection adds; about 780 bytes each), and a second organization with N/10 for the memory check.
The rows are written with COPY (PostgreSQL, secondary indexes rebuilt afterwards) or executemany
(SQLite) into `fhir_storedresource` with the digest, patient_ref and date columns the projection
would store (checked against `ketaflow.fhir.index` on a sample); ResourceToken rows are not needed
for export.

Measured on the same rows, in the same run, rounds alternating the order of (a) and (b):

- (a) ceiling: `SELECT body ... ORDER BY id` through the driver (a psycopg server-side cursor, 2,000
  rows a fetch; sqlite3 `fetchmany` on SQLite), each body and a newline written to a file;
- (b) ketaflow: `ketaflow.fhir.bulk.directory.export_to_directory(org, dir, types=["Observation"])`,
  whose file is checked to be byte-identical to (a)'s;
- (c) orjson: `orjson.dumps` of the same resources as dicts (parsed beforehand, not timed) + write;
- (d) fhir.resources R4B: `Observation.model_validate(d).model_dump_json()` + write, on a sample
  (default 20,000), the per-resource rate extrapolated to N.

Memory: the ketaflow export runs again in child processes (`--child`) for the N/10 and the N
organization; peak RSS is the child's own VmHWM (see `peak_rss_mb` for why not `os.wait4`).

Targets: ketaflow >= 0.5x the ceiling, >= 30x fhir.resources; peak RSS flat and under 300 MB.
Nothing is asserted; a markdown table is printed and the figures written to benchmarks/results/.

    uv run python benchmarks/fhir_export.py                  # PostgreSQL, 1,000,000 rows
    uv run python benchmarks/fhir_export.py --rows 100000 --sqlite
    uv run python benchmarks/fhir_export.py --rows 100000 --profile
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kf_bench_fhir_export"
FETCH = 2000
PATIENTS = 10_000
COLUMNS = (
    "organization_id",
    "resource_type",
    "resource_id",
    "version_id",
    "last_updated",
    "source",
    "patient_ref",
    "date_start",
    "date_end",
    "digest",
    "body",
)
CEILING_SQL = (
    "SELECT body FROM fhir_storedresource WHERE organization_id = {mark} "
    "AND resource_type = 'Observation' ORDER BY id"
)


# --- databases -------------------------------------------------------------------------------------


def bench_name(url: str) -> str:
    name = url.rsplit("/", 1)[-1]
    if not name.startswith("kf_bench"):
        sys.exit(f"refusing database {name!r}: the benchmark's database name must start with kf_bench")
    return name


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    """Drop the kf_bench* database (and create it again unless `drop_only`)."""
    import psycopg

    name = bench_name(url)
    with psycopg.connect(f"{url.rsplit('/', 1)[0]}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            admin.execute(f'CREATE DATABASE "{name}"')


def configure(database_url: str, data_dir: str, *, migrate: bool = True) -> None:
    """Django against `database_url` (the settings read DATABASE_URL at import), migrated."""
    os.environ.update(
        KETAFLOW_MODE="development",
        KETAFLOW_DATA_DIR=data_dir,
        KETAFLOW_LOG_LEVEL="WARNING",
        KETAFLOW_EMAIL_URL="memory:",
        DJANGO_SETTINGS_MODULE="ketaflow.config.settings",
        DATABASE_URL=database_url,
    )
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def backend_label() -> str:
    from django.db import connections

    connection: Any = connections["default"]
    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    return f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"


def new_organization(name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """An organization (through the clinics service, with its audit chain) and one clinic."""
    from ketaflow.clinics.models import Clinic
    from ketaflow.clinics.services import create_organization

    org = create_organization(name)
    clinic = Clinic.objects.create(organization=org, name=f"{name} clinic", timezone="America/Chicago")
    return org.pk, clinic.pk


# --- resources -------------------------------------------------------------------------------------


class Vitals:
    """Vital-sign Observations exactly as ketaflow's mapper (`fhir.mapping.vitals`) builds them: one
    template per reading from the real mapper, then the id, subject, time, performer and value varied
    per resource (calling the mapper on a model instance per resource would make the set-up of a
    million rows take minutes). `check` compares variants with the real mapper's output."""

    def __init__(self) -> None:
        self.templates = {body["id"][37:]: body for body in self._mapped(uuid.uuid4(), "", FULL_SET)}

    @staticmethod
    def _mapped(
        vitals_id: uuid.UUID,
        patient: str,
        readings: dict[str, Any],
        performer: str = "",
        moment: datetime | None = None,
    ) -> list[dict[str, Any]]:
        from ketaflow.accounts.models import StaffMember, User
        from ketaflow.fhir.mapping.vitals import vital_signs
        from ketaflow.patients.models import VitalSigns

        user = User(pk=1, username="bench")
        user.staff = StaffMember(pk=uuid.UUID(performer) if performer else uuid.uuid4(), user=user)
        row = VitalSigns(
            id=vitals_id,
            patient_id=uuid.UUID(patient) if patient else uuid.uuid4(),
            measured_at=moment or datetime.now(UTC),
            recorded_by=user,
            **readings,
        )
        return list(vital_signs(row))

    def observation(
        self,
        key: str,
        vitals_id: uuid.UUID,
        patient: str,
        performer: str,
        moment: datetime,
        readings: dict[str, Any],
    ) -> dict[str, Any]:
        from ketaflow.fhir.values import instant, number

        template = self.templates[key]
        body = {
            **template,
            "id": f"{vitals_id}-{key}",
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": instant(moment),
            "performer": [{"reference": f"Practitioner/{performer}"}],
        }
        if key == "bp":
            values = (readings["systolic_bp"], readings["diastolic_bp"])
            body["component"] = [
                {**part, "valueQuantity": {**part["valueQuantity"], "value": value}}
                for part, value in zip(template["component"], values, strict=True)
            ]
        else:
            value = readings[READINGS[key]]
            body["valueQuantity"] = {**template["valueQuantity"], "value": number(value)}
        return body

    def check(self, rng: random.Random) -> None:
        """Every reading kind, varied, is byte for byte what the real mapper builds from a row."""
        from ketaflow.fhir.projection import dumps

        for _ in range(20):
            vitals_id, patient, performer = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
            moment = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10**7))
            readings = random_readings(rng)
            for real in self._mapped(vitals_id, patient, readings, performer, moment):
                key = real["id"][37:]
                mine = self.observation(key, vitals_id, patient, performer, moment, readings)
                if dumps(mine) != dumps(real):
                    sys.exit(f"the benchmark's {key} Observation differs from the mapper's:\n{mine}\n{real}")


# Observation key -> the VitalSigns field it reads (bp reads systolic_bp and diastolic_bp).
READINGS = {
    "heart-rate": "heart_rate",
    "respiratory-rate": "respiratory_rate",
    "oxygen-saturation": "oxygen_saturation",
    "temperature": "temperature_c",
    "weight": "weight_kg",
}
FULL_SET = {
    "systolic_bp": 120,
    "diastolic_bp": 80,
    "heart_rate": 72,
    "respiratory_rate": 14,
    "oxygen_saturation": 97,
    "temperature_c": Decimal("36.8"),
    "weight_kg": Decimal("71.5"),
}


def random_readings(rng: random.Random) -> dict[str, Any]:
    """One plausible set of readings, typed as the VitalSigns fields are."""
    systolic = rng.randint(95, 165)
    return {
        "systolic_bp": systolic,
        "diastolic_bp": systolic - rng.randint(30, 50),
        "heart_rate": rng.randint(52, 118),
        "respiratory_rate": rng.randint(10, 22),
        "oxygen_saturation": rng.randint(91, 100),
        "temperature_c": Decimal(rng.randint(360, 381)) / 10,
        "weight_kg": Decimal(rng.randint(480, 1300)) / 10,
    }


def stored_columns(
    body: dict[str, Any], patient: str, moment: datetime, now: datetime, source: str
) -> tuple[Any, ...]:
    """The stored columns after organization_id (see COLUMNS), as `projection.store` writes them."""
    from ketaflow.fhir.projection import dumps, with_meta

    digest = hashlib.sha1(dumps(body), usedforsecurity=False).hexdigest()
    text = dumps(with_meta(body, 1, now)).decode()
    end = moment + timedelta(seconds=1) - timedelta(microseconds=1)
    return (body["resourceType"], body["id"], 1, now, source, patient, moment, end, digest, text)


def export_rows(count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """`count` heart-rate Observations over PATIENTS patients, one reading a minute or so apart."""
    rng = random.Random(seed)
    vitals = Vitals()
    vitals.check(rng)
    patients = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(PATIENTS)]
    staff = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    for n in range(count):
        vitals_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        moment = start + timedelta(seconds=n * 60 + rng.randint(0, 59))
        patient = patients[n % PATIENTS]
        readings = {"heart_rate": rng.randint(52, 118)}
        body = vitals.observation("heart-rate", vitals_id, patient, staff[n % 20], moment, readings)
        yield stored_columns(body, patient, moment, now, f"patients.VitalSigns:{vitals_id}")


def check_against_index(rows: list[tuple[Any, ...]]) -> None:
    """The stored columns agree with what `ketaflow.fhir.index` derives from the body."""
    import orjson

    from ketaflow.fhir.index import index

    for row in rows:
        found = index(orjson.loads(row[-1]))
        if (found.patient_ref, found.date_start, found.date_end) != (row[5], row[6], row[7]):
            sys.exit(f"the stored columns disagree with the index: {found} vs {row[5:8]}")


def insert_rows(org_id: uuid.UUID, rows: Iterator[tuple[Any, ...]]) -> int:
    """Write the rows for `org_id` (COPY on PostgreSQL, executemany on SQLite); returns the count."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    count = 0
    if connection.vendor == "postgresql":
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY fhir_storedresource ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((org_id, *row))
                count += 1
        raw.commit()
        return count
    sql = f"INSERT INTO fhir_storedresource ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
        kind, rid, version, updated, source, patient, start, end, digest, body = row
        return (
            org_id.hex,
            kind,
            rid,
            version,
            _naive(updated),
            source,
            patient,
            _naive(start),
            _naive(end),
            digest,
            body,
        )

    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(sqlite_row(row))
        if len(batch) == 10_000:
            count += _sqlite_batch(raw, sql, batch)
    return count + _sqlite_batch(raw, sql, batch)


def _naive(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def _sqlite_batch(raw: Any, sql: str, batch: list[tuple[Any, ...]]) -> int:
    raw.executemany(sql, batch)
    raw.commit()
    done = len(batch)
    batch.clear()
    return done


@contextmanager
def indexes_deferred(raw: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """For a bulk load on PostgreSQL: drop the secondary indexes and unique constraints of `tables`
    and build them again afterwards from their own definitions (much faster than maintaining them
    row by row; the primary keys stay)."""
    restore: list[str] = []
    for table in tables:
        for name, definition in raw.execute(INDEXES, (table,)).fetchall():
            raw.execute(f'DROP INDEX "{name}"')
            restore.append(definition)
        for name, definition in raw.execute(UNIQUES, (table,)).fetchall():
            raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    raw.commit()
    yield
    raw.execute("SET maintenance_work_mem = '256MB'")
    for statement in restore:
        raw.execute(statement)
    raw.commit()


INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
    "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
)
UNIQUES = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = %s::regclass AND contype = 'u'"
)


def vacuum() -> None:
    """Hint bits, visibility map and statistics settled before anything is timed."""
    from django.db import connection

    if connection.vendor == "postgresql":
        raw = connection.connection
        was = raw.autocommit
        raw.autocommit = True
        raw.execute("VACUUM (ANALYZE) fhir_storedresource")
        raw.autocommit = was
    else:
        connection.connection.execute("ANALYZE")


# --- the measured paths ----------------------------------------------------------------------------


def ceiling(database: str, org_id: uuid.UUID, path: Path) -> tuple[int, float, float]:
    """(a) The bare driver: rows, wall s, CPU s."""
    if database.startswith("postgres"):
        import psycopg

        conn = psycopg.connect(database)
        wall, cpu = time.perf_counter(), time.process_time()
        count = 0
        with (
            conn.cursor(name="ceiling") as cursor,
            path.open("w", encoding="utf-8", buffering=1 << 20) as out,
        ):
            cursor.itersize = FETCH
            cursor.execute(CEILING_SQL.format(mark="%s"), (org_id,))
            for (body,) in cursor:
                out.write(body)
                out.write("\n")
                count += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        conn.close()
        return count, wall, cpu
    import sqlite3

    lite = sqlite3.connect(database.removeprefix("sqlite:///"))
    wall, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        found = lite.execute(CEILING_SQL.format(mark="?"), (org_id.hex,))
        while batch := found.fetchmany(FETCH):
            for (body,) in batch:
                out.write(body)
                out.write("\n")
            count += len(batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lite.close()
    return count, wall, cpu


def ketaflow_export(org_id: uuid.UUID, out_dir: Path) -> tuple[int, float, float]:
    """(b) The real export function: rows, wall s, CPU s."""
    try:
        from ketaflow.fhir.bulk import export_to_directory  # type: ignore[attr-defined]
    except ImportError:
        from ketaflow.fhir.bulk.directory import export_to_directory

    wall, cpu = time.perf_counter(), time.process_time()
    files = export_to_directory(org_id, out_dir, types=["Observation"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return sum(f.count for f in files), wall, cpu


def parsed_chunks(ndjson: Path, size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
    import orjson

    with ndjson.open("rb") as lines:
        chunk: list[dict[str, Any]] = []
        for line in lines:
            chunk.append(orjson.loads(line))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def orjson_dump(ndjson: Path, out: Path) -> tuple[int, float, float]:
    """(c) orjson.dumps + write of every resource, parsed into dicts beforehand (not timed)."""
    import orjson

    count, wall, cpu = 0, 0.0, 0.0
    with out.open("wb", buffering=1 << 20) as sink:
        for chunk in parsed_chunks(ndjson):
            w, c = time.perf_counter(), time.process_time()
            for resource in chunk:
                sink.write(orjson.dumps(resource))
                sink.write(b"\n")
            wall, cpu = wall + time.perf_counter() - w, cpu + time.process_time() - c
            count += len(chunk)
    return count, wall, cpu


def pydantic_dump(ndjson: Path, out: Path, sample: int) -> tuple[int, float, float]:
    """(d) fhir.resources R4B validate + serialise + write of the first `sample` resources."""
    from fhir.resources.R4B.observation import Observation

    dicts = next(parsed_chunks(ndjson, sample))
    with out.open("w", encoding="utf-8", buffering=1 << 20) as sink:
        wall, cpu = time.perf_counter(), time.process_time()
        for resource in dicts:
            sink.write(Observation.model_validate(resource).model_dump_json())
            sink.write("\n")
        return len(dicts), time.perf_counter() - wall, time.process_time() - cpu


# --- memory: the export in a child process -----------------------------------------------------------


def child(database: str, org_id: str, out_dir: str) -> None:
    """Run one export and print its figures as JSON: wall and CPU seconds, and the process's own
    peak resident set (VmHWM) after start-up and after the export."""
    with tempfile.TemporaryDirectory() as data_dir:
        configure(database, data_dir, migrate=False)
        from django.db import connection

        connection.ensure_connection()
        started = peak_rss_mb()
        count, wall, cpu = ketaflow_export(uuid.UUID(org_id), Path(out_dir))
    figures = {
        "rows": count,
        "wall": wall,
        "cpu": cpu,
        "rss_started_mb": started,
        "rss_peak_mb": peak_rss_mb(),
    }
    print(json.dumps(figures))


def peak_rss_mb() -> float:
    """This process image's peak resident set (Linux VmHWM). `ru_maxrss` from wait4 is not used for
    the table: across exec it keeps the high-water mark of the parent's memory the child was
    spawned from (vfork), so it reports the parent's size, not the export's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(database: str, org_id: uuid.UUID, out_dir: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", database, str(org_id), str(out_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=os.environ.copy())
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"the export child failed: {output[-2000:]!r}")
    figures = json.loads(output.decode().strip().splitlines()[-1])
    return {**figures, "wait4_maxrss_mb": usage.ru_maxrss / 1024}


# --- the run -----------------------------------------------------------------------------------------

LABELS = {
    "ceiling": "(a) ceiling: driver SELECT body (server-side cursor; fetchmany on SQLite) + write",
    "ketaflow": "(b) ketaflow export_to_directory",
    "orjson": "(c) orjson.dumps of the parsed dicts + write",
    "pydantic": "(d) fhir.resources R4B validate + model_dump_json + write",
}


def load(rows: int) -> dict[str, Any]:
    """Both organizations' rows written and settled; returns their ids and the set-up figures."""
    started = time.perf_counter()
    large, _ = new_organization("Bench export large")
    small, _ = new_organization("Bench export small")
    sample = list(export_rows(200, seed=7))
    check_against_index(sample)
    from django.db import connection

    connection.ensure_connection()
    deferred = indexes_deferred if connection.vendor == "postgresql" else lambda *_: nullcontext()
    with deferred(connection.connection, ("fhir_storedresource",)):
        written = insert_rows(large, export_rows(rows, seed=1))
        written_small = insert_rows(small, export_rows(max(rows // 10, 1), seed=2))
    vacuum()
    body_bytes = statistics.mean(len(row[-1].encode()) for row in sample)
    return {
        "large": large,
        "small": small,
        "rows": written,
        "small_rows": written_small,
        "setup_s": time.perf_counter() - started,
        "mean_body_bytes": body_bytes,
    }


def same_bytes(a: Path, b: Path) -> bool:
    def digest(path: Path) -> str:
        sha = hashlib.sha256()
        with path.open("rb") as data:
            while block := data.read(1 << 20):
                sha.update(block)
        return sha.hexdigest()

    return digest(a) == digest(b)


def measure(database: str, setup: dict[str, Any], work: Path, repeats: int, sample: int) -> dict[str, Any]:
    """Interleaved rounds; per round the figures of each path and the ratios within the round."""
    org = setup["large"]
    ceiling(database, org, work / "warm.ndjson")  # warm the caches, not timed
    runs: dict[str, list[tuple[int, float, float]]] = {name: [] for name in LABELS}
    identical = None
    for n in range(repeats):
        order = ("ceiling", "ketaflow") if n % 2 == 0 else ("ketaflow", "ceiling")
        for name in order:
            if name == "ceiling":
                runs[name].append(ceiling(database, org, work / "ceiling.ndjson"))
            else:
                out = work / f"ketaflow-{n}"
                runs[name].append(ketaflow_export(org, out))
                if identical is None:
                    identical = same_bytes(out / "Observation.ndjson", work / "ceiling.ndjson")
                for f in out.iterdir():
                    f.unlink()
        runs["orjson"].append(orjson_dump(work / "ceiling.ndjson", work / "orjson.ndjson"))
        runs["pydantic"].append(pydantic_dump(work / "ceiling.ndjson", work / "pydantic.ndjson", sample))
        print(
            f"round {n + 1}: " + ", ".join(f"{k} {v[-1][0] / v[-1][1]:,.0f}/s" for k, v in runs.items()),
            file=sys.stderr,
        )
    for name, figures in runs.items():
        expected = sample if name == "pydantic" else setup["rows"]
        if any(count != min(expected, setup["rows"]) for count, _, _ in figures):
            sys.exit(f"{name} wrote {[f[0] for f in figures]} rows, expected {expected}")
    return {"runs": runs, "identical": identical}


def summarise(runs: dict[str, list[tuple[int, float, float]]]) -> dict[str, Any]:
    rates = {k: [c / w for c, w, _ in v] for k, v in runs.items()}
    cpu = {k: [c / p for c, _, p in v] for k, v in runs.items()}
    ratio = {
        base: statistics.median(k / b for k, b in zip(rates["ketaflow"], rates[base], strict=True))
        for base in LABELS
    }
    return {
        "rows_per_s": {k: statistics.median(v) for k, v in rates.items()},
        "rows_per_cpu_s": {k: statistics.median(v) for k, v in cpu.items()},
        "all_rows_per_s": rates,
        "ketaflow_over": ratio,
    }


def report(
    label: str,
    setup: dict[str, Any],
    summary: dict[str, Any],
    memory: list[dict[str, Any]],
    sample: int,
    repeats: int,
) -> None:
    rows = setup["rows"]
    print(
        f"\n{label}: {rows:,} Observations (mean body {setup['mean_body_bytes']:.0f} bytes), "
        f"{repeats} rounds, set-up {setup['setup_s']:.0f} s; load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| path | rows/s (wall, median) | rows/s (client CPU) | s for all rows | ketaflow ÷ this |")
    print("|---|---:|---:|---:|---:|")
    for name, text in LABELS.items():
        rate = summary["rows_per_s"][name]
        note = f" (sample of {sample:,}, extrapolated)" if name == "pydantic" else ""
        print(
            f"| {text}{note} | {rate:,.0f} | {summary['rows_per_cpu_s'][name]:,.0f} | {rows / rate:.1f} "
            f"| {summary['ketaflow_over'][name]:.2f} |"
        )
    print(
        "\n| export in a child process | rows | wall s | rows/s | peak RSS after start-up MB | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for run in memory:
        print(
            f"| {run['name']} | {run['rows']:,} | {run['wall']:.1f} | {run['rows'] / run['wall']:,.0f} "
            f"| {run['rss_started_mb']:.0f} | {run['rss_peak_mb']:.0f} |"
        )
    print("\nTargets: ketaflow ÷ ceiling >= 0.5; ketaflow ÷ fhir.resources >= 30; peak RSS flat, < 300 MB.")


def profile_export(org: uuid.UUID, work: Path) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    ketaflow_export(org, work / "profiled")
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    print(text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=os.environ.get("KETAFLOW_BENCH_PG_URL", DEFAULT_URL))
    parser.add_argument("--sqlite", action="store_true", help="run on a temporary SQLite file instead")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--sample", type=int, default=20_000, help="resources through fhir.resources")
    parser.add_argument("--profile", action="store_true", help="cProfile one more ketaflow export")
    parser.add_argument("--child", nargs=3, metavar=("DATABASE", "ORG", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="kf_bench_export_") as tmp:
        work = Path(tmp)
        database = f"sqlite:///{work / 'bench.sqlite3'}" if args.sqlite else args.postgres_url
        if not args.sqlite:
            recreate_database(database)
        try:
            configure(database, str(work / "data"))
            label = backend_label()
            setup = load(args.rows)
            print(
                f"set-up: {setup['rows']:,} + {setup['small_rows']:,} rows in {setup['setup_s']:.0f} s",
                file=sys.stderr,
            )
            measured = measure(database, setup, work, args.repeats, args.sample)
            memory = [
                {"name": f"{org} organization", **run_child(database, setup[org], work / f"child-{org}")}
                for org in ("small", "large")
            ]
            if args.profile:
                profile_export(setup["large"], work)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.sqlite:
                recreate_database(database, drop_only=True)
    summary = summarise(measured["runs"])
    report(label, setup, summary, memory, args.sample, args.repeats)
    print(f"ketaflow's file is byte-identical to the ceiling's: {measured['identical']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"fhir_export-{'sqlite' if args.sqlite else 'postgresql'}-{int(time.time())}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "backend": label,
                "load_average": os.getloadavg(),
                "setup": {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in setup.items()},
                "sample": args.sample,
                "repeats": args.repeats,
                "identical_output": measured["identical"],
                "summary": summary,
                "memory": memory,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
