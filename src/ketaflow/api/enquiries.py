"""Enquiries and self-screen: the JSON API."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Enquiries and self-screen"])
