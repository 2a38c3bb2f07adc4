"""A practice's treatment records for the cross-tenant matrices: a signed plan with completed
sessions and an open review point, a clinic-only protocol version, one of the plan's appointments,
and an issued invoice with its superbill codes."""

from __future__ import annotations

import dataclasses
from typing import Any

from ketaflow.accounts.roles import Role
from ketaflow.billing.defaults import ensure_price_list
from ketaflow.billing.invoices import create_invoice, issue_invoice
from ketaflow.scheduling.models import Appointment
from tests.factories import PatientFactory, actor_of
from tests.integration.plans_factories import plan_records


def treatment_records(practice: Any, label: str) -> dict[str, list[str]]:
    """URL kwargs -> values naming `practice`'s plan, review point, protocol key and version number,
    appointment and invoice, all of a new patient named `<label>plan` (so the practice's own patient
    keeps its consents and evaluation records)."""
    patient = PatientFactory(home_clinic=practice.clinic, legal_family_name=f"{label}plan")
    practice = dataclasses.replace(practice, patient=patient)
    records = plan_records(practice, label)
    appointment = Appointment.objects.filter(plan_id=records["plan_id"][0]).order_by("starts_at").first()
    assert appointment is not None
    ensure_price_list(practice.org.pk)
    clerk = actor_of(practice.staff[Role.FRONT_DESK])
    invoice = create_invoice(clerk, practice.patient.pk, lines=[{"price_code": "consultation"}])
    issue_invoice(clerk, invoice.pk)
    return {**records, "appointment_id": [str(appointment.pk)], "invoice_id": [str(invoice.pk)]}
