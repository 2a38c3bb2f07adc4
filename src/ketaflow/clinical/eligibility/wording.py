"""A rule's condition in words, for people: the docs' rule table, `ketaflow eligibility rules`, pages.

    describe_condition({"fact": "systolic_bp", "at_least": {"param": "bp_exclude_systolic"}}, params)
    -> "systolic_bp ≥ bp_exclude_systolic (default 160 mmHg)"

The condition must already be valid (`parse_rules` checked it); fact names stay as they are so a
reader can find them in docs/eligibility.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .rules import Parameter

_SYMBOLS = {"at_least": "≥", "below": "<"}


def describe_condition(node: Mapping[str, Any], parameters: Mapping[str, Parameter] | None = None) -> str:
    """The condition tree as one line: `and`/`or` with parentheses where they nest."""
    return _describe(node, parameters or {}, nested=False)


def _describe(node: Mapping[str, Any], parameters: Mapping[str, Parameter], *, nested: bool) -> str:
    if "always" in node:
        return "always"
    for combinator, word in (("any", " or "), ("all", " and ")):
        if combinator in node:
            text = word.join(_describe(child, parameters, nested=True) for child in node[combinator])
            return f"({text})" if nested and len(node[combinator]) > 1 else text
    fact = node["fact"]
    if "is" in node:
        value = node["is"]
        return f"{fact} is {str(value).lower() if isinstance(value, bool) else value}"
    if "in" in node:
        choices = node["in"]
        return f"{fact} is {choices[0]}" if len(choices) == 1 else f"{fact} is one of {', '.join(choices)}"
    if "includes" in node:
        return f"{fact} includes {node['includes']}"
    op = "at_least" if "at_least" in node else "below"
    return f"{fact} {_SYMBOLS[op]} {_operand(node[op], parameters)}"


def _operand(value: Any, parameters: Mapping[str, Parameter]) -> str:
    if not isinstance(value, Mapping):
        return f"{value:g}"
    name = str(value["param"])
    parameter = parameters.get(name)
    if parameter is None:
        return name
    return f"{name} (default {parameter.default:g} {parameter.unit})"
