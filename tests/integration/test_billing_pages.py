"""Billing pages: the price list, settings, a plan's estimate, invoices (payments, voids), the chart's
Billing tab, the superbill PDF, and other organizations' records answered with 404."""

from __future__ import annotations

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.billing import invoices
from ketaflow.billing.models import BillingSettings, Invoice, PriceItem
from ketaflow.billing.superbill import superbill_pdf
from ketaflow.validation import Forbidden
from tests.factories import ConditionFactory, actor_of
from tests.integration.billing_factories import appointment, clerk, plan_for
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of
from tests.integration.test_consent_versioning import pdf_text

pytestmark = PAGE_TEST_MARKS


def issued(practice, code: str = "iv-session") -> Invoice:
    made = invoices.create_invoice(clerk(practice), practice.patient.pk, lines=[{"price_code": code}])
    return invoices.issue_invoice(clerk(practice), made.pk)


def test_the_price_list_shows_the_default_prices_and_says_the_clinic_sets_its_own(practice):
    page = signed_in(practice.staff[Role.FRONT_DESK]).get("/billing/prices/")
    text = text_of(page)
    assert page.status_code == 200
    assert "6 IV infusions" in text and "$2,700.00" in text and "Your clinic sets its own prices" in text
    assert "Add a price" not in text  # the front desk reads prices; owners change them


def test_an_owner_adds_a_price_and_a_bad_amount_is_shown_beside_its_field(practice):
    owner = signed_in(practice.staff[Role.OWNER])
    data = {
        "code": "ketamine-booster",
        "label": "Booster infusion",
        "kind": "session",
        "amount": "12.5",
        "sessions": "1",
    }
    refused = owner.post("/billing/prices/", data)
    assert "is not an amount" in field_error(refused, "id_amount")
    assert not PriceItem.objects.filter(organization=practice.org, code="ketamine-booster").exists()
    saved = owner.post("/billing/prices/", data | {"amount": "425.00", "billing_codes": "CPT 96365"})
    assert saved.status_code == 302
    price = PriceItem.objects.get(organization=practice.org, code="ketamine-booster")
    assert (price.amount_cents, price.billing_codes) == (425_00, [{"system": "CPT", "code": "96365"}])


def test_the_settings_page_saves_the_deposit_and_refuses_a_bad_npi(practice):
    owner = signed_in(practice.staff[Role.OWNER])
    refused = owner.post(
        "/billing/settings/",
        {
            "currency": "USD",
            "invoice_prefix": "INV-",
            "deposit": "100",
            "billing_npi": "12345",
            "payment_terms_days": "30",
        },
    )
    assert "10 digits" in field_error(refused, "id_billing_npi")
    owner.post(
        "/billing/settings/",
        {
            "currency": "USD",
            "invoice_prefix": "KF-",
            "deposit": "150.00",
            "billing_npi": "1234567893",
            "payment_terms_days": "14",
        },
    )
    page = text_of(owner.get("/billing/settings/"))
    assert "The next invoice number is KF-000001" in page
    saved = BillingSettings.objects.get(organization=practice.org)
    assert (saved.deposit_cents, saved.billing_npi, saved.payment_terms_days) == (150_00, "1234567893", 14)


def test_the_estimate_page_shows_the_package_its_saving_and_the_deposit_then_saves_and_accepts(practice):
    plan = plan_for(practice)
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    text = text_of(desk.get(f"/billing/plans/{plan.pk}/estimate/"))
    assert "6 IV infusions" in text and "$2,700.00" in text
    assert "Package saving: $300.00" in text
    desk.post(f"/billing/plans/{plan.pk}/estimate/", {"action": "make", "integration": "3"})
    estimate = plan.estimates.get()
    assert estimate.total_cents == 2_700_00 + 3 * 180_00
    desk.post(f"/billing/plans/{plan.pk}/estimate/", {"action": "accept", "estimate_id": str(estimate.pk)})
    estimate.refresh_from_db()
    assert estimate.accepted_at is not None
    assert "Accepted" in text_of(desk.get(f"/billing/plans/{plan.pk}/estimate/"))


