"""Helpers for driving the live server's FHIR API: a bearer token from the real CLI, R4 validation,
and the Bulk Data kick-off / poll / download cycle over plain HTTP (requests).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from fhir.resources.R4B import get_fhir_model_class

from tests.e2e.conftest import Deployment

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
EXPORT_TIMEOUT = 60.0
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class FhirEndpoint:
    """The live server's FHIR base URL and a staff member's bearer token."""

    base: str
    token: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"

    def session(self) -> requests.Session:
        """A requests session that sends the token and asks for FHIR JSON."""
        session = requests.Session()
        session.headers.update({"Authorization": self.authorization, "Accept": FHIR_JSON})
        return session


def cli_token(deployment: Deployment, username: str) -> str:
    """A new API token for `username`, made with `ketaflow token create` (printed last on stdout)."""
    result = deployment.ok("token", "create", username, "--name", "fhir-e2e")
    token = result.stdout.strip().splitlines()[-1].strip()
    assert token.startswith("kf_"), result.stdout
    return token


def validate_r4(resource: dict[str, Any] | str) -> Any:
    """The resource parsed by fhir.resources' R4B model of its type; raises if it is not valid."""
    data = json.loads(resource) if isinstance(resource, str) else dict(resource)
    return get_fhir_model_class(data["resourceType"]).model_validate(data)


@dataclass
class ExportRun:
    """What a client saw while an export ran: each 202's X-Progress, then the manifest."""

    manifest: dict[str, Any]
    progress: list[str] = field(default_factory=list)
    retry_after: list[str] = field(default_factory=list)


def kick_off(session: requests.Session, url: str) -> str:
    """Start an export at `url` (GET with Prefer: respond-async); the status URL from Content-Location."""
    response = session.get(url, headers={"Prefer": "respond-async"}, timeout=30)
    assert response.status_code == 202, f"{response.status_code}: {response.text[:2000]}"
    location = response.headers.get("Content-Location", "")
    assert location, dict(response.headers)
    return location


def wait_for_manifest(session: requests.Session, status_url: str) -> ExportRun:
    """Poll the status URL until it answers 200; every 202 on the way is recorded."""
    progress: list[str] = []
    retry_after: list[str] = []
    deadline = time.monotonic() + EXPORT_TIMEOUT
    while time.monotonic() < deadline:
        response = session.get(status_url, timeout=30)
        if response.status_code == 200:
            assert response.headers["Content-Type"].startswith("application/json"), response.headers
            return ExportRun(response.json(), progress, retry_after)
        assert response.status_code == 202, f"{response.status_code}: {response.text}"
        progress.append(response.headers.get("X-Progress", ""))
        retry_after.append(response.headers.get("Retry-After", ""))
        time.sleep(POLL_INTERVAL)
    raise AssertionError(f"the export at {status_url} did not complete in {EXPORT_TIMEOUT:.0f}s")


def download_ndjson(session: requests.Session, url: str) -> list[dict[str, Any]]:
    """One output file, fetched as a Bulk Data client does; each line parsed as JSON."""
    response = session.get(url, headers={"Accept": NDJSON}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(NDJSON), response.headers
    lines = response.text.splitlines()
    assert all(line.strip() for line in lines), f"{url} has blank lines"
    return [json.loads(line) for line in lines]


def run_export(endpoint: FhirEndpoint, path: str) -> tuple[ExportRun, dict[str, list[dict[str, Any]]]]:
    """Kick off `path` (relative to the FHIR base), wait for it, and download every output file:
    the run and {type: resources}."""
    session = endpoint.session()
    run = wait_for_manifest(session, kick_off(session, f"{endpoint.base}/{path}"))
    types = [item["type"] for item in run.manifest["output"]]
    assert len(types) == len(set(types)), f"one file per type expected: {types}"
    files = {item["type"]: download_ndjson(session, item["url"]) for item in run.manifest["output"]}
    return run, files
