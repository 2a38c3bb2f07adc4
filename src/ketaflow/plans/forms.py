"""Forms of the plan pages. They carry what was typed (numbers stay text, so the services parse and
name the field at fault); the services validate again."""

from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.clinical.dosing import WeightBasis

from .models import Phase

NUMBER = {"inputmode": "decimal", "autocomplete": "off"}
WHOLE = {"inputmode": "numeric", "autocomplete": "off"}
DATE = forms.DateInput(attrs={"type": "date"})
SEX_CHOICES = [("", "Not recorded"), ("female", "Female"), ("male", "Male")]


def _number(label: str, help_text: str = "", *, whole: bool = False) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=12, help_text=help_text,
                           widget=forms.TextInput(attrs=WHOLE if whole else NUMBER))


def _shown_required(form: forms.Form, *names: str) -> None:
    for name in names:
        if name in form.fields:
            form.fields[name].shown_required = True  # type: ignore[attr-defined]


class DoseFields(forms.Form):
    """The dose choice shared by the new-plan and dose-change forms."""

    mg_per_kg = _number("Dose (mg/kg)", "One of the protocol's steps; blank uses its starting dose.")
    mg = _number("Dose (mg)", "For esketamine and troches; blank uses the protocol's first dose.")
    override_mg = _number(
        "Override dose (mg)",
        "Only to go outside the protocol (above its cap, say): the reason below is recorded with the dose.",
    )
    override_reason = forms.CharField(label="Reason for the override", required=False, max_length=300)


class PlanForm(DoseFields):
    protocol_key = forms.CharField(label="Protocol", required=False)
    clinic_id = forms.ChoiceField(label="Clinic", required=False)
    condition = forms.ChoiceField(label="Condition treated", required=False)
    start_date = forms.DateField(label="Start date", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    goals = forms.CharField(label="Goals agreed with the patient", required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 3}))
    maintenance_every_days = forms.TypedChoiceField(
        label="Maintenance interval", required=False, coerce=int, empty_value=None,
        help_text="For a protocol whose maintenance offers intervals (esketamine from week 9: the lowest "
                  "frequency that keeps the response, per its label).",
    )
    home_justification = forms.CharField(
        label="Why treatment at home", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The APA consensus strongly discourages unsupervised home use: home treatment is an "
                  "explicit prescriber decision. Say why it suits this patient and how the safeguards "
                  "(a monitor present, staged supply) are met.",
    )

    def __init__(self, *args: Any, clinics: list[tuple[str, str]], conditions: list[tuple[str, str]],
                 intervals: list[int], **kwargs: Any) -> None:
        """`intervals`: the maintenance intervals (days) the library's protocols offer."""
        super().__init__(*args, **kwargs)
        self.fields["maintenance_every_days"].choices = [  # type: ignore[attr-defined]
            ("", "As the protocol's blocks say"), *[(str(d), f"Every {d} days") for d in intervals]
        ]
        self.fields["clinic_id"].choices = clinics  # type: ignore[attr-defined]
        self.fields["condition"].choices = [("", "Choose…"), *conditions]  # type: ignore[attr-defined]
        _shown_required(self, "protocol_key", "clinic_id", "condition", "start_date", "goals")


class DoseChangeForm(DoseFields):
    reason = forms.CharField(label="Why the dose changes", required=False, max_length=300)
    effective_on = forms.DateField(label="From", required=False, widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "dose")
        super().__init__(*args, **kwargs)
        _shown_required(self, "reason", "effective_on")


class PhaseForm(forms.Form):
    to_phase = forms.ChoiceField(label="Move to", required=False)
    reason = forms.CharField(label="Reason", required=False, max_length=300,
                             help_text="Required when discontinuing.")
    effective_on = forms.DateField(label="From", required=False, widget=DATE)

    def __init__(self, *args: Any, allowed: tuple[str, ...] = (), **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "phase")
        super().__init__(*args, **kwargs)
        self.fields["to_phase"].choices = [  # type: ignore[attr-defined]
            ("", "Choose…"), *[(p, Phase(p).label) for p in allowed]
        ]
        _shown_required(self, "to_phase", "effective_on")


