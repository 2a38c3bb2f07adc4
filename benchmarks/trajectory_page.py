"""Benchmark: server time of the Measures chart tab for a patient with 5 years of weekly scores.

The demo practice is loaded into a fresh SQLite (or PostgreSQL, with --postgres-url) database; one
patient gets 5 years of weekly PHQ-9 and GAD-7 responses (520, stored through the real service,
with their observations) and a treatment history. The page is requested in-process through Django's
test client (middleware, audit write, queries, outcome computation, SVG rendering and templates),
interleaved with two baselines measured in the same run:

- the same tab for a patient with no scores (the "empty page");
- the patient's Summary tab (a chart page without measurement content).

Targets (issue 3): p95 at most 100 ms and at most 5x the empty page. Nothing is asserted; the
figures and ratios are printed and written to benchmarks/results/.

    uv run python benchmarks/trajectory_page.py
    uv run python benchmarks/trajectory_page.py --postgres-url postgres://postgres@127.0.0.1:5432/kf_bench_traj
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def configure(database_url: str | None, data_dir: str) -> None:
    os.environ.update(KETAFLOW_MODE="development", KETAFLOW_DATA_DIR=data_dir, KETAFLOW_LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="ketaflow.config.settings")
    if database_url:
        if not database_url.rsplit("/", 1)[-1].startswith("kf_bench"):
            sys.exit("refusing a database whose name does not start with kf_bench")
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    if database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)


def build() -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone

    from ketaflow.accounts.actor import Actor
    from ketaflow.accounts.models import User
    from ketaflow.clinical.instruments import get_instrument, score_instrument
    from ketaflow.clinics.models import Clinic
    from ketaflow.demo.loader import demo_organization, load_demo
    from ketaflow.measurement.models import Treatment
    from ketaflow.measurement.responses import store_response
    from ketaflow.patients.models import Patient

    load_demo(patients=0)
    org = demo_organization()
    assert org is not None
    clinic = Clinic.objects.for_organization(org.pk).first()
    full, empty = (
        Patient.objects.create(organization=org, home_clinic=clinic, mrn=f"BENCH-{n}",
                               legal_given_name="Bench", legal_family_name=f"Patient{n}",
                               date_of_birth=date(1980, 1, 1))
        for n in (1, 2)
    )
    actor = Actor.system(org.pk, via="benchmark")
    rng = random.Random(2026)
    now = timezone.now()
    start = now - timedelta(weeks=5 * 52)
    phq9, gad7 = get_instrument("phq9"), get_instrument("gad7")
    with transaction.atomic():
        for week in range(5 * 52):
            at = start + timedelta(weeks=week)
            level = max(0, min(3, round(2.4 - week / 60 + rng.uniform(-0.8, 0.8))))
            for instrument, items in ((phq9, 9), (gad7, 7)):
                answers = [max(0, min(3, level + rng.choice((-1, 0, 0, 1)))) for _ in range(items)]
                if instrument is phq9:
                    answers[8] = 0
                store_response(actor, full, instrument, score_instrument(instrument, answers),
                               authored_at=at, source="import")
        sessions = [start + timedelta(weeks=1, days=2 * i) for i in range(6)]
        sessions += [start + timedelta(weeks=8 + 5 * i) for i in range(45)]
        Treatment.objects.bulk_create(
            Treatment(organization_id=org.pk, patient=full, occurred_at=at, status=Treatment.Status.GIVEN)
            for at in sessions
        )
    user = User.objects.get(username="np")
    return {"user": user, "full": full.pk, "empty": empty.pk}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args.postgres_url or None, data_dir)
        setup = build()
        from django.test import Client

        client = Client()
        client.force_login(setup["user"])
        pages = {
            "trajectory (5 years weekly, PHQ-9 + GAD-7)": f"/patients/{setup['full']}/measures/",
            "baseline: same tab, no scores": f"/patients/{setup['empty']}/measures/",
            "baseline: summary tab": f"/patients/{setup['full']}/summary/",
        }
        for url in pages.values():
            for _ in range(5):
                measure(client, url)
        timings: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            for name, url in pages.items():
                timings[name].append(measure(client, url))
    empty_p95 = percentile(timings["baseline: same tab, no scores"], 0.95)
    rows = []
    for name, values in timings.items():
        p95 = percentile(values, 0.95)
        rows.append({"page": name, "p50_ms": round(statistics.median(values), 1), "p95_ms": round(p95, 1),
                     "p95_vs_empty": round(p95 / empty_p95, 2)})
    print("| page | p50 ms | p95 ms | p95 / empty page |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['page']} | {row['p50_ms']} | {row['p95_ms']} | {row['p95_vs_empty']}x |")
    RESULTS.mkdir(exist_ok=True)
    backend = "postgresql" if args.postgres_url else "sqlite"
    out = RESULTS / f"trajectory_page-{backend}-{int(time.time())}.json"
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "backend": backend, "rounds": args.rounds, "rows": rows}, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
