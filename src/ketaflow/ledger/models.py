"""Storage for the controlled-substance ledger (clinical reference §9).

Stock is held as lots (product, lot number, expiry, supplier) in storage locations. Every movement is
an append-only `Entry` carrying the signed change and the balance after it; `Balance` holds the
current figure per lot and location, locked while an entry is written, and the database refuses a
negative one. Counts compare what is on the shelf with the balance; a difference is reconciled by an
adjustment entry with its reason and a witness. Quantities are mg of drug.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from ketaflow.clinical.controlled import EntryKind
from ketaflow.clinics.models import Clinic, Organization, TenantModel
from ketaflow.patients.models import Patient

USER = settings.AUTH_USER_MODEL


def _mg(**options: Any) -> Any:
    """A quantity of drug in mg."""
    return models.DecimalField(max_digits=11, decimal_places=3, **options)


class LedgerSettings(models.Model):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    registrant = models.CharField(max_length=200, blank=True, help_text="The registrant named on reports")
    registration_number = models.CharField(max_length=40, blank=True)
    expiry_warn_days = models.PositiveSmallIntegerField(default=60)
    session_tolerance_mg = models.DecimalField(max_digits=6, decimal_places=3, default=0.5)
    updated_at = models.DateTimeField(auto_now=True)


class Product(TenantModel):
    """A controlled product as stocked: a 500 mg/10 mL ketamine vial, a 28 mg esketamine device."""

    class Drug(models.TextChoices):
        KETAMINE = "ketamine", "Ketamine"
        ESKETAMINE = "esketamine", "Esketamine"
        MIDAZOLAM = "midazolam", "Midazolam"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    drug = models.CharField(max_length=20, choices=Drug.choices)
    schedule = models.CharField(max_length=5, help_text="DEA schedule, e.g. III")
    form = models.CharField(max_length=20, help_text="vial, device, troche, ampoule")
    mg_per_unit = models.DecimalField(max_digits=8, decimal_places=3)
    ml_per_unit = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def concentration_mg_per_ml(self) -> Any:
        return None if not self.ml_per_unit else self.mg_per_unit / self.ml_per_unit


class StorageLocation(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "clinic", "name"], name="ledger_location_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Lot(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expires_on = models.DateField()
    supplier = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_on", "lot_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "product", "lot_number"], name="ledger_lot_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.name} lot {self.lot_number}"


class Balance(TenantModel):
    """The quantity of one lot in one location now; never below zero."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="balances")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="balances")
    quantity_mg = _mg(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lot", "location"], name="ledger_balance_one_per_place"),
            models.CheckConstraint(
                condition=models.Q(quantity_mg__gte=0), name="ledger_balance_not_negative"
            ),
        ]


class Entry(TenantModel):
    """One movement of stock, written once. `change_mg` is signed; `balance_after_mg` is the
    lot's balance in that location after it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=[(k.value, k.label) for k in EntryKind])
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="entries")
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="entries")
    change_mg = _mg()
    balance_after_mg = _mg()
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(
        "treatment_sessions.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    supplier = models.CharField(max_length=200, blank=True)
    invoice_number = models.CharField(max_length=60, blank=True)
    transfer = models.UUIDField(null=True, blank=True, help_text="Pairs a transfer's out and in entries")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["occurred_at", "recorded_at"]
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["organization", "occurred_at"], name="ledger_entry_org_time"),
            models.Index(fields=["lot", "location", "recorded_at"], name="ledger_entry_place"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger entries are append-only")


class Count(TenantModel):
    """An inventory count of one location: periodic, biennial, or to reconcile a discrepancy."""

    class Kind(models.TextChoices):
        PERIODIC = "periodic", "Periodic"
        BIENNIAL = "biennial", "Biennial inventory"

    class Status(models.TextChoices):
        OPEN = "open", "Discrepancy open"
        RECONCILED = "reconciled", "Reconciled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="counts")
    counted_at = models.DateTimeField()
    counted_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reconciled_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-counted_at"]


class CountLine(TenantModel):
    count = models.ForeignKey(Count, on_delete=models.PROTECT, related_name="lines")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    expected_mg = _mg()
    counted_mg = _mg()
    difference_mg = _mg()
    resolution = models.CharField(max_length=300, blank=True)
    adjustment = models.OneToOneField(
        Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["lot__expires_on"]
