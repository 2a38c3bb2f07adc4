"""Billing: the JSON API.

The price list (anyone who sees patients), a plan's estimate (EDIT_SCHEDULE), a patient's invoices
(read: VIEW_DEMOGRAPHICS; make, issue, void, take payments: EDIT_SCHEDULE; refunds: MANAGE_CLINICS).
Amounts are whole cents. Procedure codes are suggestions (clinical reference §7, [verify]).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.billing import estimates, invoices, payments, prices
from ketaflow.billing.models import Estimate, Invoice, Payment, PriceItem
from ketaflow.paging import paginate
from ketaflow.patients import services as registry

from .auth import actor_of
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import Id, IsoDate, PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Billing"])


def _id_in_path(kind: str) -> Any:
    return Path(..., description=f"The {kind}'s id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")


def _enum(values: list[str]) -> Any:
    return {"enum": values}


PlanId = Annotated[str, _id_in_path("treatment plan")]
InvoiceId = Annotated[str, _id_in_path("invoice")]


class CodeOut(Schema):
    system: str
    code: str
    units: int = 1


class PriceOut(Schema):
    id: uuid.UUID
    code: str
    label: str
    kind: str = Field(json_schema_extra=_enum(PriceItem.Kind.values))
    amount_cents: int
    covers: str
    sessions: int
    appointment_type_key: str
    billing_codes: list[CodeOut]
    is_active: bool


class EstimateLineOut(Schema):
    code: str
    label: str
    quantity: int
    unit_cents: int
    amount_cents: int
    note: str
    saving_cents: int = 0


class EstimateOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None
    lines: list[EstimateLineOut]
    total_cents: int
    deposit_cents: int
    accepted_at: datetime | None = None


class ExtraIn(StrictInput):
    code: str = Field(description="A price code, e.g. integration-therapy.")
    quantity: int = Field(ge=0, le=50)


class EstimateIn(StrictInput):
    extras: list[ExtraIn] = Field(default_factory=list, description="Add-ons beyond the induction sessions.")


class LineIn(StrictInput):
    price_code: str | None = Field(
        None, description="Charge a price-list item (its label, amount and codes)."
    )
    description: str | None = Field(None, description="Or describe a line not on the price list...")
    unit_cents: int | None = Field(None, description="...with its amount in cents.")
    quantity: int = 1
    service_date: IsoDate | None = None


class InvoiceIn(StrictInput):
    appointment_ids: list[Id] | None = Field(
        None, description="Invoice these appointments (one line each); or send `lines`."
    )
    lines: list[LineIn] | None = None
    plan_id: Id | None = None


class InvoiceLineOut(Schema):
    description: str
    quantity: int
    unit_cents: int
    amount_cents: int
    price_code: str
    billing_codes: list[CodeOut]
    service_date: date | None
    appointment_id: uuid.UUID | None


class PaymentOut(Schema):
    id: uuid.UUID
    kind: str = Field(json_schema_extra=_enum(Payment.Kind.values))
    method: str = Field(json_schema_extra=_enum(Payment.Method.values))
    amount_cents: int
    reference: str
    received_on: date


class InvoiceOut(Schema):
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None
    status: str = Field(json_schema_extra=_enum(Invoice.Status.values))
    issued_on: date | None
    due_on: date | None
    total_cents: int
    paid_cents: int
    balance_cents: int
    diagnosis_codes: list[dict[str, str]]
    void_reason: str
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]


class InvoiceSummaryOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    issued_on: date | None
    total_cents: int
    balance_cents: int


class InvoicePage(PageOut):
    items: list[InvoiceSummaryOut]


class InvoiceQuery(PageQuery):
    status: str | None = None


class VoidIn(StrictInput):
    reason: str


class PaymentIn(StrictInput):
    kind: str = Field("payment", json_schema_extra=_enum(Payment.Kind.values))
    method: str = Field(json_schema_extra=_enum(Payment.Method.values))
    amount_cents: int
    reference: str = ""
    received_on: IsoDate | None = None


def _estimate_body(estimate: Estimate) -> dict[str, Any]:
    return {
        "id": estimate.pk,
        "patient_id": estimate.patient_id,
        "plan_id": estimate.plan_id,
        "lines": estimate.lines,
        "total_cents": estimate.total_cents,
        "deposit_cents": estimate.deposit_cents,
        "accepted_at": estimate.accepted_at,
    }


def _invoice_body(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "patient_id": invoice.patient_id,
        "plan_id": invoice.plan_id,
        "status": invoice.status,
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "total_cents": invoice.total_cents,
        "paid_cents": invoice.paid_cents,
        "balance_cents": invoice.balance_cents,
        "diagnosis_codes": invoice.diagnosis_codes,
        "void_reason": invoice.void_reason,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_cents": line.unit_cents,
                "amount_cents": line.amount_cents,
                "price_code": line.price_code,
                "billing_codes": line.billing_codes,
                "service_date": line.service_date,
                "appointment_id": line.appointment_id,
            }
            for line in invoice.lines.all()
        ],
        "payments": [
            {
                "id": p.pk,
                "kind": p.kind,
                "method": p.method,
                "amount_cents": p.amount_cents,
                "reference": p.reference,
                "received_on": p.received_on,
            }
            for p in invoice.payments.all()
        ],
    }


def _reloaded(request: HttpRequest, invoice_id: uuid.UUID, purpose: str) -> dict[str, Any]:
    return _invoice_body(invoices.open_invoice(actor_of(request), invoice_id, purpose=purpose))


@router.get("/prices", response=documented(200, list[PriceOut]))
def list_prices(request: HttpRequest) -> Any:
    """The active price list (the defaults are created on first use)."""
    return prices.price_list(actor_of(request))


@router.post("/plans/{plan_id}/estimates", response=documented(201, EstimateOut))
def create_plan_estimate(request: HttpRequest, plan_id: PlanId, payload: EstimateIn) -> Any:
    """Make and store an estimate for the plan: the induction sessions (packages where cheaper), the
    extras asked for, and the deposit from the billing settings."""
    extras = [(item.code, item.quantity) for item in payload.extras]
    estimate = estimates.estimate_for_plan(actor_of(request), plan_id, extras=extras)
    return Status(201, _estimate_body(estimate))


@router.get("/patients/{patient_id}/invoices", response=documented(200, InvoicePage))
def list_patient_invoices(request: HttpRequest, patient_id: PatientId, query: Query[InvoiceQuery]) -> Any:
    """The patient's invoices, newest first; the read is audited."""
    actor = actor_of(request)
    refuse_unknown_query(request, InvoiceQuery)
    patient = registry.open_patient(actor, patient_id, purpose="invoices")
    rows = invoices.invoices_of(actor.organization_id).filter(patient=patient)
    if query.status:
        rows = rows.filter(status=query.status)
    page = paginate(rows.order_by("-recorded_at", "id"), query.page, query.page_size)
    body = page_body(request, page)
    body["items"] = [
        {
            "id": i.pk,
            "number": i.number,
            "status": i.status,
            "issued_on": i.issued_on,
            "total_cents": i.total_cents,
            "balance_cents": i.balance_cents,
        }
        for i in page.items
    ]
    return body


