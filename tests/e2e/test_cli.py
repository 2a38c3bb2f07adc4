"""The `ketaflow` command as an operator uses it, against a real demo installation and server."""

from __future__ import annotations

import importlib
import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.conftest import (
    DEMO_PATIENTS,
    Deployment,
    LiveServer,
    clean_environment,
    describe,
    free_port,
    ketaflow_command,
)
from tests.e2e.web_client import WebClient, sign_in

COMMANDS = ("serve", "migrate", "createadmin", "demo", "check", "token", "audit", "instruments", "measures",
            "eligibility", "plans", "schedule", "sessions", "ledger", "fhir")
_HELP_COMMAND = re.compile(r"^  (\S+)\s{2,}", re.MULTILINE)


def listed_commands(help_text: str) -> set[str]:
    commands_section = help_text.split("Commands:", 1)[-1]
    return set(_HELP_COMMAND.findall(commands_section))


def test_help_lists_every_operator_command(tmp_path):
    result = ketaflow_command("--help", env=clean_environment(KETAFLOW_DATA_DIR=str(tmp_path)))

    assert result.returncode == 0, describe(result)
    assert set(COMMANDS) <= listed_commands(result.stdout), result.stdout


def test_console_script_is_the_same_command(tmp_path):
    env = clean_environment(KETAFLOW_DATA_DIR=str(tmp_path))
    module = ketaflow_command("--help", env=env)
    script = ketaflow_command("--help", env=env, console_script=True)

    assert script.returncode == 0, describe(script)
    assert listed_commands(script.stdout) == listed_commands(module.stdout)
    assert set(COMMANDS) <= listed_commands(script.stdout)
    assert script.stdout.splitlines()[2:] == module.stdout.splitlines()[2:]


def test_demo_prints_the_demo_logins_with_their_password(deployment: Deployment):
    from ketaflow.demo.loader import DEMO_PASSWORD

    assert "owner" in deployment.demo_logins, deployment.demo_output
    assert len(deployment.demo_logins) >= 3, deployment.demo_output
    assert DEMO_PASSWORD in deployment.demo_output


def test_demo_run_again_keeps_the_practice_and_still_prints_the_logins(deployment: Deployment):
    result = deployment.ok("demo")

    assert "already loaded" in result.stdout
    assert "owner" in result.stdout


def test_check_passes_on_the_demo_installation(deployment: Deployment):
    result = deployment.ok("check")

    assert "FAIL" not in result.stdout
    for name in ("database", "migrations", "audit trail"):
        assert re.search(rf"^ok\s+{name}:", result.stdout, re.MULTILINE), result.stdout


def _production_serve(tmp_path, **env: str) -> Any:
    environment = clean_environment(
        KETAFLOW_MODE="production", KETAFLOW_DATA_DIR=str(tmp_path),
        KETAFLOW_ALLOWED_HOSTS="clinic.example.org", **env,
    )
    return ketaflow_command("serve", "--port", str(free_port()), env=environment, timeout=60)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _production_serve(tmp_path)

    assert result.returncode != 0, describe(result)
    assert "KETAFLOW_SECRET_KEY" in result.stderr, describe(result)
    assert "Serving ketaflow" not in result.stdout


def test_production_refuses_to_start_with_debug_on(tmp_path):
    result = _production_serve(tmp_path, KETAFLOW_SECRET_KEY=secrets.token_urlsafe(64),
                               KETAFLOW_DEBUG="1")

    assert result.returncode != 0, describe(result)
    assert "DEBUG" in result.stderr, describe(result)
    assert "KETAFLOW_SECRET_KEY" not in result.stderr, describe(result)
    assert "Serving ketaflow" not in result.stdout


API_PATIENTS = "/api/v1/patients"


def test_api_refuses_requests_without_a_token(ketaflow_server: LiveServer):
    client = WebClient(ketaflow_server.url)
    patients = client.get(API_PATIENTS, follow=False)
    me = client.get("/api/v1/me", follow=False)

    assert patients.status == 401, patients.text
    assert "items" not in patients.text
    assert me.status == 401, me.text
    assert "owner" not in me.text


def test_token_created_on_the_command_line_authenticates_against_the_api(
    deployment: Deployment, ketaflow_server: LiveServer,
):
    result = deployment.ok("token", "create", "owner", "--name", "e2e")
    token = result.stdout.strip().splitlines()[-1]
    client = WebClient(ketaflow_server.url)

    bearer = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=bearer, follow=False)
    every_patient = f"{API_PATIENTS}?include_archived=true"
    listed = client.get(every_patient, headers=bearer, follow=False)
    forged = client.get(every_patient, headers={"Authorization": f"Bearer {token}x"}, follow=False)

    assert token.startswith("kf_")
    assert me.status == 200, me.text
    assert me.json()["username"] == "owner"
    assert me.json()["via"] == "api"
    assert listed.status == 200, listed.text
    assert listed.json()["total"] >= DEMO_PATIENTS
    assert all(item["mrn"] for item in listed.json()["items"])
    assert forged.status == 401, forged.text


