"""The superbill: an itemised statement a patient sends to their insurer for out-of-network
reimbursement.

It carries the clinic (name, address, billing NPI, tax ID), the patient (name, date of birth), each
date of service with its CPT/HCPCS codes and amount, the ICD-10-CM diagnosis codes (the plan's
condition and the problem list), and what was paid. Every code is marked "confirm before submitting":
clinical reference §7 marks them [verify]. Producing it needs EDIT_SCHEDULE (billing staff) and is an
audited EXPORT; it names diagnoses, so it is not for roles that only view demographics.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.pricing import money
from ketaflow.clinics.models import Organization
from ketaflow.measurement.pdf import render_pdf
from ketaflow.validation import ValidationFailed

from .codes import SOURCE, codes_text
from .defaults import settings_for
from .invoices import open_invoice
from .models import Invoice


@dataclass(frozen=True)
class SuperbillPdf:
    filename: str
    content: bytes


def superbill_html(invoice: Invoice) -> str:
    config = settings_for(invoice.organization_id)
    organization = Organization.objects.only("name", "country").get(pk=invoice.organization_id)
    lines = [
        {
            "date": line.service_date or invoice.issued_on,
            "description": line.description,
            "codes": codes_text(line.billing_codes) or "none",
            "quantity": line.quantity,
            "amount": money(line.amount_cents, config.currency),
        }
        for line in invoice.lines.all()
    ]
    clinic = invoice.patient.home_clinic
    return render_to_string(
        "billing/pdf/superbill.html",
        {
            "organization": organization,
            "clinic": clinic,
            "config": config,
            "invoice": invoice,
            "patient": invoice.patient,
            "lines": lines,
            "diagnoses": invoice.diagnosis_codes,
            "total": money(invoice.total_cents, config.currency),
            "paid": money(invoice.paid_cents, config.currency),
            "balance": money(invoice.balance_cents, config.currency),
            "codes_source": SOURCE,
            "generated_at": timezone.now(),
        },
    )


def superbill_pdf(actor: Actor, invoice_id: uuid.UUID | str) -> SuperbillPdf:
    """The superbill of an issued or paid invoice. Raises ValidationFailed (a draft or void invoice),
    NotFound or Forbidden; producing it is an EXPORT audit event."""
    actor.require(Permission.EDIT_SCHEDULE)
    invoice = open_invoice(actor, invoice_id, purpose="superbill")
    if invoice.status not in (Invoice.Status.ISSUED, Invoice.Status.PAID):
        raise ValidationFailed.single(
            None, "Issue the invoice first: a superbill is made from an issued invoice."
        )
    content = render_pdf(superbill_html(invoice))
    with transaction.atomic():
        record(
            actor,
            Action.EXPORT,
            "Invoice",
            invoice.pk,
            patient_id=invoice.patient_id,
            detail={
                "format": "pdf",
                "document": "superbill",
                "number": invoice.number,
            },
        )
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", invoice.number)
    return SuperbillPdf(f"superbill-{safe}.pdf", content)
