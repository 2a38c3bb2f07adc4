"""`{{ cents|money:currency }}` and `{{ codes|codes }}` for the billing templates."""

from __future__ import annotations

from typing import Any

from django import template

from ketaflow.billing.codes import codes_text
from ketaflow.clinical.pricing import money as format_money

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "USD") -> str:
    return format_money(int(cents or 0), currency or "USD")


@register.filter
def codes(value: list[dict[str, Any]] | None) -> str:
    return codes_text(list(value or []))
