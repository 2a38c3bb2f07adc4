"""Forms for the Evaluation tab. They only parse what a browser sends; the services validate.

Numbers arrive as text (the vital-signs service reads and checks them, so "abc" and 400 get the
same kind of message beside the field), with `inputmode` set so a tablet shows its number pad.
Each form's `error_names()` maps the service's field names to its own, for `show_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from ketaflow.clinical.eligibility import FACT_SPECS
from ketaflow.clinical.medications import MedicationDefinition, medication_catalogue
from ketaflow.clinical.treatment_resistance import (
    ANTIDEPRESSANT_CLASSES,
    MAX_TRIALS,
    OUTCOMES,
    Trial,
    identify_antidepressant,
)
from ketaflow.clinical.vitals import VITALS
from ketaflow.patients.models import Medication

from .facts import FACT_GROUPS
from .models import Evaluation


def date_field(label: str, **kwargs: Any) -> forms.DateField:
    """An optional date picked on a phone or tablet (type=date sends YYYY-MM-DD)."""
    return forms.DateField(label=label, required=False, input_formats=["%Y-%m-%d"],
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs)


class SectionForm(forms.Form):
    """A form of one Evaluation-tab section; its service reports errors under these field names."""

    def error_names(self) -> dict[str, str]:
        return {}


YES_NO = [("yes", "Yes"), ("no", "No"), ("", "Not assessed")]
BLANK_TRIAL_ROWS = 2
TRIAL_PARTS = ("drug", "drug_class", "adequate", "outcome")


class VitalsForm(SectionForm):
    """The readings, and when they were taken: a time typed without a zone is the clinic's (`zone`)."""

    prefix = "vitals"
    measured_at = forms.DateTimeField(
        label="Taken at", required=False, input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave blank for now. The clinic's local time.",
    )

    def __init__(self, *args: Any, zone: ZoneInfo | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        for spec in VITALS:
            self.fields[spec.field] = forms.CharField(
                label=f"{spec.label} ({spec.unit})", required=False, max_length=12,
                widget=forms.TextInput(attrs={
                    "inputmode": "decimal", "autocomplete": "off",
                    "pattern": "[0-9]*" if spec.whole else "[0-9]*[.,]?[0-9]*", "size": 6,
                }),
            )

    def full_clean(self) -> None:
        with timezone.override(self.zone):
            super().full_clean()

    def readings(self) -> dict[str, str]:
        return {spec.field: self.cleaned_data.get(spec.field, "").replace(",", ".") for spec in VITALS}


def catalogue_option(medication: MedicationDefinition) -> str:
    """How a catalogue entry reads in the medication picker: "Alprazolam (Xanax)"."""
    brands = ", ".join(alias.title() for alias in medication.aliases)
    return f"{medication.display} ({brands})" if brands else medication.display


def catalogue_options() -> list[tuple[str, str]]:
    """(option text, class labels) for the picker's datalist."""
    catalogue = medication_catalogue()
    return [
        (catalogue_option(m), ", ".join(catalogue.class_labels[c] for c in sorted(m.classes)))
        for m in sorted(catalogue.medications, key=lambda m: m.display)
    ]


class MedicationForm(SectionForm):
    prefix = "medication"
    medication = forms.CharField(
        label="Medication", required=False, max_length=120,
        widget=forms.TextInput(attrs={"list": "medication-catalogue", "autocomplete": "off"}),
        help_text="Pick from the list (brand names work too) or type it as written.",
    )
    dose = forms.CharField(label="Dose and frequency", required=False, max_length=120,
                           help_text="For example 1 mg at night.")
    source = forms.ChoiceField(label="Source", choices=Medication.Source.choices,
                               initial=Medication.Source.CLINICIAN)

    def error_names(self) -> dict[str, str]:
        return {"name": "medication", "catalogue_id": "medication"}

    def choice(self) -> tuple[str, str]:
        """(catalogue_id, name): the catalogue entry when an option was picked, else the text."""
        text = self.cleaned_data.get("medication", "").strip()
        for medication in medication_catalogue().medications:
            if text == catalogue_option(medication):
                return medication.id, ""
        return "", text


class StopMedicationForm(SectionForm):
    stopped_on = date_field("Stopped on", help_text="Blank means today.")


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "")


