"""Changing an organization's measurement settings: validated field by field, audited with the change.

Every number here drives a clinical decision (what counts as a response, when a patient is overdue),
so each is checked against a sensible range and the audit entry names the fields that changed (never
their values, like every audit entry). `SETTING_NOTES` gives each field's default and its source for
the settings page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.outcomes import DEFAULT_SOURCES
from ketaflow.validation import FieldError, ValidationFailed

from .library import instruments_for
from .models import MeasurementSettings

VERIFY = "[verify]: clinic-configurable; conservative default"

# Whole-number settings: (lowest, highest, unit for messages).
RANGES: dict[str, tuple[int, int, str]] = {
    "link_ttl_hours": (1, 720, "hours"),
    "response_reduction_percent": (1, 100, "%"),
    "relapse_consecutive": (1, 10, "measurements"),
    "non_response_after": (1, 30, "treatments"),
    "overdue_after_days": (1, 60, "days"),
    "reminder_every_hours": (12, 720, "hours"),
}
FIELDS = (*RANGES, "crisis_resources", "remission_overrides")
CRISIS_SCHEMES = ("tel:", "sms:", "https://", "mailto:")
MAX_CRISIS_RESOURCES = 8


@dataclass(frozen=True)
class SettingNote:
    default: str
    source: str
    verify: bool = False


def _default(field: str, unit: str) -> str:
    """The model's default for `field`, as the settings page states it (so it cannot drift)."""
    model_field = MeasurementSettings._meta.get_field(field)
    assert isinstance(model_field, models.Field)
    value = model_field.get_default()
    return f"{value}{unit}" if unit == "%" else f"{value} {unit}"


SETTING_NOTES: dict[str, SettingNote] = {
    "crisis_resources": SettingNote(
        "988 Suicide & Crisis Lifeline (call or text 988); emergencies 911",
        "Clinical reference §8: the US crisis line and emergency number; other countries differ, so the "
        "list is a clinic setting. Shown to patients beside every questionnaire.",
    ),
    "link_ttl_hours": SettingNote(
        _default("link_ttl_hours", "hours"), "ketaflow default, not a published standard.", verify=True
    ),
    "response_reduction_percent": SettingNote(
        _default("response_reduction_percent", "%"), DEFAULT_SOURCES["response"]
    ),
    "relapse_consecutive": SettingNote(
        _default("relapse_consecutive", "in a row"),
        DEFAULT_SOURCES["relapse"].replace("[verify] ", ""),
        verify=True,
    ),
    "non_response_after": SettingNote(
        _default("non_response_after", "treatments"), DEFAULT_SOURCES["non_response"]
    ),
    "remission_overrides": SettingNote(
        "each instrument's own cut-off",
        "Clinical reference §6: remission is PHQ-9 below 5; MADRS at most 10 (Daly 2018) or at most 12 "
        "(TRANSFORM), configurable. Blank uses the instrument definition's cut-off.",
    ),
    "overdue_after_days": SettingNote(
        _default("overdue_after_days", "days"),
        "ketaflow measurement schedule default (data/measurement_schedule.json), not a published standard.",
        verify=True,
    ),
    "reminder_every_hours": SettingNote(
        _default("reminder_every_hours", "hours"), "ketaflow default, not a published standard.", verify=True
    ),
}


def update_settings(actor: Actor, **fields: Any) -> MeasurementSettings:
    """Change the named settings. Raises ValidationFailed naming each bad field (nothing is saved)."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        if name in RANGES:
            clean[name] = _whole_number(name, value, errors)
        elif name == "crisis_resources":
            clean[name] = _crisis_resources(value, errors)
        elif name == "remission_overrides":
            clean[name] = _remission_overrides(actor, value, errors)
        else:
            errors.append(FieldError(name, f"{name} is not a measurement setting."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        MeasurementSettings.objects.get_or_create(organization_id=actor.organization_id)
        config = MeasurementSettings.objects.select_for_update().get(organization_id=actor.organization_id)
        changed = sorted(name for name, value in clean.items() if getattr(config, name) != value)
        for name in changed:
            setattr(config, name, clean[name])
        if changed:
            config.save()
            record(actor, Action.UPDATE, "MeasurementSettings", config.pk, detail={"fields": changed})
    return config


def _whole_number(name: str, value: Any, errors: list[FieldError]) -> int | None:
    low, high, unit = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(FieldError(name, f"Give a whole number from {low} to {high} {unit}."))
        return None
    if not low <= value <= high:
        errors.append(FieldError(name, f"Give a whole number from {low} to {high} {unit}."))
        return None
    return value


def _crisis_resources(value: Any, errors: list[FieldError]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        errors.append(FieldError("crisis_resources", "Give the crisis resources as a list."))
        return []
    rows: list[dict[str, str]] = []
    for index, entry in enumerate(value):
        where = f"crisis_resources.{index}"
        if not isinstance(entry, dict):
            errors.append(FieldError(where, "Give a name, a way to reach it and an optional link."))
            continue
        label = str(entry.get("label") or "").strip()
        contact = str(entry.get("contact") or "").strip()
        href = str(entry.get("href") or "").strip()
        if not label:
            errors.append(
                FieldError(f"{where}.label", "Name the resource, e.g. 988 Suicide & Crisis Lifeline.")
            )
        elif len(label) > 80:
            errors.append(FieldError(f"{where}.label", "Keep the name to 80 characters."))
        if not contact:
            errors.append(FieldError(f"{where}.contact", "Say how to reach it, e.g. Call or text 988."))
        elif len(contact) > 120:
            errors.append(FieldError(f"{where}.contact", "Keep this to 120 characters."))
        bad_href = not href.startswith(CRISIS_SCHEMES) or len(href) > 200 or any(c.isspace() for c in href)
        if href and bad_href:
            errors.append(FieldError(f"{where}.href", "Start the link with tel:, sms:, https:// or mailto:."))
        rows.append({"label": label, "contact": contact, "href": href})
    if not rows and not any(e.field and e.field.startswith("crisis_resources") for e in errors):
        errors.append(
            FieldError(
                "crisis_resources",
                "Keep at least one crisis resource: patients see it beside every questionnaire.",
            )
        )
    if len(rows) > MAX_CRISIS_RESOURCES:
        errors.append(
            FieldError("crisis_resources", f"List at most {MAX_CRISIS_RESOURCES} crisis resources.")
        )
    return rows


def _remission_overrides(actor: Actor, value: Any, errors: list[FieldError]) -> dict[str, float]:
    if not isinstance(value, dict):
        errors.append(FieldError("remission_overrides", "Give the overrides by instrument."))
        return {}
    known = instruments_for(actor.organization_id)
    clean: dict[str, float] = {}
    for instrument_id, raw in value.items():
        where = f"remission_overrides.{instrument_id}"
        instrument = known.get(instrument_id)
        if instrument is None or instrument.scoring.method == "risk_level":
            errors.append(FieldError(where, f"{instrument_id} has no remission cut-off to set."))
            continue
        if raw is None:
            continue
        low, high = instrument.total_range
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
            errors.append(
                FieldError(
                    where,
                    f"Give a {instrument.short_name} total from {low:g} to {high:g}, "
                    "or leave blank for the instrument's own cut-off.",
                )
            )
            continue
        clean[instrument_id] = float(raw)
    return clean
