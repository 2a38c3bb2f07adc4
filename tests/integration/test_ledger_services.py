"""The controlled-substance ledger's services: balances that never go negative, witnessed waste,
transfers, counts reconciled by witnessed adjustments, discrepancy detection, and entries the
database itself refuses to change. (`ledger_records` is also used by the cross-tenant matrices.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.clinical.controlled import EntryKind
from ketaflow.ledger import counts, setup, stock
from ketaflow.ledger.balances import lot_history
from ketaflow.ledger.expiry import expiry_alerts
from ketaflow.ledger.models import Balance, Count, Entry, Lot, StorageLocation
from ketaflow.ledger.reconciliation import entry_triggers_present, flagged_sessions, ledger_check
from ketaflow.sessions.doses import record_event
from ketaflow.validation import ValidationFailed
from tests.factories import StaffFactory, actor_of
from tests.integration.sessions_factories import DOSING_STARTED_AGO, dosing_session, second_nurse

MG = Decimal


def handler(practice: Any, role: Role = Role.NURSE) -> Any:
    return actor_of(practice.staff[role])


def witness_id(practice: Any) -> int:
    return int(practice.staff[Role.PRESCRIBER].user_id)


def shelf(practice: Any, name: str = "Safe A") -> StorageLocation:
    """The clinic's storage location called `name`, made on first use."""
    found, _ = StorageLocation.objects.get_or_create(
        organization=practice.org, clinic=practice.clinic, name=name
    )
    return found


def received(
    practice: Any,
    mg: str = "1000",
    *,
    lot_number: str = "K-1001",
    place: StorageLocation | None = None,
    expires_in_days: int = 400,
    at: Any = None,
) -> Entry:
    """Ketamine (the default 500 mg/10 mL vial) received into a location."""
    ketamine = next(p for p in setup.ensure_products(practice.org) if p.drug == "ketamine")
    return stock.receive(
        handler(practice),
        product_id=ketamine.pk,
        lot_number=lot_number,
        expires_on=timezone.localdate() + timedelta(days=expires_in_days),
        supplier="Synthetic Wholesale Ltd",
        invoice_number="SYN-INV-77",
        quantity_mg=mg,
        location_id=(place or shelf(practice)).pk,
        occurred_at=at,
    )


def balance_of(lot: Lot, place: StorageLocation) -> Decimal:
    return Balance.objects.get(lot=lot, location=place).quantity_mg


def ledger_records(practice: Any, label: str) -> dict[str, list[str]]:
    """For the cross-tenant matrices: a lot with entries and an open count, of `practice`.
    Keys are the ledger pages' URL kwargs."""
    place = shelf(practice, f"{label} cabinet")
    lot = received(practice, "500", lot_number=f"{label}-LOT", place=place).lot
    count = counts.record_count(
        handler(practice), location_id=place.pk, kind="periodic", counted={lot.pk: "450"}
    )
    return {"lot_id": [str(lot.pk)], "count_id": [str(count.pk)]}


def test_defaults_offer_three_products_once_and_a_receipt_creates_the_lot_with_its_balance(practice):
    made = setup.ensure_products(practice.org)
    assert sorted((p.name, p.schedule, p.mg_per_unit, p.ml_per_unit) for p in made) == [
        ("Esketamine 28 mg nasal device", "III", MG("28.000"), None),
        ("Ketamine 500 mg/10 mL vial", "III", MG("500.000"), MG("10.00")),
        ("Midazolam 5 mg/1 mL vial", "IV", MG("5.000"), MG("1.00")),
    ]
    assert len(setup.ensure_products(practice.org.pk)) == 3
    entry = received(practice, "1000")
    assert (entry.kind, entry.change_mg, entry.balance_after_mg) == ("receipt", MG("1000"), MG("1000"))
    assert (entry.supplier, entry.invoice_number, entry.lot.lot_number) == (
        "Synthetic Wholesale Ltd",
        "SYN-INV-77",
        "K-1001",
    )
    by_units = stock.receive(
        handler(practice),
        product_id=entry.lot.product_id,
        lot_number="K-1001",
        expires_on=entry.lot.expires_on,
        supplier="Synthetic Wholesale Ltd",
        invoice_number="SYN-INV-78",
        units=3,
        location_id=entry.location_id,
    )
    assert by_units.lot_id == entry.lot_id and by_units.balance_after_mg == MG("2500")
    with pytest.raises(ValidationFailed) as refused:
        received(practice, "10", expires_in_days=90)  # same lot number, another expiry
    assert refused.value.errors[0].field == "expires_on"
    assert AuditEvent.objects.filter(object_type="LedgerEntry", action="create").count() == 2


