"""The demo plans' invoices, payments and deposits.

Every planned patient with completed visits gets one invoice with a line per visit, each line made
by the function `billing.invoices.invoice_appointments` makes it with (price by appointment type,
codes adjusted for the visit), numbered from the organization's counter. One stays a
draft; the rest are issued, about half paid in full, a quarter part-paid. Some patients with visits
booked have paid a deposit, held until an invoice takes it. Rows and audit events are the services'.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.billing.defaults import settings_for
from ketaflow.billing.invoices import _appointment_line, _prices_by_code, diagnosis_codes
from ketaflow.billing.models import BillingSettings, Invoice, InvoiceLine, Payment
from ketaflow.scheduling.models import Appointment

if TYPE_CHECKING:
    from .plans import Planned

METHODS = (
    Payment.Method.CARD,
    Payment.Method.CARD,
    Payment.Method.HSA,
    Payment.Method.BANK,
    Payment.Method.CHECK,
)
DEPOSIT_CENTS = 100_00


def _numbers(org_id: uuid.UUID, count: int) -> list[str]:
    """`count` consecutive invoice numbers, taken as `billing.invoices.next_number` takes one."""
    settings_for(org_id)
    config = BillingSettings.objects.select_for_update().get(organization_id=org_id)
    first = config.next_invoice_number
    BillingSettings.objects.filter(pk=config.pk).update(next_invoice_number=first + count)
    return [f"{config.invoice_prefix}{n:06d}" for n in range(first, first + count)]


def load_invoices(
    org_id: uuid.UUID, planned: Sequence[Planned], actors: dict[str, Actor], now: datetime, rng: random.Random
) -> dict[str, int]:
    """Invoices for completed visits, payments against them and deposits; counts by kind."""
    clerk = actors["frontdesk"]
    prices = _prices_by_code(org_id)
    terms = settings_for(org_id).payment_terms_days
    plans = {p.plan.pk: p for p in planned if p.plan is not None}
    visits: dict[uuid.UUID, list[Appointment]] = {}
    booked: set[uuid.UUID] = set()
    for appointment in (
        Appointment.objects.for_organization(org_id)
        .filter(plan_id__in=list(plans))
        .select_related("appointment_type", "clinic", "plan")
        .order_by("starts_at")
    ):
        if appointment.status == Appointment.Status.COMPLETED:
            visits.setdefault(appointment.plan_id, []).append(appointment)
        elif appointment.status == Appointment.Status.BOOKED:
            booked.add(appointment.plan_id)
    billed = [plans[pk] for pk in plans if pk in visits]
    numbers = iter(_numbers(org_id, len(billed)))
    invoices, lines, payments, entries = [], [], [], []
    totals: Counter[str] = Counter()
    today = now.date()
    for index, item in enumerate(billed):
        plan = item.plan
        assert plan is not None
        zone = ZoneInfo(plan.clinic.timezone)
        invoice = Invoice(
            id=uuid.uuid4(),
            organization_id=org_id,
            patient_id=item.patient.pk,
            plan=plan,
            number=next(numbers),
            diagnosis_codes=diagnosis_codes(item.patient, plan),
            recorded_by_id=clerk.user_id,
        )
        for visit in visits[plan.pk]:
            line = _appointment_line(visit, prices)
            assert line is not None, f"the demo price list has no price for {visit.appointment_type.key}"
            amount = line["quantity"] * line["unit_cents"]
            lines.append(InvoiceLine(organization_id=org_id, invoice=invoice, amount_cents=amount, **line))
            invoice.total_cents += amount
        entries.append(
            Entry(
                Action.CREATE,
                "Invoice",
                str(invoice.pk),
                item.patient.pk,
                {
                    "event": "from appointments",
                    "number": invoice.number,
                    "lines": len(visits[plan.pk]),
                    "total_cents": invoice.total_cents,
                    "plan_id": str(plan.pk),
                },
            )
        )
        invoices.append(invoice)
        if index == 0:  # one left as a draft for the demo to issue
            totals["invoices draft"] += 1
            continue
        last = visits[plan.pk][-1].starts_at.astimezone(zone).date()
        invoice.status, invoice.issued_on = Invoice.Status.ISSUED, min(today, last + timedelta(days=1))
        invoice.due_on = invoice.issued_on + timedelta(days=terms)
        entries.append(
            Entry(
                Action.UPDATE,
                "Invoice",
                str(invoice.pk),
                item.patient.pk,
                {"event": "issued", "number": invoice.number, "total_cents": invoice.total_cents},
            )
        )
        share = rng.choices((1.0, 0.5, 0.0), (50, 25, 25))[0]
        amount = int(invoice.total_cents * share) // 100 * 100
        if amount:
            invoice.paid_cents = amount
            invoice.status = Invoice.Status.PAID if amount >= invoice.total_cents else Invoice.Status.ISSUED
            payment = Payment(
                id=uuid.uuid4(),
                organization_id=org_id,
                patient_id=item.patient.pk,
                invoice=invoice,
                kind=Payment.Kind.PAYMENT,
                method=rng.choice(METHODS),
                amount_cents=amount,
                received_on=min(today, invoice.issued_on + timedelta(days=rng.randint(0, 12))),
                recorded_by_id=clerk.user_id,
            )
            payments.append(payment)
            entries.append(_payment_entry(payment, invoice))
        totals[f"invoices {'part-paid' if 0 < share < 1 else invoice.status}"] += 1
    for item in planned:
        plan = item.plan
        if plan is not None and plan.pk in booked and rng.random() < 0.3:
            deposit = Payment(
                id=uuid.uuid4(),
                organization_id=org_id,
                patient_id=item.patient.pk,
                kind=Payment.Kind.DEPOSIT,
                method=Payment.Method.CARD,
                amount_cents=DEPOSIT_CENTS,
                received_on=today - timedelta(days=rng.randint(1, 10)),
                recorded_by_id=clerk.user_id,
            )
            payments.append(deposit)
            entries.append(_payment_entry(deposit, None))
            totals["deposits held"] += 1
    Invoice.objects.bulk_create(invoices)
    InvoiceLine.objects.bulk_create(lines)
    Payment.objects.bulk_create(payments)
    record_many(clerk, entries)
    totals.update(
        {
            "invoices": len(invoices),
            "invoice lines": len(lines),
            "payments": sum(1 for p in payments if p.kind == Payment.Kind.PAYMENT),
        }
    )
    return dict(totals)


def _payment_entry(payment: Payment, invoice: Invoice | None) -> Entry:
    return Entry(
        Action.CREATE,
        "Payment",
        str(payment.pk),
        payment.patient_id,
        {
            "kind": payment.kind,
            "method": payment.method,
            "amount_cents": payment.amount_cents,
            "invoice": invoice.number if invoice else None,
            "invoice_status": invoice.status if invoice else None,
        },
    )
