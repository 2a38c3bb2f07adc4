from __future__ import annotations

from typing import Any, cast

from django import forms

from .models import Action
from .search import AuditFilters

DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y"]


class AuditSearchForm(forms.Form):
    username = forms.CharField(label="User", required=False, max_length=150,
                               help_text="Username, exactly.")
    action = forms.ChoiceField(label="Action", required=False,
                               choices=[("", "Any action"), *Action.choices])
    object_type = forms.ChoiceField(label="Record type", required=False)
    mrn = forms.CharField(label="Patient MRN", required=False, max_length=32)
    date_from = forms.DateField(label="From", required=False, input_formats=DATE_FORMATS,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label="To", required=False, input_formats=DATE_FORMATS,
                              widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args: Any, object_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Any record")] + [(t, t) for t in object_types]
        cast(forms.ChoiceField, self.fields["object_type"]).choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid filters; a field with an error is left out rather than guessed."""
        data = self.cleaned_data if self.is_bound else {}
        return AuditFilters(
            username=data.get("username", ""), action=data.get("action", ""),
            object_type=data.get("object_type", ""), mrn=data.get("mrn", ""),
            date_from=data.get("date_from"), date_to=data.get("date_to"),
        )
