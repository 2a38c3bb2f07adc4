"""Between a protocol definition and the clone form: the form's starting values, the edited
definition built from what was typed, and which form field a definition error belongs to."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ketaflow.clinical.monitoring import monitoring_rules
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.validation import FieldError, ValidationFailed

# definition path -> form field (first match by prefix wins)
FIELD_OF = (
    ("dose.mg_per_kg_per_hour", "rate"),
    ("dose.mg_per_kg", "rate"),
    ("dose.titration.after_sessions", "titration_after"),
    ("dose.titration", "titration_steps"),
    ("dose.cap_mg", "cap_mg"),
    ("dose.weight_basis", "weight_basis"),
    ("dose.concentration_mg_per_ml", "concentration_mg_per_ml"),
    ("dose.increment_ml", "increment_ml"),
    ("dose.bag_ml", "bag_ml"),
    ("dose.duration_min", "duration_min"),
    ("dose.min_duration_min", "min_duration_min"),
    ("dose.allowed_mg", "allowed_mg"),
    ("dose.first_dose_mg", "first_dose_mg"),
    ("dose.start_mg", "start_mg"),
    ("dose.step_mg", "step_mg"),
    ("dose.max_mg", "max_mg"),
    ("reviews.futility_after", "futility_after"),
    ("phases", "phases"),
    ("monitoring", "monitoring"),
    ("name", "name"),
)


def form_field(path: str | None) -> str | None:
    """The clone form's field for a definition error path (None: a form-wide error)."""
    for prefix, name in FIELD_OF:
        if path is not None and (path == prefix or path.startswith((prefix + ".", prefix + "["))):
            return name
    return None


def as_form_errors(failure: ValidationFailed) -> ValidationFailed:
    """The same errors, each on its form field; the dotted path stays in the message."""
    errors = []
    for error in failure.errors:
        name = form_field(error.field)
        message = error.message if name in (None, error.field) else f"{error.field}: {error.message}"
        errors.append(FieldError(name or error.field, message))
    return ValidationFailed(errors)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def initial_from(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The clone form's starting values from a definition."""
    dose = definition.get("dose", {})
    titration = dose.get("titration") or {}
    return {
        "name": definition.get("name", ""),
        "rate": _text(dose.get("mg_per_kg", dose.get("mg_per_kg_per_hour"))),
        "cap_mg": _text(dose.get("cap_mg")),
        "weight_basis": dose.get("weight_basis", "actual"),
        "concentration_mg_per_ml": _text(dose.get("concentration_mg_per_ml")),
        "increment_ml": _text(dose.get("increment_ml")),
        "bag_ml": _text(dose.get("bag_ml")),
        "duration_min": _text(dose.get("duration_min")),
        "min_duration_min": _text(dose.get("min_duration_min")),
        "titration_steps": ", ".join(str(s) for s in titration.get("steps_mg_per_kg", [])),
        "titration_after": _text(titration.get("after_sessions")),
        "allowed_mg": ", ".join(str(s) for s in dose.get("allowed_mg", [])),
        "first_dose_mg": _text(dose.get("first_dose_mg")),
        "start_mg": _text(dose.get("start_mg")),
        "step_mg": _text(dose.get("step_mg")),
        "max_mg": _text(dose.get("max_mg")),
        "futility_after": _text(definition.get("reviews", {}).get("futility_after")),
        "phases": json.dumps(definition.get("phases", {}), indent=2),
        "monitoring": json.dumps(_monitoring_block(definition), indent=2),
    }


def _monitoring_block(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol's own monitoring block, or its route's defaults written out in full to edit."""
    if isinstance(definition.get("monitoring"), Mapping):
        return dict(definition["monitoring"])
    try:
        rules = monitoring_rules(str(definition.get("route", "")))
    except ProtocolError:
        return {}
    block = rules.as_dict()
    block.pop("route")
    return block


def _whole(value: str, field: str, errors: list[FieldError]) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit():
        errors.append(FieldError(field, "Enter a whole number."))
        return None
    return int(text)


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def definition_from(source: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The source definition with the typed numbers put in (decimals kept as text, as the shipped
    file stores them). ValidationFailed on the form field for text that is not a number or JSON;
    everything else is checked by `parse_protocol` when the version is saved."""
    result = copy.deepcopy(dict(source))
    dose = dict(result.get("dose", {}))
    errors: list[FieldError] = []
    if data.get("name", "").strip():
        result["name"] = data["name"].strip()
    for name in ("cap_mg", "concentration_mg_per_ml", "increment_ml", "start_mg", "step_mg", "max_mg"):
        if name in data:
            dose[name] = data[name].strip() or None
    if "bag_ml" in data:
        dose["bag_ml"] = data["bag_ml"].strip() or None
    if "rate" in data:
        rate_name = "mg_per_kg" if dose.get("kind") == "weight_based" else "mg_per_kg_per_hour"
        dose[rate_name] = data["rate"].strip()
    if "weight_basis" in data:
        dose["weight_basis"] = data["weight_basis"]
    for name in ("duration_min", "min_duration_min", "first_dose_mg"):
        if name in data:
            dose[name] = _whole(data[name], name, errors)
    if "allowed_mg" in data:
        values = [_whole(v, "allowed_mg", errors) for v in _list(data["allowed_mg"])]
        dose["allowed_mg"] = [v for v in values if v is not None]
    if "titration_steps" in data:
        steps = _list(data["titration_steps"])
        if steps:
            titration = dict(dose.get("titration") or {
                "when": "the last session was tolerated and the patient is not yet responding",
                "source": "clinic protocol",
            })
            titration["steps_mg_per_kg"] = steps
            after = _whole(data.get("titration_after", ""), "titration_after", errors)
            if after is not None:  # blank keeps the source's count (parse_protocol checks the rest)
                titration["after_sessions"] = after
            dose["titration"] = titration
        else:
            dose.pop("titration", None)
    result["dose"] = {k: v for k, v in dose.items() if v is not None}
    futility = _whole(data.get("futility_after", ""), "futility_after", errors)
    if futility is not None:
        result["reviews"] = {**result.get("reviews", {}), "futility_after": futility}
    try:
        phases = json.loads(data.get("phases") or "{}")
    except json.JSONDecodeError as exc:
        errors.append(FieldError("phases", f"Not valid JSON (line {exc.lineno}): {exc.msg}."))
    else:
        result["phases"] = phases
    if "monitoring" in data:
        try:
            monitoring = json.loads(data.get("monitoring") or "{}")
        except json.JSONDecodeError as exc:
            errors.append(FieldError("monitoring", f"Not valid JSON (line {exc.lineno}): {exc.msg}."))
        else:
            if monitoring:
                result["monitoring"] = monitoring
            else:
                result.pop("monitoring", None)
    if errors:
        raise ValidationFailed(errors)
    return result
