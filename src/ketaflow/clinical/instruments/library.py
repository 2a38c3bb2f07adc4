"""The built-in instruments, loaded once from `data/*.json` and validated.

A clinic's own licensed definitions (Y-BOCS, say) use the same format; the app keeps them per
organization and scores them with `score_instrument`, never by editing these files.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .definition import Instrument, parse_definition


@cache
def builtin_instruments() -> dict[str, Instrument]:
    """Every shipped instrument by id; raises DefinitionError at first use if a file is bad."""
    found: dict[str, Instrument] = {}
    folder = resources.files("ketaflow.clinical.instruments") / "data"
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        if not entry.name.endswith(".json"):
            continue
        raw: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
        instrument = parse_definition(raw)
        if instrument.id in found:
            raise ValueError(f"instrument {instrument.id} is defined twice")
        found[instrument.id] = instrument
    return found


def get_instrument(instrument_id: str) -> Instrument:
    """The built-in instrument; raises ValueError naming an unknown id."""
    try:
        return builtin_instruments()[instrument_id]
    except KeyError:
        known = ", ".join(sorted(builtin_instruments()))
        raise ValueError(f"unknown instrument {instrument_id!r} (known: {known})") from None
