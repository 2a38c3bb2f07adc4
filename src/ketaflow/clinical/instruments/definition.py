"""Instrument definitions: the data shape of a questionnaire, and its validation on load.

A definition is plain JSON (see docs/instruments.md): items with their answer options, one scoring
method (`sum`, `mean`, `max_of_groups`, `clusters`, `risk_level`), bands, safety rules, codes and
the licence. `parse_definition` turns the document into frozen dataclasses or raises
`DefinitionError` naming the first problem, so a bad file never reaches a patient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

METHODS = ("sum", "mean", "max_of_groups", "clusters", "risk_level")
RESPONDENTS = ("patient", "clinician")
_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9_]{0,23}$")
_LOINC = re.compile(r"^\d{1,7}-\d$")


class DefinitionError(ValueError):
    """An instrument definition that must not be used; the message names the instrument and field."""


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class AskIf:
    """The item is asked only when `item` was answered with `equals`; otherwise it may stay empty."""

    item: str
    equals: int


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    options: tuple[Option, ...]
    loinc: str | None = None
    scored: bool = True
    required: bool = True
    ask_if: AskIf | None = None

    @property
    def values(self) -> frozenset[int]:
        return frozenset(option.value for option in self.options)

    @property
    def lowest(self) -> int:
        return min(self.values)

    @property
    def highest(self) -> int:
        return max(self.values)

    def label_for(self, value: int | None) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return ""


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class RiskLevel:
    """One level of a `risk_level` instrument: reached when any listed item is answered 'yes' (1)."""

    label: str
    value: int
    any_of: tuple[str, ...]


@dataclass(frozen=True)
class ClusterCriterion:
    """At least `min_items` items of `cluster` answered at or above `item_at_least`."""

    cluster: str
    item_at_least: int
    min_items: int


@dataclass(frozen=True)
class Finding:
    """A named result beyond the band: a cluster rule (`criteria`) or a total cut-off (`total_at_least`)."""

    name: str
    label: str
    source: str
    criteria: tuple[ClusterCriterion, ...] = ()
    total_at_least: float | None = None


@dataclass(frozen=True)
class SafetyRule:
    """Raise `flag` when `item` is above `above`, or (for risk scales) when the level is in `levels`."""

    flag: str
    message: str
    item: str | None = None
    above: int = 0
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Threshold:
    """A configurable cut-off (for example remission at most 4) and where it comes from."""

    at_most: float
    source: str


@dataclass(frozen=True)
class Scoring:
    method: str
    groups: tuple[tuple[str, ...], ...] = ()
    clusters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    levels: tuple[RiskLevel, ...] = ()


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    name: str
    short_name: str
    respondent: str
    instructions: str
    licence: str
    attribution: str
    source: str
    items: tuple[Item, ...]
    scoring: Scoring
    bands: tuple[Band, ...] = ()
    band_source: str = ""
    safety: tuple[SafetyRule, ...] = ()
    findings: tuple[Finding, ...] = ()
    loinc_panel: str | None = None
    loinc_total: str | None = None
    loinc_subscores: Mapping[str, str] = field(default_factory=dict)
    remission: Threshold | None = None
    verify: tuple[str, ...] = ()
    ships_text: bool = True

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)

    @property
    def total_range(self) -> tuple[float, float]:
        """The lowest and highest total a complete answer set can have."""
        scored = self.scored_items
        method = self.scoring.method
        if method == "risk_level":
            return (0, max((level.value for level in self.scoring.levels), default=0))
        if method == "mean":
            return (
                sum(i.lowest for i in scored) / len(scored),
                sum(i.highest for i in scored) / len(scored),
            )
        if method == "max_of_groups":
            return (
                sum(min(self.item(i).lowest for i in group) for group in self.scoring.groups),
                sum(max(self.item(i).highest for i in group) for group in self.scoring.groups),
            )
        return (sum(i.lowest for i in scored), sum(i.highest for i in scored))


def parse_definition(raw: Mapping[str, Any]) -> Instrument:
    """Validate a definition document and return the instrument; raises DefinitionError."""
    name = str(raw.get("id", "<no id>"))
    try:
        return _parse(raw)
    except DefinitionError as exc:
        raise DefinitionError(f"instrument {name}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DefinitionError(f"instrument {name}: malformed definition ({exc!r})") from None


def _require(raw: Mapping[str, Any], key: str, where: str = "") -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise DefinitionError(f"{where}{key} is required")
    return raw[key]


def _parse(raw: Mapping[str, Any]) -> Instrument:
    instrument_id = str(_require(raw, "id"))
    if not _ID.match(instrument_id):
        raise DefinitionError("id must be a lower-case slug (letters, digits, underscores)")
    option_sets = {
        key: _options(value, f"option set {key}") for key, value in raw.get("option_sets", {}).items()
    }
    items = tuple(_item(entry, option_sets, index) for index, entry in enumerate(_require(raw, "items")))
    _check_items(items)
    scoring = _scoring(_require(raw, "scoring"), items)
    ships_text = bool(raw.get("ships_text", True))
    instrument = Instrument(
        id=instrument_id,
        version=str(_require(raw, "version")),
        name=str(_require(raw, "name")),
        short_name=str(_require(raw, "short_name")),
        respondent=str(_require(raw, "respondent")),
        instructions=str(raw.get("instructions", "")),
        licence=str(_require(raw, "licence")),
        attribution=str(_require(raw, "attribution")),
        source=str(_require(raw, "source")),
        items=items,
        scoring=scoring,
        bands=tuple(Band(float(b["min"]), float(b["max"]), str(b["label"])) for b in raw.get("bands", [])),
        band_source=str(raw.get("band_source", "")),
        safety=tuple(_safety(entry) for entry in raw.get("safety", [])),
        findings=tuple(_finding(entry) for entry in raw.get("findings", [])),
        loinc_panel=raw.get("loinc", {}).get("panel"),
        loinc_total=raw.get("loinc", {}).get("total"),
        loinc_subscores=dict(raw.get("loinc", {}).get("subscores", {})),
        remission=_threshold(raw.get("remission")),
        verify=tuple(str(v) for v in raw.get("verify", [])),
        ships_text=ships_text,
    )
    _check_instrument(instrument)
    return instrument


def _options(raw: Sequence[Mapping[str, Any]], where: str) -> tuple[Option, ...]:
    options = []
    for entry in raw:
        value = entry["value"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise DefinitionError(f"{where}: option values must be whole numbers")
        options.append(Option(value, str(entry["label"])))
    if len(options) < 2:
        raise DefinitionError(f"{where}: needs at least two options")
    if len({o.value for o in options}) != len(options):
        raise DefinitionError(f"{where}: option values repeat")
    return tuple(options)


def _item(raw: Mapping[str, Any], option_sets: Mapping[str, tuple[Option, ...]], index: int) -> Item:
    item_id = str(_require(raw, "id", f"item #{index + 1}: "))
    if not _ITEM_ID.match(item_id):
        raise DefinitionError(f"item {item_id!r}: id must be a short lower-case slug")
    options_raw = _require(raw, "options", f"item {item_id}: ")
    if isinstance(options_raw, str):
        if options_raw not in option_sets:
            raise DefinitionError(f"item {item_id}: unknown option set {options_raw!r}")
        options = option_sets[options_raw]
    else:
        options = _options(options_raw, f"item {item_id}")
    loinc = raw.get("loinc")
    if loinc is not None and not _LOINC.match(str(loinc)):
        raise DefinitionError(f"item {item_id}: {loinc!r} is not a LOINC code")
    ask_if = raw.get("ask_if")
    return Item(
        id=item_id,
        text=str(_require(raw, "text", f"item {item_id}: ")),
        options=options,
        loinc=loinc,
        scored=bool(raw.get("scored", True)),
        required=bool(raw.get("required", True)),
        ask_if=AskIf(str(ask_if["item"]), int(ask_if["equals"])) if ask_if else None,
    )


def _check_items(items: tuple[Item, ...]) -> None:
    if not items:
        raise DefinitionError("items: at least one item is required")
    ids = [item.id for item in items]
    repeated = sorted({item_id for item_id in ids if ids.count(item_id) > 1})
    if repeated:
        raise DefinitionError(f"items: item ids repeat ({', '.join(repeated)})")
    for position, item in enumerate(items):
        if item.ask_if is not None and item.ask_if.item not in ids[:position]:
            raise DefinitionError(f"item {item.id}: ask_if must name an earlier item")


def _scoring(raw: Mapping[str, Any], items: tuple[Item, ...]) -> Scoring:
    method = str(_require(raw, "method", "scoring: "))
    if method not in METHODS:
        raise DefinitionError(f"scoring: method must be one of {', '.join(METHODS)}")
    known = {item.id for item in items}
    scored = {item.id for item in items if item.scored}
    groups = tuple(tuple(str(i) for i in group) for group in raw.get("groups", []))
    clusters = {str(k): tuple(str(i) for i in v) for k, v in raw.get("clusters", {}).items()}
    levels = tuple(
        RiskLevel(str(level["label"]), int(level["value"]), tuple(str(i) for i in level["any_of"]))
        for level in raw.get("levels", [])
    )
    if method == "max_of_groups":
        grouped = [i for group in groups for i in group]
        if sorted(grouped) != sorted(scored) or any(not group for group in groups):
            raise DefinitionError("scoring: groups must hold every scored item exactly once")
    if method == "clusters":
        if not clusters:
            raise DefinitionError("scoring: clusters are required")
        clustered = [i for members in clusters.values() for i in members]
        if sorted(clustered) != sorted(scored):
            raise DefinitionError("scoring: clusters must hold every scored item exactly once")
    if method == "risk_level":
        if not levels:
            raise DefinitionError("scoring: levels are required")
        if len({level.value for level in levels}) != len(levels) or any(lv.value <= 0 for lv in levels):
            raise DefinitionError("scoring: level values must be distinct and above zero")
        for level in levels:
            unknown = set(level.any_of) - known
            if unknown:
                raise DefinitionError(f"scoring: level {level.label} names unknown items {sorted(unknown)}")
        for item in items:
            if item.values != {0, 1}:
                raise DefinitionError(f"item {item.id}: a risk-level item is answered no (0) or yes (1)")
    return Scoring(method, groups, clusters, levels)


def _safety(raw: Mapping[str, Any]) -> SafetyRule:
    return SafetyRule(
        flag=str(_require(raw, "flag", "safety: ")),
        message=str(_require(raw, "message", "safety: ")),
        item=raw.get("item"),
        above=int(raw.get("above", 0)),
        levels=tuple(str(level) for level in raw.get("levels", [])),
    )


def _finding(raw: Mapping[str, Any]) -> Finding:
    criteria = tuple(
        ClusterCriterion(str(c["cluster"]), int(c["item_at_least"]), int(c["min_items"]))
        for c in raw.get("criteria", [])
    )
    total = raw.get("total_at_least")
    return Finding(
        name=str(_require(raw, "name", "finding: ")),
        label=str(_require(raw, "label", "finding: ")),
        source=str(_require(raw, "source", "finding: ")),
        criteria=criteria,
        total_at_least=float(total) if total is not None else None,
    )


def _threshold(raw: Mapping[str, Any] | None) -> Threshold | None:
    if not raw:
        return None
    return Threshold(float(raw["at_most"]), str(_require(raw, "source", "remission: ")))


def _check_instrument(instrument: Instrument) -> None:
    if instrument.respondent not in RESPONDENTS:
        raise DefinitionError(f"respondent must be one of {', '.join(RESPONDENTS)}")
    for code in (instrument.loinc_panel, instrument.loinc_total, *instrument.loinc_subscores.values()):
        if code is not None and not _LOINC.match(str(code)):
            raise DefinitionError(f"loinc: {code!r} is not a LOINC code")
    low, high = instrument.total_range
    bands = sorted(instrument.bands, key=lambda band: band.low)
    for band in bands:
        if band.low > band.high or band.label != band.label.lower():
            raise DefinitionError(f"bands: {band.label!r} must run low to high with a lower-case label")
    if bands and instrument.scoring.method != "risk_level":
        if bands[0].low != low or bands[-1].high != high:
            raise DefinitionError(f"bands: must cover the whole range {low:g}-{high:g}")
        step = 0.0 if instrument.scoring.method == "mean" else 1.0
        for before, after in pairwise(bands):
            if (step and after.low != before.high + step) or (not step and after.low < before.high):
                raise DefinitionError(f"bands: {before.label!r} and {after.label!r} overlap or leave a gap")
    levels = {level.label for level in instrument.scoring.levels}
    known = set(instrument.item_ids)
    for rule in instrument.safety:
        if rule.item is not None and rule.item not in known:
            raise DefinitionError(f"safety: {rule.flag} names unknown item {rule.item!r}")
        if rule.item is None and not rule.levels:
            raise DefinitionError(f"safety: {rule.flag} needs an item or risk levels")
        if set(rule.levels) - levels:
            raise DefinitionError(f"safety: {rule.flag} names unknown risk levels")
    clusters = instrument.scoring.clusters
    for finding in instrument.findings:
        for criterion in finding.criteria:
            if criterion.cluster not in clusters:
                raise DefinitionError(f"finding {finding.name}: unknown cluster {criterion.cluster!r}")
    for key in instrument.loinc_subscores:
        if key not in clusters:
            raise DefinitionError(f"loinc: subscore {key!r} is not a cluster")
