"""Clinic settings forms: a clinic, its week of opening hours, and its rooms."""

from __future__ import annotations

import zoneinfo
from datetime import time
from typing import Any, cast

from django import forms

from ketaflow.validation import ValidationFailed

from .models import OpeningHours, Room

COMMON_US_ZONES = [
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
]


def timezone_choices() -> list[Any]:
    """Common US zones first, then every other zone the system knows, grouped."""
    common = {name for name, _label in COMMON_US_ZONES}
    others = sorted(z for z in zoneinfo.available_timezones() if z not in common and "/" in z
                    and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))
    return [
        ("Common US time zones", COMMON_US_ZONES),
        ("All time zones", [(z, z.replace("_", " ")) for z in others]),
        ("Other", [("UTC", "UTC")]),
    ]


class ClinicForm(forms.Form):
    name = forms.CharField(label="Clinic name", max_length=200, required=False)
    address_line1 = forms.CharField(label="Address", max_length=200, required=False)
    address_line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100, required=False)
    region = forms.CharField(label="State or region", max_length=100, required=False)
    postal_code = forms.CharField(label="ZIP or postal code", max_length=20, required=False)
    phone = forms.CharField(label="Phone", max_length=40, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}))
    timezone = forms.ChoiceField(label="Time zone", initial="America/New_York",
                                 help_text="Appointments and records show in this zone.")
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="Inactive clinics stay on old records but take no new patients.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["timezone"]).choices = timezone_choices()
        self.fields["name"].shown_required = True  # type: ignore[attr-defined]
        self.fields["name"].widget.attrs["aria-required"] = "true"


class RoomForm(forms.Form):
    name = forms.CharField(label="Room or chair name", max_length=100, required=False,
                           help_text="For example Chair 1, Sunrise room.")
    kind = forms.ChoiceField(label="Kind", choices=Room.Kind.choices, initial=Room.Kind.CHAIR)
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="Inactive rooms cannot be booked.")
    notes = forms.CharField(label="Notes", max_length=300, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].shown_required = True  # type: ignore[attr-defined]


WEEKDAYS = OpeningHours.WEEKDAYS
SESSIONS = (1, 2)  # a morning and an afternoon session at most


def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(label=label, required=False, input_formats=["%H:%M", "%H:%M:%S", "%I:%M %p"],
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))


class OpeningHoursForm(forms.Form):
    """One row per weekday: closed, or opening and closing times (and an optional second session).

    `intervals()` returns (weekday, opens, closes) for set_opening_hours; `field_for` maps the
    service's `hours[i].opens` errors back onto the inputs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, _name in WEEKDAYS:
            self.fields[f"d{day}_closed"] = forms.BooleanField(label="Closed", required=False)
            self.fields[f"d{day}_opens1"] = _time_field("Opens")
            self.fields[f"d{day}_closes1"] = _time_field("Closes")
            self.fields[f"d{day}_opens2"] = _time_field("Opens again")
            self.fields[f"d{day}_closes2"] = _time_field("Closes again")
        self._rows: list[tuple[int, time, time, int]] = []

    @staticmethod
    def initial_for(hours: list[OpeningHours]) -> dict[str, Any]:
        initial: dict[str, Any] = {f"d{day}_closed": True for day, _name in WEEKDAYS}
        seen: dict[int, int] = {}
        for row in sorted(hours, key=lambda h: (h.weekday, h.opens)):
            session = seen.get(row.weekday, 0) + 1
            if session > len(SESSIONS):
                continue
            seen[row.weekday] = session
            initial[f"d{row.weekday}_closed"] = False
            initial[f"d{row.weekday}_opens{session}"] = row.opens
            initial[f"d{row.weekday}_closes{session}"] = row.closes
        return initial

    def days(self) -> list[dict[str, Any]]:
        """Per weekday: its name, the Closed box and the time inputs in order."""
        return [
            {"name": name, "closed": self[f"d{day}_closed"],
             "times": [self[f"d{day}_{kind}{s}"] for s in SESSIONS for kind in ("opens", "closes")]}
            for day, name in WEEKDAYS
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rows: list[tuple[int, time, time, int]] = []
        for day, name in WEEKDAYS:
            if data.get(f"d{day}_closed"):
                continue
            for session in SESSIONS:
                opens, closes = data.get(f"d{day}_opens{session}"), data.get(f"d{day}_closes{session}")
                if opens and closes:
                    rows.append((day, opens, closes, session))
                elif opens or closes:
                    missing = f"d{day}_closes{session}" if opens else f"d{day}_opens{session}"
                    self.add_error(missing, f"{name}: enter both times, or leave both empty.")
                elif session == 1 and f"d{day}_opens1" not in self.errors:
                    self.add_error(f"d{day}_opens1", f"{name}: enter opening hours, or tick Closed.")
        self._rows = sorted(rows)
        return data

    def intervals(self) -> list[tuple[int, time, time]]:
        return [(day, opens, closes) for day, opens, closes, _session in self._rows]

    def show_service_errors(self, failure: ValidationFailed) -> None:
        """Put each `hours[3].closes` error on the input that interval came from, naming the day."""
        names = dict(WEEKDAYS)
        for error in failure.errors:
            field = error.field or ""
            try:
                index = int(field[field.index("[") + 1 : field.index("]")])
                day, _opens, _closes, session = self._rows[index]
            except (ValueError, IndexError):
                self.add_error(None, error.message)
                continue
            kind = "closes" if field.endswith(".closes") else "opens"
            self.add_error(f"d{day}_{kind}{session}", f"{names[day]}: {error.message}")
