"""The controlled-substance ledger API: witnessed waste, transfers, counts and their reconciliation,
running balances and tenancy. All data synthetic."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.ledger.models import Balance, Entry, StorageLocation
from ketaflow.scheduling.calendar import today_in
from tests.integration.sessions_factories import second_nurse, stock
from tests.integration.test_api_support import API_TEST_MARKS, api_as, field_errors

pytestmark = API_TEST_MARKS


def on_hand(lot, location) -> str:
    return f"{Balance.objects.get(lot=lot, location=location).quantity_mg.normalize():f}"


def test_waste_needs_a_colleague_as_witness_and_then_shows_in_the_running_balance(practice):
    product, safe, lot = stock(practice)  # 5000 mg received
    nurse = api_as(practice.staff[Role.NURSE])
    witness = second_nurse(practice)
    waste = {
        "lot_id": str(lot.pk),
        "location_id": str(safe.pk),
        "quantity_mg": 12.5,
        "reason": "Left in syringe",
    }

    alone = nurse.post("/ledger/waste", waste)
    self_witnessed = nurse.post("/ledger/waste", waste | {"witness_id": str(practice.staff[Role.NURSE].pk)})
    front_desk = nurse.post("/ledger/waste", waste | {"witness_id": str(practice.staff[Role.FRONT_DESK].pk)})
    too_much = nurse.post("/ledger/waste", waste | {"witness_id": str(witness.pk), "quantity_mg": 6000})
    assert [r.status_code for r in (alone, self_witnessed, front_desk, too_much)] == [422] * 4
    assert "witness" in field_errors(alone)["witness_id"]
    assert "someone other than you" in field_errors(self_witnessed)["witness_id"]
    assert "witness_id" in field_errors(front_desk) and "quantity_mg" in field_errors(too_much)
    assert on_hand(lot, safe) == "5000"

    done = nurse.post("/ledger/waste", waste | {"witness_id": str(witness.pk)})
    assert done.status_code == 201, done.content
    entry = done.json()
    assert (entry["kind"], entry["change_mg"], entry["balance_after_mg"]) == ("waste", "-12.5", "4987.5")
    assert entry["witness"] == witness.user.get_full_name() and entry["reason"] == "Left in syringe"

    history = nurse.get(f"/ledger/lots/{lot.pk}").json()
    assert history["product"] == product.name and history["expires_on"] == lot.expires_on.isoformat()
    assert [(e["kind"], e["balance_after_mg"]) for e in history["entries"]] == [
        ("receipt", "5000"),
        ("waste", "4987.5"),
    ]
    assert history["balances"] == [
        {"location_id": str(safe.pk), "location": safe.name, "quantity_mg": "4987.5"}
    ]
    assert api_as(practice.staff[Role.FRONT_DESK]).get(f"/ledger/lots/{lot.pk}").status_code == 403


def test_stock_moves_between_locations_and_a_count_difference_is_reconciled_with_a_reason(practice):
    _product, safe, lot = stock(practice)
    cart = StorageLocation.objects.create(
        organization=practice.org, clinic=practice.clinic, name="Crash cart"
    )
    nurse = api_as(practice.staff[Role.NURSE])
    witness = str(second_nurse(practice).pk)

    moved = nurse.post(
        "/ledger/transfers",
        {
            "lot_id": str(lot.pk),
            "from_location_id": str(safe.pk),
            "to_location_id": str(cart.pk),
            "quantity_mg": 500,
        },
    )
    assert moved.status_code == 201, moved.content
    assert (moved.json()["out"]["change_mg"], moved.json()["into"]["change_mg"]) == ("-500", "500")
    assert moved.json()["out"]["transfer"] == moved.json()["into"]["transfer"]
    balances = {(b["location"], b["quantity_mg"]) for b in nurse.get("/ledger/balances").json()["items"]}
    assert balances == {("Main safe", "4500"), ("Crash cart", "500")}

    uncounted = nurse.post("/ledger/counts", {"location_id": str(cart.pk), "counted": {}})
    assert f"counted.{lot.pk}" in field_errors(uncounted)
    counted = nurse.post(
        "/ledger/counts", {"location_id": str(cart.pk), "counted": {str(lot.pk): 450}, "witness_id": witness}
    )
    assert counted.status_code == 201, counted.content
    count = counted.json()
    assert count["status"] == "open"
    assert [(x["expected_mg"], x["counted_mg"], x["difference_mg"]) for x in count["lines"]] == [
        ("500", "450", "-50")
    ]

    reconcile = f"/ledger/counts/{count['id']}/reconcile"
    no_reason = nurse.post(reconcile, {"resolutions": {}, "witness_id": witness})
    assert f"resolutions.{lot.pk}" in field_errors(no_reason)
    settled = nurse.post(
        reconcile, {"resolutions": {str(lot.pk): "Vial broken, not logged"}, "witness_id": witness}
    )
    assert settled.status_code == 200, settled.content
    assert settled.json()["status"] == "reconciled" and settled.json()["lines"][0]["adjustment_id"]
    assert on_hand(lot, cart) == "450"
    adjustment = Entry.objects.get(pk=settled.json()["lines"][0]["adjustment_id"])
    assert adjustment.kind == "adjustment" and "Vial broken" in adjustment.reason
    assert nurse.post(reconcile, {"resolutions": {}, "witness_id": witness}).status_code == 422


def test_expiring_stock_is_listed_with_its_days_left(practice):
    _product, _safe, lot = stock(practice, expires_in_days=20)
    expiring = api_as(practice.staff[Role.NURSE]).get("/ledger/expiring").json()
    assert expiring["warn_days"] == 60
    [alert] = expiring["items"]
    assert (alert["lot_id"], alert["status"], alert["days_left"], alert["quantity_mg"]) == (
        str(lot.pk),
        "expiring",
        (lot.expires_on - timezone.localdate()).days,
        "5000",
    )
    assert alert["expires_on"] == (today_in(practice.clinic) + timedelta(days=20)).isoformat()


def test_another_organizations_lot_is_not_found_and_their_ids_in_a_body_are_refused(practice, stranger):
    _product, their_safe, their_lot = stock(stranger)
    _product, safe, our_lot = stock(practice)
    nurse = api_as(practice.staff[Role.NURSE])
    witness = str(second_nurse(practice).pk)

    assert nurse.get(f"/ledger/lots/{their_lot.pk}").status_code == 404
    wasted = nurse.post(
        "/ledger/waste",
        {
            "lot_id": str(their_lot.pk),
            "location_id": str(safe.pk),
            "quantity_mg": 1,
            "reason": "x",
            "witness_id": witness,
        },
    )
    assert wasted.status_code == 422 and "lot_id" in field_errors(wasted)
    moved = nurse.post(
        "/ledger/transfers",
        {
            "lot_id": str(their_lot.pk),
            "from_location_id": str(their_safe.pk),
            "to_location_id": str(safe.pk),
            "quantity_mg": 1,
        },
    )
    assert moved.status_code == 422 and "from_location_id" in field_errors(moved)
    sent_away = nurse.post(
        "/ledger/transfers",
        {
            "lot_id": str(our_lot.pk),
            "from_location_id": str(safe.pk),
            "to_location_id": str(their_safe.pk),
            "quantity_mg": 1,
        },
    )
    assert field_errors(sent_away) == {"to_location_id": "No such storage location in your practice."}
    assert on_hand(their_lot, their_safe) == "5000"
    assert {b["lot_id"] for b in nurse.get("/ledger/balances").json()["items"]} == {str(our_lot.pk)}