def test_a_movement_that_would_make_a_balance_negative_is_refused_naming_quantity_mg(practice):
    entry = received(practice, "100")
    with pytest.raises(ValidationFailed) as refused:
        stock.waste(
            handler(practice),
            lot_id=entry.lot_id,
            location_id=entry.location_id,
            quantity_mg="100.5",
            witness_id=witness_id(practice),
            reason="Vial dropped",
        )
    error = refused.value.errors[0]
    assert error.field == "quantity_mg"
    assert "This would leave -0.500 mg: the balance on hand is 100.000 mg" in error.message
    for bad, message in [("0", "above zero"), ("-3", "above zero"), ("1.0005", "3 decimal places")]:
        with pytest.raises(ValidationFailed, match=message):
            stock.transfer(
                handler(practice),
                lot_id=entry.lot_id,
                from_location_id=entry.location_id,
                to_location_id=shelf(practice, "Safe B").pk,
                quantity_mg=bad,
            )
    assert balance_of(entry.lot, entry.location) == MG("100")
    assert Entry.objects.count() == 1


def test_waste_needs_a_colleague_who_handles_controlled_substances_as_witness(practice):
    entry = received(practice, "500")
    nurse = practice.staff[Role.NURSE]
    attempts = [
        (None, "needs a second person as witness"),
        (nurse.user_id, "someone other than you"),
        (practice.staff[Role.FRONT_DESK].user_id, "Choose a colleague who handles controlled substances"),
        (StaffFactory(roles=[Role.NURSE]).user_id, "Choose a colleague"),  # another practice's nurse
    ]
    for witness, message in attempts:
        with pytest.raises(ValidationFailed) as refused:
            stock.waste(
                actor_of(nurse),
                lot_id=entry.lot_id,
                location_id=entry.location_id,
                quantity_mg="10",
                witness_id=witness,
                reason="Drawn in error",
            )
        assert refused.value.errors[0].field == "witness_id"
        assert message in refused.value.errors[0].message
    with pytest.raises(ValidationFailed, match="Say why"):
        stock.waste(
            actor_of(nurse),
            lot_id=entry.lot_id,
            location_id=entry.location_id,
            quantity_mg="10",
            witness_id=witness_id(practice),
            reason="  ",
        )
    done = stock.waste(
        actor_of(nurse),
        lot_id=entry.lot_id,
        location_id=entry.location_id,
        quantity_mg="10",
        witness_id=witness_id(practice),
        reason="Drawn in error",
    )
    assert (done.change_mg, done.balance_after_mg, done.witness_id) == (
        MG("-10"),
        MG("490"),
        witness_id(practice),
    )


def test_a_transfer_moves_stock_out_of_one_location_and_into_the_other_as_a_linked_pair(practice):
    entry = received(practice, "1000")
    other = shelf(practice, "Treatment room 2")
    out, into = stock.transfer(
        handler(practice),
        lot_id=entry.lot_id,
        from_location_id=entry.location_id,
        to_location_id=other.pk,
        quantity_mg="250",
        reason="Stock for today's sessions",
    )
    assert balance_of(entry.lot, entry.location) == MG("750") and balance_of(entry.lot, other) == MG("250")
    assert (out.kind, out.change_mg, into.kind, into.change_mg) == (
        "transfer_out",
        MG("-250"),
        "transfer_in",
        MG("250"),
    )
    assert out.transfer == into.transfer is not None
    history = lot_history(handler(practice), entry.lot_id, timezone.localdate())
    by_place = {p.location.name: p for p in history.places}
    assert by_place["Treatment room 2"].rows[0].counterpart == entry.location
    assert [r.entry.balance_after_mg for r in by_place["Safe A"].rows] == [MG("1000"), MG("750")]
    assert history.total_mg == MG("1000")
    with pytest.raises(ValidationFailed) as same:
        stock.transfer(
            handler(practice),
            lot_id=entry.lot_id,
            from_location_id=other.pk,
            to_location_id=other.pk,
            quantity_mg="1",
        )
    assert same.value.errors[0].field == "to_location_id"
    assert ledger_check(practice.org.pk).ok


