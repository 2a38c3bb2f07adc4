"""End-to-end fixtures: the real `ketaflow` server as a clinic would run it, and real Chromium.

The server is another process with its own database, so these tests never touch pytest-django's
in-process test database: they request no `db` fixture and pytest-django blocks any accidental ORM
use from the test process. Under PostgreSQL (DATABASE_URL=postgres://...) the server gets a fresh
database `ketaflow_e2e_<random>` on the same server, dropped afterwards; otherwise SQLite in a
temporary data directory.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DEMO_PATIENTS = 25
STARTUP_TIMEOUT = 90.0
COMMAND_TIMEOUT = 300.0
_INHERITED_SETTINGS = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the test run's Django/ketaflow settings, plus overrides.

    The test process runs with DJANGO_SETTINGS_MODULE=...test_settings and KETAFLOW_MODE=test;
    a clinic's server has neither, so neither may leak into the subprocesses.
    """
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("KETAFLOW_") and key not in _INHERITED_SETTINGS
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def ketaflow_command(*args: str, env: Mapping[str, str], console_script: bool = False,
                     timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `python -m ketaflow ARGS` (or the `ketaflow` console script) to completion."""
    program = [console_script_path()] if console_script else [sys.executable, "-m", "ketaflow"]
    return subprocess.run(
        [*program, *args], env=dict(env), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def console_script_path() -> str:
    beside_python = Path(sys.executable).parent / "ketaflow"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("ketaflow")
    if found is None:
        raise AssertionError("the `ketaflow` console script is not installed")
    return found


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (f"`{' '.join(map(str, result.args))}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")


# --- PostgreSQL: one throwaway database per test session -------------------------------------

def _postgres_url(database_url: str | None) -> str | None:
    if database_url and urlsplit(database_url).scheme in {"postgres", "postgresql", "pgsql"}:
        return database_url
    return None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in {"postgres", "pgsql"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, ""))


def _maintenance(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


# --- The deployment and the server -------------------------------------------------------------

@dataclass
class Deployment:
    """A clinic's installation: a data directory and a database, driven with the real CLI."""

    data_dir: Path
    env: dict[str, str]
    database_url: str | None
    demo_output: str = ""
    demo_logins: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ketaflow_command(*args, env=self.env)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed; the failure message carries its output."""
        result = self.run(*args)
        assert result.returncode == 0, describe(result)
        return result

    @property
    def sqlite_path(self) -> Path | None:
        return None if self.database_url else self.data_dir / "ketaflow.sqlite3"


@dataclass
class LiveServer:
    url: str
    deployment: Deployment
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float = 10.0, after: int = 0) -> str:
        """The log (from byte `after`) once `pattern` (a regex) appears in it; AssertionError if not."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[after:]
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} did not appear in the server log:\n{text[-4000:]}")
            time.sleep(0.1)


_DEMO_LOGIN_LINE = re.compile(r"^\s{2}(\S+)\s+(.+)$")


def parse_demo_logins(output: str) -> dict[str, str]:
    """username -> description, from the lines under "Demo logins" in `ketaflow demo`'s output."""
    logins: dict[str, str] = {}
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Demo logins")), None)
    if start is None:
        return logins
    for line in lines[start + 1:]:
        match = _DEMO_LOGIN_LINE.match(line)
        if match is None:
            break
        logins[match.group(1)] = match.group(2).strip()
    return logins


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A demo installation: `ketaflow demo --patients 25` in a fresh data directory and database."""
    data_dir = tmp_path_factory.mktemp("ketaflow-data")
    # XDG_RUNTIME_DIR: gunicorn puts its control socket there, so this server never shares (or
    # removes) the socket of another gunicorn on the machine.
    env = clean_environment(KETAFLOW_DATA_DIR=str(data_dir), KETAFLOW_MODE="demo",
                            XDG_RUNTIME_DIR=str(data_dir))
    server_url = _postgres_url(os.environ.get("DATABASE_URL"))
    database_url = None
    if server_url is not None:
        name = f"ketaflow_e2e_{secrets.token_hex(6)}"
        _maintenance(server_url, f'CREATE DATABASE "{name}"')
        database_url = _with_database(server_url, name)
        env["DATABASE_URL"] = database_url
    try:
        result = ketaflow_command("demo", "--patients", str(DEMO_PATIENTS), env=env)
        assert result.returncode == 0, describe(result)
        deployment = Deployment(data_dir, env, database_url, result.stdout,
                                parse_demo_logins(result.stdout))
        yield deployment
    finally:
        if server_url is not None and database_url is not None:
            _maintenance(server_url, f'DROP DATABASE IF EXISTS "{urlsplit(database_url).path[1:]}" '
                                     "WITH (FORCE)")


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with suppress(OSError, urllib.error.URLError), urllib.request.urlopen(
            f"{url}/healthz", timeout=2
        ) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    _stop(process)
    raise RuntimeError(
        f"ketaflow serve did not become healthy at {url} (exit code {process.returncode}); "
        f"its log:\n{log_path.read_text(errors='replace')}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


_SERVERS: list[LiveServer] = []


@pytest.fixture(scope="session")
def ketaflow_server(deployment: Deployment) -> Iterator[LiveServer]:
    """`ketaflow serve --workers 1` (gunicorn) on a free port over the demo; yields its base URL."""
    port = free_port()
    log_path = deployment.data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ketaflow", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=deployment.env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(url, process, log_path)
    server = LiveServer(url, deployment, log_path, process)
    _SERVERS.append(server)
    try:
        yield server
    finally:
        _SERVERS.remove(server)
        _stop(process)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the test (for screenshots) and attach the server log."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.failed and _SERVERS:
        tail = "\n".join(_SERVERS[-1].log().splitlines()[-80:])
        report.sections.append(("ketaflow server log (last 80 lines)", tail))
    return report


# --- Chromium ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright; skipped locally when missing, a failure in CI.

    Module-scoped: Playwright's sync API keeps an event loop running in the thread while it is
    open, and Django refuses database calls from such a thread. Test workers run whole files in
    any order, so the browser must be closed before the worker moves on to a database test file."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("KETAFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"KETAFLOW_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, ketaflow_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the live server; a screenshot if the test fails."""
    context = chromium.new_context(base_url=ketaflow_server.url)
    context.set_default_timeout(15_000)
    browser_page = context.new_page()
    try:
        yield browser_page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            with suppress(Exception):
                browser_page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()
