"""The staff member form. It only shapes input; accounts.services decides what is valid."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms

from ketaflow.clinics.models import Clinic
from ketaflow.phones import display_phone

from .models import StaffMember
from .roles import Credential, Role

FIELDSETS: list[tuple[str, tuple[str, ...]]] = [
    ("Person", ("username", "first_name", "last_name", "email", "phone")),
    ("Roles and clinics", ("roles", "clinic_ids")),
    ("Credentials", ("credential", "licence_number", "licence_region", "dea_number", "npi")),
]


class StaffForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150, required=False,
                               help_text="What they type to sign in: letters, digits, dots, hyphens.",
                               widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False, widget=forms.EmailInput)
    phone = forms.CharField(label="Phone", max_length=40, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}))
    roles = forms.MultipleChoiceField(
        label="Roles", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(r.value, r.label) for r in Role],
        help_text="Clinical access comes from a clinical role: a physician owner is Owner and Prescriber.",
    )
    clinic_ids = forms.MultipleChoiceField(label="Clinics", required=False,
                                           widget=forms.CheckboxSelectMultiple)
    credential = forms.ChoiceField(
        label="Credential", required=False,
        choices=[("", "None")] + [(c.value, c.value) for c in Credential],
        help_text="Prescribers need MD, DO, NP or PA.",
    )
    licence_number = forms.CharField(label="Licence number", max_length=40, required=False)
    licence_region = forms.CharField(label="Licence state or region", max_length=40, required=False)
    dea_number = forms.CharField(label="DEA number", max_length=9, required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "off"}))
    npi = forms.CharField(label="NPI", max_length=10, required=False,
                          widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))

    def __init__(self, *args: Any, clinics: Iterable[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["clinic_ids"]).choices = [
            (str(c.pk), c.name if c.is_active else f"{c.name} (inactive)") for c in clinics
        ]
        for name in ("username", "first_name", "last_name", "email"):
            self.fields[name].shown_required = True  # type: ignore[attr-defined]
            self.fields[name].widget.attrs["aria-required"] = "true"

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in FIELDSETS]

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


def initial_for(staff: StaffMember, region: str) -> dict[str, Any]:
    user = staff.user
    return {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "phone": display_phone(staff.phone, region),
        "roles": sorted(r.value for r in staff.roles),
        "clinic_ids": [str(c.pk) for c in staff.clinics.all()],
        "credential": staff.credential, "licence_number": staff.licence_number,
        "licence_region": staff.licence_region, "dea_number": staff.dea_number, "npi": staff.npi,
    }
