"""Forms for the measurement pages. They parse (numbers, dates, choices); the services decide what is valid.

A questionnaire form is built from the instrument definition: one radio group per item, named
`item_<item id>`, so a service error for `answers.<item id>` lands next to its own item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from django import forms

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.instruments import Instrument

from .models import Invitation, SafetyAlert, Stage, Treatment

LONG_SCALE = 5  # options
LONG_LABEL = 28  # characters
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M"]


def _datetime_field(label: str, *, required: bool, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, required=required, input_formats=DATETIME_FORMATS, help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


def instrument_choices(instruments: Iterable[Instrument], *, blank: str | None = None) -> list[Any]:
    """Instruments grouped for a <select>: patient-reported first, then clinician-rated."""
    listed = list(instruments)
    grouped: list[Any] = [("", blank)] if blank is not None else []
    for respondent, heading in (("patient", "Patient-reported"), ("clinician", "Clinician-rated")):
        members = [(i.id, f"{i.short_name}: {i.name}") for i in listed if i.respondent == respondent]
        if members:
            grouped.append((heading, members))
    return grouped


class InstrumentChoiceForm(forms.Form):
    """Step one of entering a questionnaire: which one."""

    instrument = forms.ChoiceField(label="Questionnaire", required=False)

    def __init__(self, *args: Any, instruments: Iterable[Instrument], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["instrument"])
        field.choices = instrument_choices(
            [i for i in instruments if i.ships_text], blank="Choose a questionnaire"
        )

    def clean_instrument(self) -> str:
        chosen: str = self.cleaned_data.get("instrument") or ""
        if not chosen:
            raise forms.ValidationError("Choose a questionnaire to enter.")
        return chosen


def item_field_name(item_id: str) -> str:
    return f"item_{item_id}"


class ResponseEntryForm(forms.Form):
    """Every item of one instrument as a radio group, and an optional date-time."""

    authored_at = _datetime_field(
        "Completed at", required=False,
        help_text="Leave blank for now. The clinic's local time.",
    )

    def __init__(self, *args: Any, instrument: Instrument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        numbers = {item.id: index for index, item in enumerate(instrument.items, start=1)}
        items: dict[str, forms.Field] = {}
        for item in instrument.items:
            help_text = ""
            if item.ask_if is not None:
                trigger = instrument.item(item.ask_if.item)
                help_text = (f"Only if item {numbers[trigger.id]} is "
                             f"“{trigger.label_for(item.ask_if.equals)}”; otherwise leave blank.")
            elif not item.required:
                help_text = "Optional; not scored."
            field = forms.IntegerField(
                label=f"{numbers[item.id]}. {item.text}",
                required=False,
                help_text=help_text,
                widget=forms.RadioSelect(choices=[(o.value, f"{o.value}: {o.label}") for o in item.options]),
            )
            # A rating scale with many or long anchors reads best top to bottom, like the paper form.
            field.long_options = (  # type: ignore[attr-defined]
                len(item.options) > LONG_SCALE or any(len(o.label) > LONG_LABEL for o in item.options)
            )
            items[item_field_name(item.id)] = field
        # The items first, then the date.
        self.fields = {**items, "authored_at": self.fields["authored_at"]}

    def item_fields(self) -> list[forms.BoundField]:
        return [self[item_field_name(item.id)] for item in self.instrument.items]

    def answers(self) -> dict[str | int, int | None]:
        data = self.cleaned_data
        return {item.id: data.get(item_field_name(item.id)) for item in self.instrument.items}

    def error_names(self) -> dict[str, str]:
        """Service field names (`answers.9`) to this form's field names (`item_9`)."""
        return {f"answers.{item.id}": item_field_name(item.id) for item in self.instrument.items}


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(
        label="Why was this entered in error?", required=False, max_length=300,
        help_text="For example: wrong patient, or answers keyed in wrongly.",
    )


def clinician_choices(clinicians: Iterable[StaffMember]) -> list[tuple[str, str]]:
    rows = [("", "Not set: alerts go to the clinic's prescribers")]
    for staff in clinicians:
        user = staff.user
        name = user.get_full_name() or user.username
        roles = ", ".join(sorted(role.label for role in staff.roles))
        rows.append((str(staff.pk), f"{name} ({roles})"))
    return rows


