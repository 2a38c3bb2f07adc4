"""Billing services: estimates with packages and deposits, invoice numbers, payments, deposits,
refunds and voids, procedure codes per visit, tenancy and the audit trail."""

from __future__ import annotations

import pytest

from ketaflow.audit.models import AuditEvent
from ketaflow.billing import estimates, invoices, payments, prices
from ketaflow.billing.amounts import parse_amount
from ketaflow.billing.codes import iv_added_hours
from ketaflow.billing.defaults import ensure_price_list, settings_for
from ketaflow.billing.models import Invoice, PriceItem
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import ConditionFactory, PatientFactory
from tests.integration.billing_factories import appointment, clerk, owner, plan_for

pytestmark = pytest.mark.django_db


def codes_of(line) -> list[tuple[str, int]]:
    return [(c["code"], int(c.get("units", 1))) for c in line.billing_codes]


def test_the_default_price_list_is_created_once_and_keeps_the_clinics_own_changes(practice):
    created = ensure_price_list(practice.org.pk)
    assert {p.code for p in created} >= {"consultation", "iv-session", "iv-6-pack", "maintenance-membership"}
    PriceItem.objects.filter(organization=practice.org, code="iv-session").update(amount_cents=650_00)
    assert ensure_price_list(practice.org.pk) == []
    assert PriceItem.objects.get(organization=practice.org, code="iv-session").amount_cents == 650_00


def test_an_estimate_for_six_iv_sessions_picks_the_six_pack_and_shows_the_saving(practice):
    plan = plan_for(practice, "iv-depression")
    estimate = estimates.estimate_for_plan(clerk(practice), plan.pk)
    assert [(line["code"], line["quantity"], line["amount_cents"]) for line in estimate.lines] == [
        ("iv-6-pack", 1, 2_700_00)
    ]
    assert estimate.lines[0]["saving_cents"] == 300_00
    assert "saves $300.00 against 6 single sessions" in estimate.lines[0]["note"]
    assert estimate.total_cents == 2_700_00


def test_an_estimate_adds_extras_and_asks_for_the_deposit_from_the_settings(practice):
    settings_for(practice.org.pk)
    prices.update_billing_settings(owner(practice), {"deposit_cents": 250_00})
    plan = plan_for(practice, "iv-depression")
    estimate = estimates.estimate_for_plan(
        clerk(practice), plan.pk, extras=[("integration-therapy", 2), ("consultation", 1)]
    )
    assert estimate.deposit_cents == 250_00
    assert estimate.total_cents == 2_700_00 + 2 * 180_00 + 350_00
    assert AuditEvent.objects.filter(
        action="create", object_type="Estimate", object_id=str(estimate.pk)
    ).exists()


def test_esketamine_has_no_package_so_each_of_its_twelve_sessions_is_priced_singly(practice):
    plan = plan_for(practice, "esketamine-trd", dose_mg="84")
    estimate = estimates.estimate_for_plan(clerk(practice), plan.pk)
    assert [(line["code"], line["quantity"]) for line in estimate.lines] == [("esketamine-session", 12)]
    assert estimate.total_cents == 12 * 600_00


def test_an_estimate_is_refused_when_the_session_price_is_off_the_list(practice):
    ensure_price_list(practice.org.pk)
    prices.deactivate_price(
        owner(practice), PriceItem.objects.get(organization=practice.org, code="iv-session").pk
    )
    with pytest.raises(ValidationFailed) as failed:
        estimates.estimate_for_plan(clerk(practice), plan_for(practice).pk)
    assert failed.value.errors[0].field == "plan" and "'iv'" in failed.value.errors[0].message


def test_accepting_an_estimate_records_when_and_only_once(practice):
    estimate = estimates.estimate_for_plan(clerk(practice), plan_for(practice).pk)
    accepted = estimates.accept_estimate(clerk(practice), estimate.pk)
    assert accepted.accepted_at is not None
    with pytest.raises(ValidationFailed):
        estimates.accept_estimate(clerk(practice), estimate.pk)


def test_invoice_numbers_are_sequential_per_organization(practice, stranger):
    line = [{"price_code": "consultation"}]
    first = invoices.create_invoice(clerk(practice), practice.patient.pk, lines=line)
    second = invoices.create_invoice(clerk(practice), practice.patient.pk, lines=line)
    theirs = invoices.create_invoice(clerk(stranger), stranger.patient.pk, lines=line)
    assert (first.number, second.number) == ("INV-000001", "INV-000002")
    assert theirs.number == "INV-000001"
    invoices.void_invoice(clerk(practice), second.pk, reason="Made twice")
    third = invoices.create_invoice(clerk(practice), practice.patient.pk, lines=line)
    assert third.number == "INV-000003"


