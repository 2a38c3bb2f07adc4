"""Invoice pages: the list, a new invoice for a patient, one invoice (issue, void, payments, deposits,
refunds) and its superbill PDF."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.measurement.worklists import audited_page
from ketaflow.patients.services import open_patient
from ketaflow.patients.views import page_number
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import invoices, payments, prices
from .amounts import parse_amount
from .forms import InvoiceFilter, LineForm, PaymentForm, VoidForm
from .models import Invoice, Payment
from .superbill import superbill_pdf

PAGE_SIZE = 50


@require_GET
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def invoice_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = InvoiceFilter(request.GET)
    form.is_valid()
    chosen = form.cleaned_data
    rows = invoices.invoices_of(actor.organization_id).select_related("patient").order_by("-recorded_at")
    if chosen.get("status"):
        rows = rows.filter(status=chosen["status"])
    if chosen.get("balance") == "open":
        rows = rows.filter(status=Invoice.Status.ISSUED)
    page = audited_page(
        actor, rows, "Invoice", page=page_number(request), page_size=PAGE_SIZE, list="invoices"
    )
    return render(
        request,
        "billing/invoices.html",
        {
            "section": "billing",
            "form": form,
            "page": page,
            "invoices": page.items,
            "currency": prices.billing_settings(actor).currency,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_SCHEDULE)
def new_invoice(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Pick the patient's appointments to invoice, or write one line of another kind."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="new invoice")
    line_form = LineForm(request.POST or None)
    chosen: list[str] = request.POST.getlist("appointment_ids")
    problem: list[str] = []
    if request.method == "POST":
        line_form.is_valid()
        data = line_form.cleaned_data
        try:
            if chosen:
                invoice = invoices.invoice_appointments(actor, patient.pk, chosen)
            else:
                amount = parse_amount(data.get("amount"), "amount")
                invoice = invoices.create_invoice(
                    actor,
                    patient.pk,
                    lines=[
                        {
                            "description": data.get("description") or "",
                            "unit_cents": amount,
                            "service_date": data.get("service_date"),
                        }
                    ],
                )
        except ValidationFailed as exc:
            show_errors(
                line_form,
                exc,
                rename={
                    "lines[0].description": "description",
                    "lines[0].amount": "amount",
                    "appointment_ids": "__all__",
                },
            )
            problem = [e.message for e in exc.errors if e.field == "appointment_ids"]
        else:
            messages.success(request, f"Invoice {invoice.number} made as a draft: check it, then issue it.")
            return redirect("billing:invoice", invoice_id=invoice.pk)
    return render(
        request,
        "billing/new_invoice.html",
        {
            "section": "patients",
            "patient": patient,
            "line_form": line_form,
            "chosen": chosen,
            "problem": problem,
            "appointments": invoices.billable_appointments(actor, patient),
            "currency": prices.billing_settings(actor).currency,
        },
    )


def _page(request: HttpRequest, invoice_id: uuid.UUID, **overrides: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    invoice = invoices.open_invoice(actor, invoice_id)
    held = [
        p
        for p in payments.patient_payments(actor, invoice.patient)
        if p.invoice_id is None and p.kind == Payment.Kind.DEPOSIT
    ]
    context = {
        "section": "patients",
        "invoice": invoice,
        "patient": invoice.patient,
        "lines": list(invoice.lines.all()),
        "payments": list(invoice.payments.all()),
        "held": held,
        "payment_form": PaymentForm(),
        "void_form": VoidForm(),
        "currency": prices.billing_settings(actor).currency,
        "can_edit": actor.can(Permission.EDIT_SCHEDULE),
        "can_refund": actor.can(Permission.MANAGE_CLINICS),
    } | overrides
    if not context["can_refund"]:  # refunds are for owners and administrators
        form = context["payment_form"]
        form.fields["kind"].choices = [c for c in Payment.Kind.choices if c[0] != Payment.Kind.REFUND]
    status = 422 if any(getattr(f, "errors", None) for f in overrides.values()) else 200
    return render(request, "billing/invoice.html", context, status=status)


@require_GET
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def invoice_detail(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    return _page(request, invoice_id)


def _patient_of(request: HttpRequest, invoice_id: uuid.UUID) -> uuid.UUID:
    invoice = invoices.invoices_of(request.actor.organization_id).one(invoice_id, "invoice")  # type: ignore[attr-defined]
    return invoice.patient_id


@require_POST
@staff_view(Permission.EDIT_SCHEDULE)
def invoice_action(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """Issue, void, record a payment or apply a held deposit: one service call each."""
    actor = request.actor  # type: ignore[attr-defined]
    patient_id = _patient_of(request, invoice_id)
    action = request.POST.get("action", "")
    if action == "void":
        form = VoidForm(request.POST)
        form.is_valid()
        try:
            invoices.void_invoice(actor, invoice_id, reason=form.cleaned_data.get("reason", ""))
        except ValidationFailed as exc:
            show_errors(form, exc)
            return _page(request, invoice_id, void_form=form)
        messages.success(request, "The invoice is void.")
    elif action == "payment":
        pay = PaymentForm(request.POST)
        pay.is_valid()
        data = pay.cleaned_data
        try:
            payments.record_payment(
                actor,
                patient_id,
                invoice_id=invoice_id,
                kind=data.get("kind") or Payment.Kind.PAYMENT,
                method=data.get("method") or "",
                amount_cents=parse_amount(data.get("amount"), "amount"),
                reference=data.get("reference") or "",
                received_on=data.get("received_on"),
            )
        except ValidationFailed as exc:
            show_errors(pay, exc)
            return _page(request, invoice_id, payment_form=pay)
        messages.success(request, "The payment is recorded.")
    else:
        try:
            if action == "issue":
                invoices.issue_invoice(actor, invoice_id)
                messages.success(request, "The invoice is issued.")
            elif action == "apply_deposit":
                payments.apply_deposit(actor, request.POST.get("deposit_id", ""), invoice_id)
                messages.success(request, "The deposit is applied.")
            else:
                messages.error(request, "Choose what to do with the invoice.")
        except ValidationFailed as exc:
            messages.error(request, " ".join(e.message for e in exc.errors))
    return redirect("billing:invoice", invoice_id=invoice_id)


@require_GET
@staff_view(Permission.EDIT_SCHEDULE)
def superbill(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    try:
        document = superbill_pdf(request.actor, invoice_id)  # type: ignore[attr-defined]
    except ValidationFailed as exc:
        messages.error(request, " ".join(e.message for e in exc.errors))
        return redirect("billing:invoice", invoice_id=invoice_id)
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response
