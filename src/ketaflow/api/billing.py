"""JSON API: billing."""

from ninja import Router

router = Router(tags=["billing"])
