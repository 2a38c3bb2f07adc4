"""A small HTTP client for the live server: cookies, CSRF tokens, redirects seen one by one.

The browser tests use Chromium; this client is for checks that read raw responses (headers,
Set-Cookie, status codes) and for signing in from CLI tests without a browser.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import time
from base64 import b32decode
from dataclasses import dataclass, field
from html import unescape
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

_CSRF_INPUT = re.compile(r'<input[^>]*name="csrfmiddlewaretoken"[^>]*>', re.IGNORECASE)
_VALUE = re.compile(r'value="([^"]*)"')


def totp(secret: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The RFC 6238 code (HMAC-SHA1) for a base32 `secret` as shown to users (spaces allowed)."""
    key = b32decode(_pad_base32(secret.replace(" ", "").upper()))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def _pad_base32(text: str) -> str:
    return text + "=" * (-len(text) % 8)


def fresh_totp(secret: str, *, min_seconds_left: int = 3) -> str:
    """A code with a few seconds of its 30 s window left, so it is still valid when submitted."""
    if 30 - time.time() % 30 < min_seconds_left:
        time.sleep(30 - time.time() % 30 + 0.1)
    return totp(secret)


@dataclass
class Response:
    status: int
    url: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all_headers(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)

    def csrf_token(self) -> str:
        tag = _CSRF_INPUT.search(self.text)
        value = _VALUE.search(tag.group(0)) if tag else None
        if value is None:
            raise AssertionError(f"no CSRF token in the form at {self.url}")
        return unescape(value.group(1))

    def element_text(self, element_id: str) -> str:
        """The text inside the element with id `element_id` (tags stripped), or AssertionError."""
        match = re.search(
            rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', self.text, re.DOTALL
        )
        if match is None:
            raise AssertionError(f"no element #{element_id} at {self.url}")
        return unescape(re.sub(r"<[^>]+>", "", match.group(2))).strip()


@dataclass
class WebClient:
    """Talks to one live server; keeps cookies; `history` holds every response, redirects too."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    history: list[Response] = field(default_factory=list)

    def request(self, method: str, path: str, *, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, follow: bool = True) -> Response:
        url = urljoin(self.base_url, path)
        for _ in range(10):
            response = self._send(method, url, data, headers or {})
            location = response.header("Location")
            if not (follow and location and response.status in {301, 302, 303, 307, 308}):
                return response
            url, method, data = urljoin(url, location), "GET", None
        raise AssertionError(f"too many redirects from {path}")

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> Response:
        return self.request("POST", path, data=data, **kwargs)

    def submit(self, page: Response, data: dict[str, str], **kwargs: Any) -> Response:
        """POST `data` plus the page's CSRF token back to the page's own URL."""
        return self.post(page.url, {"csrfmiddlewaretoken": page.csrf_token(), **data}, **kwargs)

    def _send(self, method: str, url: str, data: dict[str, str] | None,
              headers: dict[str, str]) -> Response:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = urlencode(data).encode() if data is not None else None
        sent = {"Host": parts.netloc, **headers}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            connection.request(method, target, body=body, headers=sent)
            raw = connection.getresponse()
            response = Response(raw.status, url, raw.getheaders(), raw.read())
        finally:
            connection.close()
        for header in response.all_headers("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        self.history.append(response)
        return response


def sign_in(client: WebClient, username: str, password: str, *,
            new_password: str | None = None) -> Response:
    """Sign in through the login form and finish any forced step (two-factor set-up, new password).

    Returns the page reached at the end (normally the home page). Raises AssertionError when the
    login form comes back (wrong password, locked out).
    """
    page = client.get("/account/login/")
    page = client.submit(page, {"username": username, "password": password})
    current = password
    for _ in range(4):
        if page.path == "/account/login/":
            raise AssertionError(f"sign-in as {username!r} was refused (status {page.status})")
        if page.path == "/account/two-factor/setup/":
            code = fresh_totp(page.element_text("totp-secret"))
            page = client.submit(page, {"code": code})
        elif page.path == "/account/password/":
            if new_password is None:
                raise AssertionError(f"{username!r} must choose a new password; none was given")
            page = client.submit(page, {"current_password": current, "new_password": new_password,
                                        "confirm_password": new_password})
            current = new_password
        else:
            return page
    return page
