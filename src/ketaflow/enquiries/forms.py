"""Forms of the enquiry pages. They parse; the services (public.py, leads.py) decide what is valid.

The self-screen questions are not a Django form: they are drawn from the versioned definition
(`screen_form`), with inputs named `answers.<question>` as the service names its errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.http import QueryDict

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.self_screen import Answer, SelfScreen, load_self_screen
from ketaflow.clinics.models import Clinic
from ketaflow.patients.models import ContactMethod
from ketaflow.validation import ValidationFailed

from .models import LeadStatus
from .public import answer_field

HONEYPOT = "website"


# ---------- the self-screen questions ----------


@dataclass(frozen=True)
class ChoiceView:
    value: str
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class QuestionView:
    id: str
    number: int
    name: str
    anchor: str
    text: str
    hint: str
    multi: bool
    choices: list[ChoiceView]
    error: str


@dataclass(frozen=True)
class SectionView:
    title: str
    intro: str
    anchor: str
    questions: list[QuestionView]


@dataclass(frozen=True)
class Problem:
    anchor: str
    text: str


@dataclass(frozen=True)
class ScreenForm:
    sections: list[SectionView]
    problems: list[Problem]


def answers_from(data: QueryDict, screen: SelfScreen | None = None) -> dict[str, Any]:
    """The submitted answers by question id: text for one answer, a list for many, None if absent."""
    screen = screen or load_self_screen()
    answers: dict[str, Any] = {}
    for question in screen.questions:
        name = answer_field(question.id)
        answers[question.id] = data.getlist(name) if question.kind == "multi" else data.get(name)
    return answers


def _given(value: Any) -> set[str]:
    if isinstance(value, (list, tuple)):
        return {str(v) for v in value}
    return {str(value)} if value else set()


def screen_form(
    answers: Mapping[str, Any] | None = None,
    failure: ValidationFailed | None = None,
    screen: SelfScreen | None = None,
) -> ScreenForm:
    """Sections of questions with the given answers ticked and each error beside its question."""
    screen = screen or load_self_screen()
    answers = answers or {}
    errors = {e.field: e.message for e in (failure.errors if failure else ()) if e.field}
    sections, problems = [], []
    number = 0
    for section in screen.sections:
        questions = []
        for question in screen.questions_in(section.id):
            number += 1
            name = answer_field(question.id)
            anchor = f"q-{question.id}"
            given = _given(answers.get(question.id))
            error = errors.get(name, "")
            if error:
                problems.append(Problem(anchor, f"Question {number}: {error}"))
            questions.append(QuestionView(
                id=question.id, number=number, name=name, anchor=anchor, text=question.text,
                hint=question.hint, multi=question.kind == "multi", error=error,
                choices=[ChoiceView(o.value, o.label, f"{anchor}-{o.value}", o.value in given)
                         for o in question.options],
            ))
        sections.append(SectionView(section.title, section.intro, f"s-{section.id}", questions))
    return ScreenForm(sections, problems)


def hidden_answers(answers: Mapping[str, Answer]) -> list[tuple[str, str]]:
    """(input name, value) pairs that carry judged answers into the contact form."""
    pairs = []
    for question_id, value in answers.items():
        for one in value if isinstance(value, tuple) else (value,):
            pairs.append((answer_field(question_id), one))
    return pairs


# ---------- leaving contact details ----------


class ContactForm(forms.Form):
    """Every field is read as text, so nothing typed is dropped by the form: the service
    (`public.submit_lead`) checks each one and names the field it refuses."""

    name = forms.CharField(label="Your name", required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "name", "maxlength": "200"}))
    phone = forms.CharField(label="Phone number", required=False,
                            help_text="With area code, for example (503) 555-0142.",
                            widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel",
                                                          "autocomplete": "tel"}))
    email = forms.CharField(label="Email address", required=False,
                            widget=forms.EmailInput(attrs={"inputmode": "email", "autocomplete": "email"}))
    preferred_contact = forms.CharField(label="How should we contact you?", required=False,
                                        initial=ContactMethod.PHONE,
                                        widget=forms.RadioSelect(choices=ContactMethod.choices))
    preferred_clinic_id = forms.CharField(label="Which clinic suits you best?", required=False,
                                          widget=forms.Select)
    consent_to_contact = forms.BooleanField(
        label="I agree that the clinic may contact me about booking a consultation.", required=False,
    )
    website = forms.CharField(label="Leave this empty", required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def __init__(self, *args: Any, clinics: Iterable[Clinic], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = list(clinics)
        choices = [("", "No preference")] + [(str(c.pk), c.name) for c in self.clinics]
        cast(forms.Select, self.fields["preferred_clinic_id"].widget).choices = choices
        for name in ("name", "consent_to_contact"):
            self.fields[name].shown_required = True  # type: ignore[attr-defined]
            self.fields[name].widget.attrs["aria-required"] = "true"

    @property
    def is_spam(self) -> bool:
        """A person never sees the trap field, so anything in it was filled in by a program."""
        return bool((self.data.get(HONEYPOT) or "").strip())

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in
                ("name", "phone", "email", "preferred_contact", "consent_to_contact")}
        data["preferred_clinic_id"] = self.cleaned_data.get("preferred_clinic_id") or None
        return data

    def visible_fields_for_page(self) -> list[forms.BoundField]:
        names = ["name", "phone", "email", "preferred_contact"]
        if len(self.clinics) > 1:
            names.append("preferred_clinic_id")
        names.append("consent_to_contact")
        return [self[name] for name in names]


# ---------- the staff pages ----------


class LeadUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        choices=[(v, label) for v, label in LeadStatus.choices if v != LeadStatus.CONVERTED],
    )
    assigned_to_id = forms.ChoiceField(label="Assigned to", required=False)
    closed_reason = forms.CharField(label="Reason for closing", max_length=300, required=False,
                                    help_text="Needed when the status is Closed, for example: not reachable.")
    notes = forms.CharField(label="Notes", required=False, max_length=5000,
                            widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(
        self, *args: Any, staff: Iterable[StaffMember], converted: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Nobody")] + [(str(s.pk), s.display_name) for s in staff]
        cast(forms.ChoiceField, self.fields["assigned_to_id"]).choices = choices
        if converted:  # a registered lead keeps its status; notes and assignee still change
            del self.fields["status"]
            del self.fields["closed_reason"]

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["assigned_to_id"] = data.get("assigned_to_id") or None
        return data
