"""Benchmark: FHIR search latency for one patient's Observations at 1k, 10k and 100k patients.

Set-up (not timed): a fresh kf_bench* PostgreSQL database, migrated; one organization with a
prescriber and an API token. The organization grows in steps (1,000, then 10,000, then 100,000
patients by default); each patient gets a Patient resource and 10 vital-sign Observations (4 heart
rate, 2 blood pressure panels, respiratory rate, oxygen saturation, temperature, weight, in four
sets over a year), written with COPY straight into `fhir_storedresource` and `fhir_resourcetoken`. The stored
columns and token rows are those `projection.store` writes: `ketaflow.fhir.index.index(body)` gives
patient_ref, the date range and the tokens (code, category and status for an Observation), the body
is `with_meta(body, 1, now)` and the digest the SHA-1 of the body without meta. After each step the
tables are vacuumed and analysed.

At each size, 500 searches for random patients of

    Observation?patient=<id>&code=http://loinc.org|8867-4&_sort=-date&_count=10

are timed four ways, in turn for each patient (the order rotating) so drift and load hit all alike:

- ketaflow service: `search_bundle(actor, "Observation", params, base_url)`, the query, the count,
  the Bundle assembled from stored JSON and the audited LIST event (one transaction);
- the same with the audit call replaced by a no-op, to show what the audit costs;
- diagnostic: the audited search in a transaction with `synchronous_commit = off`, to show how much
  of the audit's cost is waiting for the commit's WAL flush (the no-audit search writes nothing, so
  its commit does not wait);
- HTTP: `GET /fhir/Observation?...` with a bearer token through Django's test client (middleware,
  authentication, negotiation, the view and the same service);
- baseline raw SQL through psycopg: the same filters on the same indexes (patient_ref, a token
  sub-select on code), `ORDER BY date_start DESC LIMIT 10`, and its count.

Targets: ketaflow p95 at 100k patients <= 1.5x its p95 at 1k; ketaflow p95 <= 3x the raw p95. The
plan of ketaflow's query (EXPLAIN ANALYZE, captured from the real call) is printed at each size.

    uv run python benchmarks/fhir_search.py
    uv run python benchmarks/fhir_search.py --sizes 1000,10000 --searches 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fhir_export import (
    Vitals,
    backend_label,
    bench_name,
    configure,
    indexes_deferred,
    new_organization,
    random_readings,
    recreate_database,
)

RESULTS = Path(__file__).parent / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kf_bench_fhir_search"
CODE = "http://loinc.org|8867-4"
BATCH = 5000  # patients per COPY batch
RESOURCE_COLUMNS = (
    "id",
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
TOKEN_COLUMNS = ("organization_id", "resource_id", "resource_type", "param", "system", "code")
GIVEN = ("Alex", "Sam", "Jordan", "Riley", "Casey", "Morgan", "Avery", "Quinn", "Rowan", "Skyler")
FAMILY = ("Synthetic", "Testperson", "Example", "Sample", "Placeholder", "Fictional", "Madeup", "Demo")
WHERE = (
    "organization_id = %(org)s AND resource_type = 'Observation' AND patient_ref = %(patient)s "
    "AND id IN (SELECT resource_id FROM fhir_resourcetoken WHERE organization_id = %(org)s "
    "AND resource_type = 'Observation' AND param = 'code' AND system = %(system)s AND code = %(code)s)"
)
RAW_PAGE = (
    f"SELECT resource_id, body FROM fhir_storedresource WHERE {WHERE} ORDER BY date_start DESC LIMIT 10"
)
RAW_COUNT = f"SELECT count(*) FROM fhir_storedresource WHERE {WHERE}"
PATHS = {
    "ketaflow": "ketaflow search_bundle (query, count, Bundle, audit)",
    "no_audit": "ketaflow search_bundle, audit call replaced by a no-op",
    "lazy_commit": "diagnostic: search_bundle with audit, SET LOCAL synchronous_commit = off",
    "http": "HTTP GET /fhir/Observation (test client, bearer token)",
    "raw": "baseline: raw indexed SQL via psycopg (page + count)",
}


# --- set-up ------------------------------------------------------------------------------------------


def patient_body(patient: str, n: int, org: uuid.UUID, slug: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
                },
                "system": f"https://ketaflow.org/fhir/sid/mrn/{slug}",
                "value": f"KF{n:07d}",
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": FAMILY[n % len(FAMILY)], "given": [GIVEN[n % len(GIVEN)]]}],
        "gender": ("female", "male", "other")[n % 3],
        "birthDate": f"{1950 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "managingOrganization": {"reference": f"Organization/{org}"},
    }


# The VitalSigns sets of one patient, as the Observation keys each yields: 10 Observations, 4 of
# them heart rate (the searched code), 2 blood-pressure panels.
SETS = (
    ("bp", "oxygen-saturation", "heart-rate", "respiratory-rate", "temperature", "weight"),
    ("bp", "heart-rate"),
    ("heart-rate",),
    ("heart-rate",),
)


class Batch:
    """The COPY text of a batch of patients' resources and tokens. Observation columns and tokens
    are written directly (a sample is checked against `index()`); Patients go through `index()`."""

    def __init__(self, org: uuid.UUID, slug: str, first_id: int, vitals: Vitals, rng: random.Random) -> None:
        self.org, self.slug, self.vitals, self.rng = org, slug, vitals, rng
        self.now = datetime.now(UTC)
        self.now_text = self.now.isoformat()
        self.pk = first_id
        self.resources: list[str] = []
        self.tokens: list[str] = []

    def patient(self, n: int, patient: str) -> None:
        from ketaflow.fhir.index import index

        body = patient_body(patient, n, self.org, self.slug)
        found = index(body)
        self.add(body, f"patients.Patient:{patient}", patient, found.date_start, found.date_end, found.tokens)
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=self.rng.randint(0, 60 * 24 * 30))
        performer = str(uuid.uuid4())
        for k, keys in enumerate(SETS):
            moment = start + timedelta(days=120 * k, seconds=self.rng.randint(0, 3600))
            self.vital_signs(keys, patient, performer, moment)

    def vital_signs(self, keys: tuple[str, ...], patient: str, performer: str, moment: datetime) -> None:
        """The Observations of one VitalSigns set (one reading of each key)."""
        vitals_id = uuid.uuid4()
        readings = random_readings(self.rng)
        for key in keys:
            body = self.vitals.observation(key, vitals_id, patient, performer, moment, readings)
            tokens = observation_tokens(body)
            end = moment + timedelta(seconds=1) - timedelta(microseconds=1)
            if self.pk % 997 == 0:
                check_indexed(body, patient, moment, end, tokens)
            self.add(body, f"patients.VitalSigns:{vitals_id}", patient, moment, end, tokens)

    def add(
        self,
        body: dict[str, Any],
        source: str,
        patient: str,
        start: datetime | None,
        end: datetime | None,
        tokens: Iterable[tuple[str, str, str]],
    ) -> None:
        """One resource as `projection.store` writes it: meta added, digest of the body without it."""
        from ketaflow.fhir.projection import dumps, with_meta

        digest = hashlib.sha1(dumps(body), usedforsecurity=False).hexdigest()
        text = dumps(with_meta(body, 1, self.now)).decode().replace("\\", "\\\\")  # COPY text escaping
        kind, org, pk = body["resourceType"], str(self.org), str(self.pk)
        fields = (
            pk,
            org,
            kind,
            body["id"],
            "1",
            self.now_text,
            source,
            patient,
            _moment(start),
            _moment(end),
            digest,
            text,
        )
        self.resources.append("\t".join(fields) + "\n")
        self.tokens.extend(
            f"{org}\t{pk}\t{kind}\t{param}\t{system}\t{code}\n" for param, system, code in tokens
        )
        self.pk += 1

    def copy(self, raw: Any) -> None:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY fhir_storedresource ({', '.join(RESOURCE_COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(self.resources))
            with cursor.copy(f"COPY fhir_resourcetoken ({', '.join(TOKEN_COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(self.tokens))
        raw.commit()


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "\\N"


def observation_tokens(body: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The code, category and status tokens of a vital-sign Observation, in `index()`'s order."""
    codes = [("code", c["system"], c["code"]) for c in body["code"]["coding"]]
    categories = [("category", c["system"], c["code"]) for c in body["category"][0]["coding"]]
    return (*codes, *categories, ("status", "", body["status"]))


