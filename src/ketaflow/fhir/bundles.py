"""Searchset Bundles built by splicing stored JSON text, and the paging links that go with them.

The stored bodies are already valid FHIR JSON, so a page is the Bundle's own fields encoded once
plus the bodies concatenated in: no resource is parsed or re-serialised on the way out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from django.utils import timezone

from .outcome import Issue, operation_outcome
from .values import instant


@dataclass(frozen=True)
class Page:
    """Where a page sits: its size and offset, whether more follow, and the total (None: not counted)."""

    count: int
    offset: int
    has_next: bool
    total: int | None


def page_url(
    base_url: str, resource_type: str, kept: Sequence[tuple[str, str]], count: int, offset: int
) -> str:
    """The search URL of one page: the accepted parameters as sent, then `_count` and `_offset`."""
    query = [*kept, ("_count", str(count)), *([("_offset", str(offset))] if offset else [])]
    return f"{base_url}/{resource_type}?{urlencode(query)}"


def page_links(
    base_url: str, resource_type: str, kept: Sequence[tuple[str, str]], page: Page
) -> list[dict[str, str]]:
    """Bundle.link: self, and (when the search returns entries) first, previous and next."""

    def link(relation: str, offset: int) -> dict[str, str]:
        return {"relation": relation, "url": page_url(base_url, resource_type, kept, page.count, offset)}

    links = [link("self", page.offset)]
    if page.count:
        links.append(link("first", 0))
        if page.offset:
            links.append(link("previous", max(0, page.offset - page.count)))
        if page.has_next:
            links.append(link("next", page.offset + page.count))
    return links


def searchset(
    base_url: str,
    resource_type: str,
    rows: Sequence[tuple[str, str]],
    page: Page,
    kept: Sequence[tuple[str, str]],
    warnings: Sequence[Issue] = (),
) -> bytes:
    """A searchset Bundle of `rows` ((resource id, stored JSON text) pairs), with an outcome entry
    first when there are `warnings` (e.g. parameters ignored)."""
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": "searchset",
    }
    if page.total is not None:
        head["total"] = page.total
    head["link"] = page_links(base_url, resource_type, kept, page)
    entries: list[str] = []
    if warnings:
        outcome = {"resource": operation_outcome(warnings), "search": {"mode": "outcome"}}
        entries.append(orjson.dumps(outcome).decode())
    prefix = f"{base_url}/{resource_type}/"
    entries.extend(
        f'{{"fullUrl":{orjson.dumps(prefix + resource_id).decode()},"resource":{body},'
        '"search":{"mode":"match"}}'
        for resource_id, body in rows
    )
    text = orjson.dumps(head).decode()
    if entries:
        text = f'{text[:-1]},"entry":[{",".join(entries)}]}}'
    return text.encode()