class ResolveForm(forms.Form):
    resolution = forms.CharField(label="Decision taken", required=False, max_length=300)


class CalculatorForm(forms.Form):
    protocol = forms.ChoiceField(label="Protocol")
    weight_kg = _number("Weight (kg)")
    height_cm = _number("Height (cm)", "Needed when the protocol doses on ideal or adjusted body weight.")
    sex = forms.ChoiceField(label="Sex at birth", choices=SEX_CHOICES, required=False,
                            help_text="Needed for ideal body weight (Devine).")
    age = _number("Age (years)", "Esketamine: the older-adult first dose applies from the protocol's age.",
                  whole=True)
    mg_per_kg = _number("Dose (mg/kg)", "Blank: the protocol's starting dose.")
    mg = _number("Dose (mg)", "Esketamine or troches; blank: the first dose.")

    def __init__(self, *args: Any, protocols: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = protocols  # type: ignore[attr-defined]


class CloneForm(forms.Form):
    """The numbers a clinic edits; the rest of the definition is carried over from the source."""

    name = forms.CharField(label="Name", max_length=200, required=False)
    rate = _number("Dose per kg (mg/kg, or mg/kg/h for an infusion over hours)")
    cap_mg = _number("Cap (mg)", "No dose above this without a prescriber's override and reason.")
    weight_basis = forms.ChoiceField(
        label="Weight basis", required=False, choices=[(b.value, b.label.capitalize()) for b in WeightBasis]
    )
    concentration_mg_per_ml = _number("Concentration drawn up (mg/mL)")
    increment_ml = _number("Syringe step (mL)")
    bag_ml = _number("Bag volume (mL)", "Blank for no bag (an injection).")
    duration_min = _number("Infusion duration (minutes)", whole=True)
    min_duration_min = _number("Shortest allowed duration (minutes)", whole=True)
    titration_steps = forms.CharField(label="Titration steps (mg/kg, comma-separated)", required=False,
                                      help_text="Rising, starting at the dose per kg. Blank: no titration.")
    titration_after = _number("Sessions at a step before the next", whole=True)
    allowed_mg = forms.CharField(label="Allowed doses (mg, comma-separated)", required=False)
    first_dose_mg = _number("First dose (mg)", whole=True)
    start_mg = _number("Starting dose (mg)")
    step_mg = _number("Step (mg)")
    max_mg = _number("Highest dose (mg)")
    futility_after = _number("Futility review after (sessions without response)", whole=True)
    phases = forms.CharField(
        label="Phases and their blocks (JSON)", required=False, widget=forms.Textarea(attrs={"rows": 14}),
        help_text='Each phase lists blocks: {"label", "weeks", "per_week"} or {"label", "every_days", '
                  '"sessions" (null: open-ended), "first_gap_days"}, with "min_gap_days" and '
                  '"tolerance_days".',
    )
    monitoring = forms.CharField(
        label="Monitoring and alert thresholds (JSON)", required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text='Vital signs interval, alert "limits" and "pre_dose" limits per vital sign '
                  '({"low", "high"}), "min_observation_min", "second_check", "fasting_hours"... '
                  "Blank: the route's defaults.",
    )
    change_note = forms.CharField(label="What changed and why", max_length=300, required=False,
                                  help_text="Shown in the version history.")

    WEIGHT_FIELDS = ("rate", "weight_basis", "concentration_mg_per_ml", "increment_ml", "bag_ml",
                     "duration_min", "min_duration_min", "titration_steps", "titration_after")
    FIXED_FIELDS = ("allowed_mg", "first_dose_mg")
    TROCHE_FIELDS = ("start_mg", "step_mg", "max_mg")

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keep = {"weight_based": self.WEIGHT_FIELDS, "weight_per_hour": self.WEIGHT_FIELDS,
                "fixed": self.FIXED_FIELDS, "troche": self.TROCHE_FIELDS}[kind]
        for name in (*self.WEIGHT_FIELDS, *self.FIXED_FIELDS, *self.TROCHE_FIELDS):
            if name not in keep:
                del self.fields[name]
        _shown_required(self, "name", "cap_mg", "change_note", "phases")
