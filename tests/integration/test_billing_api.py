"""The billing API: prices, a plan's estimate, a patient's invoices, issuing, payments and voids."""

from __future__ import annotations

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.billing.models import Estimate, Invoice, Payment
from tests.integration.billing_factories import appointment, plan_for
from tests.integration.test_api_support import API_TEST_MARKS, api_as, field_errors

pytestmark = API_TEST_MARKS


def test_the_price_list_lists_the_defaults(practice):
    body = api_as(practice.staff[Role.FRONT_DESK]).get("/prices").json()
    by_code = {p["code"]: p for p in body}
    assert by_code["iv-6-pack"]["amount_cents"] == 2_700_00 and by_code["iv-6-pack"]["covers"] == "iv-session"
    assert by_code["iv-session"]["billing_codes"] == [{"system": "CPT", "code": "96365", "units": 1}]


def test_an_estimate_for_a_plan_picks_the_package(practice):
    plan = plan_for(practice)
    response = api_as(practice.staff[Role.FRONT_DESK]).post(
        f"/plans/{plan.pk}/estimates", {"extras": [{"code": "integration-therapy", "quantity": 1}]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [line["code"] for line in body["lines"]] == ["iv-6-pack", "integration-therapy"]
    assert body["total_cents"] == 2_700_00 + 180_00 and body["lines"][0]["saving_cents"] == 300_00


def test_an_invoice_is_made_issued_paid_and_refuses_an_overpayment(practice):
    api = api_as(practice.staff[Role.FRONT_DESK])
    visit = appointment(practice, "iv", minutes=300)
    made = api.post(f"/patients/{practice.patient.pk}/invoices", {"appointment_ids": [str(visit.pk)]})
    assert made.status_code == 201, made.content
    invoice = made.json()
    assert invoice["number"] == "INV-000001" and invoice["status"] == "draft"
    assert invoice["lines"][0]["billing_codes"][1] == {"system": "CPT", "code": "96366", "units": 4}
    issued = api.post(f"/invoices/{invoice['id']}/issue").json()
    assert issued["status"] == "issued" and issued["balance_cents"] == 500_00
    over = api.post(f"/invoices/{invoice['id']}/payments", {"method": "card", "amount_cents": 500_01})
    assert over.status_code == 422 and "amount" in field_errors(over)
    paid = api.post(f"/invoices/{invoice['id']}/payments", {"method": "card", "amount_cents": 500_00})
    assert paid.status_code == 201 and paid.json()["status"] == "paid"
    listed = api.get(f"/patients/{practice.patient.pk}/invoices").json()
    assert [(i["number"], i["balance_cents"]) for i in listed["items"]] == [("INV-000001", 0)]
    assert AuditEvent.objects.filter(object_type="Payment", action="create").count() == 1


def test_a_line_invoice_voids_only_with_a_reason(practice):
    api = api_as(practice.staff[Role.FRONT_DESK])
    made = api.post(
        f"/patients/{practice.patient.pk}/invoices",
        {"lines": [{"description": "Lost-card fee", "unit_cents": 25_00}]},
    ).json()
    assert made["total_cents"] == 25_00
    blank = api.post(f"/invoices/{made['id']}/void", {"reason": ""})
    assert blank.status_code == 422 and field_errors(blank) == {"reason": "Say why the invoice is void."}
    assert api.post(f"/invoices/{made['id']}/void", {"reason": "Waived"}).json()["status"] == "void"


def test_another_organizations_invoices_and_plans_are_not_found(practice, stranger):
    theirs = (
        api_as(stranger.staff[Role.FRONT_DESK])
        .post(f"/patients/{stranger.patient.pk}/invoices", {"lines": [{"price_code": "consultation"}]})
        .json()
    )
    ours = api_as(practice.staff[Role.OWNER])
    assert ours.get(f"/invoices/{theirs['id']}").status_code == 404
    assert ours.post(f"/invoices/{theirs['id']}/issue").status_code == 404
    assert (
        ours.post(f"/invoices/{theirs['id']}/payments", {"method": "card", "amount_cents": 1}).status_code
        == 404
    )
    assert ours.post(f"/plans/{plan_for(stranger).pk}/estimates", {}).status_code == 404
    assert ours.get(f"/patients/{stranger.patient.pk}/invoices").status_code == 404
    untouched = Invoice.objects.get(pk=theirs["id"])
    assert (untouched.status, untouched.paid_cents) == ("draft", 0)
    assert not Payment.objects.exists() and not Estimate.objects.exists()
