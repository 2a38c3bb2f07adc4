"""Template filters for the staff pages: phone numbers, ages and role names as people read them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django import template
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.demographics import age_on
from ketaflow.phones import display_phone

register = template.Library()


@register.filter
def phone(value: str, region: str = "US") -> str:
    """An E.164 number in national format for the organization's country, e.g. (503) 555-0142."""
    return display_phone(value or "", region or "US")


@register.filter
def age(date_of_birth: date | None) -> str:
    """Completed years today, or "" when the date is missing or in the future."""
    if not date_of_birth:
        return ""
    try:
        return str(age_on(date_of_birth, timezone.localdate()))
    except ValueError:
        return ""


@register.filter
def role_labels(roles: Iterable[str] | str) -> str:
    """Role values ("owner,prescriber" or a collection of Role) as their labels, comma-separated."""
    values = roles.split(",") if isinstance(roles, str) else [str(r) for r in roles]
    labels = []
    for value in values:
        try:
            labels.append(Role(value.strip()).label)
        except ValueError:
            if value.strip():
                labels.append(value.strip())
    return ", ".join(sorted(labels))