class PlanForm(forms.Form):
    stage = forms.ChoiceField(label="Care stage", choices=Stage.choices,
                              help_text="A new stage restarts its questionnaire cadence today.")
    responsible_clinician_id = forms.ChoiceField(
        label="Responsible clinician", required=False,
        help_text="Receives this patient's safety alerts at once.",
    )
    instruments = forms.MultipleChoiceField(
        label="Questionnaires", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to use the schedule's defaults for the stage and the patient's conditions.",
    )

    def __init__(self, *args: Any, clinicians: Iterable[StaffMember], instruments: Iterable[Instrument],
                 **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "plan")
        super().__init__(*args, **kwargs)
        clinician_field = cast(forms.ChoiceField, self.fields["responsible_clinician_id"])
        clinician_field.choices = clinician_choices(clinicians)
        cast(forms.MultipleChoiceField, self.fields["instruments"]).choices = [
            (i.id, i.short_name) for i in instruments
        ]


class TreatmentForm(forms.Form):
    occurred_at = _datetime_field("Date and time", required=True, help_text="The clinic's local time.")
    status = forms.ChoiceField(
        label="Status", widget=forms.RadioSelect, initial=Treatment.Status.GIVEN,
        choices=[(Treatment.Status.GIVEN, "Given"), (Treatment.Status.SCHEDULED, "Scheduled")],
    )
    description = forms.CharField(label="Description", required=False, max_length=120,
                                  help_text="Optional, for example “IV ketamine 0.5 mg/kg”.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "treatment")
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].error_messages["required"] = "Give the date and time of the treatment."


class LinkForm(forms.Form):
    instruments = forms.MultipleChoiceField(label="Questionnaires", required=False,
                                            widget=forms.CheckboxSelectMultiple)
    channel = forms.ChoiceField(label="How to give the link", widget=forms.RadioSelect,
                                choices=Invitation.Channel.choices, initial=Invitation.Channel.IN_PERSON)

    def __init__(self, *args: Any, instruments: Iterable[Instrument], sms_ready: bool, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "link")
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["instruments"]).choices = [
            (i.id, i.short_name) for i in instruments if i.respondent == "patient" and i.ships_text
        ]
        if not sms_ready:
            cast(forms.ChoiceField, self.fields["channel"]).choices = [
                (value, label) for value, label in Invitation.Channel.choices
                if value != Invitation.Channel.SMS
            ]
            self.fields["channel"].help_text = "Text messages are not set up for this practice."


class AcknowledgeForm(forms.Form):
    action = forms.ChoiceField(label="What did you do?", required=False, widget=forms.RadioSelect,
                               choices=SafetyAlert.Action.choices)
    note = forms.CharField(label="Note", required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="What you did and found; it stays on the patient's record.")


class WorklistForm(forms.Form):
    TABS = (("due", "Due"), ("overdue", "Overdue"), ("alerts", "Safety alerts"))

    tab = forms.ChoiceField(choices=TABS, required=False)
    clinic = forms.ChoiceField(label="Clinic", required=False)
    mine = forms.BooleanField(label="Only mine", required=False)

    def __init__(self, *args: Any, clinics: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["clinic"]).choices = [("", "All clinics")] + [
            (str(c.pk), c.name) for c in clinics
        ]


# ---------- Settings ----------

class CrisisResourceForm(forms.Form):
    label = forms.CharField(label="Name", required=False, max_length=80)
    contact = forms.CharField(label="How to reach it", required=False, max_length=120)
    href = forms.CharField(label="Link", required=False, max_length=200,
                           help_text="tel:988, sms:988 or https://…")


CrisisResourceFormSet = forms.formset_factory(CrisisResourceForm, extra=2, max_num=8, absolute_max=8)


class SettingsForm(forms.Form):
    link_ttl_hours = forms.IntegerField(label="Questionnaire links last (hours)", required=False)
    response_reduction_percent = forms.IntegerField(label="Response: reduction from baseline (%)",
                                                    required=False)
    relapse_consecutive = forms.IntegerField(label="Relapse: measurements in a row above the response line",
                                             required=False)
    non_response_after = forms.IntegerField(label="Non-response review after (treatments)", required=False)
    overdue_after_days = forms.IntegerField(label="Overdue after (days)", required=False)
    reminder_every_hours = forms.IntegerField(label="Remind patients at most every (hours)", required=False)

    def __init__(self, *args: Any, remission: Mapping[str, str], **kwargs: Any) -> None:
        """`remission` maps an instrument id to its field label (one optional override each)."""
        super().__init__(*args, **kwargs)
        for instrument_id, label in remission.items():
            self.fields[f"remission_{instrument_id}"] = forms.FloatField(label=label, required=False)
        self.remission_ids = list(remission)

    def remission_fields(self) -> list[forms.BoundField]:
        return [self[f"remission_{i}"] for i in self.remission_ids]