@router.post("/patients/{patient_id}/invoices", response=documented(201, InvoiceOut))
def create_patient_invoice(request: HttpRequest, patient_id: PatientId, payload: InvoiceIn) -> Any:
    """A draft invoice from appointments (one line each, codes adjusted for the visit) or from lines."""
    actor = actor_of(request)
    if payload.appointment_ids is not None:
        invoice = invoices.invoice_appointments(actor, patient_id, payload.appointment_ids)
    else:
        lines = [line.model_dump() for line in payload.lines or []]
        invoice = invoices.create_invoice(actor, patient_id, lines=lines, plan_id=payload.plan_id)
    return Status(201, _reloaded(request, invoice.pk, "created"))


@router.get("/invoices/{invoice_id}", response=documented(200, InvoiceOut))
def get_invoice(request: HttpRequest, invoice_id: InvoiceId) -> Any:
    return _invoice_body(invoices.open_invoice(actor_of(request), invoice_id, purpose="api"))


@router.post("/invoices/{invoice_id}/issue", response=documented(200, InvoiceOut))
def issue_invoice(request: HttpRequest, invoice_id: InvoiceId) -> Any:
    invoice = invoices.issue_invoice(actor_of(request), invoice_id)
    return _reloaded(request, invoice.pk, "issued")


@router.post("/invoices/{invoice_id}/void", response=documented(200, InvoiceOut))
def void_invoice(request: HttpRequest, invoice_id: InvoiceId, payload: VoidIn) -> Any:
    """Void an invoice; a reason is required, and payments on it must be refunded first."""
    invoice = invoices.void_invoice(actor_of(request), invoice_id, reason=payload.reason)
    return _reloaded(request, invoice.pk, "voided")


@router.post("/invoices/{invoice_id}/payments", response=documented(201, InvoiceOut))
def record_invoice_payment(request: HttpRequest, invoice_id: InvoiceId, payload: PaymentIn) -> Any:
    """Record a payment, deposit or refund on the invoice; 422 on `amount` when it would overdraw."""
    actor = actor_of(request)
    invoice = invoices.invoices_of(actor.organization_id).one(invoice_id, "invoice")
    payments.record_payment(
        actor,
        invoice.patient_id,
        invoice_id=invoice.pk,
        kind=payload.kind,
        method=payload.method,
        amount_cents=payload.amount_cents,
        reference=payload.reference,
        received_on=payload.received_on,
    )
    return Status(201, _reloaded(request, invoice.pk, "payment"))
