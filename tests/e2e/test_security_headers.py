"""Security headers, cookies and logging as the real server (gunicorn) sends and writes them."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Deployment, LiveServer
from tests.e2e.web_client import Response, WebClient, sign_in

SYNTHETIC_SURNAME = "Zzyzxsurname"


def csp_directives(response: Response) -> dict[str, list[str]]:
    policy = response.header("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {response.url}"
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.fixture
def owner_client(deployment: Deployment, ketaflow_server: LiveServer) -> WebClient:
    from ketaflow.demo.loader import DEMO_PASSWORD

    client = WebClient(ketaflow_server.url)
    home = sign_in(client, "owner", DEMO_PASSWORD)
    assert home.path == "/", f"owner did not reach the home page: {home.url} {home.status}"
    return client


@pytest.mark.parametrize("path", ["/account/login/", "/healthz", "/no-such-page/"])
def test_every_response_carries_the_security_headers(ketaflow_server: LiveServer, path: str):
    response = WebClient(ketaflow_server.url).get(path, follow=False)
    directives = csp_directives(response)
    script_sources = directives.get("script-src", directives.get("default-src", []))

    assert script_sources, directives
    assert "'unsafe-inline'" not in script_sources
    assert "'unsafe-eval'" not in script_sources
    assert directives.get("frame-ancestors") == ["'none'"]
    assert response.header("X-Frame-Options") == "DENY"
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin"}


def test_signed_in_pages_carry_the_security_headers(owner_client: WebClient):
    home = owner_client.get("/")

    assert home.status == 200
    assert "'unsafe-inline'" not in csp_directives(home).get("script-src", [])
    assert home.header("X-Frame-Options") == "DENY"
    assert home.header("X-Content-Type-Options") == "nosniff"


def test_session_cookie_is_http_only(owner_client: WebClient):
    session_cookies = [
        header for response in owner_client.history
        for header in response.all_headers("Set-Cookie") if header.startswith("sessionid=")
    ]

    assert session_cookies, "signing in set no session cookie"
    for header in session_cookies:
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert "httponly" in attributes, header
        assert "samesite" in attributes, header


def test_pages_link_no_inline_script(owner_client: WebClient):
    home = owner_client.get("/")
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", home.text)
    inline_handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", home.text)

    assert inline_scripts == []
    assert inline_handlers == []


def test_access_log_never_contains_a_searched_surname(
    ketaflow_server: LiveServer, owner_client: WebClient,
):
    before = len(ketaflow_server.log())
    searched = owner_client.get(f"/patients/?q={SYNTHETIC_SURNAME}", follow=False)
    WebClient(ketaflow_server.url).get(f"/patients/?q={SYNTHETIC_SURNAME}", follow=False)
    WebClient(ketaflow_server.url).get(f"/api/v1/patients?q={SYNTHETIC_SURNAME}")
    owner_client.get(f"/no-such-page/?q={SYNTHETIC_SURNAME}")

    log = ketaflow_server.wait_for_log(r'"GET /no-such-page/" 404', after=before)

    assert searched.status == 200, searched.text[:500]
    assert len(re.findall(r'"GET /patients/" (200|302)', log)) == 2, log
    assert SYNTHETIC_SURNAME.lower() not in ketaflow_server.log().lower()
