"""Patient registry forms. They parse (dates, choices); the services decide what is valid."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

from django import forms
from django.db import models

from ketaflow.clinics.models import Clinic
from ketaflow.phones import display_phone

from .fields import PHONE_FIELDS
from .models import ContactMethod, GenderIdentity, Patient, SexAtBirth

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"]

LABELS = {
    "legal_given_name": "Legal first name",
    "legal_middle_name": "Legal middle name",
    "legal_family_name": "Legal last name",
    "preferred_name": "Preferred name",
    "date_of_birth": "Date of birth",
    "sex_at_birth": "Sex assigned at birth",
    "gender_identity": "Gender identity",
    "gender_identity_text": "Gender identity (self-described)",
    "pronouns": "Pronouns",
    "home_clinic_id": "Home clinic",
    "mrn": "MRN",
    "phone_mobile": "Mobile phone",
    "phone_home": "Home phone",
    "email": "Email",
    "preferred_contact": "Preferred contact",
    "address_line1": "Address",
    "address_line2": "Address line 2",
    "city": "City",
    "region": "State or region",
    "postal_code": "ZIP or postal code",
    "emergency_contact_name": "Emergency contact name",
    "emergency_contact_relationship": "Relationship to patient",
    "emergency_contact_phone": "Emergency contact phone",
    "pharmacy_name": "Pharmacy name",
    "pharmacy_phone": "Pharmacy phone",
    "pharmacy_address": "Pharmacy address",
    "primary_care_name": "Primary-care clinician",
    "primary_care_practice": "Primary-care practice",
    "primary_care_phone": "Primary-care phone",
    "referrer_name": "Referring clinician",
    "referrer_practice": "Referring practice",
    "referrer_phone": "Referrer phone",
}
HELP = {
    "preferred_name": "What the patient likes to be called, if different.",
    "date_of_birth": "For example 06/15/1985.",
    "mrn": "Leave blank to give the next number automatically.",
    "pronouns": "For example she/her, he/him, they/them.",
    "phone_mobile": "With area code, for example (503) 555-0142.",
}
FIELDSETS: list[tuple[str, tuple[str, ...]]] = [
    ("Identity", ("legal_given_name", "legal_middle_name", "legal_family_name", "preferred_name",
                  "date_of_birth", "sex_at_birth", "gender_identity", "gender_identity_text",
                  "pronouns", "home_clinic_id", "mrn")),
    ("Contact", ("phone_mobile", "phone_home", "email", "preferred_contact", "address_line1",
                 "address_line2", "city", "region", "postal_code")),
    ("Emergency contact", ("emergency_contact_name", "emergency_contact_relationship",
                           "emergency_contact_phone")),
    ("Pharmacy", ("pharmacy_name", "pharmacy_phone", "pharmacy_address")),
    ("Care team", ("primary_care_name", "primary_care_practice", "primary_care_phone",
                   "referrer_name", "referrer_practice", "referrer_phone")),
]
SHOWN_REQUIRED = ("legal_given_name", "legal_family_name", "date_of_birth", "home_clinic_id")
AUTOCOMPLETE = {
    "legal_given_name": "off", "legal_family_name": "off", "email": "off", "phone_mobile": "off",
}


def _text_field(name: str) -> forms.Field:
    max_length = cast(models.CharField, Patient._meta.get_field(name)).max_length
    if name in PHONE_FIELDS:
        return forms.CharField(required=False, max_length=40, strip=True,
                               widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}))
    if name == "email":
        return forms.CharField(required=False, max_length=max_length,
                               widget=forms.EmailInput(attrs={"inputmode": "email"}))
    return forms.CharField(required=False, max_length=max_length)


class PatientForm(forms.Form):
    """Every registry field, grouped into fieldsets. Required fields are checked by the service.

    Dates accept YYYY-MM-DD (the date picker) and MM/DD/YYYY (typed), so nothing typed is lost.
    """

    confirm_not_duplicate = forms.BooleanField(
        required=False, label="None of these is the same person",
    )

    def __init__(self, *args: Any, clinics: Iterable[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clinic_choices = [("", "Choose a clinic")] + [
            (str(c.pk), c.name if c.is_active else f"{c.name} (inactive)") for c in clinics
        ]
        for _legend, names in FIELDSETS:
            for name in names:
                if name == "date_of_birth":
                    field: forms.Field = forms.DateField(
                        required=False, input_formats=DATE_INPUT_FORMATS,
                        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                        error_messages={"invalid": "Enter a real date, for example 06/15/1985."},
                    )
                elif name == "home_clinic_id":
                    field = forms.ChoiceField(required=False, choices=clinic_choices)
                elif name == "sex_at_birth":
                    field = forms.ChoiceField(required=False, choices=SexAtBirth.choices,
                                              initial=SexAtBirth.UNKNOWN)
                elif name == "gender_identity":
                    field = forms.ChoiceField(required=False,
                                              choices=[("", "Not recorded"), *GenderIdentity.choices])
                elif name == "preferred_contact":
                    field = forms.ChoiceField(required=False, choices=ContactMethod.choices,
                                              initial=ContactMethod.PHONE)
                else:
                    field = _text_field(name)
                field.label = LABELS[name]
                field.help_text = HELP.get(name, "")
                if name in SHOWN_REQUIRED:
                    field.widget.attrs["aria-required"] = "true"
                    field.shown_required = True  # type: ignore[attr-defined]
                if name in AUTOCOMPLETE:
                    field.widget.attrs["autocomplete"] = AUTOCOMPLETE[name]
                self.fields[name] = field
        self.order_fields([n for _legend, names in FIELDSETS for n in names])

    def fieldsets(self) -> Iterator[tuple[str, list[forms.BoundField]]]:
        for legend, names in FIELDSETS:
            yield legend, [self[name] for name in names]

    def service_data(self) -> dict[str, Any]:
        """The cleaned values under the service's field names (the checkbox is not one)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "confirm_not_duplicate"}


def initial_for(patient: Patient, region: str) -> dict[str, Any]:
    """A patient's current values as the edit form shows them (phones in national format)."""
    values: dict[str, Any] = {}
    for _legend, names in FIELDSETS:
        for name in names:
            if name == "home_clinic_id":
                values[name] = str(patient.home_clinic_id)
            elif name in PHONE_FIELDS:
                values[name] = display_phone(getattr(patient, name), region)
            else:
                values[name] = getattr(patient, name)
    return values


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search patients",
                        help_text="Name, date of birth, MRN or phone")
    clinic = forms.ChoiceField(required=False, label="Clinic")
    archived = forms.BooleanField(required=False, label="Show archived")

    def __init__(self, *args: Any, clinics: Iterable[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "All clinics")] + [(str(c.pk), c.name) for c in clinics]
        cast(forms.ChoiceField, self.fields["clinic"]).choices = choices


class ArchiveForm(forms.Form):
    reason = forms.CharField(
        label="Reason for archiving", max_length=300, required=False,
        help_text="For example: duplicate record, moved away, asked to leave the practice.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