def check_indexed(
    body: dict[str, Any],
    patient: str,
    start: datetime,
    end: datetime,
    tokens: tuple[tuple[str, str, str], ...],
) -> None:
    from ketaflow.fhir.index import index

    found = index(body)
    if (found.patient_ref, found.date_start, found.date_end, found.tokens) != (patient, start, end, tokens):
        sys.exit(f"the benchmark's stored columns differ from index(): {found}")


def grow(database: str, org: uuid.UUID, slug: str, ids: list[str], target: int, rng: random.Random) -> float:
    """Add patients (with their resources) until there are `target`; returns the seconds taken."""
    import psycopg

    started = time.perf_counter()
    vitals = Vitals()
    vitals.check(rng)
    with psycopg.connect(database) as raw:
        raw.execute("SET session_replication_role = replica")  # no FK triggers: consistent by construction
        highest = raw.execute("SELECT coalesce(max(id), 0) FROM fhir_storedresource").fetchone()
        first_id = (highest[0] if highest else 0) + 1
        with indexes_deferred(raw, ("fhir_storedresource", "fhir_resourcetoken")):
            while len(ids) < target:
                count = min(BATCH, target - len(ids))
                batch = [(len(ids) + i, str(uuid.uuid4())) for i in range(count)]
                loader = Batch(org, slug, first_id, vitals, rng)
                for n, patient in batch:
                    loader.patient(n, patient)
                loader.copy(raw)
                ids.extend(patient for _, patient in batch)
                first_id = loader.pk
        raw.execute("SELECT setval(pg_get_serial_sequence('fhir_storedresource', 'id'), %s)", (first_id - 1,))
        raw.commit()
        raw.autocommit = True
        raw.execute("VACUUM (ANALYZE) fhir_storedresource")
        raw.execute("VACUUM (ANALYZE) fhir_resourcetoken")
    return time.perf_counter() - started