def test_a_new_invoice_from_appointments_then_issue_pay_and_see_it_paid(practice):
    visit = appointment(practice, "iv")
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    assert "Iv" in text_of(desk.get(f"/billing/patients/{practice.patient.pk}/invoices/new/"))
    made = desk.post(
        f"/billing/patients/{practice.patient.pk}/invoices/new/", {"appointment_ids": [str(visit.pk)]}
    )
    invoice = Invoice.objects.get(organization=practice.org)
    assert made["Location"] == f"/billing/invoices/{invoice.pk}/"
    desk.post(f"/billing/invoices/{invoice.pk}/actions/", {"action": "issue"})
    refused = desk.post(
        f"/billing/invoices/{invoice.pk}/actions/",
        {"action": "payment", "kind": "payment", "method": "card", "amount": "5OO"},
    )
    assert refused.status_code == 422 and "is not an amount" in field_error(refused, "id_amount")
    over = desk.post(
        f"/billing/invoices/{invoice.pk}/actions/",
        {"action": "payment", "kind": "payment", "method": "card", "amount": "600.00"},
    )
    assert "a payment cannot be more" in field_error(over, "id_amount")
    desk.post(
        f"/billing/invoices/{invoice.pk}/actions/",
        {"action": "payment", "kind": "payment", "method": "card", "amount": "500.00"},
    )
    page = text_of(desk.get(f"/billing/invoices/{invoice.pk}/"))
    assert "Paid" in page and "Balance $0.00" in page and "CPT 96365" in page


def test_voiding_on_the_page_needs_a_reason(practice):
    invoice = issued(practice)
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    refused = desk.post(f"/billing/invoices/{invoice.pk}/actions/", {"action": "void", "reason": ""})
    assert "Say why" in field_error(refused, "id_reason")
    desk.post(f"/billing/invoices/{invoice.pk}/actions/", {"action": "void", "reason": "Entered twice"})
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == ("void", "Entered twice")


def test_the_invoice_list_filters_by_status_and_balance(practice):
    open_one = issued(practice)
    draft = invoices.create_invoice(
        clerk(practice), practice.patient.pk, lines=[{"price_code": "consultation"}]
    )
    desk = signed_in(practice.staff[Role.FRONT_DESK])
    text = text_of(desk.get("/billing/invoices/", {"balance": "open"}))
    assert open_one.number in text and draft.number not in text
    assert draft.number in text_of(desk.get("/billing/invoices/", {"status": "draft"}))


def test_the_chart_billing_tab_shows_invoices_estimates_and_the_balance(practice):
    issued(practice)
    from ketaflow.billing.estimates import estimate_for_plan

    estimate_for_plan(clerk(practice), plan_for(practice).pk)
    therapist = signed_in(practice.staff[Role.THERAPIST])
    text = text_of(therapist.get(f"/patients/{practice.patient.pk}/billing/"))
    assert "INV-000001" in text and "Balance due: $500.00" in text and "$2,700.00" in text


def test_the_superbill_pdf_carries_codes_diagnoses_npi_and_a_confirm_note(practice):
    from ketaflow.billing import prices
    from tests.integration.billing_factories import owner

    prices.update_billing_settings(owner(practice), {"billing_npi": "1234567893", "tax_id": "12-3456789"})
    ConditionFactory(
        patient=practice.patient,
        catalogue_id="gad",
        display="Generalised anxiety disorder",
        icd10_code="F41.1",
    )
    plan = plan_for(practice, "esketamine-trd", dose_mg="84")
    visit = appointment(practice, "esketamine", minutes=135, plan=plan)
    invoice = invoices.invoice_appointments(clerk(practice), practice.patient.pk, [visit.pk])
    invoices.issue_invoice(clerk(practice), invoice.pk)
    response = signed_in(practice.staff[Role.FRONT_DESK]).get(f"/billing/invoices/{invoice.pk}/superbill.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for expected in (
        "G2083",
        "F33.2",
        "F41.1",
        "1234567893",
        "12-3456789",
        "Confirm before submitting",
        practice.patient.legal_family_name,
        "06/15/1985",
        "$600.00",
    ):
        assert expected in text, expected
    assert AuditEvent.objects.filter(
        action="export", object_id=str(invoice.pk), detail__document="superbill"
    ).exists()


def test_a_therapist_cannot_produce_a_superbill(practice):
    invoice = issued(practice)
    response = signed_in(practice.staff[Role.THERAPIST]).get(f"/billing/invoices/{invoice.pk}/superbill.pdf")
    assert response.status_code == 403
    with pytest.raises(Forbidden):
        superbill_pdf(actor_of(practice.staff[Role.THERAPIST]), invoice.pk)


def test_another_organizations_billing_pages_are_not_found(practice, stranger):
    theirs = issued(stranger)
    their_plan = plan_for(stranger)
    boss = signed_in(practice.staff[Role.OWNER])
    for url in (
        f"/billing/invoices/{theirs.pk}/",
        f"/billing/invoices/{theirs.pk}/superbill.pdf",
        f"/billing/plans/{their_plan.pk}/estimate/",
        f"/billing/patients/{stranger.patient.pk}/invoices/new/",
    ):
        assert boss.get(url).status_code == 404, url
    assert (
        boss.post(f"/billing/invoices/{theirs.pk}/actions/", {"action": "void", "reason": "x"}).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == "issued"
    assert theirs.number not in text_of(boss.get("/billing/invoices/"))
