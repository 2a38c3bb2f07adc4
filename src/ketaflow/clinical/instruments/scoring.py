"""Scoring an answer set against an instrument definition.

The rules live in the definition; this module holds only the scoring methods. A partial answer set
is returned incomplete with no total and no band: a missing answer is never read as zero. Safety
rules run on whatever was answered, complete or not, so a lone "yes" to a suicide item is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .definition import AskIf, Instrument, Item

Answers = Sequence[int | None] | Mapping[str | int, int | None]


class AnswerError(ValueError):
    """An answer that cannot be scored; `item` names the item (None when the set itself is malformed)."""

    def __init__(self, message: str, item: str | None = None) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class SafetyFlag:
    """A named safety finding with the item and answer that raised it and what it means."""

    name: str
    message: str
    item: str | None
    value: int | None


@dataclass(frozen=True)
class Score:
    """An immutable result. `total` and `band` are None unless the answer set is complete."""

    instrument_id: str
    version: str
    total: float | None
    band: str | None
    subscores: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    safety_flags: tuple[str, ...] = ()
    safety_details: tuple[SafetyFlag, ...] = ()
    findings: tuple[str, ...] = ()
    complete: bool = False
    missing: tuple[str, ...] = ()
    answers: Mapping[str, int | None] = field(default_factory=lambda: MappingProxyType({}))


assert not hasattr(Score, "__post_init__") and not hasattr(Score, "__slots__")


def _new_score(**values: Any) -> Score:
    """A `Score` built without the frozen dataclass's per-field `object.__setattr__` (speed only).

    Equal in every way to `Score(**values)` (same class, same instance dict); every field must be given.
    """
    score = object.__new__(Score)
    score.__dict__.update(values)
    return score


@dataclass(frozen=True)
class _Plan:
    """What scoring needs from a definition, worked out once per instrument (speed only).

    The definition's `Item.values`, `item_ids` and `scored_items` are computed properties; building
    them on every call was most of the cost of scoring a PHQ-9.
    """

    ids: frozenset[str]
    order: tuple[str, ...]
    allowed: tuple[tuple[Item, frozenset[int]], ...]
    required: tuple[tuple[str, AskIf | None], ...]
    scored: tuple[str, ...]
    level_rules: bool


def _plan(instrument: Instrument) -> _Plan:
    """The instrument's plan, kept on the (immutable) instrument itself like a cached property."""
    plan: _Plan | None = instrument.__dict__.get("_scoring_plan")
    if plan is None:
        plan = _Plan(
            ids=frozenset(instrument.item_ids),
            order=instrument.item_ids,
            allowed=tuple((item, item.values) for item in instrument.items),
            required=tuple((item.id, item.ask_if) for item in instrument.items if item.required),
            scored=tuple(item.id for item in instrument.scored_items),
            level_rules=any(rule.item is None for rule in instrument.safety),
        )
        instrument.__dict__["_scoring_plan"] = plan
    return plan


def normalise_answers(instrument: Instrument, answers: Answers) -> dict[str, int | None]:
    """Answers by item id in item order; raises ValueError naming an unknown item or a bad value."""
    plan = _plan(instrument)
    values: list[Any]
    if isinstance(answers, Mapping):
        by_id: dict[str, Any] = {}
        for key, value in answers.items():
            item_id = str(key)
            if item_id not in plan.ids:
                raise AnswerError(f"{instrument.id}: unknown item {item_id!r}", item_id)
            by_id[item_id] = value
        values = [by_id.get(item_id) for item_id in plan.order]
    elif isinstance(answers, (str, bytes)):
        raise AnswerError(f"{instrument.id}: answers must be a sequence or a mapping by item id")
    else:
        values = list(answers)
        count = len(plan.order)
        if len(values) > count:
            raise AnswerError(
                f"{instrument.id}: unknown item at position {count + 1} (the instrument has {count} items)"
            )
        if len(values) < count:
            values += [None] * (count - len(values))
    checked: dict[str, int | None] = {}
    for (item, allowed), value in zip(plan.allowed, values, strict=True):
        # The common case (a plain int in range, or no answer) without a call; anything else, a
        # float like 2.0, a bool or a bad value, goes through `_checked` exactly as before.
        if value is None or (value.__class__ is int and value in allowed):
            checked[item.id] = value
        else:
            checked[item.id] = _checked(instrument, item, value)
    return checked


