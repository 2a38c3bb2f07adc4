"""Side effects charted in a session and the rescue formulary (`data/session_catalogue.json`).

The side-effect list is the issue's structured list; the formulary is a clinic default marked verify,
replaced by the clinic's own (`formulary(clinic_entries)`), each entry with the doses a nurse may
pick, the most in one session, and whether the drug is controlled (then it also goes to the ledger).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from .protocol_fields import ProtocolError, number


@cache
def _data() -> Mapping[str, Any]:
    raw = (
        resources.files("ketaflow.clinical")
        .joinpath("data/session_catalogue.json")
        .read_text(encoding="utf-8")
    )
    document: Mapping[str, Any] = json.loads(raw)
    return document


def side_effects() -> dict[str, str]:
    """key -> label, in charting order."""
    return {e["key"]: e["label"] for e in _data()["side_effects"]}


def severities() -> dict[str, str]:
    return {e["key"]: e["label"] for e in _data()["severities"]}


def route_labels() -> dict[str, str]:
    return dict(_data()["routes"])


@dataclass(frozen=True)
class RescueDrug:
    key: str
    name: str
    doses_mg: tuple[Decimal, ...]
    routes: tuple[str, ...]
    max_mg: Decimal
    controlled: bool
    indication: str
    schedule: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "doses_mg": [f"{d:f}" for d in self.doses_mg],
            "routes": list(self.routes),
            "max_mg": f"{self.max_mg:f}",
            "controlled": self.controlled,
            "for": self.indication,
            "schedule": self.schedule,
        }


def default_formulary_entries() -> list[dict[str, Any]]:
    return [dict(e) for e in _data()["formulary"]]


def formulary_source() -> str:
    return str(_data()["formulary_source"])


def formulary(entries: Sequence[Mapping[str, Any]] | None = None) -> tuple[RescueDrug, ...]:
    """The clinic's formulary (or the default), validated; ProtocolError names `formulary[i].field`."""
    rows = default_formulary_entries() if entries is None else entries
    drugs = []
    routes = route_labels()
    for i, row in enumerate(rows):
        path = f"formulary[{i}]"
        if not isinstance(row, Mapping):
            raise ProtocolError(path, "must be an object")
        key, name = str(row.get("key", "")).strip(), str(row.get("name", "")).strip()
        if not key or not name:
            raise ProtocolError(f"{path}.name", "each drug needs a key and a name")
        listed = row.get("doses_mg")
        if not isinstance(listed, list) or not listed:
            raise ProtocolError(f"{path}.doses_mg", "list at least one dose")
        doses = tuple(number({"doses_mg": d}, "doses_mg", f"{path}.") for d in listed)
        maximum = number(row, "max_mg", f"{path}.")
        if any(d > maximum for d in doses):
            raise ProtocolError(f"{path}.max_mg", "is below one of the listed doses")
        drug_routes = tuple(row.get("routes") or [])
        if not drug_routes or any(r not in routes for r in drug_routes):
            raise ProtocolError(f"{path}.routes", f"use {', '.join(routes)}")
        drugs.append(
            RescueDrug(
                key,
                name,
                doses,
                drug_routes,
                maximum,
                bool(row.get("controlled", False)),
                str(row.get("for", "")),
                str(row.get("schedule", "")),
            )
        )
    if len({d.key for d in drugs}) != len(drugs):
        raise ProtocolError("formulary", "each drug key appears once")
    return tuple(drugs)