def test_appointments_are_invoiced_with_their_codes_adjusted_for_the_visit(practice):
    low = plan_for(practice, "esketamine-trd", dose_mg="56")
    esk = appointment(practice, "esketamine", minutes=135, plan=low, day=3)
    iv_long = appointment(practice, "iv", minutes=300, day=4)
    iv_short = appointment(practice, "iv", minutes=90, day=5)
    invoice = invoices.invoice_appointments(
        clerk(practice), practice.patient.pk, [esk.pk, iv_long.pk, iv_short.pk]
    )
    lines = list(invoice.lines.order_by("service_date"))
    assert codes_of(lines[0]) == [("G2082", 1)]
    assert codes_of(lines[1]) == [("96365", 1), ("96366", 4)]
    assert codes_of(lines[2]) == [("96365", 1)]
    assert invoice.total_cents == 600_00 + 2 * 500_00
    assert invoice.plan_id == low.pk
    assert invoice.diagnosis_codes[0] == {
        "code": "F33.2",
        "display": "Treatment-resistant depression",
        "source": "plan",
    }


def test_an_esketamine_dose_above_56_mg_is_billed_as_g2083(practice):
    high = plan_for(practice, "esketamine-trd", dose_mg="84")
    visit = appointment(practice, "esketamine", minutes=135, plan=high)
    invoice = invoices.invoice_appointments(clerk(practice), practice.patient.pk, [visit.pk])
    assert codes_of(invoice.lines.get()) == [("G2083", 1)]


def test_added_iv_hours_count_from_more_than_thirty_minutes_past_each_hour():
    assert [iv_added_hours(m) for m in (40, 60, 90, 91, 150, 151, 300)] == [0, 0, 0, 1, 1, 2, 4]


def test_an_appointment_is_invoiced_once_and_a_cancelled_one_not_at_all(practice):
    visit = appointment(practice, "iv")
    cancelled = appointment(practice, "iv", day=6, status="cancelled")
    invoices.invoice_appointments(clerk(practice), practice.patient.pk, [visit.pk])
    with pytest.raises(ValidationFailed) as failed:
        invoices.invoice_appointments(clerk(practice), practice.patient.pk, [visit.pk, cancelled.pk])
    messages = " ".join(e.message for e in failed.value.errors)
    assert "already on an invoice" in messages and "was cancelled" in messages
    assert {e.field for e in failed.value.errors} == {"appointment_ids"}


def issued_invoice(practice, total_code: str = "iv-session") -> Invoice:
    invoice = invoices.create_invoice(
        clerk(practice), practice.patient.pk, lines=[{"price_code": total_code}]
    )
    return invoices.issue_invoice(clerk(practice), invoice.pk)


def test_payments_that_bring_the_balance_to_zero_mark_the_invoice_paid(practice):
    invoice = issued_invoice(practice)
    payments.record_payment(
        clerk(practice), practice.patient.pk, invoice_id=invoice.pk, method="card", amount_cents=200_00
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_cents) == ("issued", 300_00)
    payments.record_payment(
        clerk(practice), practice.patient.pk, invoice_id=invoice.pk, method="cash", amount_cents=300_00
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_cents) == ("paid", 0)


def test_an_overpayment_is_refused_on_the_amount_and_nothing_is_written(practice):
    invoice = issued_invoice(practice)
    with pytest.raises(ValidationFailed) as failed:
        payments.record_payment(
            clerk(practice), practice.patient.pk, invoice_id=invoice.pk, method="card", amount_cents=500_01
        )
    assert failed.value.errors[0].field == "amount"
    assert "$500.00" in failed.value.errors[0].message
    invoice.refresh_from_db()
    assert invoice.paid_cents == 0 and not invoice.payments.exists()


def test_a_draft_takes_no_payment(practice):
    draft = invoices.create_invoice(
        clerk(practice), practice.patient.pk, lines=[{"price_code": "consultation"}]
    )
    with pytest.raises(ValidationFailed) as failed:
        payments.record_payment(
            clerk(practice), practice.patient.pk, invoice_id=draft.pk, method="card", amount_cents=100
        )
    assert failed.value.errors[0].field == "invoice_id"


def test_a_held_deposit_is_applied_up_to_the_balance_and_the_rest_stays_held(practice):
    payments.record_payment(
        clerk(practice), practice.patient.pk, kind="deposit", method="card", amount_cents=700_00
    )
    deposit = payments.payments_of(practice.org.pk).get(kind="deposit")
    invoice = issued_invoice(practice)
    applied = payments.apply_deposit(clerk(practice), deposit.pk, invoice.pk)
    invoice.refresh_from_db()
    assert invoice.status == "paid" and applied.payment.amount_cents == 500_00
    assert applied.remainder is not None and applied.remainder.amount_cents == 200_00
    assert payments.held_credit_cents(practice.org.pk, practice.patient.pk) == 200_00


