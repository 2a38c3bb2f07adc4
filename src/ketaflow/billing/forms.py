"""Forms of the billing pages. They carry what was typed; amounts are parsed strictly by
`amounts.parse_amount` and the services validate the rest, each error shown beside its field."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import Invoice, Payment, PriceItem


def _required(form: forms.Form, *names: str) -> None:
    for name in names:
        form.fields[name].shown_required = True  # type: ignore[attr-defined]


class PriceForm(forms.Form):
    code = forms.CharField(max_length=40, required=False, help_text="Lower-case letters, digits, dashes.")
    label = forms.CharField(label="Name", max_length=120, required=False)
    kind = forms.ChoiceField(choices=PriceItem.Kind.choices)
    amount = forms.CharField(
        label="Price (dollars and cents)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    appointment_type_key = forms.CharField(
        label="Appointment type key",
        max_length=30,
        required=False,
        help_text="The visit this price is charged for, e.g. iv.",
    )
    covers = forms.CharField(label="Package covers (session code)", max_length=40, required=False)
    sessions = forms.IntegerField(label="Sessions in the package", min_value=1, max_value=100, required=False)
    billing_codes = forms.CharField(
        label="Procedure codes",
        max_length=200,
        required=False,
        help_text=(
            "e.g. 'CPT 96365' or 'HCPCS G2082'; comma between codes. [verify]: confirm before submitting."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _required(self, "code", "label", "amount")


class SettingsForm(forms.Form):
    currency = forms.CharField(max_length=3, required=False)
    invoice_prefix = forms.CharField(max_length=10, required=False)
    payment_terms_days = forms.IntegerField(
        label="Payment terms (days)", min_value=0, max_value=365, required=False
    )
    deposit = forms.CharField(
        label="Deposit asked at booking (dollars; 0 for none)", max_length=20, required=False
    )
    tax_id = forms.CharField(label="Tax ID (EIN)", max_length=20, required=False)
    billing_npi = forms.CharField(label="Billing NPI", max_length=10, required=False)
    superbill_note = forms.CharField(
        label="Note printed on superbills", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class EstimateForm(forms.Form):
    integration = forms.IntegerField(
        label="Integration therapy sessions", min_value=0, max_value=50, required=False, initial=0
    )
    consultation = forms.BooleanField(label="Include the initial consultation", required=False)


class PaymentForm(forms.Form):
    kind = forms.ChoiceField(choices=Payment.Kind.choices, initial=Payment.Kind.PAYMENT)
    method = forms.ChoiceField(choices=Payment.Method.choices)
    amount = forms.CharField(
        label="Amount (dollars and cents)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    reference = forms.CharField(max_length=100, required=False, help_text="Card slip, check number, ...")
    received_on = forms.DateField(
        label="Received on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _required(self, "amount")


class VoidForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _required(self, "reason")


class LineForm(forms.Form):
    description = forms.CharField(label="Other line: description", max_length=200, required=False)
    amount = forms.CharField(
        label="Other line: amount (dollars and cents)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    service_date = forms.DateField(
        label="Date of service", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class InvoiceFilter(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Invoice.Status.choices], required=False)
    balance = forms.ChoiceField(choices=[("", "Any balance"), ("open", "With a balance due")], required=False)
