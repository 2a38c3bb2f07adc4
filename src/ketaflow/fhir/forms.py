"""The forms of the Data exchange (FHIR) page: starting a bulk export and uploading files to import.

The export form only carries what was chosen; the bulk package checks the scope (a clinic's export
holds patient records only) and the page shows its refusal next to the field at fault. The import
form checks each file's name and size before anything is read.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from ketaflow.clinics.models import Clinic

from .bulk.scope import PATIENT_TYPES, SYSTEM_TYPES

WHOLE_PRACTICE = "practice"
MAX_FILE_MB = 50
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024
MAX_FILES = 10
# Each imported resource goes through the domain services (about 25-30 ms each, measured on SQLite
# and PostgreSQL), so an upload is bounded by its resources, not only its bytes, to finish well
# inside a reverse proxy's usual 60-second time-out.
MAX_RESOURCES = 1000
IMPORT_SUFFIXES = (".json", ".ndjson")

# What each FHIR type holds, in the clinic's words.
TYPE_LABELS: dict[str, str] = {
    "Patient": "Patients",
    "Practitioner": "Staff",
    "Organization": "The practice",
    "Location": "Clinics",
    "Group": "Clinic patient lists",
    "Questionnaire": "Questionnaires",
    "QuestionnaireResponse": "Completed questionnaires",
    "Observation": "Vital signs and scores",
    "Condition": "Diagnoses and problems",
    "MedicationRequest": "Prescribed treatment courses",
    "MedicationAdministration": "Doses given",
    "MedicationStatement": "Patients' medications",
    "Encounter": "Treatment sessions",
    "Appointment": "Appointments",
    "CarePlan": "Treatment plans",
    "Consent": "Signed consents",
}


def type_label(resource_type: str) -> str:
    """What a FHIR type holds, in plain words (the type's name for one without a label)."""
    return TYPE_LABELS.get(resource_type, resource_type)


def type_choice_label(resource_type: str) -> SafeString:
    """A checkbox label: the plain words, and below them the FHIR name partners ask for, which may
    break between its words (MedicationAdministration is wider than a narrow column)."""
    breakable = mark_safe(re.sub(r"(?<=[a-z])(?=[A-Z])", "<wbr>", escape(resource_type)))  # escaped first
    return format_html(
        '<span>{}<br><span class="small muted mono">{}</span></span>', type_label(resource_type), breakable
    )


class ExportForm(forms.Form):
    scope = forms.ChoiceField(
        label="What to export",
        widget=forms.RadioSelect,
        initial=WHOLE_PRACTICE,
        help_text="One clinic's export holds the records of the patients whose home clinic it is.",
    )
    types = forms.MultipleChoiceField(
        label="Only these kinds of records (optional)",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(name, type_choice_label(name)) for name in SYSTEM_TYPES],
        help_text="Leave every box clear to export every kind. Staff, clinics, the practice and "
        "questionnaires are not patient records, so a clinic's export leaves them out.",
    )
    since = forms.DateField(
        label="Only records changed since (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="From the start of that day. Leave empty to export everything.",
    )

    def __init__(self, *args: Any, organization_id: uuid.UUID, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clinics = Clinic.objects.filter(organization_id=organization_id, is_active=True).order_by("name")
        scope = self.fields["scope"]
        assert isinstance(scope, forms.ChoiceField)
        scope.choices = [(WHOLE_PRACTICE, "The whole practice")] + [
            (str(clinic.pk), f"Patients of {clinic.name}") for clinic in clinics
        ]

    def clean(self) -> dict[str, Any]:
        """A clinic's export is the patient compartment: refuse the practice's own records early,
        in plain words (the bulk package would refuse them too)."""
        data = super().clean() or {}
        outside = [name for name in data.get("types", []) if name not in PATIENT_TYPES]
        if data.get("scope") not in (None, WHOLE_PRACTICE) and outside:
            names = ", ".join(f"{type_label(name)} ({name})" for name in outside)
            self.add_error("types", f"One clinic's export holds patient records only: clear {names}.")
        return data

    def group_id(self) -> str:
        """The chosen clinic's id (a FHIR Group id), or "" for the whole practice."""
        scope: str = self.cleaned_data["scope"]
        return "" if scope == WHOLE_PRACTICE else scope


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern); each is checked on its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(IMPORT_SUFFIXES)}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = list(data) if isinstance(data, list | tuple) else [data]
        single = super().clean  # each file checked as one (None when none was chosen: required)
        return [single(item, initial) for item in files or [None]]


class ImportForm(forms.Form):
    uploads = MultipleFileField(
        label="FHIR files",
        error_messages={"required": "Choose at least one file to import."},
        help_text=f".json (a Bundle or one resource) or .ndjson (one resource per line); up to "
        f"{MAX_FILES} files of {MAX_FILE_MB} MB each, {MAX_RESOURCES:,} records in all.",
    )

    def clean_uploads(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["uploads"]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"Choose at most {MAX_FILES} files at a time.")
        for upload in files:
            name = upload.name or ""
            if not name.lower().endswith(IMPORT_SUFFIXES):
                raise forms.ValidationError(f"{name} is not a .json or .ndjson file.")
            if (upload.size or 0) > MAX_FILE_BYTES:
                raise forms.ValidationError(f"{name} is larger than {MAX_FILE_MB} MB.")
        return files
