"""A practice's session settings: the Aldrete pass marks, the REMS form window, the rescue formulary
and the discharge instructions. Every change is validated as a whole and audited with what changed."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.discharge import ALDRETE_SOURCE
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.clinical.session_catalogue import default_formulary_entries, formulary, formulary_source
from ketaflow.validation import FieldError, ValidationFailed

from .models import SessionSettings
from .recovery_common import session_settings

DEFAULTS = SessionSettings()  # unsaved: the model's defaults, quoted in the notes below

NOTES = {
    "aldrete_minimum": f"Default {DEFAULTS.aldrete_minimum}. {ALDRETE_SOURCE}.",
    "aldrete_alternative": f"Default {DEFAULTS.aldrete_alternative}, allowed only with 2 on respiration "
    "and on oxygen saturation; blank for none.",
    "rems_due_days": f"Default {DEFAULTS.rems_due_days}: the Spravato REMS monitoring form is due within "
    "7 days of every dose.",
    "formulary": formulary_source(),
}


def formulary_text(config: SessionSettings) -> str:
    return json.dumps(config.formulary or default_formulary_entries(), indent=2)


def update_session_settings(
    actor: Actor,
    *,
    aldrete_minimum: Any,
    aldrete_alternative: Any,
    rems_due_days: Any,
    discharge_instructions: str,
    formulary_json: str,
) -> SessionSettings:
    """Save the settings (MANAGE_CLINICS). ValidationFailed names each bad field; nothing is saved
    unless every field is good."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    minimum = _whole(aldrete_minimum, "aldrete_minimum", 0, 10, errors)
    alternative = (
        None
        if aldrete_alternative in (None, "")
        else _whole(aldrete_alternative, "aldrete_alternative", 0, 10, errors)
    )
    if minimum is not None and alternative is not None and alternative >= minimum:
        errors.append(FieldError("aldrete_alternative", "Must be below the pass mark (or blank)."))
    days = _whole(rems_due_days, "rems_due_days", 1, 30, errors)
    instructions = (discharge_instructions or "").strip()
    if not instructions:
        errors.append(FieldError("discharge_instructions", "Write the instructions patients take home."))
    entries: list[dict[str, Any]] | None = None
    try:
        loaded = json.loads(formulary_json or "[]")
        formulary(loaded)
        entries = loaded
    except json.JSONDecodeError as exc:
        errors.append(FieldError("formulary", f"Not valid JSON (line {exc.lineno}): {exc.msg}."))
    except ProtocolError as exc:
        errors.append(FieldError("formulary", f"{exc.field}: {exc.message}"))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        config = session_settings(actor.organization_id)
        before = {f: getattr(config, f) for f in ("aldrete_minimum", "aldrete_alternative", "rems_due_days")}
        config.aldrete_minimum = minimum
        config.aldrete_alternative = alternative
        config.rems_due_days = days
        config.discharge_instructions = instructions
        config.formulary = None if entries == default_formulary_entries() else entries
        config.save()
        after = {f: getattr(config, f) for f in before}
        record(
            actor,
            Action.UPDATE,
            "SessionSettings",
            config.pk,
            detail={
                "changed": {k: [before[k], after[k]] for k in before if before[k] != after[k]},
                "formulary": "default" if config.formulary is None else "clinic",
            },
        )
    return config


def _whole(value: Any, field: str, low: int, high: int, errors: list[FieldError]) -> Any:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors.append(FieldError(field, f"Enter a whole number from {low} to {high}."))
        return None
    return int(text)
