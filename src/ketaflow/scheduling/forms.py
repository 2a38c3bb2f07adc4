"""Forms for booking, changing an appointment, the waitlist and the scheduling settings.

Forms only parse what was typed; the services check everything again and their errors come back
next to the same fields (`web.form_errors.show_errors`).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.plans.models import OPEN_PHASES

from .models import AppointmentType

DATE = forms.DateInput(attrs={"type": "date"})
TIME = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")
ROLE_CHOICES = [(r.value, r.label) for r in Role if r not in (Role.OWNER, Role.ADMIN)]


def _clinics(organization_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        (str(c.pk), c.name) for c in Clinic.objects.for_organization(organization_id).filter(is_active=True)
    ]


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _staff(organization_id: uuid.UUID) -> list[tuple[str, str]]:
    rows = (
        StaffMember.objects.for_organization(organization_id)
        .filter(user__is_active=True)
        .select_related("user")
    )
    return [(str(s.pk), s.display_name) for s in rows]


class BookForm(forms.Form):
    """Clinic, type and date pick the free slots; a slot (or a time, room and staff by hand) books."""

    clinic_id = forms.ChoiceField(label="Clinic")
    type_key = forms.ChoiceField(label="Appointment type")
    day = forms.DateField(label="Date", widget=DATE)
    slot = forms.CharField(required=False, widget=forms.HiddenInput)
    time = forms.TimeField(
        label="Start time",
        required=False,
        widget=TIME,
        help_text="Only when booking by hand: pick a free slot below instead, or enter a time here.",
    )
    room_id = forms.ChoiceField(label="Room or chair", required=False, help_text="Blank: the first free one.")
    staff_ids = forms.MultipleChoiceField(
        label="Staff",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Blank: free staff holding the roles the type needs.",
    )
    plan_id = forms.CharField(required=False, widget=forms.HiddenInput)
    notes = forms.CharField(label="Notes", required=False, max_length=300)

    def __init__(self, *args: Any, organization_id: uuid.UUID, types: list[AppointmentType], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "clinic_id", _clinics(organization_id))
        _choices(self, "type_key", [(t.key, f"{t.name} ({t.minutes} min)") for t in types if t.is_active])
        rooms = Room.objects.for_organization(organization_id).filter(is_active=True).select_related("clinic")
        _choices(
            self,
            "room_id",
            [
                ("", "Choose for me"),
                *[(str(r.pk), f"{r.clinic.name} · {r.name} ({r.get_kind_display().lower()})") for r in rooms],
            ],
        )
        _choices(self, "staff_ids", _staff(organization_id))
        self.fields["staff_ids"].use_fieldset = True  # type: ignore[attr-defined]


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class RescheduleForm(forms.Form):
    day = forms.DateField(label="New date", widget=DATE)
    time = forms.TimeField(label="New start time", widget=TIME)
    reason = forms.CharField(label="Reason", max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class SeriesForm(forms.Form):
    phase = forms.ChoiceField(
        label="Phase",
        choices=[(p.value, p.label) for p in OPEN_PHASES],
    )
    start_date = forms.DateField(
        label="Count from",
        required=False,
        widget=DATE,
        help_text="Blank: the plan's start (or the end of induction for maintenance).",
    )
    count = forms.IntegerField(
        label="Sessions",
        required=False,
        min_value=1,
        max_value=60,
        help_text="Blank: the whole phase (3 sessions for an open-ended one).",
    )


class WaitlistForm(forms.Form):
    patient_id = forms.CharField(widget=forms.HiddenInput)
    clinic_id = forms.ChoiceField(label="Clinic")
    type_key = forms.ChoiceField(label="Appointment type")
    earliest = forms.DateField(label="From", widget=DATE)
    latest = forms.DateField(label="Until", required=False, widget=DATE)
    notes = forms.CharField(label="Notes", required=False, max_length=300)

    def __init__(self, *args: Any, organization_id: uuid.UUID, types: list[AppointmentType], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "clinic_id", _clinics(organization_id))
        _choices(self, "type_key", [(t.key, t.name) for t in types if t.is_active])


class TypeForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    minutes = forms.IntegerField(
        label="Minutes",
        min_value=5,
        max_value=600,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 5}),
    )
    required_roles = forms.MultipleChoiceField(
        label="Roles on every booking",
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    instructions = forms.CharField(
        label="Instructions sent with the reminder", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    is_active = forms.BooleanField(label="Bookable", required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["required_roles"].use_fieldset = True  # type: ignore[attr-defined]


class StaffHoursForm(forms.Form):
    clinic_id = forms.CharField(widget=forms.HiddenInput)
    staff_id = forms.ChoiceField(label="Staff member")
    weekday = forms.TypedChoiceField(label="Day", choices=OpeningHours.WEEKDAYS, coerce=int)
    starts = forms.TimeField(label="From", widget=TIME)
    ends = forms.TimeField(label="Until", widget=TIME)

    def __init__(self, *args: Any, organization_id: uuid.UUID, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "staff_id", _staff(organization_id))


class ClosedDayForm(forms.Form):
    day = forms.DateField(label="Date", widget=DATE)
    clinic_id = forms.ChoiceField(label="Clinic", required=False)
    reason = forms.CharField(label="Reason", max_length=120)

    def __init__(self, *args: Any, organization_id: uuid.UUID, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "clinic_id", [("", "Every clinic"), *_clinics(organization_id)])
