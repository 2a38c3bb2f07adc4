"""An organization's eligibility settings: parameter overrides and the windows, validated and audited.

A clinic may change a rule's number (say, the systolic pressure that asks for review), never the
rule. Each number is checked against a sane range, the review threshold must stay below the
exclusion threshold, and the audit entry records each change with its old and new value (settings
are not patient data). `parameter_rows` and `WINDOW_NOTES` give the settings page and the chart every
number with its default, unit, source and [verify] mark.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.eligibility import Parameter, builtin_rules
from ketaflow.validation import FieldError, ValidationFailed

from .models import (
    DEFAULT_SCREEN_WINDOW_DAYS,
    DEFAULT_TESTS_WINDOW_DAYS,
    DEFAULT_VITALS_WINDOW_DAYS,
    EligibilitySettings,
)

# Sane bounds per parameter (whole numbers); a parameter added to the rules later falls back to its
# unit's bounds. These keep a typing slip (1400 for 140) from silently changing every assessment.
PARAMETER_BOUNDS: dict[str, tuple[int, int]] = {
    "bp_review_systolic": (100, 200),
    "bp_review_diastolic": (60, 130),
    "bp_exclude_systolic": (120, 240),
    "bp_exclude_diastolic": (70, 150),
    "adult_age": (12, 26),
    "older_adult_age": (50, 90),
}
UNIT_BOUNDS: dict[str, tuple[int, int]] = {"mmHg": (40, 300), "years": (0, 130)}
# (lower, higher): the first must stay below the second.
ORDERED_PAIRS = (
    ("bp_review_systolic", "bp_exclude_systolic"),
    ("bp_review_diastolic", "bp_exclude_diastolic"),
    ("adult_age", "older_adult_age"),
)


@dataclass(frozen=True)
class WindowNote:
    label: str
    default: int
    low: int
    high: int
    source: str
    drives: str


WINDOW_NOTES: dict[str, WindowNote] = {
    "vitals_window_days": WindowNote(
        "Blood-pressure reading counts for", DEFAULT_VITALS_WINDOW_DAYS, 1, 365,
        "ketaflow default, not a published standard; the APA consensus asks for a baseline blood "
        "pressure (clinical reference §3).",
        "An older reading leaves the blood pressure unknown, so the route needs review.",
    ),
    "tests_window_days": WindowNote(
        "ECG, liver tests and urine drug screen count for", DEFAULT_TESTS_WINDOW_DAYS, 1, 730,
        "ketaflow default, not a published standard; Cohen 2018 and the APA consensus say when a test "
        "is indicated, not how long a result stays valid (clinical reference §3).",
        "An older result counts as not reviewed once the evaluation exists.",
    ),
    "screen_window_days": WindowNote(
        "Suicide-risk screen (C-SSRS screener or PHQ-9 item 9) counts for", DEFAULT_SCREEN_WINDOW_DAYS,
        1, 180,
        "ketaflow default, not a published standard; PHQ-9 asks about the last 2 weeks (clinical "
        "reference §5, §8).",
        "Without a screen in this window, recent suicidal ideation is unknown.",
    ),
}
WINDOWS = tuple(WINDOW_NOTES)


def settings_for(organization_id: uuid.UUID) -> EligibilitySettings:
    """The organization's settings, created with the defaults on first use."""
    found, _created = EligibilitySettings.objects.get_or_create(organization_id=organization_id)
    return found


def parameter_values(config: EligibilitySettings) -> dict[str, float]:
    """Every parameter's value for this organization (defaults with its overrides)."""
    ruleset = builtin_rules()
    overrides = {k: v for k, v in (config.parameters or {}).items() if k in ruleset.parameters}
    return ruleset.parameter_values(overrides)


def bounds_for(parameter: Parameter) -> tuple[int, int]:
    return PARAMETER_BOUNDS.get(parameter.name) or UNIT_BOUNDS.get(parameter.unit, (0, 10_000))


