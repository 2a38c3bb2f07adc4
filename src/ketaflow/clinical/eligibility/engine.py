"""Assess eligibility per route: every rule that fired, every rule a missing fact left open.

Conditions use three-valued logic: a fact that is None makes a comparison *unknown*, `any` is true
when one child is true and unknown when none is true but one is unknown, `all` the mirror image.
A rule that is unknown is reported with the facts it lacks and counts as if it might fire:

- not eligible: an exclusion fired;
- needs review: a needs-review rule fired, or an exclusion or review rule is unknown;
- eligible with cautions: a caution fired or is unknown;
- eligible: none of these. Information rules never change the status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .facts import Facts
from .rules import Route, Rule, RuleSet, Severity, builtin_rules


class Status(StrEnum):
    ELIGIBLE = "eligible"
    ELIGIBLE_WITH_CAUTIONS = "eligible_with_cautions"
    NEEDS_REVIEW = "needs_review"
    NOT_ELIGIBLE = "not_eligible"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        return list(Status).index(self)


STATUS_LABELS = {
    Status.ELIGIBLE: "Eligible",
    Status.ELIGIBLE_WITH_CAUTIONS: "Eligible with cautions",
    Status.NEEDS_REVIEW: "Needs review",
    Status.NOT_ELIGIBLE: "Not eligible",
}
_FIRED = {
    Severity.EXCLUDE: Status.NOT_ELIGIBLE,
    Severity.REVIEW: Status.NEEDS_REVIEW,
    Severity.CAUTION: Status.ELIGIBLE_WITH_CAUTIONS,
    Severity.INFO: Status.ELIGIBLE,
}
_UNKNOWN = {
    Severity.EXCLUDE: Status.NEEDS_REVIEW,
    Severity.REVIEW: Status.NEEDS_REVIEW,
    Severity.CAUTION: Status.ELIGIBLE_WITH_CAUTIONS,
    Severity.INFO: Status.ELIGIBLE,
}


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with the facts it read and their values."""

    rule_id: str
    severity: Severity
    message: str
    source: str
    verify: bool
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Unresolved:
    """A rule that could fire but lacks facts; `missing` names them."""

    rule_id: str
    severity: Severity
    message: str
    source: str
    verify: bool
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RouteResult:
    route: Route
    status: Status
    findings: tuple[Finding, ...]  # most severe first
    unresolved: tuple[Unresolved, ...]

    @property
    def missing_facts(self) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.unresolved:
            names.extend(name for name in item.missing if name not in names)
        return tuple(names)

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(finding.rule_id for finding in self.findings)


@dataclass(frozen=True)
class Assessment:
    rules_version: str
    parameters: Mapping[str, float]
    results: tuple[RouteResult, ...]

    def result(self, route: Route | str) -> RouteResult:
        wanted = Route(route)
        for result in self.results:
            if result.route == wanted:
                return result
        raise KeyError(wanted)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for storage and the API."""
        return {
            "rules_version": self.rules_version,
            "parameters": dict(self.parameters),
            "routes": {r.route.value: route_dict(r) for r in self.results},
        }


def route_dict(result: RouteResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "findings": [
            {"rule": f.rule_id, "severity": f.severity.value, "message": f.message, "source": f.source,
             "verify": f.verify, "values": {name: _plain(value) for name, value in f.values}}
            for f in result.findings
        ],
        "unresolved": [
            {"rule": u.rule_id, "severity": u.severity.value, "message": u.message, "source": u.source,
             "verify": u.verify, "missing": list(u.missing)}
            for u in result.unresolved
        ],
        "missing_facts": list(result.missing_facts),
    }


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _operand(value: Any, parameters: Mapping[str, float]) -> Any:
    return parameters[value["param"]] if isinstance(value, Mapping) else value


def evaluate(node: Mapping[str, Any], facts: Facts, parameters: Mapping[str, float]) -> bool | None:
    """True, False, or None when a fact the outcome depends on is unknown."""
    if "always" in node:
        return True
    if "any" in node:
        outcomes = [evaluate(child, facts, parameters) for child in node["any"]]
        if True in outcomes:
            return True
        return None if None in outcomes else False
    if "all" in node:
        outcomes = [evaluate(child, facts, parameters) for child in node["all"]]
        if False in outcomes:
            return False
        return None if None in outcomes else True
    value = facts.value(node["fact"])
    if value is None:
        return None
    if "is" in node:
        return bool(value == node["is"])
    if "at_least" in node:
        return bool(value >= _operand(node["at_least"], parameters))
    if "below" in node:
        return bool(value < _operand(node["below"], parameters))
    if "in" in node:
        return value in node["in"]
    return node["includes"] in value


def _order(severity: Severity) -> int:
    return list(Severity).index(severity)


def _assess_route(
    route: Route, rules: Iterable[Rule], facts: Facts, parameters: Mapping[str, float]
) -> RouteResult:
    status = Status.ELIGIBLE
    findings: list[Finding] = []
    unresolved: list[Unresolved] = []
    for rule in rules:
        outcome = evaluate(rule.when, facts, parameters)
        if outcome is True:
            values = tuple((name, facts.value(name)) for name in rule.facts)
            findings.append(Finding(rule.id, rule.severity, rule.message, rule.source, rule.verify, values))
            candidate = _FIRED[rule.severity]
        elif outcome is None:
            missing = tuple(name for name in rule.facts if facts.value(name) is None)
            unresolved.append(
                Unresolved(rule.id, rule.severity, rule.message, rule.source, rule.verify, missing)
            )
            candidate = _UNKNOWN[rule.severity]
        else:
            continue
        if candidate.rank > status.rank:
            status = candidate
    findings.sort(key=lambda f: _order(f.severity))
    unresolved.sort(key=lambda u: _order(u.severity))
    return RouteResult(route, status, tuple(findings), tuple(unresolved))


def assess(
    facts: Facts,
    *,
    routes: Iterable[Route | str] | None = None,
    rules: RuleSet | None = None,
    parameters: Mapping[str, float] | None = None,
) -> Assessment:
    """Assess `facts` for each route (all four by default) under `rules` (the built-in set by
    default) with a clinic's parameter overrides. Raises RuleError for an unknown parameter and
    ValueError for an unknown route."""
    ruleset = rules or builtin_rules()
    values = ruleset.parameter_values(parameters)
    wanted = [Route(r) for r in routes] if routes is not None else list(Route)
    results = tuple(_assess_route(route, ruleset.for_route(route), facts, values) for route in wanted)
    return Assessment(ruleset.version, values, results)
