"""The catalogue of coded conditions ketaflow treats, loaded from `data/conditions.json`.

Each entry carries its SNOMED CT and ICD-10-CM codes and its source; entries flagged `verify` must
be confirmed against a terminology server before clinical use (clinical reference §7).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class ConditionDefinition:
    id: str
    display: str
    snomed: str
    icd10: str
    group: str
    source: str
    verify: bool


@dataclass(frozen=True)
class ConditionCatalogue:
    version: str
    source: str
    conditions: tuple[ConditionDefinition, ...]

    def get(self, condition_id: str) -> ConditionDefinition:
        for condition in self.conditions:
            if condition.id == condition_id:
                return condition
        raise KeyError(condition_id)


_REQUIRED = ("id", "display", "snomed", "icd10", "group", "source", "verify")


def parse_catalogue(raw: dict[str, Any]) -> ConditionCatalogue:
    """Validate a catalogue document; raises ValueError naming the first bad entry."""
    seen: set[str] = set()
    entries: list[ConditionDefinition] = []
    for index, item in enumerate(raw.get("conditions", [])):
        missing = [key for key in _REQUIRED if key not in item]
        if missing:
            raise ValueError(f"condition #{index}: missing {', '.join(missing)}")
        if item["id"] in seen:
            raise ValueError(f"condition #{index}: duplicate id {item['id']!r}")
        if not str(item["snomed"]).isdigit():
            raise ValueError(f"condition {item['id']!r}: SNOMED CT code must be digits")
        seen.add(item["id"])
        entries.append(ConditionDefinition(**{key: item[key] for key in _REQUIRED}))
    if not entries:
        raise ValueError("the catalogue lists no conditions")
    return ConditionCatalogue(str(raw["version"]), str(raw["source"]), tuple(entries))


@cache
def catalogue() -> ConditionCatalogue:
    text = resources.files("ketaflow.clinical").joinpath("data/conditions.json").read_text()
    return parse_catalogue(json.loads(text))
