"""Forms for signing a route's decision and for the eligibility settings (services validate again)."""

from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.clinical.eligibility import Route, Status, builtin_rules

from .decisions import REASON_LIMIT
from .models import EligibilityDecision
from .settings_service import WINDOW_NOTES, bounds_for

CHOOSE = "Choose approve or decline."
DECISION_CHOICES = [
    (EligibilityDecision.Decision.APPROVE.value, "Approve this route"),
    (EligibilityDecision.Decision.DECLINE.value, "Decline this route"),
]


class SignForm(forms.Form):
    """One route's sign form; prefixed by the route so four can share a page."""

    decision = forms.ChoiceField(
        label="Your decision", choices=DECISION_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": CHOOSE, "invalid_choice": CHOOSE},
    )
    override_reason = forms.CharField(
        label="Reason", required=False, max_length=REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    assessed_status = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, route: Route, status: Status, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", route.value)
        kwargs.setdefault("initial", {"assessed_status": status.value})
        super().__init__(*args, **kwargs)
        eligible = status in (Status.ELIGIBLE, Status.ELIGIBLE_WITH_CAUTIONS)
        against = "declining" if eligible else "approving"
        self.fields["override_reason"].help_text = (
            f"Required when {against}: the assessment says {status.label.lower()}, so {against} "
            "overrides it and your reason is recorded with the decision. Optional otherwise."
        )


class SettingsForm(forms.Form):
    """Every rule parameter (blank = the published default) and the three windows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, parameter in builtin_rules().parameters.items():
            low, high = bounds_for(parameter)
            self.fields[f"param_{name}"] = forms.IntegerField(
                label=f"{parameter.label} ({parameter.unit})", required=False, min_value=low, max_value=high,
                help_text=f"Blank uses the default, {parameter.default:g} {parameter.unit}. "
                          f"Allowed: {low} to {high}.",
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )
        for name, note in WINDOW_NOTES.items():
            self.fields[name] = forms.IntegerField(
                label=f"{note.label} (days)", min_value=note.low, max_value=note.high,
                help_text=f"From {note.low} to {note.high} days.",
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("param_")]