def test_refunds_need_an_owner_and_never_exceed_what_was_paid(practice):
    invoice = issued_invoice(practice)
    payments.record_payment(
        clerk(practice), practice.patient.pk, invoice_id=invoice.pk, method="card", amount_cents=500_00
    )
    with pytest.raises(Forbidden):
        payments.record_payment(
            clerk(practice),
            practice.patient.pk,
            invoice_id=invoice.pk,
            kind="refund",
            method="card",
            amount_cents=100_00,
        )
    with pytest.raises(ValidationFailed) as failed:
        payments.record_payment(
            owner(practice),
            practice.patient.pk,
            invoice_id=invoice.pk,
            kind="refund",
            method="card",
            amount_cents=500_01,
        )
    assert failed.value.errors[0].field == "amount"
    payments.record_payment(
        owner(practice),
        practice.patient.pk,
        invoice_id=invoice.pk,
        kind="refund",
        method="card",
        amount_cents=100_00,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_cents, invoice.balance_cents) == ("issued", 400_00, 100_00)


def test_voiding_needs_a_reason_and_no_money_left_on_the_invoice(practice):
    invoice = issued_invoice(practice)
    with pytest.raises(ValidationFailed) as failed:
        invoices.void_invoice(clerk(practice), invoice.pk, reason="  ")
    assert failed.value.errors[0].field == "reason"
    payments.record_payment(
        clerk(practice), practice.patient.pk, invoice_id=invoice.pk, method="card", amount_cents=50_00
    )
    with pytest.raises(ValidationFailed, match="refund them before voiding"):
        invoices.void_invoice(clerk(practice), invoice.pk, reason="Wrong patient")
    other = issued_invoice(practice)
    voided = invoices.void_invoice(clerk(practice), other.pk, reason="Wrong patient")
    assert (voided.status, voided.void_reason, voided.balance_cents) == ("void", "Wrong patient", 0)
    event = (
        AuditEvent.objects.filter(object_type="Invoice", object_id=str(other.pk), action="update")
        .order_by("seq")
        .last()
    )
    assert event.detail["event"] == "voided" and "Wrong patient" not in str(event.detail)


def test_the_problem_list_adds_diagnosis_codes_after_the_plans_condition(practice):
    ConditionFactory(
        patient=practice.patient,
        catalogue_id="gad",
        display="Generalised anxiety disorder",
        icd10_code="F41.1",
    )
    plan = plan_for(practice, condition="trd")
    invoice = invoices.create_invoice(
        clerk(practice), practice.patient.pk, lines=[{"price_code": "iv-session"}], plan_id=plan.pk
    )
    assert [d["code"] for d in invoice.diagnosis_codes] == ["F33.2", "F41.1"]


def test_an_invoice_refuses_a_plan_of_another_patient_on_the_plan_field(practice):
    other = PatientFactory(home_clinic=practice.clinic)
    theirs = plan_for(practice, patient=other)
    for plan_id in (theirs.pk, "not-a-plan"):
        with pytest.raises(ValidationFailed) as failed:
            invoices.create_invoice(
                clerk(practice), practice.patient.pk, lines=[{"price_code": "iv-session"}], plan_id=plan_id
            )
        assert failed.value.errors[0].field == "plan_id"
    assert not Invoice.objects.filter(organization=practice.org).exists()


def test_another_organizations_invoices_plans_and_patients_are_not_found(practice, stranger):
    theirs = issued_invoice(stranger)
    their_plan = plan_for(stranger)
    with pytest.raises(NotFound):
        invoices.open_invoice(clerk(practice), theirs.pk)
    with pytest.raises(NotFound):
        invoices.issue_invoice(clerk(practice), theirs.pk)
    with pytest.raises(NotFound):
        estimates.estimate_for_plan(clerk(practice), their_plan.pk)
    with pytest.raises(NotFound):
        invoices.create_invoice(clerk(practice), stranger.patient.pk, lines=[{"price_code": "consultation"}])
    with pytest.raises(ValidationFailed):
        payments.record_payment(
            clerk(practice), practice.patient.pk, invoice_id=theirs.pk, method="card", amount_cents=100
        )


def test_the_front_desk_cannot_change_prices(practice):
    ensure_price_list(practice.org.pk)
    with pytest.raises(Forbidden):
        prices.save_price(
            clerk(practice), {"code": "x-ray", "label": "X", "kind": "other", "amount_cents": 1}
        )


@pytest.mark.parametrize("typed", ["12.5", "-10", "10.001", "ten", "1,00.00", "", "0"])
def test_typed_amounts_are_parsed_strictly(typed):
    with pytest.raises(ValidationFailed) as failed:
        parse_amount(typed, "amount")
    assert failed.value.errors[0].field == "amount"


def test_plain_and_formatted_amounts_become_cents():
    assert [parse_amount(t, "amount") for t in ("350", "350.00", "$1,250.50", "1250.05")] == [
        35000,
        35000,
        125050,
        125005,
    ]
