"""Money received and returned: payments, deposits (held until applied to an invoice) and refunds.

Rules:
- A payment goes on an issued invoice and may not exceed its balance: no balance goes negative.
  When the balance reaches 0 the invoice is paid.
- A deposit without an invoice is held as the patient's credit; `apply_deposit` moves it onto an
  invoice (splitting it when it is more than the balance, the rest staying held).
- A refund returns money explicitly: from an invoice (up to what was paid on it; a paid invoice goes
  back to issued) or from held credit. Refunds need MANAGE_CLINICS (owners and administrators);
  payments and deposits need EDIT_SCHEDULE (the front desk).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.pricing import money
from ketaflow.clinics.models import TenantQuerySet
from ketaflow.patients.models import Patient
from ketaflow.patients.services import _load
from ketaflow.validation import NotFound, ValidationFailed

from .amounts import check_cents
from .defaults import settings_for
from .models import Invoice, Payment

MAX_REFERENCE = 100


def payments_of(organization_id: uuid.UUID) -> TenantQuerySet:
    return Payment.objects.for_organization(organization_id)


def held_credit_cents(organization_id: uuid.UUID, patient_id: uuid.UUID) -> int:
    """Deposits held without an invoice, less refunds made from them."""
    sums = (
        payments_of(organization_id)
        .filter(patient_id=patient_id, invoice__isnull=True)
        .aggregate(
            deposits=Sum("amount_cents", filter=Q(kind=Payment.Kind.DEPOSIT), default=0),
            refunds=Sum("amount_cents", filter=Q(kind=Payment.Kind.REFUND), default=0),
        )
    )
    return int(sums["deposits"] - sums["refunds"])


def _settle(invoice: Invoice) -> None:
    invoice.status = (
        Invoice.Status.PAID if invoice.paid_cents >= invoice.total_cents else Invoice.Status.ISSUED
    )
    invoice.save(update_fields=["paid_cents", "status"])


def _check_received_on(received_on: date | None) -> date:
    today = timezone.localdate()
    if received_on is None:
        return today
    if not isinstance(received_on, date):
        raise ValidationFailed.single("received_on", "Give the date the money was received.")
    if received_on > today:
        raise ValidationFailed.single("received_on", "The date cannot be in the future.")
    return received_on


def record_payment(
    actor: Actor,
    patient_id: uuid.UUID | str,
    *,
    invoice_id: uuid.UUID | str | None = None,
    kind: str = Payment.Kind.PAYMENT,
    method: str,
    amount_cents: int,
    reference: str = "",
    received_on: date | None = None,
) -> Payment:
    """Record money received (payment, deposit) or returned (refund); see the module's rules.
    Raises ValidationFailed naming the field (`amount` when it would overdraw), NotFound, Forbidden."""
    actor.require(Permission.MANAGE_CLINICS if kind == Payment.Kind.REFUND else Permission.EDIT_SCHEDULE)
    if kind not in Payment.Kind.values:
        raise ValidationFailed.single("kind", "Choose payment, deposit or refund.")
    if method not in Payment.Method.values:
        raise ValidationFailed.single("method", "Choose how the money was paid.")
    amount = check_cents(amount_cents, "amount")
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE:
        raise ValidationFailed.single("reference", f"Keep the reference to {MAX_REFERENCE} characters.")
    received = _check_received_on(received_on)
    currency = settings_for(actor.organization_id).currency
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        invoice = None
        if invoice_id is not None and invoice_id != "":
            invoice = _invoice_of(actor, patient, invoice_id)
            _check_against_invoice(invoice, kind, amount, currency)
        elif kind == Payment.Kind.PAYMENT:
            raise ValidationFailed.single("invoice_id", "Choose the invoice this payment is for.")
        elif kind == Payment.Kind.REFUND:
            credit = held_credit_cents(actor.organization_id, patient.pk)
            if amount > credit:
                raise ValidationFailed.single(
                    "amount",
                    f"The patient's held credit is {money(credit, currency)}; a refund cannot be more.",
                )
        payment = Payment.objects.create(
            organization_id=actor.organization_id,
            patient=patient,
            invoice=invoice,
            kind=kind,
            method=method,
            amount_cents=amount,
            reference=reference,
            received_on=received,
            recorded_by_id=actor.user_id,
        )
        if invoice is not None:
            invoice.paid_cents += -amount if kind == Payment.Kind.REFUND else amount
            _settle(invoice)
        record(
            actor,
            Action.CREATE,
            "Payment",
            payment.pk,
            patient_id=patient.pk,
            detail={
                "kind": kind,
                "method": method,
                "amount_cents": amount,
                "invoice": invoice.number if invoice else None,
                "invoice_status": invoice.status if invoice else None,
            },
        )
    return payment


def _invoice_of(actor: Actor, patient: Patient, invoice_id: uuid.UUID | str) -> Invoice:
    scope = Invoice.objects.for_organization(actor.organization_id).filter(patient=patient)
    try:
        found: Invoice = scope.select_for_update().one(invoice_id, "invoice")
    except NotFound as exc:  # an invoice of another patient is named as the field's error
        raise ValidationFailed.single("invoice_id", "Choose one of this patient's invoices.") from exc
    return found


def _check_against_invoice(invoice: Invoice, kind: str, amount: int, currency: str) -> None:
    if invoice.status == Invoice.Status.VOID:
        raise ValidationFailed.single("invoice_id", "This invoice is void.")
    if kind == Payment.Kind.REFUND:
        if amount > invoice.paid_cents:
            raise ValidationFailed.single(
                "amount",
                (
                    f"Only {money(invoice.paid_cents, currency)} has been paid on {invoice.number}; "
                    "a refund cannot be more."
                ),
            )
        return
    if invoice.status == Invoice.Status.DRAFT:
        raise ValidationFailed.single("invoice_id", "Issue the invoice before taking payment on it.")
    if amount > invoice.balance_cents:
        raise ValidationFailed.single(
            "amount",
            (
                f"The balance of {invoice.number} is {money(invoice.balance_cents, currency)}; "
                "a payment cannot be more (take the rest as a deposit if the patient wants to pay ahead)."
            ),
        )


@dataclass(frozen=True)
class Applied:
    payment: Payment
    remainder: Payment | None


def apply_deposit(actor: Actor, deposit_id: uuid.UUID | str, invoice_id: uuid.UUID | str) -> Applied:
    """Move a held deposit onto the patient's issued invoice, up to its balance and the held credit;
    what is left stays held as its own deposit row. Raises ValidationFailed, NotFound or Forbidden."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        deposit: Payment = (
            payments_of(actor.organization_id)
            .select_for_update()
            .filter(kind=Payment.Kind.DEPOSIT, invoice__isnull=True)
            .one(deposit_id, "deposit")
        )
        patient = _load(actor, deposit.patient_id, for_update=True)
        invoice = _invoice_of(actor, patient, invoice_id)
        if invoice.status != Invoice.Status.ISSUED:
            raise ValidationFailed.single(
                "invoice_id", "Apply a deposit to an issued invoice with a balance."
            )
        amount = min(
            deposit.amount_cents, invoice.balance_cents, held_credit_cents(actor.organization_id, patient.pk)
        )
        if amount <= 0:
            raise ValidationFailed.single("deposit_id", "No held credit is left to apply.")
        remainder = None
        if amount < deposit.amount_cents:
            remainder = Payment.objects.create(
                organization_id=actor.organization_id,
                patient=patient,
                kind=Payment.Kind.DEPOSIT,
                method=deposit.method,
                amount_cents=deposit.amount_cents - amount,
                reference=deposit.reference,
                received_on=deposit.received_on,
                recorded_by_id=actor.user_id,
            )
        deposit.amount_cents = amount
        deposit.invoice = invoice
        deposit.save(update_fields=["amount_cents", "invoice"])
        invoice.paid_cents += amount
        _settle(invoice)
        record(
            actor,
            Action.UPDATE,
            "Payment",
            deposit.pk,
            patient_id=patient.pk,
            detail={
                "event": "deposit applied",
                "invoice": invoice.number,
                "amount_cents": amount,
                "remainder_id": str(remainder.pk) if remainder else None,
            },
        )
    return Applied(deposit, remainder)


def patient_payments(actor: Actor, patient: Patient) -> list[Payment]:
    """Every payment, deposit and refund of a patient already opened by the caller, newest first."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    return list(payments_of(actor.organization_id).filter(patient=patient).select_related("invoice"))
