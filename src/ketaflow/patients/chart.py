"""The chart's tabs: a registry that later parts of the app (plans, sessions, billing) add to.

A tab names the permission needed to see it; `tabs_for(actor)` lists only those the actor holds, so
a role without clinical access never gets a clinical tab (and its context is never computed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.validation import NotFound

from .models import Patient

TabContext = Callable[[Actor, Patient], dict[str, Any]]

# Path segments under /patients/<id>/ used by actions and pages; a tab cannot take these slugs.
RESERVED_SLUGS = frozenset({
    "edit", "archive", "restore", "conditions", "allergies", "alerts", "no-known-allergies",
})


@dataclass(frozen=True)
class ChartTab:
    slug: str
    label: str
    permission: Permission
    template: str
    context: TabContext


_TABS: dict[str, ChartTab] = {}


def register_tab(
    slug: str, label: str, permission: Permission, template: str, context: TabContext
) -> ChartTab:
    """Add a tab after those already registered. Raises ValueError for a taken or reserved slug."""
    tab = ChartTab(slug, label, permission, template, context)
    if slug in RESERVED_SLUGS or not slug.replace("-", "").isalnum() or slug != slug.lower():
        raise ValueError(f"chart tab slug {slug!r} is reserved or not a lower-case slug")
    existing = _TABS.get(slug)
    if existing is not None and existing != tab:
        raise ValueError(f"a chart tab {slug!r} is already registered")
    _TABS[slug] = tab
    return tab


def all_tabs() -> list[ChartTab]:
    return list(_TABS.values())


def tabs_for(actor: Actor) -> list[ChartTab]:
    """The tabs this actor may open, in registration order."""
    return [tab for tab in _TABS.values() if actor.can(tab.permission)]


def tab_for(actor: Actor, slug: str | None) -> ChartTab:
    """The named tab (or the first the actor may see); NotFound for an unknown slug.

    Raises Forbidden (through `actor.require`) when the tab exists but the role lacks its permission.
    """
    if slug is None:
        visible = tabs_for(actor)
        if not visible:
            raise NotFound("chart tab")
        return visible[0]
    tab = _TABS.get(slug)
    if tab is None:
        raise NotFound("chart tab")
    actor.require(tab.permission)
    return tab