def _checked(instrument: Instrument, item: Item, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in item.values:
        allowed = ", ".join(str(v) for v in sorted(item.values))
        raise AnswerError(
            f"{instrument.id}: item {item.id} answer {value!r} is out of range ({allowed})", item.id
        )
    return int(value)


def _asked(item: Item, answers: Mapping[str, int | None]) -> bool:
    return item.ask_if is None or answers.get(item.ask_if.item) == item.ask_if.equals


def score_instrument(instrument: Instrument, answers: Answers) -> Score:
    """Score `answers` (in item order, or by item id; None for a missing answer)."""
    values = normalise_answers(instrument, answers)
    missing = tuple(
        item_id
        for item_id, ask_if in _plan(instrument).required
        if values[item_id] is None and (ask_if is None or values.get(ask_if.item) == ask_if.equals)
    )
    complete = not missing
    flags = _safety(instrument, values)
    total: float | None = None
    band: str | None = None
    subscores: dict[str, float] = {}
    findings: tuple[str, ...] = ()
    if complete:
        total = _total(instrument, values)
        clusters = instrument.scoring.clusters
        subscores = {name: sum(values[i] or 0 for i in members) for name, members in clusters.items()}
        band = _band(instrument, total)
        findings = _findings(instrument, values, total)
    return _new_score(
        instrument_id=instrument.id,
        version=instrument.version,
        total=total,
        band=band,
        subscores=MappingProxyType(subscores),
        safety_flags=tuple(flag.name for flag in flags),
        safety_details=flags,
        findings=findings,
        complete=complete,
        missing=missing,
        answers=MappingProxyType(values),
    )


def _total(instrument: Instrument, values: Mapping[str, int | None]) -> float:
    scoring = instrument.scoring
    scored = [values[item_id] or 0 for item_id in _plan(instrument).scored]
    if scoring.method == "mean":
        return sum(scored) / len(scored)
    if scoring.method == "max_of_groups":
        return sum(max(values[i] or 0 for i in group) for group in scoring.groups)
    if scoring.method == "risk_level":
        return risk_level(instrument, values)
    return sum(scored)


def risk_level(instrument: Instrument, values: Mapping[str, int | None]) -> int:
    """The highest level any 'yes' answer reaches; 0 when no level is reached."""
    reached = [
        level.value for level in instrument.scoring.levels if any(values.get(i) == 1 for i in level.any_of)
    ]
    return max(reached, default=0)


def _band(instrument: Instrument, total: float) -> str | None:
    if instrument.scoring.method == "risk_level":
        for level in instrument.scoring.levels:
            if level.value == total:
                return level.label
        return None
    for band in instrument.bands:
        if band.low <= total <= band.high:  # Band.holds, inlined
            return band.label
    return None


def _findings(instrument: Instrument, values: Mapping[str, int | None], total: float) -> tuple[str, ...]:
    found = []
    for finding in instrument.findings:
        met = True
        for criterion in finding.criteria:
            members = instrument.scoring.clusters[criterion.cluster]
            count = sum(1 for i in members if (values[i] or 0) >= criterion.item_at_least)
            met = met and count >= criterion.min_items
        if finding.total_at_least is not None:
            met = met and total >= finding.total_at_least
        if met:
            found.append(finding.name)
    return tuple(found)


def _safety(instrument: Instrument, values: Mapping[str, int | None]) -> tuple[SafetyFlag, ...]:
    flags = []
    level_value, level_label = 0, None
    if _plan(instrument).level_rules:  # only risk-level rules read the level
        level_value = risk_level(instrument, values) if instrument.scoring.method == "risk_level" else 0
        level_label = next((lv.label for lv in instrument.scoring.levels if lv.value == level_value), None)
    for rule in instrument.safety:
        if rule.item is not None:
            value = values.get(rule.item)
            if value is not None and value > rule.above:
                flags.append(SafetyFlag(rule.flag, rule.message, rule.item, value))
        elif level_label in rule.levels:
            flags.append(SafetyFlag(rule.flag, rule.message, None, level_value))
    return tuple(flags)