@dataclass(frozen=True)
class ParameterRow:
    parameter: Parameter
    value: float
    changed: bool  # the clinic set its own value

    @property
    def name(self) -> str:
        return self.parameter.name

    @property
    def shown(self) -> str:
        return f"{self.value:g} {self.parameter.unit}"

    @property
    def default_shown(self) -> str:
        return f"{self.parameter.default:g} {self.parameter.unit}"


def parameter_rows(config: EligibilitySettings) -> list[ParameterRow]:
    """Every parameter with this clinic's value, in the rules' order."""
    values = parameter_values(config)
    return [
        ParameterRow(parameter, values[name], values[name] != parameter.default)
        for name, parameter in builtin_rules().parameters.items()
    ]


def update_settings(
    actor: Actor, *, parameters: dict[str, Any] | None = None, **windows: Any
) -> EligibilitySettings:
    """Set parameter values (None or the default removes an override) and windows. Needs SIGN_PLANS.

    Raises ValidationFailed naming each bad field (`parameters.<name>`, `<window>`); nothing is saved
    then. The audit entry lists every change with its old and new value.
    """
    actor.require(Permission.SIGN_PLANS)
    ruleset = builtin_rules()
    errors: list[FieldError] = []
    clean_parameters: dict[str, int | None] = {}
    for name, value in (parameters or {}).items():
        where = f"parameters.{name}"
        parameter = ruleset.parameters.get(name)
        if parameter is None:
            errors.append(FieldError(where, f"{name} is not a parameter of the eligibility rules."))
            continue
        if value is None or value == "":
            clean_parameters[name] = None
            continue
        low, high = bounds_for(parameter)
        number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        whole = number and value == int(value)
        if not whole or not low <= value <= high:
            errors.append(FieldError(where, f"Give a whole number from {low} to {high} {parameter.unit}."))
        else:
            clean_parameters[name] = int(value)
    clean_windows: dict[str, int] = {}
    for name, value in windows.items():
        note = WINDOW_NOTES.get(name)
        if note is None:
            errors.append(FieldError(name, f"{name} is not an eligibility setting."))
        elif isinstance(value, bool) or not isinstance(value, int) or not note.low <= value <= note.high:
            errors.append(FieldError(name, f"Give a whole number of days from {note.low} to {note.high}."))
        else:
            clean_windows[name] = value
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        settings_for(actor.organization_id)
        config = EligibilitySettings.objects.select_for_update().get(organization_id=actor.organization_id)
        before = parameter_values(config)
        overrides = dict(config.parameters or {})
        for name, value in clean_parameters.items():
            if value is None or value == ruleset.parameters[name].default:
                overrides.pop(name, None)
            else:
                overrides[name] = value
        after = ruleset.parameter_values(overrides)
        _check_order(after, errors)
        if errors:
            raise ValidationFailed(errors)
        changes = [
            {"field": f"parameters.{name}", "old": before[name], "new": after[name]}
            for name in ruleset.parameters if before[name] != after[name]
        ]
        changes += [
            {"field": name, "old": getattr(config, name), "new": value}
            for name, value in clean_windows.items() if getattr(config, name) != value
        ]
        if changes:
            config.parameters = overrides
            for name, value in clean_windows.items():
                setattr(config, name, value)
            config.save()
            record(actor, Action.UPDATE, "EligibilitySettings", config.pk, detail={"changes": changes})
    return config


def _check_order(values: dict[str, float], errors: list[FieldError]) -> None:
    parameters = builtin_rules().parameters
    for lower, higher in ORDERED_PAIRS:
        if lower in values and higher in values and values[lower] >= values[higher]:
            errors.append(FieldError(
                f"parameters.{lower}",
                f"Keep this below the {parameters[higher].label.lower()} ({values[higher]:g} "
                f"{parameters[higher].unit}).",
            ))
