"""Patient intake: the JSON API."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Patient intake"])
