"""Prices, estimates, invoices, payments and superbills.

Amounts are whole cents in the organization's currency (`BillingSettings.currency`). Invoice lines
copy their amounts and codes when made, so a later price change never rewrites an invoice. Billing
codes (CPT/HCPCS per price item, ICD-10 from the plan's condition) are clinic settings: clinical
reference §7 marks every code [verify].
"""

from __future__ import annotations

import uuid

from django.db import models

from ketaflow.clinics.models import TenantModel
from ketaflow.patients.models import PatientChild


class BillingSettings(TenantModel):
    currency = models.CharField(max_length=3, default="USD")
    invoice_prefix = models.CharField(max_length=10, default="INV-")
    next_invoice_number = models.PositiveIntegerField(default=1, editable=False)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    deposit_cents = models.PositiveIntegerField(default=0, help_text="Deposit asked at booking (0 = none)")
    tax_id = models.CharField("tax ID (EIN)", max_length=20, blank=True)
    billing_npi = models.CharField("billing NPI", max_length=10, blank=True)
    superbill_note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="billing_settings_once")]


class PriceItem(TenantModel):
    """One entry of the clinic's price list."""

    class Kind(models.TextChoices):
        CONSULTATION = "consultation", "Consultation"
        SESSION = "session", "Treatment session"
        ADD_ON = "add_on", "Add-on"
        PACKAGE = "package", "Package"
        MEMBERSHIP = "membership", "Membership (monthly)"
        OTHER = "other", "Other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=120)
    kind = models.CharField(max_length=15, choices=Kind.choices)
    amount_cents = models.PositiveIntegerField()
    covers = models.SlugField(
        max_length=40, blank=True, help_text="For a package: the code of the session it covers"
    )
    sessions = models.PositiveSmallIntegerField(default=1)
    appointment_type_key = models.SlugField(
        max_length=30, blank=True, help_text="The appointment type this price is charged for"
    )
    billing_codes = models.JSONField(default=list, help_text='e.g. [{"system": "CPT", "code": "96365"}]')
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="price_item_code"),
            models.CheckConstraint(condition=models.Q(sessions__gte=1), name="price_item_sessions"),
        ]

    def __str__(self) -> str:
        return self.label


class Estimate(PatientChild):
    """What a plan would cost, made before the patient commits; lines are frozen when made."""

    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.PROTECT, related_name="estimates"
    )
    lines = models.JSONField()
    total_cents = models.PositiveIntegerField()
    deposit_cents = models.PositiveIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]


class Membership(PatientChild):
    price = models.ForeignKey(PriceItem, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on"]


class Invoice(PatientChild):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    number = models.CharField(max_length=30)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DRAFT)
    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    total_cents = models.PositiveIntegerField(default=0)
    paid_cents = models.IntegerField(default=0)
    diagnosis_codes = models.JSONField(default=list, help_text="ICD-10-CM codes for the superbill")
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_number_unique"),
            models.CheckConstraint(
                condition=~models.Q(status="void") | ~models.Q(void_reason=""), name="invoice_void_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def balance_cents(self) -> int:
        return 0 if self.status == self.Status.VOID else self.total_cents - self.paid_cents


class InvoiceLine(TenantModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveSmallIntegerField(default=1)
    unit_cents = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    price_code = models.SlugField(max_length=40, blank=True)
    billing_codes = models.JSONField(default=list)
    service_date = models.DateField(null=True, blank=True)
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="invoice_line_quantity"),
        ]


class Payment(PatientChild):
    """Money received (a payment or a deposit) or returned (a refund). A deposit may wait without an
    invoice and be applied to one later."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        DEPOSIT = "deposit", "Deposit"
        REFUND = "refund", "Refund"

    class Method(models.TextChoices):
        CARD = "card", "Card"
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        HSA = "hsa_fsa", "HSA/FSA card"
        BANK = "bank", "Bank transfer"
        OTHER = "other", "Other"

    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAYMENT)
    method = models.CharField(max_length=10, choices=Method.choices)
    amount_cents = models.PositiveIntegerField()
    reference = models.CharField(max_length=100, blank=True)
    received_on = models.DateField()

    class Meta:
        ordering = ["-received_on", "-recorded_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="payment_amount_positive"),
        ]