def test_a_count_with_a_difference_stays_open_until_reconciled_by_a_witnessed_adjustment(practice):
    first = received(practice, "1000")
    second = received(practice, "500", lot_number="K-2002")
    place = first.location
    with pytest.raises(ValidationFailed) as uncounted:
        counts.record_count(
            handler(practice), location_id=place.pk, kind="periodic", counted={first.lot_id: "1000"}
        )
    assert uncounted.value.errors[0].field == f"counted.{second.lot_id}"
    with pytest.raises(ValidationFailed) as unreadable:
        counts.record_count(
            handler(practice),
            location_id=place.pk,
            kind="periodic",
            counted={first.lot_id: "NaN", second.lot_id: "-1"},
        )
    assert [(e.field, e.message) for e in unreadable.value.errors] == [  # one message per lot
        (f"counted.{first.lot_id}", "Enter the amount counted in mg (0 when none)."),
        (f"counted.{second.lot_id}", "A count cannot be below zero."),
    ]
    count = counts.record_count(
        handler(practice),
        location_id=place.pk,
        kind="periodic",
        counted={first.lot_id: "1000", str(second.lot_id): "480.5"},
        witness_id=witness_id(practice),
    )
    assert count.status == Count.Status.OPEN
    lines = {line.lot_id: line for line in count.lines.all()}
    assert (lines[second.lot_id].expected_mg, lines[second.lot_id].difference_mg) == (MG("500"), MG("-19.5"))
    assert lines[first.lot_id].difference_mg == 0
    assert counts.open_counts(practice.org.pk) == [count]
    line = lines[second.lot_id]
    with pytest.raises(ValidationFailed) as no_reason:
        counts.reconcile(handler(practice), count.pk, resolutions={}, witness_id=witness_id(practice))
    assert no_reason.value.errors[0].field == f"resolutions.{line.pk}"
    with pytest.raises(ValidationFailed) as no_witness:
        counts.reconcile(handler(practice), count.pk, resolutions={line.pk: "Spilled"}, witness_id=None)
    assert no_witness.value.errors[0].field == "witness_id"
    [adjustment] = counts.reconcile(
        handler(practice),
        count.pk,
        resolutions={str(line.pk): "Partly used vial not recorded; found in sharps log"},
        witness_id=witness_id(practice),
    )
    assert (adjustment.kind, adjustment.change_mg, adjustment.witness_id) == (
        "adjustment",
        MG("-19.5"),
        witness_id(practice),
    )
    assert adjustment.reason.endswith("Partly used vial not recorded; found in sharps log")
    count.refresh_from_db()
    line.refresh_from_db()
    assert count.status == Count.Status.RECONCILED and line.adjustment == adjustment
    assert balance_of(second.lot, place) == MG("480.5")
    assert counts.open_counts(practice.org.pk) == []
    with pytest.raises(ValidationFailed, match="already reconciled"):
        counts.reconcile(handler(practice), count.pk, resolutions={}, witness_id=witness_id(practice))
    agreeing = counts.record_count(
        handler(practice),
        location_id=place.pk,
        kind="biennial",
        counted={first.lot_id: "1000", second.lot_id: "480.5"},
    )
    assert agreeing.status == Count.Status.RECONCILED
    assert ledger_check(practice.org.pk).ok


def test_the_check_finds_a_tampered_balance_and_a_rewritten_entry(practice):
    entry = received(practice, "1000")
    stock.waste(
        handler(practice),
        lot_id=entry.lot_id,
        location_id=entry.location_id,
        quantity_mg="40",
        witness_id=witness_id(practice),
        reason="Broken vial",
    )
    clean = ledger_check(practice.org.pk)
    assert clean.ok and (clean.places, clean.entries) == (1, 2)
    Balance.objects.filter(lot=entry.lot).update(quantity_mg=MG("1000"))
    report = ledger_check(practice.org.pk)
    assert [p.kind for p in report.problems] == ["balance"]
    assert report.problems[0].message == (
        "Ketamine 500 mg/10 mL vial lot K-1001 at Safe A: the balance says 1000 mg "
        "but the entries add up to 960 mg."
    )
    _without_triggers("UPDATE ledger_entry SET change_mg = -30 WHERE kind = 'waste'")
    rewritten = ledger_check(practice.org.pk)
    kinds = sorted(p.kind for p in rewritten.problems)
    # The balance disagrees with 970 mg, the running balance breaks at the waste, and on SQLite the
    # dropped triggers are reported too.
    assert kinds == ["balance", "chain"] + (["triggers"] if connection.vendor == "sqlite" else [])
    assert "starts from 990 mg, but the balance before it was 1000 mg" in rewritten.problems[1].message


