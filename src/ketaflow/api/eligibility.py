"""Eligibility: the stateless assessment and the signed decisions, as JSON."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Eligibility"])
