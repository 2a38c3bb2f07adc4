"""JSON API: scheduling."""

from ninja import Router

router = Router(tags=["scheduling"])
