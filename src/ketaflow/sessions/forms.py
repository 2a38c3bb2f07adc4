"""Forms of the chairside page. They only carry what a tablet sends; the services parse and validate.

Numbers arrive as text (the services read them and name the field at fault), with `inputmode` set
so a tablet shows its number pad. Times are typed as a time of day in the clinic's zone ("leave
blank for now"). Each form has a prefix, so the many forms of one page never share an id, and
`error_names` maps a service's field names onto the form's own for `show_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.instruments.definition import Instrument
from ketaflow.clinical.session_catalogue import RescueDrug, route_labels, severities, side_effects
from ketaflow.clinical.vitals import VITAL_SPECS

NUMBER = {"inputmode": "decimal", "autocomplete": "off", "size": 6}
WHOLE = {"inputmode": "numeric", "autocomplete": "off", "size": 5}
SESSION_VITALS = ("systolic_bp", "diastolic_bp", "heart_rate", "oxygen_saturation", "respiratory_rate",
                  "temperature_c")
SHORT_LABELS = {"systolic_bp": "Systolic", "diastolic_bp": "Diastolic", "heart_rate": "Heart rate",
                "oxygen_saturation": "SpO2", "respiratory_rate": "Resp. rate", "temperature_c": "Temp."}


def _number(label: str, *, whole: bool = False, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=12, help_text=help_text,
                           widget=forms.TextInput(attrs=WHOLE if whole else NUMBER))


def _text(label: str, max_length: int = 300, *, help_text: str = "", rows: int = 0) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(label=label, required=False, max_length=max_length, help_text=help_text,
                           widget=widget)


def _at(label: str = "At") -> forms.TimeField:
    return forms.TimeField(label=label, required=False, input_formats=["%H:%M", "%H:%M:%S"],
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                           help_text="Leave blank for now.")


def vital_fields(form: forms.Form, *, required_look: bool = False) -> None:
    """Add the session's vital-sign inputs (systolic ... temperature) to `form`."""
    for name in SESSION_VITALS:
        spec = VITAL_SPECS[name]
        form.fields[name] = _number(f"{SHORT_LABELS[name]} ({spec.unit})", whole=spec.whole)
        if required_look:
            form.fields[name].shown_required = True  # type: ignore[attr-defined]


def readings_of(form: forms.Form) -> dict[str, str]:
    """The typed readings (decimal commas read as points); blank ones left out."""
    data = form.cleaned_data
    return {n: data.get(n, "").strip().replace(",", ".") for n in SESSION_VITALS if data.get(n, "").strip()}


