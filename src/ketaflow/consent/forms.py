"""Forms of the consent pages. They only carry what was typed; the services validate it, and each
service error is shown next to its field (`web.form_errors.show_errors`)."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import ROUTE_CHOICES, Setting

# The hash of the text shown is not something the patient can correct: its error is form-wide.
SIGN_RENAMES = {"text_hash": "__all__"}


class SignForm(forms.Form):
    """The signing form of the portal and the clinic tablet: typed name, drawn signature, agreement."""

    typed_name = forms.CharField(
        label="Type your full name", max_length=200, required=False,
        help_text="Your legal first and last name, as on your record.",
        widget=forms.TextInput(
            attrs={"autocomplete": "name", "autocapitalize": "words", "spellcheck": "false"}
        ),
    )
    signature = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"data-signature-input": ""}))
    agree = forms.BooleanField(label="I have read this consent form and I agree to it", required=False)
    text_hash = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["typed_name"].shown_required = True  # type: ignore[attr-defined]


class RequestForm(forms.Form):
    route = forms.ChoiceField(choices=ROUTE_CHOICES)
    setting = forms.ChoiceField(choices=[("", "Default"), *Setting.choices], required=False)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=500, required=False,
        help_text="What the patient told you, or why the request is cancelled.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].shown_required = True  # type: ignore[attr-defined]


class PatientWithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Would you like to tell us why? (optional)", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TemplateVersionForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        label="Text the patient reads and signs", required=False,
        help_text="Plain text. A line starting with '# ' is a heading, lines starting with '- ' a list, "
                  "and a blank line starts a new paragraph. HTML is shown as typed, never as markup.",
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}),
    )
    note = forms.CharField(
        label="What changed", max_length=300, required=False,
        help_text="Shown in the version history, e.g. 'Reviewed by counsel; added the escort rule'.",
    )
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("title", "body", "note"):
            self.fields[name].shown_required = True  # type: ignore[attr-defined]
