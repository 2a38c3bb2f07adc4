"""Template filters of the ledger pages: quantities of drug without trailing zeros."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from ketaflow.ledger.reports import mg_text

register = template.Library()
NONE = "\u2013"  # an en dash, as the other pages show a missing value


@register.filter
def mg(value: Any) -> str:
    """Decimal('500.000') -> '500'; None -> an en dash."""
    if value is None or value == "":
        return NONE
    return mg_text(Decimal(str(value)))


@register.filter
def signed_mg(value: Any) -> str:
    """A change with its sign: '+500', '-41.5'."""
    if value is None:
        return NONE
    number = Decimal(str(value))
    return ("+" if number > 0 else "-" if number < 0 else "") + mg_text(abs(number))
