"""Helpers shared by the staff-page tests (this module holds no tests of its own)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from ketaflow.accounts.models import StaffMember

PAGE_TEST_MARKS = [
    pytest.mark.django_db,
]

HTMX = {"HX-Request": "true"}


def signed_in(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def htmx(target: str) -> dict[str, str]:
    """Headers HTMX sends when it will swap the response into `#target`."""
    return {"HX-Request": "true", "HX-Target": target}


def text_of(response) -> str:
    """The response body as text with tags removed and whitespace collapsed, for phrase checks."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def field_error(response, field_id: str) -> str:
    """The error message rendered for the input `field_id`, found through its aria-describedby."""
    html = response.content.decode()
    tag = re.search(rf"<(?:input|select|textarea)\b[^>]*\bid=\"{re.escape(field_id)}\"[^>]*>", html)
    assert tag, f"no input with id {field_id}"
    described = re.search(r'aria-describedby="([^"]+)"', tag.group(0))
    assert described, f"input {field_id} has no aria-describedby"
    error_id = next((i for i in described.group(1).split() if i.endswith("_error")), None)
    assert error_id, f"input {field_id} is not described by an error"
    block = re.search(rf'<ul class="errorlist"[^>]*id="{re.escape(error_id)}"[^>]*>(.*?)</ul>', html, re.S)
    assert block, f"no error list {error_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())