@contextmanager
def _tampered_audit_event(deployment: Deployment) -> Iterator[int]:
    """Drop the append-only trigger (as a DBA could) and alter one event; put both back after.

    Yields the altered event's sequence number.
    """
    triggers = importlib.import_module("ketaflow.audit.migrations.0002_append_only_triggers")
    if deployment.sqlite_path is not None:
        connection = sqlite3.connect(deployment.sqlite_path, timeout=30)
        try:
            row = connection.execute(
                "SELECT id, seq, detail FROM audit_auditevent ORDER BY chain, seq LIMIT 1 OFFSET 1"
            ).fetchone()
            assert row is not None, "the demo wrote fewer than two audit events"
            event_id, seq, detail = row
            with connection:
                connection.execute("DROP TRIGGER audit_event_no_update")
                connection.execute(
                    "UPDATE audit_auditevent SET detail = ? WHERE id = ?",
                    (json.dumps({**json.loads(detail), "note": "edited later"}), event_id),
                )
            try:
                yield seq
            finally:
                with connection:
                    connection.execute("UPDATE audit_auditevent SET detail = ? WHERE id = ?",
                                       (detail, event_id))
                    for statement in triggers.SQLITE:
                        connection.execute(statement)
        finally:
            connection.close()
        return
    import psycopg
    from psycopg.types.json import Jsonb

    assert deployment.database_url is not None
    with psycopg.connect(deployment.database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT id, seq, detail FROM audit_auditevent ORDER BY chain, seq LIMIT 1 OFFSET 1"
        ).fetchone()
        assert row is not None, "the demo wrote fewer than two audit events"
        event_id, seq, detail = row
        with connection.transaction():
            connection.execute("DROP TRIGGER audit_event_append_only ON audit_auditevent")
            connection.execute("UPDATE audit_auditevent SET detail = %s WHERE id = %s",
                               (Jsonb({**detail, "note": "edited later"}), event_id))
        try:
            yield seq
        finally:
            with connection.transaction():
                connection.execute("UPDATE audit_auditevent SET detail = %s WHERE id = %s",
                                   (Jsonb(detail), event_id))
                connection.execute(triggers.POSTGRES[1])


def test_audit_verify_passes_on_the_demo_and_names_an_event_altered_behind_its_back(
    deployment: Deployment,
):
    intact = deployment.run("audit", "verify")
    with _tampered_audit_event(deployment) as seq:
        tampered = deployment.run("audit", "verify")
    restored = deployment.run("audit", "verify")

    assert intact.returncode == 0, describe(intact)
    assert "audit trail verified" in intact.stdout
    assert tampered.returncode != 0, describe(tampered)
    assert f"event #{seq} was altered" in tampered.stdout, describe(tampered)
    assert "BROKEN" in tampered.stdout
    assert "append-only are missing" in tampered.stdout
    assert restored.returncode == 0, describe(restored)


def test_createadmin_without_prompts_creates_an_owner_who_can_sign_in(
    deployment: Deployment, ketaflow_server: LiveServer,
):
    username = f"founder{secrets.token_hex(3)}"
    password = f"Harbour-{secrets.token_urlsafe(12)}"
    result = deployment.ok(
        "createadmin", "--username", username, "--email", f"{username}@clinic.example.org",
        "--first-name", "Avery", "--last-name", "Quintero",
        "--organization", "Tidewater Ketamine Clinic", "--password", password,
    )

    home = sign_in(WebClient(ketaflow_server.url), username, password,
                   new_password=f"Changed-{secrets.token_urlsafe(12)}")

    assert f"Created owner '{username}'" in result.stdout
    assert home.status == 200, home.text
    assert home.path == "/"
    assert "Sign out" in home.text


@pytest.mark.parametrize("missing", ["--username", "--password"])
def test_createadmin_with_no_terminal_fails_instead_of_waiting_for_input(
    deployment: Deployment, missing: str,
):
    options = {
        "--username": "nobodyhere", "--email": "nobody@clinic.example.org",
        "--first-name": "No", "--last-name": "Body", "--organization": "Nowhere Clinic",
        "--password": f"Harbour-{secrets.token_urlsafe(12)}",
    }
    del options[missing]
    result = deployment.run("createadmin", *[part for item in options.items() for part in item])

    assert result.returncode != 0, describe(result)
    assert "Created owner" not in result.stdout