def add_heavy_patient(database: str, org: uuid.UUID, slug: str, sets: int, rng: random.Random) -> str:
    """One more patient with a monitor-feed history: the usual 10 Observations and `sets` VitalSigns
    sets a minute apart, each with heart rate, blood pressure and oxygen saturation."""
    import psycopg

    patient = str(uuid.uuid4())
    with psycopg.connect(database) as raw:
        raw.execute("SET session_replication_role = replica")
        highest = raw.execute("SELECT coalesce(max(id), 0) FROM fhir_storedresource").fetchone()
        batch = Batch(org, slug, (highest[0] if highest else 0) + 1, Vitals(), rng)
        batch.patient(0, patient)
        start, performer = datetime(2025, 1, 1, tzinfo=UTC), str(uuid.uuid4())
        for n in range(sets):
            batch.vital_signs(FEED, patient, performer, start + timedelta(seconds=60 * n))
        batch.copy(raw)
        raw.execute("SELECT setval(pg_get_serial_sequence('fhir_storedresource', 'id'), %s)", (batch.pk - 1,))
        raw.commit()
        raw.autocommit = True
        raw.execute("VACUUM (ANALYZE) fhir_storedresource")
        raw.execute("VACUUM (ANALYZE) fhir_resourcetoken")
    return patient


FEED = ("heart-rate", "bp", "oxygen-saturation")  # what a bedside monitor sends each minute


