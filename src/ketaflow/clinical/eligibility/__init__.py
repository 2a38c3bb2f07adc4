"""Explainable eligibility per route, as a library: `assess(Facts(...))`.

    from ketaflow.clinical.eligibility import Facts, assess
    result = assess(Facts(age_years=42, pregnant=False, systolic_bp=128, diastolic_bp=82))
    result.result("iv").status        # Status.NEEDS_REVIEW while facts are missing
    result.result("iv").missing_facts # what to ask next

The rules are versioned data (`data/eligibility_rules.json`, clinical reference §3); see
docs/eligibility.md for every fact, rule and parameter.
"""

from .engine import (
    Assessment,
    Finding,
    RouteResult,
    Status,
    Unresolved,
    assess,
    evaluate,
    route_dict,
)
from .facts import (
    FACT_SPECS,
    FACTS,
    HEPATIC_LEVELS,
    MEDICATION_CLASSES,
    FactError,
    Facts,
    FactSpec,
    facts_from_mapping,
)
from .rules import (
    ROUTE_LABELS,
    Parameter,
    Route,
    Rule,
    RuleError,
    RuleSet,
    Severity,
    builtin_rules,
    parse_rules,
)
from .wording import describe_condition

__all__ = [
    "FACTS",
    "FACT_SPECS",
    "HEPATIC_LEVELS",
    "MEDICATION_CLASSES",
    "ROUTE_LABELS",
    "Assessment",
    "FactError",
    "FactSpec",
    "Facts",
    "Finding",
    "Parameter",
    "Route",
    "RouteResult",
    "Rule",
    "RuleError",
    "RuleSet",
    "Severity",
    "Status",
    "Unresolved",
    "assess",
    "builtin_rules",
    "describe_condition",
    "evaluate",
    "facts_from_mapping",
    "parse_rules",
    "route_dict",
]
