"""Benchmark: server time of the chairside session page with 60 vital-sign readings and 20 events.

One IV session of the demo practice is brought to dosing through the real services; the pump is
then paused and resumed nine times and its rate changed once (20 dose events in all, 100 to 10
minutes ago) and a monitor posts 60 readings a minute apart (two cross a limit and raise alerts),
through `sessions.vitals.ingest_batch`. The page (`sessions:detail`) is requested in-process through
Django's test client as the nurse (middleware, the audited read, `session_view`'s queries, the
delivery arithmetic, the chart and the templates), interleaved round by round with two baselines:

- the same page for a session just checked in (no readings, no events): the "empty page";
- `GET /api/v1/sessions/{id}` for the full session: the same view as JSON, without templates.

The SQL statements of one request of each are counted. Target (issue 6): p95 at most 100 ms.
Nothing is asserted; the figures are printed and written to benchmarks/results/.

    uv run python benchmarks/session_page.py
    uv run python benchmarks/session_page.py --postgres-url postgres://postgres@127.0.0.1:5432/kf_bench_page
    uv run python benchmarks/session_page.py --rounds 20 --profile   # plus cProfile of 20 page requests
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from session_setup import NORMAL, Setup, backend_version, check_in_next, configure, dosing_session

RESULTS = Path(__file__).parent / "results"
READINGS, EVENTS = 60, 20


def fill(setup: Setup) -> None:
    """20 dose events and 60 monitor readings on the dosing session (started 100 minutes ago)."""
    from django.utils import timezone

    from ketaflow.sessions.doses import record_event
    from ketaflow.sessions.models import DoseEvent, SessionVitals
    from ketaflow.sessions.vitals import ingest_batch

    now = timezone.now()
    session = setup.session
    at = now - timedelta(minutes=95)
    for _ in range(9):
        record_event(setup.nurse, session.pk, kind="pause", at=at)
        record_event(setup.nurse, session.pk, kind="resume", at=at + timedelta(minutes=3))
        at += timedelta(minutes=9)
    record_event(setup.nurse, session.pk, kind="rate", at=at, rate_ml_per_h=Decimal(120))
    readings = []
    for i in range(READINGS):
        values = dict(NORMAL, heart_rate=66 + i % 12, systolic_bp=116 + (i * 7) % 22)
        if i == 20:
            values["systolic_bp"] = 186
        if i == 40:
            values["oxygen_saturation"] = 90
        readings.append(
            {**values, "measured_at": now - timedelta(minutes=READINGS + 1 - i), "device": "Bench"}
        )
    ingest_batch(setup.nurse, session.pk, readings)
    events = DoseEvent.objects.filter(session=session).count()
    links = SessionVitals.objects.filter(session=session).count()
    print(f"session {session.pk}: {events} dose events, {links} vital-sign sets (with the pre-dose set)")


def measure(client: Any, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return elapsed * 1000


def statements(client: Any, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def profile(client: Any, url: str) -> None:
    """Print where 20 requests of `url` spend their time (cumulative, then the app's own code)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats("ketaflow|template|loader_tags|defaulttags", 40)
    print(out.getvalue())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--profile", action="store_true", help="also cProfile 20 requests of the full page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        configure(args.postgres_url or None, data_dir)
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        setup = dosing_session(started_minutes_ago=100)
        fill(setup)
        empty = check_in_next(setup.nurse)
        client = Client()
        client.force_login(setup.nurse_user)
        api = Client(headers={"Authorization": f"Bearer {setup.token}"})
        full_page = "session page (60 readings, 20 events)"
        pages = {
            full_page: (client, reverse("sessions:detail", kwargs={"session_id": setup.session.pk})),
            "baseline: session page just checked in": (
                client,
                reverse("sessions:detail", kwargs={"session_id": empty.pk}),
            ),
            "baseline: GET /api/v1/sessions/{id} (same session)": (
                api,
                f"/api/v1/sessions/{setup.session.pk}",
            ),
        }
        for who, url in pages.values():
            for _ in range(5):
                measure(who, url)
        counts = {name: statements(who, url) for name, (who, url) in pages.items()}
        timings: dict[str, list[float]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            for name, (who, url) in pages.items():
                timings[name].append(measure(who, url))
        if args.profile:
            profile(*pages[full_page])
        version = backend_version(connection)
        backend = f"{connection.vendor} {version}"
    empty_p95 = percentile(timings["baseline: session page just checked in"], 0.95)
    rows = []
    for name, values in timings.items():
        p95 = percentile(values, 0.95)
        rows.append(
            {
                "page": name,
                "p50_ms": round(statistics.median(values), 1),
                "p95_ms": round(p95, 1),
                "p95_vs_empty": round(p95 / empty_p95, 2),
                "sql_statements": counts[name],
            }
        )
    print(f"\n{backend}, {args.rounds} rounds\n")
    print("| page | p50 ms | p95 ms | p95 / empty page | SQL statements |\n|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['page']} | {row['p50_ms']} | {row['p95_ms']} | {row['p95_vs_empty']}x "
            f"| {row['sql_statements']} |"
        )
    print(f"\nTarget: p95 of the {full_page} at most 100 ms.")
    RESULTS.mkdir(exist_ok=True)
    name = "postgresql" if args.postgres_url else "sqlite"
    out = RESULTS / f"session_page-{name}-{int(time.time())}.json"
    out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
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