def prescriber(org: uuid.UUID) -> tuple[Any, str]:
    """A prescriber's actor and API bearer token."""
    from ketaflow.accounts.actor import Actor
    from ketaflow.accounts.models import User
    from ketaflow.accounts.services import actor_for, create_staff, issue_api_token

    data = {
        "username": "bench.prescriber",
        "first_name": "Bench",
        "last_name": "Prescriber",
        "email": "bench.prescriber@example.org",
        "roles": ["prescriber"],
        "credential": "MD",
        "licence_number": "BENCH-0001",
        "licence_region": "OR",
    }
    staff, _ = create_staff(Actor.system(org), data, password="Synthetic-bench-password-1")
    user = User.objects.get(pk=staff.user_id)
    user.must_change_password = False
    user.save(update_fields=["must_change_password"])
    actor = actor_for(user, via="api")
    assert actor is not None
    return actor, issue_api_token(user, "bench")


# --- the measured paths ------------------------------------------------------------------------------


def params_for(patient: str) -> dict[str, list[str]]:
    return {"patient": [patient], "code": [CODE], "_sort": ["-date"], "_count": ["10"]}


class Paths:
    """The four ways of running one patient's search; each returns (entry ids, total)."""

    def __init__(self, actor: Any, token: str, database: str, org: uuid.UUID) -> None:
        import psycopg
        from django.test import Client

        import ketaflow.fhir.search as search_module

        self.actor, self.org, self.module = actor, org, search_module
        self.client = Client(headers={"Authorization": f"Bearer {token}"})
        # Custom plans, as Django's client-side binding gets: psycopg would otherwise prepare the
        # statements after 5 runs and PostgreSQL switch to a generic plan that reads every token
        # with the code (O(patients)); see benchmarks/README.md.
        self.raw_db = psycopg.connect(database, autocommit=True, prepare_threshold=None)

    def timed(self, name: str, patient: str) -> tuple[float, tuple[list[str], int]]:
        """Milliseconds of one search, and what it found (parsed after the clock stops)."""
        if name == "no_audit":
            saved, self.module.record = self.module.record, _no_audit  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                out = self.module.search_bundle(self.actor, "Observation", params_for(patient), BASE)
                elapsed = time.perf_counter() - started
            finally:
                self.module.record = saved
            return elapsed * 1000, _bundle_ids(out)
        started = time.perf_counter()
        result: Any = getattr(self, name)(patient)
        elapsed = time.perf_counter() - started
        return elapsed * 1000, (result if name == "raw" else _bundle_ids(result))

    def ketaflow(self, patient: str) -> bytes:
        return bytes(self.module.search_bundle(self.actor, "Observation", params_for(patient), BASE))

    def lazy_commit(self, patient: str) -> bytes:
        """The audited search in a transaction that does not wait for its WAL flush: what the audit
        costs beyond the durable commit (the inner atomic block becomes a savepoint)."""
        from django.db import connection, transaction

        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
            return self.ketaflow(patient)

    def http(self, patient: str) -> bytes:
        response = self.client.get(
            "/fhir/Observation", {"patient": patient, "code": CODE, "_sort": "-date", "_count": "10"}
        )
        if response.status_code != 200:
            sys.exit(f"GET /fhir/Observation answered {response.status_code}: {response.content[:300]!r}")
        return bytes(response.content)

    def raw(self, patient: str) -> tuple[list[str], int]:
        system, code = CODE.split("|")
        args = {"org": self.org, "patient": patient, "system": system, "code": code}
        page = self.raw_db.execute(RAW_PAGE, args).fetchall()
        total = self.raw_db.execute(RAW_COUNT, args).fetchone()
        return [row[0] for row in page], total[0] if total else 0


BASE = "http://testserver/fhir"


def _no_audit(*_: Any, **__: Any) -> None:
    return None


