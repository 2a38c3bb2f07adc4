"""Evaluation and eligibility: the JSON API."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Evaluation and eligibility"])
