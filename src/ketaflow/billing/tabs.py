"""The chart's Billing tab: estimates, invoices with their balances, payments and held credit.

Shown to every role that sees demographics (money is front-desk work, not clinical).
"""

from __future__ import annotations

from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .defaults import settings_for
from .invoices import patient_invoices
from .models import Estimate, Invoice
from .payments import held_credit_cents, patient_payments

TAB = "billing"


def billing_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    invoices = patient_invoices(actor, patient)
    estimates = list(
        Estimate.objects.for_organization(actor.organization_id)
        .filter(patient=patient)
        .select_related("plan")
        .order_by("-recorded_at")
    )
    return {
        "billing_invoices": invoices,
        "billing_estimates": estimates,
        "billing_payments": patient_payments(actor, patient),
        "billing_balance": sum(i.balance_cents for i in invoices if i.status == Invoice.Status.ISSUED),
        "billing_credit": held_credit_cents(actor.organization_id, patient.pk),
        "billing_currency": settings_for(actor.organization_id).currency,
        "billing_can_edit": actor.can(Permission.EDIT_SCHEDULE),
    }


register_tab(TAB, "Billing", Permission.VIEW_DEMOGRAPHICS, "billing/tab.html", billing_context)
