"""Inventory reports (periodic and biennial) with their CSV and PDF, and the `ketaflow ledger`
commands: expiry, the discrepancy check, and a report written to a file."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.clinical.controlled import EntryKind
from ketaflow.ledger import setup, stock
from ketaflow.ledger.commands import ledger
from ketaflow.ledger.models import Balance
from ketaflow.ledger.reports import export_report, inventory_report
from ketaflow.validation import ValidationFailed
from tests.factories import actor_of
from tests.integration.test_consent_versioning import pdf_text
from tests.integration.test_ledger_services import handler, received, shelf, witness_id

MG = Decimal


def last_month() -> tuple[date, date]:
    first_of_this = timezone.localdate().replace(day=1)
    end = first_of_this - timedelta(days=1)
    return end.replace(day=1), end


def a_month_of_movements(practice: Any) -> dict[str, Any]:
    """Last month at Safe A: 1000 mg on hand before it; in it 500 received, 42 given, 9 wasted,
    200 moved to Room 2, an adjustment of -5; and 100 given this month (outside the report)."""
    start, end = last_month()
    zone = ZoneInfo(practice.clinic.timezone)

    def on(day: date, hour: int = 12, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    safe, room = shelf(practice, "Safe A"), shelf(practice, "Room 2")
    lot = received(practice, "1000", place=safe, at=on(start - timedelta(days=3))).lot
    received(practice, "500", place=safe, at=on(start + timedelta(days=1)))
    nurse = handler(practice)
    with transaction.atomic():
        stock.write_entry(
            nurse,
            EntryKind.ADMINISTRATION,
            lot,
            safe,
            MG("41"),
            stock.Movement(occurred_at=on(start + timedelta(days=2)), patient_id=practice.patient.pk),
        )
        stock.write_entry(
            nurse,
            EntryKind.ADMINISTRATION,
            lot,
            safe,
            MG("1"),
            stock.Movement(occurred_at=on(end, 23, 30), patient_id=practice.patient.pk),
        )
        stock.adjust(
            nurse,
            lot=lot,
            location=safe,
            change_mg=MG("-5"),
            witness_id=witness_id(practice),
            reason="Count difference: spilt",
            occurred_at=on(start + timedelta(days=11)),
        )
        stock.write_entry(nurse, EntryKind.ADMINISTRATION, lot, safe, MG("100"))
    stock.waste(
        nurse,
        lot_id=lot.pk,
        location_id=safe.pk,
        quantity_mg="9",
        witness_id=witness_id(practice),
        reason="Left in syringe",
        occurred_at=on(start + timedelta(days=2), 13),
    )
    stock.transfer(
        nurse,
        lot_id=lot.pk,
        from_location_id=safe.pk,
        to_location_id=room.pk,
        quantity_mg="200",
        occurred_at=on(start + timedelta(days=9)),
    )
    return {"safe": safe, "room": room, "lot": lot, "start": start, "end": end}


def test_a_months_report_adds_up_opening_plus_in_minus_out_to_closing(practice):
    month = a_month_of_movements(practice)
    report = inventory_report(
        handler(practice),
        kind="periodic",
        location_id=month["safe"].pk,
        start=month["start"],
        end=month["end"],
    )
    [row] = report.rows
    assert [(label, value) for label, value in row.figures()] == [
        ("Opening", MG("1000")),
        ("Receipts", MG("500")),
        ("Administered", MG("42")),
        ("Wasted", MG("9")),
        ("Transferred in", MG("0")),
        ("Transferred out", MG("200")),
        ("Adjustments", MG("-5")),
        ("Closing", MG("1244")),
    ]
    assert row.closing_units == MG("2.49")
    # The closing balance is what the ledger held at the end of the month: today's 100 mg is later.
    assert Balance.objects.get(lot=month["lot"], location=month["safe"]).quantity_mg == MG("1144")
    room = inventory_report(
        handler(practice), kind="periodic", location_id=month["room"].pk, end=month["end"]
    )
    assert room.start == month["start"]
    assert [(r.opening, r.transfers_in, r.closing) for r in room.rows] == [(0, MG("200"), MG("200"))]
    table = list(csv.reader(io.StringIO(export_report(handler(practice), report, "csv").content.decode())))
    assert table[0][:6] == ["product", "drug", "schedule", "lot", "expires_on", "opening_mg"]
    assert table[1][:4] == ["Ketamine 500 mg/10 mL vial", "ketamine", "III", "K-1001"]
    assert table[1][5:] == ["1000", "500", "42", "9", "0", "200", "-5", "1244", "2.49"]
    assert AuditEvent.objects.filter(action="export", object_type="LedgerReport").count() == 1


def test_the_biennial_report_is_the_stock_on_hand_at_its_date_and_prints_as_a_pdf(practice):
    month = a_month_of_movements(practice)
    setup.update_settings(
        actor_of(practice.staff[Role.PRESCRIBER]),
        registrant="Dr Avery Synthetic",
        registration_number="AS1234563",
        expiry_warn_days=60,
        session_tolerance_mg="0.5",
    )
    report = inventory_report(
        handler(practice), kind="biennial", location_id=month["safe"].pk, end=month["end"]
    )
    assert report.start == month["end"].replace(year=month["end"].year - 2) + timedelta(days=1)
    [row] = report.rows
    assert (row.opening, row.receipts, row.closing) == (0, MG("1500"), MG("1244"))
    document = export_report(handler(practice), report, "pdf")
    assert document.content.startswith(b"%PDF") and document.filename.endswith(".pdf")
    text = pdf_text(document.content)
    for expected in ("Biennial inventory", "Dr Avery Synthetic", "AS1234563", "K-1001", "1244", "Safe A"):
        assert expected in text
    assert "21 CFR 1304.11 [verify" in text
    with pytest.raises(ValidationFailed) as future:
        inventory_report(
            handler(practice),
            kind="periodic",
            location_id=month["safe"].pk,
            end=timezone.localdate() + timedelta(days=2),
        )
    assert future.value.errors[0].field == "end"


def test_the_cli_writes_a_report_checks_the_ledger_and_lists_expiry(practice, tmp_path):
    month = a_month_of_movements(practice)
    received(practice, "500", lot_number="SOON", expires_in_days=20)
    output = tmp_path / "safe.csv"
    args = ["report", "--location", "Safe A", "--organization", practice.org.slug, "--start"]
    args += [month["start"].isoformat(), "--end", month["end"].isoformat(), "--output", str(output)]
    result = CliRunner().invoke(ledger, args)
    assert result.exit_code == 0, result.output
    assert "Periodic inventory of Safe A" in result.output and ": 1 lot(s) in" in result.output
    assert output.read_text().splitlines()[1].endswith("1000,500,42,9,0,200,-5,1244,2.49")
    checked = CliRunner().invoke(ledger, ["check", "--organization", practice.org.slug])
    assert checked.exit_code == 0, checked.output
    assert "3 balances, 10 entries, 0 sessions checked: agrees; 0 session dose(s) flagged" in checked.output
    Balance.objects.filter(location=month["room"]).update(quantity_mg=MG("150"))
    broken = CliRunner().invoke(ledger, ["check", "--organization", practice.org.slug])
    assert broken.exit_code == 1
    assert "Room 2: the balance says 150 mg but the entries add up to 200 mg." in broken.output
    expiring = CliRunner().invoke(ledger, ["expiry", "--organization", practice.org.slug])
    assert expiring.exit_code == 0
    assert (
        "1 lot(s) expired or expiring" in expiring.output
        and "lot SOON at Safe A expires on" in expiring.output
    )
    missing = CliRunner().invoke(ledger, ["report", "--location", "Nowhere", "--output", str(output)])
    assert missing.exit_code == 1 and "no storage location 'Nowhere'" in missing.output
