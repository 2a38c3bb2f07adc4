"""What every chairside form shares: the base form (with the clinic's zone for typed times) and
the number, text, time and vital-sign inputs.

Numbers arrive as text (the services read them and name the field at fault), with `inputmode` set
so a tablet shows its number pad. Times are typed as a time of day in the clinic's zone ("leave
blank for now"). Each form has a prefix, so the many forms of one page never share an id, and
`error_names` maps a service's field names onto the form's own for `show_errors`.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from ketaflow.clinical.vitals import VITAL_SPECS

NUMBER = {"inputmode": "decimal", "autocomplete": "off", "size": 6}
WHOLE = {"inputmode": "numeric", "autocomplete": "off", "size": 5}
SESSION_VITALS = (
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "oxygen_saturation",
    "respiratory_rate",
    "temperature_c",
)
SHORT_LABELS = {
    "systolic_bp": "Systolic",
    "diastolic_bp": "Diastolic",
    "heart_rate": "HR",
    "oxygen_saturation": "SpO2",
    "respiratory_rate": "RR",
    "temperature_c": "Temp.",
}


def number_field(label: str, *, whole: bool = False, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=12,
        help_text=help_text,
        widget=forms.TextInput(attrs=WHOLE if whole else NUMBER),
    )


def text_field(label: str, max_length: int = 300, *, help_text: str = "", rows: int = 0) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(
        label=label, required=False, max_length=max_length, help_text=help_text, widget=widget
    )


def time_field(label: str = "At") -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Leave blank for now.",
    )


def vital_fields(form: forms.Form, *, required_look: bool = False) -> None:
    """Add the session's vital-sign inputs (systolic ... temperature) to `form`."""
    for name in SESSION_VITALS:
        spec = VITAL_SPECS[name]
        form.fields[name] = number_field(f"{SHORT_LABELS[name]} ({spec.unit})", whole=spec.whole)
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