def _bundle_ids(bundle: bytes) -> tuple[list[str], int]:
    import orjson

    parsed = orjson.loads(bundle)
    return [e["resource"]["id"] for e in parsed.get("entry", [])], parsed.get("total", -1)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def measure(paths: Paths, chosen: list[str], warm_up: list[str]) -> dict[str, list[float]]:
    """A search for each of `chosen`, every path in a rotating order for each; results cross-checked."""
    names = list(PATHS)
    for patient in warm_up:
        for name in names:
            paths.timed(name, patient)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, patient in enumerate(chosen):
        found = {}
        for name in names[i % len(names) :] + names[: i % len(names)]:
            elapsed, found[name] = paths.timed(name, patient)
            times[name].append(elapsed)
        if len({json.dumps(v) for v in found.values()}) != 1 or not found["raw"][0]:
            sys.exit(f"the paths disagree for one patient: {found}")
    return times


# --- EXPLAIN -----------------------------------------------------------------------------------------


def explain(paths: Paths, patient: str) -> tuple[list[dict[str, Any]], list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each SELECT on fhir_storedresource that search_bundle runs, and
    the start of every statement it sends (transaction control is not among them)."""
    from django.db import connection

    seen: list[tuple[str, Any]] = []

    def capture(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        paths.ketaflow(patient)
    plans = []
    for sql, params in seen:
        if "fhir_storedresource" not in sql or not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            text = "\n".join(row[0] for row in cursor.fetchall())
        indexes = re.findall(r"Scan (?:Backward )?using (\S+)", text)
        took = re.search(r"Execution Time: ([\d.]+) ms", text)
        plans.append(
            {
                "kind": "count" if "COUNT(" in sql.upper() else "page",
                "sql": sql,
                "indexes": list(dict.fromkeys(indexes)),
                "execution_ms": float(took[1]) if took else None,
                "plan": text,
            }
        )
    return plans, [" ".join(sql.split())[:70] for sql, _ in seen]


def profile(paths: Paths, patients: list[str], rng: random.Random) -> str:
    """cProfile of 200 audited service-level searches: where the time goes."""
    import cProfile
    import io
    import pstats

    chosen = rng.sample(patients, 200)
    profiler = cProfile.Profile()
    profiler.enable()
    for patient in chosen:
        paths.ketaflow(patient)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats("ketaflow|django/db|psycopg", 30)
    stats.sort_stats("tottime").print_stats(15)
    return text.getvalue()


# --- the run -----------------------------------------------------------------------------------------


def table_sizes(database: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database) as db:
        return {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("fhir_storedresource", "fhir_resourcetoken")
        }


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {"p50": percentile(v, 50), "p95": percentile(v, 95), "mean": statistics.mean(v)}
        for name, v in times.items()
    }


def measure_heavy(
    database: str, org: uuid.UUID, slug: str, paths: Paths, sets: int, rng: random.Random
) -> dict[str, Any]:
    """The same search, 20 times, for one patient with `sets` monitor-feed sets (3 Observations each)."""
    started = time.perf_counter()
    patient = add_heavy_patient(database, org, slug, sets, rng)
    setup_s = time.perf_counter() - started
    times = measure(paths, [patient] * 20, [patient] * 2)
    plans, statements = explain(paths, patient)
    matches = paths.raw(patient)[1]
    return {
        "observations": 10 + 3 * sets,
        "matches": matches,
        "setup_s": setup_s,
        "stats": summary(times),
        "plans": plans,
        "statements": statements,
        "times_ms": times,
    }


def report_heavy(heavy: dict[str, Any]) -> None:
    print(
        f"\nOne more patient with {heavy['observations']:,} Observations ({heavy['matches']:,} heart rate), "
        "20 searches:\n"
    )
    print("| path | p50 ms | p95 ms | p95 ÷ raw p95 |")
    print("|---|---:|---:|---:|")
    stats = heavy["stats"]
    for name, text in PATHS.items():
        print(
            f"| {text} | {stats[name]['p50']:.1f} | {stats[name]['p95']:.1f} "
            f"| {stats[name]['p95'] / stats['raw']['p95']:.2f} |"
        )
    for plan in heavy["plans"]:
        print(f"\nEXPLAIN ANALYZE, that patient, {plan['kind']} query:\n{plan['plan']}")


def report(label: str, results: list[dict[str, Any]], searches: int) -> None:
    print(
        f"\n{label}: {searches} searches per size, `Observation?patient=<id>&code={CODE}"
        f"&_sort=-date&_count=10`; load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| patients | resources | tokens | path | p50 ms | p95 ms | p95 ÷ raw p95 |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for result in results:
        stats, raw = result["stats"], result["stats"]["raw"]["p95"]
        for name, text in PATHS.items():
            print(
                f"| {result['patients']:,} | {result['resources']:,} | {result['tokens']:,} | {text} "
                f"| {stats[name]['p50']:.2f} | {stats[name]['p95']:.2f} | {stats[name]['p95'] / raw:.2f} |"
            )
    for result in results:
        audit = result["stats"]["ketaflow"]["p50"] - result["stats"]["no_audit"]["p50"]
        plans = "; ".join(
            f"{p['kind']}: {', '.join(p['indexes']) or 'no index'} ({p['execution_ms']} ms)"
            for p in result["plans"]
        )
        print(
            f"\n{result['patients']:,} patients: set-up {result['setup_s']:.0f} s; the audit costs "
            f"{audit:.2f} ms at p50; {len(result['statements'])} SQL statements a search; plan: {plans}"
        )
    first, last = results[0]["stats"]["ketaflow"]["p95"], results[-1]["stats"]["ketaflow"]["p95"]
    print(
        f"\nketaflow p95 at {results[-1]['patients']:,} ÷ at {results[0]['patients']:,} patients: "
        f"{last / first:.2f} (target <= 1.5)"
    )
    print(
        "ketaflow p95 ÷ raw p95 (target <= 3): "
        + ", ".join(f"{r['stats']['ketaflow']['p95'] / r['stats']['raw']['p95']:.2f}" for r in results)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="patient counts, ascending")
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument(
        "--heavy-sets", type=int, default=20_000, help="monitor-feed sets of one extra patient (0: none)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile 200 searches at the last size")
    parser.add_argument("--postgres-url", default=os.environ.get("KETAFLOW_BENCH_PG_URL", DEFAULT_URL))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    database = args.postgres_url
    bench_name(database)
    recreate_database(database)
    rng = random.Random(11)
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kf_bench_search_") as tmp:
            configure(database, tmp)
            from ketaflow.clinics.models import Organization

            label = backend_label()
            org, _ = new_organization("Bench search")
            slug = Organization.objects.get(pk=org).slug
            actor, token = prescriber(org)
            paths = Paths(actor, token, database, org)
            patients: list[str] = []
            for size in sizes:
                setup_s = grow(database, org, slug, patients, size, rng)
                counts = table_sizes(database)
                print(f"{size:,} patients: {counts} in {setup_s:.0f} s", file=sys.stderr)
                times = measure(paths, rng.sample(patients, args.searches), rng.sample(patients, 20))
                plans, statements = explain(paths, rng.choice(patients))
                results.append(
                    {
                        "patients": size,
                        "resources": counts["fhir_storedresource"],
                        "tokens": counts["fhir_resourcetoken"],
                        "setup_s": setup_s,
                        "stats": summary(times),
                        "plans": plans,
                        "statements": statements,
                        "times_ms": times,
                    }
                )
            heavy = None
            if args.heavy_sets:
                heavy = measure_heavy(database, org, slug, paths, args.heavy_sets, rng)
            profiled = profile(paths, patients, rng) if args.profile else ""
            paths.raw_db.close()
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(database, drop_only=True)
    report(label, results, args.searches)
    for plan in results[-1]["plans"]:
        print(
            f"\nEXPLAIN ANALYZE, {results[-1]['patients']:,} patients, {plan['kind']} query:\n{plan['plan']}"
        )
    if heavy:
        report_heavy(heavy)
    print(profiled)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"fhir_search-postgresql-{int(time.time())}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "backend": label,
                "load_average": os.getloadavg(),
                "searches": args.searches,
                "results": results,
                "heavy_patient": heavy,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
