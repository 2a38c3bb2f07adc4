"""Forms of the ledger pages. They carry what was typed; the services validate it and each error is
shown beside its field. Field names are the services' own (`quantity_mg`, `witness_id`), except the
`stock` choice, which names a lot in a location at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django import forms

from ketaflow.accounts.actor import Actor
from ketaflow.clinics.models import Clinic

from .balances import BalanceRow
from .models import Count, Product, StorageLocation
from .reports import KINDS, mg_text
from .setup import SCHEDULES
from .stock import handlers_of

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}
BLANK = [("", "Choose…")]
RENAMES = {"lot_id": "stock", "location_id": "stock", "from_location_id": "stock"}


def _required(form: forms.Form, *names: str) -> None:
    for name in names:
        form.fields[name].shown_required = True  # type: ignore[attr-defined]


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def witness_choices(actor: Actor) -> list[tuple[str, str]]:
    """Colleagues who handle controlled substances, not the actor."""
    people = handlers_of(actor.organization_id).exclude(user_id=actor.user_id or 0)
    people = people.order_by("user__last_name", "user__first_name")
    return BLANK + [(str(p.user_id), p.display_name) for p in people]


def location_choices(places: Iterable[StorageLocation]) -> list[tuple[str, str]]:
    return BLANK + [(str(p.pk), f"{p.clinic.name}: {p.name}") for p in places]


def stock_value(row: BalanceRow) -> str:
    return f"{row.lot.pk}|{row.location.pk}"


def stock_choices(rows: Iterable[BalanceRow]) -> list[tuple[str, str]]:
    """One choice per lot in a location with stock: product, lot, expiry, where and how much."""
    return BLANK + [
        (
            stock_value(row),
            f"{row.product.name} lot {row.lot.lot_number} (expires {row.lot.expires_on:%Y-%m-%d}) "
            f"at {row.location.name}: {mg_text(row.quantity_mg)} mg",
        )
        for row in rows
    ]


def split_stock(value: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """'<lot id>|<location id>' -> the two ids (None when malformed)."""
    lot, _, place = (value or "").partition("|")
    try:
        return uuid.UUID(lot), uuid.UUID(place)
    except ValueError:
        return None, None


class ReceiveForm(forms.Form):
    product_id = forms.ChoiceField(label="Product", required=False)
    location_id = forms.ChoiceField(label="Into storage location", required=False)
    lot_number = forms.CharField(label="Lot number", max_length=60, required=False)
    expires_on = forms.DateField(label="Expiry date", widget=DATE, required=False)
    supplier = forms.CharField(max_length=200, required=False)
    invoice_number = forms.CharField(label="Supplier's invoice number", max_length=60, required=False)
    units = forms.CharField(
        label="Units received (vials, devices)",
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text="Or give the quantity in mg below, not both.",
    )
    quantity_mg = forms.CharField(
        label="Or quantity in mg", max_length=20, required=False, widget=forms.TextInput(attrs=DECIMAL)
    )

    def __init__(
        self, *args: Any, products: Iterable[Product], places: Iterable[StorageLocation], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        _choices(
            self, "product_id", BLANK + [(str(p.pk), f"{p.name} (schedule {p.schedule})") for p in products]
        )
        _choices(self, "location_id", location_choices(places))
        _required(self, "product_id", "location_id", "lot_number", "expires_on", "supplier", "invoice_number")


class WasteForm(forms.Form):
    stock = forms.ChoiceField(label="Stock wasted from", required=False)
    quantity_mg = forms.CharField(
        label="Quantity wasted (mg)", max_length=20, required=False, widget=forms.TextInput(attrs=DECIMAL)
    )
    witness_id = forms.ChoiceField(
        label="Witness",
        required=False,
        help_text="The colleague who watched the drug being discarded; they are recorded by name.",
    )
    reason = forms.CharField(
        max_length=300,
        required=False,
        help_text="For example: left in the syringe after the dose; vial dropped and broken.",
    )

    def __init__(self, *args: Any, actor: Actor, rows: Iterable[BalanceRow], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "stock", stock_choices(rows))
        _choices(self, "witness_id", witness_choices(actor))
        _required(self, "stock", "quantity_mg", "witness_id", "reason")


class TransferForm(forms.Form):
    stock = forms.ChoiceField(label="Move stock from", required=False)
    to_location_id = forms.ChoiceField(label="To storage location", required=False)
    quantity_mg = forms.CharField(
        label="Quantity moved (mg)", max_length=20, required=False, widget=forms.TextInput(attrs=DECIMAL)
    )
    reason = forms.CharField(max_length=300, required=False)

    def __init__(
        self, *args: Any, rows: Iterable[BalanceRow], places: Iterable[StorageLocation], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        _choices(self, "stock", stock_choices(rows))
        _choices(self, "to_location_id", location_choices(places))
        _required(self, "stock", "to_location_id", "quantity_mg")


class CountForm(forms.Form):
    """A blind count: the sheet lists the lots held in the location, not their balances."""

    kind = forms.ChoiceField(choices=Count.Kind.choices, initial=Count.Kind.PERIODIC)
    witness_id = forms.ChoiceField(label="Witness (optional)", required=False)

    def __init__(self, *args: Any, actor: Actor, rows: Iterable[BalanceRow], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "witness_id", witness_choices(actor))
        for row in rows:
            product = row.product
            self.fields[f"counted_{row.lot.pk}"] = forms.CharField(
                label=f"{product.name} lot {row.lot.lot_number} (expires {row.lot.expires_on:%Y-%m-%d})",
                max_length=20,
                required=False,
                widget=forms.TextInput(attrs=DECIMAL),
                help_text=f"mg found; one full {product.form} holds {mg_text(product.mg_per_unit)} mg.",
            )
            _required(self, f"counted_{row.lot.pk}")

    def counted(self) -> dict[str, str]:
        """lot id -> what was typed, for the lots given a figure (a blank one is not counted)."""
        return {
            name.removeprefix("counted_"): self.data.get(name, "")
            for name in self.fields
            if name.startswith("counted_") and str(self.data.get(name, "")).strip()
        }


class ReconcileForm(forms.Form):
    witness_id = forms.ChoiceField(label="Witness", required=False)

    def __init__(self, *args: Any, actor: Actor, lines: Iterable[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "witness_id", witness_choices(actor))
        for line in lines:
            self.fields[f"reason_{line.pk}"] = forms.CharField(
                label=f"Reason for lot {line.lot.lot_number} ({mg_text(line.difference_mg)} mg difference)",
                max_length=240,
                required=False,
            )
        _required(self, "witness_id", *(f"reason_{line.pk}" for line in lines))

    def resolutions(self) -> dict[str, str]:
        return {
            name.removeprefix("reason_"): self.data.get(name, "")
            for name in self.fields
            if name.startswith("reason_")
        }


class SettingsForm(forms.Form):
    registrant = forms.CharField(
        max_length=200, required=False, help_text="The registered practitioner named on the reports."
    )
    registration_number = forms.CharField(label="Registration number (DEA)", max_length=40, required=False)
    expiry_warn_days = forms.CharField(
        label="Warn of expiry (days ahead)",
        max_length=4,
        required=False,
        widget=forms.TextInput(attrs=DECIMAL),
    )
    session_tolerance_mg = forms.CharField(
        label="Session tolerance (mg)",
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs=DECIMAL),
        help_text="A session whose drawn dose differs from given + wasted by more is flagged.",
    )


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="e.g. Ketamine 100 mg/mL, 5 mL vial")
    drug = forms.ChoiceField(choices=BLANK + list(Product.Drug.choices), required=False)
    schedule = forms.ChoiceField(choices=BLANK + [(s, s) for s in SCHEDULES], required=False)
    form = forms.CharField(label="Unit", max_length=20, required=False, help_text="vial, device, ampoule")
    mg_per_unit = forms.CharField(
        label="mg per unit", max_length=12, required=False, widget=forms.TextInput(attrs=DECIMAL)
    )
    ml_per_unit = forms.CharField(
        label="mL per unit (solutions only)",
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs=DECIMAL),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _required(self, "name", "drug", "schedule", "form", "mg_per_unit")


class LocationForm(forms.Form):
    clinic_id = forms.ChoiceField(label="Clinic", required=False)
    name = forms.CharField(max_length=120, required=False, help_text="e.g. Safe, treatment room 2")

    def __init__(self, *args: Any, clinics: Iterable[Clinic], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "clinic_id", BLANK + [(str(c.pk), c.name) for c in clinics])
        _required(self, "clinic_id", "name")


class ReportForm(forms.Form):
    kind = forms.ChoiceField(choices=list(KINDS.items()), required=False)
    location = forms.ChoiceField(label="Storage location", required=False)
    start = forms.DateField(
        label="From", widget=DATE, required=False, help_text="Periodic only; the first of the month if empty."
    )
    end = forms.DateField(label="To (or the inventory date)", widget=DATE, required=False)

    def __init__(self, *args: Any, places: Iterable[StorageLocation], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "location", location_choices(places))