class FactsForm(SectionForm):
    """One yes / no / not assessed question per fact the clinician asserts (hepatic: a level)."""

    prefix = "facts"

    def __init__(self, *args: Any, facts: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        facts = facts or {}
        for group in FACT_GROUPS:
            for spec in group.specs:
                if spec.kind == "choice":
                    choices = [(c, c.capitalize()) for c in spec.choices] + [("", "Not assessed")]
                    initial = facts.get(spec.name) or ""
                else:
                    choices, initial = YES_NO, _yes_no(facts.get(spec.name))
                self.fields[spec.name] = forms.ChoiceField(
                    label=spec.question, choices=choices, required=False, initial=initial,
                    widget=forms.RadioSelect, help_text=spec.label,
                )

    @property
    def groups(self) -> list[dict[str, Any]]:
        """Each group's questions, with how many are answered and whether one has an error."""
        shown = []
        for group in FACT_GROUPS:
            fields = [self[name] for name in group.names]
            shown.append({"slug": group.slug, "label": group.label, "fields": fields,
                          "answered": sum(1 for field in fields if field.value()),
                          "errors": any(field.errors for field in fields)})
        return shown

    def facts(self) -> dict[str, Any]:
        """The answers as fact values; "not assessed" ones left out."""
        found: dict[str, Any] = {}
        for name in self.fields:
            value = self.cleaned_data.get(name, "")
            if not value:
                continue
            found[name] = value if FACT_SPECS[name].kind == "choice" else value == "yes"
        return found

    def error_names(self) -> dict[str, str]:
        return {f"facts.{name}": name for group in FACT_GROUPS for name in group.names}


def _drug_shown(trial: Trial | None) -> str:
    """A recognised ingredient is stored in lower case; show it as a name."""
    if trial is None:
        return ""
    return trial.drug.capitalize() if identify_antidepressant(trial.drug) == trial.drug else trial.drug


class TrialsForm(SectionForm):
    """The current episode's antidepressant trials as rows (blank rows are ignored) and ECT."""

    prefix = "trials"
    rows = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_TRIALS + BLANK_TRIAL_ROWS)
    ect_failed = forms.ChoiceField(
        label="Has a course of bilateral ECT failed in this episode?", required=False,
        choices=[("yes", "Yes"), ("no", "No"), ("", "Not known")], widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, trials: tuple[Trial, ...] = (), ect_failed: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        count = len(trials) + BLANK_TRIAL_ROWS
        if self.is_bound:
            try:
                count = int(self.data.get(self.add_prefix("rows"), count))
            except (TypeError, ValueError):
                count = BLANK_TRIAL_ROWS
            count = max(0, min(count, MAX_TRIALS + BLANK_TRIAL_ROWS))
        self.fields["rows"].initial = count
        self.fields["ect_failed"].initial = _yes_no(ect_failed)
        self.row_count = count
        classes = [("", "Class (from the drug)"), *list(ANTIDEPRESSANT_CLASSES.items())]
        outcomes = [("", "Choose"), *list(OUTCOMES.items())]
        for n in range(count):
            trial = trials[n] if n < len(trials) else None
            self.fields[f"trial_{n}_drug"] = forms.CharField(
                label="Antidepressant", required=False, max_length=200,
                initial=_drug_shown(trial),
                widget=forms.TextInput(attrs={"list": "antidepressants", "autocomplete": "off"}),
            )
            self.fields[f"trial_{n}_drug_class"] = forms.ChoiceField(
                label="Class", required=False, choices=classes, initial=trial.drug_class if trial else "")
            self.fields[f"trial_{n}_adequate"] = forms.BooleanField(
                label="Adequate dose and duration", required=False,
                initial=trial.adequate if trial else False)
            self.fields[f"trial_{n}_outcome"] = forms.ChoiceField(
                label="Outcome", required=False, choices=outcomes, initial=trial.outcome if trial else "")

    @property
    def trial_rows(self) -> list[list[forms.BoundField]]:
        return [[self[f"trial_{n}_{part}"] for part in TRIAL_PARTS] for n in range(self.row_count)]

    def trials(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """(the filled-in rows as trial objects, service field name -> form field name)."""
        found: list[dict[str, Any]] = []
        rename: dict[str, str] = {}
        data = self.cleaned_data
        for n in range(self.row_count):
            row = {part: data.get(f"trial_{n}_{part}") for part in TRIAL_PARTS}
            if not (row["drug"] or row["drug_class"] or row["outcome"] or row["adequate"]):
                continue
            index = len(found)
            for part in row:
                rename[f"trials[{index}].{part}"] = f"trial_{n}_{part}"
            found.append({"drug": row["drug"] or "", "drug_class": row["drug_class"] or "",
                          "adequate": bool(row["adequate"]), "outcome": row["outcome"] or None})
        return found, rename

    def error_names(self) -> dict[str, str]:
        return self.trials()[1]

    def ect(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("ect_failed", ""))


RESULT_CHOICES = [("", "Not done")] + [(v, label) for v, label in Evaluation.Result.choices if v]


class LabsForm(SectionForm):
    prefix = "labs"
    ecg_date = date_field("ECG date")
    ecg_result = forms.ChoiceField(label="ECG result", required=False, choices=RESULT_CHOICES)
    ecg_note = forms.CharField(label="ECG finding", required=False,
                               help_text="For an abnormal ECG: what it showed.")
    liver_tests_date = date_field("Liver tests date")
    liver_tests_result = forms.ChoiceField(label="Liver tests result", required=False, choices=RESULT_CHOICES)
    urine_drug_screen_date = date_field("Drug screen date")
    urine_drug_screen_result = forms.ChoiceField(label="Drug screen result", required=False,
                                                 choices=RESULT_CHOICES)

    def labs(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.fields}


class NotesForm(SectionForm):
    prefix = "notes"
    notes = forms.CharField(label="Evaluation notes", required=False,
                            widget=forms.Textarea(attrs={"rows": 6}),
                            help_text="History, formulation and plan in your own words.")


def lab_initial(evaluation: Evaluation | None) -> dict[str, Any]:
    if evaluation is None:
        return {}
    return {name: getattr(evaluation, name) for name in LabsForm.base_fields}
