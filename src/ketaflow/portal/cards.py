"""Cards on the portal's home page that other parts of the practice add (intake, consent, ...).

A card is a function of the signed-in patient's account returning the template and context to show,
or None when it has nothing to say. Each card audits its own reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import PortalAccount


@dataclass(frozen=True)
class Card:
    template: str
    context: dict[str, Any]


CardSource = Callable[[PortalAccount, str | None], Card | None]
_SOURCES: dict[str, CardSource] = {}


def register_card(name: str, source: CardSource) -> None:
    """Add (or replace) the card `name`; cards show in registration order, above the questionnaires."""
    _SOURCES[name] = source


def cards_for(account: PortalAccount, ip_address: str | None) -> list[Card]:
    return [card for source in _SOURCES.values() if (card := source(account, ip_address)) is not None]