def _without_triggers(statement: str) -> None:
    """What someone with raw database access could do: switch the triggers off, then write."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER ledger_entry_no_update")
            cursor.execute("DROP TRIGGER ledger_entry_no_delete")
        else:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(statement)


def test_the_database_refuses_to_update_or_delete_a_ledger_entry(practice):
    received(practice, "1000")
    assert entry_triggers_present()
    for statement in ("UPDATE ledger_entry SET change_mg = 5", "DELETE FROM ledger_entry"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    entry = Entry.objects.get()
    assert entry.change_mg == MG("1000")
    with pytest.raises(PermissionError):
        entry.save()


def test_expiry_alerts_list_expired_and_expiring_stock_within_the_practice_window(practice):
    received(practice, "500", lot_number="SOON", expires_in_days=30)
    received(practice, "500", lot_number="LATER", expires_in_days=200)
    old = received(practice, "500", lot_number="OLD", expires_in_days=10)
    Lot.objects.filter(pk=old.lot_id).update(expires_on=timezone.localdate() - timedelta(days=2))
    alerts = expiry_alerts(practice.org.pk, timezone.localdate())
    assert [(a.row.lot.lot_number, a.row.expiry, a.days_left) for a in alerts] == [
        ("OLD", "expired", -2),
        ("SOON", "expiring", 30),
    ]
    assert alerts[0].message.endswith("500.000 mg still on hand.")
    setup.update_settings(
        handler(practice, Role.PRESCRIBER),
        registrant="Dr Synthetic",
        registration_number="AS1234563",
        expiry_warn_days="365",
        session_tolerance_mg="0.5",
    )
    assert [a.row.lot.lot_number for a in expiry_alerts(practice.org.pk, timezone.localdate())] == [
        "OLD",
        "SOON",
        "LATER",
    ]
    with pytest.raises(ValidationFailed) as nurse_refused:
        received(practice, "10", lot_number="GONE", expires_in_days=-1)
    assert nurse_refused.value.errors[0].field == "expires_on"


def stopped_early(practice: Any) -> Any:
    """An IV session of 41 mg stopped after 20 of its 40 minutes: 20.5 mg drawn but not given."""
    session = dosing_session(practice, "iv")
    stop_at = timezone.now() - DOSING_STARTED_AGO + timedelta(minutes=20)
    record_event(handler(practice), session.pk, kind="stop", at=stop_at)
    session.refresh_from_db()
    return session


def test_a_session_dose_not_accounted_for_is_flagged_until_its_witnessed_waste_is_recorded(practice):
    session = stopped_early(practice)
    assert session.reconciled is False
    [flagged] = flagged_sessions(handler(practice))
    assert flagged.session == session and flagged.unaccounted_mg == MG("20.5")
    assert "20.500 mg drawn is neither given nor wasted" in flagged.message
    assert ledger_check(practice.org.pk).ok  # the stored figures agree with the ledger
    preparation = session.preparations.get()
    with transaction.atomic():  # a waste entry written without refreshing the session
        stock.write_entry(
            handler(practice),
            EntryKind.WASTE,
            preparation.lot,
            preparation.location,
            MG("5"),
            stock.Movement(witness_id=second_nurse(practice).user_id, session_id=session.pk, reason="Spill"),
        )
    stale = ledger_check(practice.org.pk)
    assert [p.kind for p in stale.problems] == ["session"]
    assert "the ledger says drawn 41 mg, wasted 5 mg (flagged)" in stale.problems[0].message
    stock.waste(
        handler(practice),
        lot_id=preparation.lot_id,
        location_id=preparation.location_id,
        quantity_mg="15.5",
        witness_id=second_nurse(practice).user_id,
        reason="Left in the bag when the infusion was stopped early",
        session_id=session.pk,
    )
    session.refresh_from_db()
    assert session.reconciled is True and session.reconciliation["wasted_mg"] == "20.500"
    assert flagged_sessions(handler(practice)) == []
    assert ledger_check(practice.org.pk).ok
    last = Entry.objects.filter(kind="waste").latest("recorded_at")
    assert last.patient_id == session.patient_id  # named from the session
