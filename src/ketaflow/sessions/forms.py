"""Forms of the chairside page, section by section (shared pieces in `forms_base`; the scoring,
recovery and note forms in `forms_recovery`). They only carry what a tablet sends: the services
parse, validate and name the field at fault, and `error_names` maps those names onto a form's own."""

from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.clinical.session_catalogue import RescueDrug, route_labels, severities, side_effects

from .forms_base import (
    SESSION_VITALS,
    SessionForm,
    readings_of,
    vital_fields,
)
from .forms_base import number_field as _number
from .forms_base import text_field as _text
from .forms_base import time_field as _at
from .forms_recovery import AldreteForm, DischargeForm, NoteForm, ScoreForm


class ChecklistForm(SessionForm):
    prefix = "checklist"
    fasting_confirmed = forms.BooleanField(label="Fasting confirmed", required=False)
    escort_name = _text("Escort's name", 120)
    escort_phone = forms.CharField(
        label="Escort's phone",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    medications_taken = _text("Medications taken today", 500, help_text="Write 'none' if none.")
    pregnancy_test = forms.ChoiceField(
        label="Pregnancy test",
        required=False,
        choices=[
            ("", "Not recorded"),
            ("negative", "Negative"),
            ("positive", "Positive"),
            ("not_applicable", "Does not apply"),
        ],
    )
    intention = _text("Intention for the session", 500)
    mood = forms.ChoiceField(
        label="Mood now (0-10)",
        required=False,
        choices=[("", "Not asked"), *[(str(n), str(n)) for n in range(11)]],
    )
    playlist = _text("Music playlist", 200)
    room_preferences = _text("Room preferences", 300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vital_fields(self)

    def error_names(self) -> dict[str, str]:
        return {f"pre_dose.{n}": n for n in SESSION_VITALS} | {"pre_dose": "systolic_bp"}

    def values(self) -> dict[str, Any]:
        """The keyword arguments of `record_checklist`."""
        data = self.cleaned_data
        mood = data.get("mood") or ""
        readings = readings_of(self)
        return {
            "fasting_confirmed": bool(data.get("fasting_confirmed")),
            "escort_name": data.get("escort_name", ""),
            "escort_phone": data.get("escort_phone", ""),
            "medications_taken": data.get("medications_taken", ""),
            "pregnancy_test": data.get("pregnancy_test", ""),
            "intention": data.get("intention", ""),
            "mood": int(mood) if mood else None,
            "playlist": data.get("playlist", ""),
            "room_preferences": data.get("room_preferences", ""),
            "pre_dose": readings or None,
        }


class ReasonForm(SessionForm):
    """One reason: the readiness override, cancelling the session."""

    reason = _text("Reason", 300)

    def __init__(self, *args: Any, prefix: str = "override", label: str = "Reason", **kwargs: Any) -> None:
        super().__init__(*args, prefix=prefix, **kwargs)
        self.fields["reason"].label = label
        self.fields["reason"].shown_required = True  # type: ignore[attr-defined]


class PreparationForm(SessionForm):
    prefix = "prep"
    stock = forms.ChoiceField(label="Lot and location", required=False)
    volume_drawn_ml = _number("Volume drawn (mL)")
    units = _number("Devices or units", whole=True)
    bag_ml = _number("Bag volume (mL)", help_text="The final volume, with the drug in it.")
    pump_rate_ml_per_h = _number("Pump rate (mL/h)")
    override_reason = _text(
        "Reason for preparing above the plan",
        help_text="Only a prescriber prepares above the plan's dose; the reason is recorded.",
    )

    def __init__(self, *args: Any, stock: list[tuple[str, str]], route: str, **kwargs: Any) -> None:
        """`stock`: ("lot_id:location_id", label) of the lots on hand for this route's drug."""
        super().__init__(*args, **kwargs)
        self.fields["stock"].choices = [("", "Choose the lot…"), *stock]  # type: ignore[attr-defined]
        self.fields["stock"].shown_required = True  # type: ignore[attr-defined]
        shown = {"esketamine": ("units",), "iv": ("volume_drawn_ml", "bag_ml", "pump_rate_ml_per_h")}
        for name in ("volume_drawn_ml", "units", "bag_ml", "pump_rate_ml_per_h"):
            if name not in shown.get(route, ("volume_drawn_ml",)):
                del self.fields[name]

    def error_names(self) -> dict[str, str]:
        return {
            "lot_id": "stock",
            "location_id": "stock",
            "lot": "stock",
            "location": "stock",
            "drawn_mg": "volume_drawn_ml" if "volume_drawn_ml" in self.fields else "units",
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        lot_id, _, location_id = (data.get("stock") or "").partition(":")
        values: dict[str, Any] = {
            "lot_id": lot_id,
            "location_id": location_id,
            "override_reason": data.get("override_reason", ""),
        }
        for name in ("volume_drawn_ml", "units", "bag_ml", "pump_rate_ml_per_h"):
            if name in self.fields:
                typed = data.get(name, "").strip().replace(",", ".")
                values[name] = typed or None
        return values


class EventForm(SessionForm):
    prefix = "event"
    kind = forms.CharField(required=False, widget=forms.HiddenInput)
    rate_ml_per_h = _number("Pump rate (mL/h)", help_text="For a start or a rate change.")
    amount_mg = _number("Amount given (mg)", help_text="For each device or injection given.")
    at = _at()
    note = _text("Note")


class VitalsForm(SessionForm):
    """The fast entry row: one line of readings, Enter saves."""

    prefix = "vitals"
    at = _at("Taken at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vital_fields(self)
        self.order_fields([*SESSION_VITALS, "at"])

    def error_names(self) -> dict[str, str]:
        return {"measured_at": "at"}


class AlertResponseForm(SessionForm):
    """The answer to one open alert (its prefix names the alert, so each has its own inputs)."""

    response = forms.ChoiceField(
        label="Response",
        required=False,
        choices=[
            ("pause_infusion", "Pause infusion"),
            ("give_medication", "Give medication"),
            ("call_prescriber", "Call prescriber"),
        ],
    )
    note = _text("Note", help_text="Who was called and what they said; the medication given.")


class SideEffectForm(SessionForm):
    prefix = "effect"
    kind = forms.ChoiceField(label="Side effect", required=False)
    severity = forms.ChoiceField(label="Severity", required=False)
    at = _at("Onset")
    note = _text("Note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Choose…"), *side_effects().items()]  # type: ignore[attr-defined]
        self.fields["severity"].choices = [("", "Choose…"), *severities().items()]  # type: ignore[attr-defined]

    def error_names(self) -> dict[str, str]:
        return {"onset_at": "at"}


class RescueForm(SessionForm):
    prefix = "rescue"
    dose = forms.ChoiceField(label="Drug and dose", required=False)
    route = forms.ChoiceField(label="Route", required=False)
    reason = _text("Reason")
    at = _at("Given at")
    stock = forms.ChoiceField(label="Lot (controlled drugs)", required=False)
    alert = forms.ChoiceField(label="In response to alert", required=False)
    override_reason = _text("Reason for going above the formulary maximum")

    def __init__(
        self,
        *args: Any,
        formulary: tuple[RescueDrug, ...],
        stock: list[tuple[str, str]],
        alerts: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        doses = [
            (
                f"{d.key}:{mg:f}",
                f"{d.name} {mg:f} mg ({d.indication}; at most {d.max_mg:f} mg"
                f"{', controlled' if d.controlled else ''})",
            )
            for d in formulary
            for mg in d.doses_mg
        ]
        routes = route_labels()
        used = dict.fromkeys(r for d in formulary for r in d.routes)
        self.fields["dose"].choices = [("", "Choose…"), *doses]  # type: ignore[attr-defined]
        self.fields["route"].choices = [("", "Choose…"), *[(r, routes[r]) for r in used]]  # type: ignore[attr-defined]
        self.fields["stock"].choices = [("", "Not controlled"), *stock]  # type: ignore[attr-defined]
        self.fields["alert"].choices = [("", "None"), *alerts]  # type: ignore[attr-defined]

    def error_names(self) -> dict[str, str]:
        return {
            "drug_key": "dose",
            "dose_mg": "dose",
            "given_at": "at",
            "lot_id": "stock",
            "location_id": "stock",
            "alert_id": "alert",
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        drug_key, _, dose_mg = (data.get("dose") or "").partition(":")
        lot_id, _, location_id = (data.get("stock") or "").partition(":")
        return {
            "drug_key": drug_key,
            "dose_mg": dose_mg,
            "route": data.get("route", ""),
            "reason": data.get("reason", ""),
            "given_at": self.moment(),
            "lot_id": lot_id or None,
            "location_id": location_id or None,
            "alert_id": data.get("alert") or None,
            "override_reason": data.get("override_reason", ""),
        }


__all__ = [
    "SESSION_VITALS",
    "AldreteForm",
    "AlertResponseForm",
    "ChecklistForm",
    "DischargeForm",
    "EventForm",
    "NoteForm",
    "PreparationForm",
    "ReasonForm",
    "RescueForm",
    "ScoreForm",
    "SideEffectForm",
    "VitalsForm",
    "readings_of",
]