class SessionForm(forms.Form):
    """A form of one section; `zone` is the clinic's, for times typed without one."""

    def __init__(self, *args: Any, zone: ZoneInfo | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone

    def error_names(self) -> dict[str, str]:
        return {}

    def moment(self, name: str = "at") -> datetime | None:
        """The time typed in `name` as today in the clinic's zone, or None for now."""
        typed: time | None = self.cleaned_data.get(name)
        if typed is None:
            return None
        zone = self.zone or timezone.get_current_timezone()
        day = timezone.now().astimezone(zone).date()
        return datetime.combine(day, typed, tzinfo=zone)


class ChecklistForm(SessionForm):
    prefix = "checklist"
    fasting_confirmed = forms.BooleanField(label="Fasting confirmed", required=False)
    escort_name = _text("Escort's name", 120)
    escort_phone = forms.CharField(label="Escort's phone", required=False, max_length=32,
                                   widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    medications_taken = _text("Medications taken today", 500, help_text="Write 'none' if none.")
    pregnancy_test = forms.ChoiceField(
        label="Pregnancy test", required=False,
        choices=[("", "Not recorded"), ("negative", "Negative"), ("positive", "Positive"),
                 ("not_applicable", "Does not apply")],
    )
    intention = _text("Intention for the session", 500)
    mood = forms.ChoiceField(label="Mood now (0-10)", required=False,
                             choices=[("", "–"), *[(str(n), str(n)) for n in range(11)]])
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
            "escort_name": data.get("escort_name", ""), "escort_phone": data.get("escort_phone", ""),
            "medications_taken": data.get("medications_taken", ""),
            "pregnancy_test": data.get("pregnancy_test", ""), "intention": data.get("intention", ""),
            "mood": int(mood) if mood else None, "playlist": data.get("playlist", ""),
            "room_preferences": data.get("room_preferences", ""), "pre_dose": readings or None,
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
    bag_ml = _number("Bag volume (mL)")
    pump_rate_ml_per_h = _number("Pump rate (mL/h)")
    override_reason = _text("Reason for preparing above the plan",
                            help_text="Only a prescriber prepares above the plan's dose; the reason is recorded.")

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
        return {"lot_id": "stock", "location_id": "stock", "lot": "stock", "location": "stock",
                "drawn_mg": "volume_drawn_ml" if "volume_drawn_ml" in self.fields else "units"}

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        lot_id, _, location_id = (data.get("stock") or "").partition(":")
        values: dict[str, Any] = {"lot_id": lot_id, "location_id": location_id,
                                  "override_reason": data.get("override_reason", "")}
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
    prefix = "alert"
    response = forms.ChoiceField(label="Response", required=False, choices=[
        ("pause_infusion", "Pause infusion"), ("give_medication", "Give medication"),
        ("call_prescriber", "Call prescriber"),
    ])
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

    def __init__(self, *args: Any, formulary: tuple[RescueDrug, ...], stock: list[tuple[str, str]],
                 alerts: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        doses = [(f"{d.key}:{mg:f}", f"{d.name} {mg:f} mg ({d.indication}; at most {d.max_mg:f} mg"
                  f"{', controlled' if d.controlled else ''})") for d in formulary for mg in d.doses_mg]
        routes = route_labels()
        used = dict.fromkeys(r for d in formulary for r in d.routes)
        self.fields["dose"].choices = [("", "Choose…"), *doses]  # type: ignore[attr-defined]
        self.fields["route"].choices = [("", "Choose…"), *[(r, routes[r]) for r in used]]  # type: ignore[attr-defined]
        self.fields["stock"].choices = [("", "Not controlled"), *stock]  # type: ignore[attr-defined]
        self.fields["alert"].choices = [("", "None"), *alerts]  # type: ignore[attr-defined]

    def error_names(self) -> dict[str, str]:
        return {"drug_key": "dose", "dose_mg": "dose", "given_at": "at", "lot_id": "stock",
                "location_id": "stock", "alert_id": "alert"}

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        drug_key, _, dose_mg = (data.get("dose") or "").partition(":")
        lot_id, _, location_id = (data.get("stock") or "").partition(":")
        return {"drug_key": drug_key, "dose_mg": dose_mg, "route": data.get("route", ""),
                "reason": data.get("reason", ""), "given_at": self.moment(), "lot_id": lot_id or None,
                "location_id": location_id or None, "alert_id": data.get("alert") or None,
                "override_reason": data.get("override_reason", "")}


class ScoreForm(SessionForm):
    """A quick score of one clinician instrument (CADSS-6, MOAA/S): one select per item."""

    def __init__(self, *args: Any, instrument: Instrument, **kwargs: Any) -> None:
        super().__init__(*args, prefix=instrument.id, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            choices = [("", "–"), *[(str(o.value), f"{o.value} {o.label}") for o in item.options]]
            self.fields[f"item_{item.id}"] = forms.ChoiceField(label=item.text, required=False,
                                                               choices=choices)

    def error_names(self) -> dict[str, str]:
        names = {}
        for item in self.instrument.items:
            for key in (item.id, f"answers.{item.id}", f"item_{item.id}"):
                names[key] = f"item_{item.id}"
        return names

    def answers(self) -> dict[str, int | None]:
        data = self.cleaned_data
        return {item.id: (int(data[f"item_{item.id}"]) if data.get(f"item_{item.id}") else None)
                for item in self.instrument.items}


class AldreteForm(SessionForm):
    prefix = "aldrete"

    def __init__(self, *args: Any, suggested: Mapping[str, int | None] | None = None, **kwargs: Any) -> None:
        """`suggested`: item -> the value the last readings suggest (circulation, saturation)."""
        super().__init__(*args, **kwargs)
        for key, (label, anchors) in ALDRETE_ITEMS.items():
            hint = (suggested or {}).get(key)
            self.fields[key] = forms.ChoiceField(
                label=label, required=False, widget=forms.RadioSelect,
                choices=[(str(n), f"{n}: {text}") for n, text in enumerate(anchors)],
                help_text=f"The last readings suggest {hint}." if hint is not None else "",
            )
            if hint is not None and not self.is_bound:
                self.initial.setdefault(key, str(hint))

    def items(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key, "") for key in ALDRETE_ITEMS}


class DischargeForm(SessionForm):
    prefix = "discharge"
    escort_handover_name = _text("Escort at handover", 120)
    send_instructions = forms.MultipleChoiceField(
        label="Discharge instructions", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[("print", "Print"), ("email", "Email"), ("sms", "Text message")], initial=["print"],
    )
    override_reason = _text("Reason for discharging before ready",
                            help_text="A prescriber's decision; recorded with the discharge.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["escort_handover_name"].shown_required = True  # type: ignore[attr-defined]


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
