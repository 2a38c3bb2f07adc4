"""The rules for a patient's registry fields, applied once for pages, API, imports and the demo.

`clean_patient_fields` takes plain, already-typed values and returns them normalised (phones in
E.164, names trimmed) or raises ValidationFailed with one message per offending field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ketaflow.phones import normalise_phone
from ketaflow.validation import FieldError, ValidationFailed

from .models import ContactMethod, GenderIdentity, SexAtBirth

REQUIRED = ("legal_given_name", "legal_family_name", "date_of_birth", "home_clinic_id")
TEXT_FIELDS = (
    "legal_given_name",
    "legal_middle_name",
    "legal_family_name",
    "preferred_name",
    "gender_identity_text",
    "pronouns",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "pharmacy_name",
    "pharmacy_address",
    "primary_care_name",
    "primary_care_practice",
    "referrer_name",
    "referrer_practice",
)
PHONE_FIELDS = (
    "phone_mobile",
    "phone_home",
    "emergency_contact_phone",
    "pharmacy_phone",
    "primary_care_phone",
    "referrer_phone",
)
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "sex_at_birth": tuple(SexAtBirth.values),
    "gender_identity": ("", *GenderIdentity.values),
    "preferred_contact": tuple(ContactMethod.values),
}
EDITABLE = (*REQUIRED, *TEXT_FIELDS, *PHONE_FIELDS, *CHOICE_FIELDS, "email", "mrn")
MRN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
OLDEST_AGE_YEARS = 130


def clean_patient_fields(
    data: Mapping[str, Any], *, region: str, today: date, partial: bool = False
) -> dict[str, Any]:
    """Validate and normalise `data`. With `partial`, absent fields are left alone."""
    errors: list[FieldError] = []
    unknown = sorted(set(data) - set(EDITABLE))
    errors.extend(FieldError(name, "This field is not part of a patient record.") for name in unknown)
    clean: dict[str, Any] = {}

    for name in REQUIRED:
        if name in data or not partial:
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                errors.append(FieldError(name, "This field is required."))
    for name in TEXT_FIELDS:
        if name in data:
            value = data[name]
            if value is not None and not isinstance(value, str):
                errors.append(FieldError(name, "Enter text."))
                continue
            clean[name] = (value or "").strip()
    for name in PHONE_FIELDS:
        if name in data:
            try:
                clean[name] = normalise_phone(data[name] or "", region)
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
    for name, allowed in CHOICE_FIELDS.items():
        if name in data:
            value = data[name] or ""
            if value not in allowed:
                errors.append(FieldError(name, f"Choose one of: {', '.join(a for a in allowed if a)}."))
            else:
                clean[name] = value
    if "email" in data:
        email = (data["email"] or "").strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(FieldError("email", "Enter a valid email address."))
        clean["email"] = email.lower()
    if data.get("date_of_birth") is not None:
        dob = data["date_of_birth"]
        if not isinstance(dob, date):
            errors.append(FieldError("date_of_birth", "Enter a date as YYYY-MM-DD."))
        elif dob > today:
            errors.append(FieldError("date_of_birth", "Date of birth cannot be in the future."))
        elif today.year - dob.year > OLDEST_AGE_YEARS:
            errors.append(
                FieldError("date_of_birth", f"Date of birth is more than {OLDEST_AGE_YEARS} years ago.")
            )
        else:
            clean["date_of_birth"] = dob
    if data.get("home_clinic_id"):
        clean["home_clinic_id"] = data["home_clinic_id"]
    if "mrn" in data:
        mrn = (data["mrn"] or "").strip().upper()
        if mrn and not MRN_PATTERN.match(mrn):
            errors.append(FieldError("mrn", "An MRN is up to 32 letters, digits and hyphens."))
        clean["mrn"] = mrn
    if clean.get("gender_identity") == GenderIdentity.SELF_DESCRIBED and not clean.get(
        "gender_identity_text", data.get("gender_identity_text", "")
    ):
        errors.append(
            FieldError("gender_identity_text", "Describe the gender identity, or choose another option.")
        )
    if errors:
        raise ValidationFailed(errors)
    return clean


def fold(text: str) -> str:
    """Lower-case `text` without accents, for matching names as people type them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def search_text_for(values: Mapping[str, Any]) -> str:
    names = ("legal_given_name", "legal_middle_name", "legal_family_name", "preferred_name", "mrn")
    return " ".join(fold(str(values.get(n) or "")) for n in names if values.get(n))[:500]
