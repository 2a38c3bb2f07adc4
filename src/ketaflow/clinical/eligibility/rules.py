"""Eligibility rules as versioned data, validated on load.

A rules document (`data/eligibility_rules.json`) has a version, named numeric parameters (each with
a default, unit, source and a `verify` mark; a clinic may override the value, not the rule) and the
rules. A rule names the routes it applies to, a severity, a condition over the facts, the message a
clinician reads and its source. Conditions are small JSON trees:

    {"fact": "pregnant", "is": true}
    {"fact": "systolic_bp", "at_least": {"param": "bp_review_systolic"}}
    {"fact": "age_years", "below": 18}
    {"fact": "hepatic_impairment", "in": ["severe"]}
    {"fact": "medication_classes", "includes": "maoi"}
    {"any": [...]}   {"all": [...]}   {"always": true}

`parse_rules` raises `RuleError` naming the rule and field, so a bad document never assesses anyone.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from .facts import FACT_SPECS


class RuleError(ValueError):
    """A rules document that must not be used; the message names the rule and field."""


class Route(StrEnum):
    IV = "iv"
    IM = "im"
    SUBLINGUAL_HOME = "sublingual_home"
    ESKETAMINE = "esketamine"

    @property
    def label(self) -> str:
        return ROUTE_LABELS[self]


ROUTE_LABELS = {
    Route.IV: "IV infusion",
    Route.IM: "Intramuscular",
    Route.SUBLINGUAL_HOME: "Sublingual at home",
    Route.ESKETAMINE: "Esketamine nasal spray",
}


class Severity(StrEnum):
    EXCLUDE = "exclude"
    REVIEW = "needs_review"
    CAUTION = "caution"
    INFO = "info"

    @property
    def label(self) -> str:
        return SEVERITY_LABELS[self]


SEVERITY_LABELS = {
    Severity.EXCLUDE: "Exclusion",
    Severity.REVIEW: "Needs prescriber review",
    Severity.CAUTION: "Caution",
    Severity.INFO: "Information",
}

_ID = re.compile(r"[a-z][a-z0-9-]{2,59}")
_COMPARISONS = ("is", "at_least", "below", "in", "includes")
_NUMERIC = ("at_least", "below")


@dataclass(frozen=True)
class Parameter:
    name: str
    default: float
    unit: str
    label: str
    source: str
    verify: bool


@dataclass(frozen=True)
class Rule:
    id: str
    routes: frozenset[Route]
    severity: Severity
    when: Mapping[str, Any]
    message: str
    source: str
    verify: bool
    facts: tuple[str, ...]  # every fact the condition reads, in order of first use

    def applies_to(self, route: Route) -> bool:
        return route in self.routes


@dataclass(frozen=True)
class RuleSet:
    version: str
    source: str
    parameters: Mapping[str, Parameter]
    rules: tuple[Rule, ...]

    def for_route(self, route: Route) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.applies_to(route))

    def facts_for(self, route: Route) -> frozenset[str]:
        """Every fact a decision for this route relies on (any change to one re-opens it)."""
        return frozenset(name for rule in self.for_route(route) for name in rule.facts)

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def parameter_values(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Defaults with a clinic's overrides; raises RuleError for an unknown parameter or a value
        that is not a finite number (NaN would silently switch a threshold rule off)."""
        values = {name: p.default for name, p in self.parameters.items()}
        for name, value in (overrides or {}).items():
            if name not in self.parameters:
                raise RuleError(f"parameter {name!r}: not a parameter of rules {self.version}")
            if not _is_number(value):
                raise RuleError(f"parameter {name!r}: must be a finite number")
            values[name] = value
        return values


