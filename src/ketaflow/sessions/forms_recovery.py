"""The chairside forms of the later sections: the CADSS-6 / MOAA/S quick scores (items from the
instrument definitions), the modified Aldrete (with the values the last readings suggest), the
discharge, and the note's signature or amendment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.instruments.definition import Instrument

from .forms_base import SessionForm
from .forms_base import text_field as _text


class ScoreForm(SessionForm):
    """A quick score of one clinician instrument (CADSS-6, MOAA/S): one select per item."""

    def __init__(self, *args: Any, instrument: Instrument, **kwargs: Any) -> None:
        super().__init__(*args, prefix=instrument.id, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            choices = [("", "Choose…"), *[(str(o.value), f"{o.value} {o.label}") for o in item.options]]
            self.fields[f"item_{item.id}"] = forms.ChoiceField(
                label=item.text, required=False, choices=choices
            )

    def error_names(self) -> dict[str, str]:
        names = {}
        for item in self.instrument.items:
            for key in (item.id, f"answers.{item.id}", f"item_{item.id}"):
                names[key] = f"item_{item.id}"
        return names

    def answers(self) -> dict[str | int, int | None]:
        data = self.cleaned_data
        return {
            item.id: (int(data[f"item_{item.id}"]) if data.get(f"item_{item.id}") else None)
            for item in self.instrument.items
        }


class AldreteForm(SessionForm):
    prefix = "aldrete"

    def __init__(self, *args: Any, suggested: Mapping[str, int | None] | None = None, **kwargs: Any) -> None:
        """`suggested`: item -> the value the last readings suggest (circulation, saturation)."""
        super().__init__(*args, **kwargs)
        for key, (label, anchors) in ALDRETE_ITEMS.items():
            hint = (suggested or {}).get(key)
            self.fields[key] = forms.ChoiceField(
                label=label,
                required=False,
                widget=forms.RadioSelect,
                choices=[(str(n), f"{n}: {text}") for n, text in enumerate(anchors)],
                help_text=f"The last readings suggest {hint}." if hint is not None else "",
            )
            if hint is not None and not self.is_bound:
                self.initial.setdefault(key, str(hint))

    def items(self) -> dict[str, object]:
        return {key: self.cleaned_data.get(key, "") for key in ALDRETE_ITEMS}


class DischargeForm(SessionForm):
    prefix = "discharge"
    escort_handover_name = _text("Escort at handover", 120)
    send_instructions = forms.MultipleChoiceField(
        label="Discharge instructions",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[("print", "Print"), ("email", "Email"), ("sms", "Text message")],
        initial=["print"],
    )
    override_reason = _text(
        "Reason for discharging before ready",
        help_text="A prescriber's decision; recorded with the discharge.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["escort_handover_name"].shown_required = True  # type: ignore[attr-defined]

    def error_names(self) -> dict[str, str]:
        return {"escort_name": "escort_handover_name"}


class NoteForm(SessionForm):
    """Signing (the note as assembled, editable before signing) or amending (with a reason)."""

    note = _text("Note", 20000, rows=14)
    reason = _text("Reason for the amendment")

    def __init__(self, *args: Any, amend: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, prefix="amend" if amend else "sign", **kwargs)
        if not amend:
            del self.fields["reason"]
        else:
            self.fields["reason"].shown_required = True  # type: ignore[attr-defined]
