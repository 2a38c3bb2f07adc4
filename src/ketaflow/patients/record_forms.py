"""Forms for the problem list, allergies and alerts. The record services validate the values."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any, cast

from django import forms

from ketaflow.accounts.actor import Actor
from ketaflow.clinical.conditions import catalogue

from .models import Allergy, Condition, PatientAlert
from .records import alert_permission


def condition_choices() -> list[Any]:
    """The catalogue grouped for a <select>: (group, [(id, "Display (ICD-10)"), ...])."""
    entries = sorted(catalogue().conditions, key=lambda c: (c.group, c.display))
    grouped: list[Any] = [("", "Choose a condition")]
    for group, items in groupby(entries, key=lambda c: c.group):
        grouped.append((group.replace("_", " ").capitalize(),
                        [(c.id, f"{c.display} ({c.icd10})") for c in items]))
    return grouped


class ConditionForm(forms.Form):
    catalogue_id = forms.ChoiceField(label="Condition", required=False)
    onset_date = forms.DateField(
        label="Onset date", required=False, input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Optional; an approximate date is fine.",
    )
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "condition")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["catalogue_id"]).choices = condition_choices()


class ConditionStatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=Condition.Status.choices)


class AllergyForm(forms.Form):
    substance = forms.CharField(label="Substance", required=False, max_length=120,
                                help_text="A medication, food or other substance.")
    category = forms.ChoiceField(label="Type", choices=Allergy.Category.choices,
                                 initial=Allergy.Category.MEDICATION)
    reaction = forms.CharField(label="Reaction", required=False, max_length=200,
                               help_text="For example hives, anaphylaxis, nausea.")
    severity = forms.ChoiceField(label="Severity", choices=Allergy.Severity.choices,
                                 initial=Allergy.Severity.UNKNOWN)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "allergy")
        super().__init__(*args, **kwargs)


def alert_categories(actor: Actor) -> list[tuple[str, str]]:
    """The alert categories this actor may add (front desk: administrative only)."""
    return [(value, label) for value, label in PatientAlert.Category.choices
            if actor.can(alert_permission(value))]


class AlertForm(forms.Form):
    category = forms.ChoiceField(label="Kind of alert")
    message = forms.CharField(label="Alert", required=False, max_length=300,
                              help_text="Shown at the top of the chart until resolved.")

    def __init__(self, *args: Any, categories: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "alert")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["category"]).choices = list(categories)