def _is_number(value: Any) -> bool:
    """An int or a finite float (not a bool, NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def _verify(raw: Mapping[str, Any], where: str) -> bool:
    value = raw.get("verify", False)
    if not isinstance(value, bool):
        raise RuleError(f"{where}: verify must be true or false")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: {key} must be non-empty text")
    return value


def _parse_parameters(raw: Any) -> dict[str, Parameter]:
    if not isinstance(raw, Mapping):
        raise RuleError("parameters: must be an object")
    parameters = {}
    for name, item in raw.items():
        where = f"parameter {name!r}"
        if not isinstance(item, Mapping):
            raise RuleError(f"{where}: must be an object")
        default = item.get("default")
        if not _is_number(default) or not isinstance(default, (int, float)):
            raise RuleError(f"{where}: default must be a finite number")
        parameters[name] = Parameter(
            name, default, _text(item, "unit", where), _text(item, "label", where),
            _text(item, "source", where), _verify(item, where),
        )
    return parameters


def _check_operand(value: Any, where: str, parameters: Mapping[str, Parameter]) -> None:
    if isinstance(value, Mapping):
        if set(value) != {"param"} or not isinstance(value["param"], str) or value["param"] not in parameters:
            raise RuleError(f"{where}: unknown parameter reference {value!r}")
    elif not _is_number(value):
        raise RuleError(f"{where}: must be a finite number or a parameter reference")


def _check_condition(node: Any, where: str, parameters: Mapping[str, Parameter], read: list[str]) -> None:
    """Validate a condition tree, appending each fact it reads to `read`."""
    if not isinstance(node, Mapping):
        raise RuleError(f"{where}: a condition must be an object")
    if set(node) == {"always"}:
        if node["always"] is not True:
            raise RuleError(f"{where}: always must be true")
        return
    for combinator in ("any", "all"):
        if combinator in node:
            children = node[combinator]
            if len(node) != 1 or not isinstance(children, list) or not children:
                raise RuleError(f"{where}: {combinator} must be the only key and list conditions")
            for child in children:
                _check_condition(child, where, parameters, read)
            return
    fact = node.get("fact")
    if not isinstance(fact, str) or fact not in FACT_SPECS:
        raise RuleError(f"{where}: unknown fact {fact!r}")
    comparisons = [key for key in node if key != "fact"]
    if len(comparisons) != 1 or comparisons[0] not in _COMPARISONS:
        raise RuleError(f"{where}: fact {fact!r} needs exactly one of {', '.join(_COMPARISONS)}")
    spec = FACT_SPECS[fact]
    op = comparisons[0]
    operand = node[op]
    if op in _NUMERIC:
        if spec.kind != "int":
            raise RuleError(f"{where}: {op} needs a numeric fact, not {fact!r}")
        _check_operand(operand, where, parameters)
    elif op == "includes":
        if spec.kind != "set" or operand not in spec.choices:
            raise RuleError(f"{where}: includes needs a set fact and one of its choices")
    elif op == "in":
        if (
            spec.kind != "choice" or not isinstance(operand, list) or not operand
            or not all(isinstance(choice, str) and choice in spec.choices for choice in operand)
        ):
            raise RuleError(f"{where}: in needs a choice fact and a list of its choices")
    elif spec.kind == "bool" and not isinstance(operand, bool):
        raise RuleError(f"{where}: fact {fact!r} is true or false")
    elif spec.kind == "choice" and operand not in spec.choices:
        raise RuleError(f"{where}: {operand!r} is not a choice of {fact!r}")
    elif spec.kind in ("int", "set"):
        raise RuleError(f"{where}: use at_least/below or includes for {fact!r}")
    if fact not in read:
        read.append(fact)


def parse_rules(raw: Mapping[str, Any]) -> RuleSet:
    """Validate a rules document into a RuleSet; raises RuleError naming the first problem."""
    if not isinstance(raw, Mapping):
        raise RuleError("rules document: must be an object")
    version = _text(raw, "version", "rules document")
    source = _text(raw, "source", "rules document")
    parameters = _parse_parameters(raw.get("parameters", {}))
    items = raw.get("rules")
    if not isinstance(items, list) or not items:
        raise RuleError("rules document: rules must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise RuleError(f"rule #{index}: must be an object")
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
            raise RuleError(f"rule #{index}: id must be lower-case letters, digits and hyphens")
        where = f"rule {rule_id!r}"
        if rule_id in seen:
            raise RuleError(f"{where}: duplicate id")
        seen.add(rule_id)
        routes = item.get("routes")
        if not isinstance(routes, list) or not routes:
            raise RuleError(f"{where}: routes must list at least one route")
        try:
            route_set = frozenset(Route(r) for r in routes)
            severity = Severity(str(item.get("severity")))
        except ValueError as exc:
            raise RuleError(f"{where}: {exc}") from exc
        read: list[str] = []
        _check_condition(item.get("when"), where, parameters, read)
        rules.append(Rule(
            rule_id, route_set, severity, copy.deepcopy(item["when"]), _text(item, "message", where),
            _text(item, "source", where), _verify(item, where), tuple(read),
        ))
    return RuleSet(version, source, parameters, tuple(rules))


@cache
def builtin_rules() -> RuleSet:
    """The rules shipped with ketaflow (clinical reference §3), parsed once."""
    text = resources.files("ketaflow.clinical").joinpath("data/eligibility_rules.json").read_text("utf-8")
    return parse_rules(json.loads(text))
