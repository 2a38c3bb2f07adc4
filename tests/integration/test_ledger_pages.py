"""The ledger pages at /ledger/: the overview with its figures and alerts, the receive, waste,
transfer and count forms with their errors beside the fields, a lot's running balance, the reports
and their downloads, the set-up; and a 403 for roles that do not handle controlled substances."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.ledger import counts, setup
from ketaflow.ledger.models import Balance, Count, Entry, Lot, Product, StorageLocation
from ketaflow.scheduling.calendar import today_in
from tests.integration.pages import PAGE_TEST_MARKS, field_error, htmx, signed_in, text_of
from tests.integration.sessions_factories import second_nurse
from tests.integration.test_ledger_services import handler, received, shelf, stopped_early, witness_id

pytestmark = PAGE_TEST_MARKS


def nurse_client(practice):
    return signed_in(practice.staff[Role.NURSE])


def test_the_overview_shows_balances_expiry_alerts_open_counts_and_no_inline_code(practice):
    entry = received(practice, "1500")
    received(practice, "250", lot_number="K-OLD", expires_in_days=20)
    counts.record_count(
        handler(practice),
        location_id=entry.location_id,
        kind="periodic",
        counted={entry.lot_id: "1500", Lot.objects.get(lot_number="K-OLD").pk: "240"},
    )
    response = nurse_client(practice).get("/ledger/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Safe A" in text and "Ketamine 500 mg/10 mL vial schedule III K-1001" in text
    assert "1500 3 vials" in text and "250 0.5 vial" in text
    assert (
        "Expiring" in text and "lot K-OLD at Safe A expires on" in text and "(in 20 days); 250.000 mg" in text
    )
    assert "Counts to reconcile" in text and "Periodic count of Safe A" in text
    html = response.content.decode()
    assert 'style="' not in html and "<script>" not in html


def test_front_desk_therapists_and_owners_without_a_clinical_role_get_403_on_every_ledger_page(practice):
    lot = received(practice, "100").lot
    for role in (Role.FRONT_DESK, Role.THERAPIST, Role.OWNER, Role.ADMIN):
        client = signed_in(practice.staff[role])
        for url in (
            "/ledger/",
            "/ledger/receive/",
            f"/ledger/lots/{lot.pk}/",
            "/ledger/reports/",
            "/ledger/setup/",
        ):
            response = client.get(url)
            assert response.status_code == 403, (role, url)
            assert "Your role does not allow this (controlled.handle)" in text_of(response)
    assert client.post("/ledger/waste/", {"stock": "x"}).status_code == 403
    assert Entry.objects.count() == 1


def test_receiving_through_the_form_shows_errors_beside_fields_then_records_the_receipt(practice):
    place = shelf(practice)
    ketamine = next(p for p in setup.ensure_products(practice.org) if p.drug == "ketamine")
    client = nurse_client(practice)
    form = {"product_id": str(ketamine.pk), "location_id": str(place.pk), "lot_number": "K-77"}
    refused = client.post("/ledger/receive/", form)
    assert refused.status_code == 200
    assert field_error(refused, "id_supplier") == "Enter the supplier."
    assert (
        field_error(refused, "id_quantity_mg") == "Enter the quantity received in mg, or the number of units."
    )
    expires = (timezone.localdate() + timedelta(days=300)).isoformat()
    form |= {
        "expires_on": expires,
        "supplier": "Synthetic Wholesale",
        "invoice_number": "INV-9",
        "units": "4",
    }
    done = client.post("/ledger/receive/", form, follow=True)
    assert "Received 2000 mg of lot K-77 into Safe A; the balance there is 2000 mg." in text_of(done)
    assert Balance.objects.get(lot__lot_number="K-77").quantity_mg == 2000


def test_waste_through_the_form_needs_a_witness_and_then_shows_on_the_lots_running_balance(practice):
    entry = received(practice, "500")
    client = nurse_client(practice)
    stock_value = f"{entry.lot_id}|{entry.location_id}"
    page = client.get("/ledger/waste/").content.decode()
    prescriber = practice.staff[Role.PRESCRIBER]
    assert f'<option value="{prescriber.user_id}">' in page
    assert f'<option value="{practice.staff[Role.NURSE].user_id}">' not in page  # not yourself
    assert "K-1001 (expires" in page and "at Safe A: 500 mg" in page
    refused = client.post("/ledger/waste/", {"stock": stock_value, "quantity_mg": "600", "reason": "Broken"})
    assert field_error(refused, "id_witness_id") == "A waste needs a second person as witness."
    too_much = client.post(
        "/ledger/waste/",
        {"stock": stock_value, "quantity_mg": "600", "reason": "Broken", "witness_id": prescriber.user_id},
    )
    assert "This would leave -100 mg" in field_error(too_much, "id_quantity_mg").replace(".000", "")
    done = client.post(
        "/ledger/waste/",
        {
            "stock": stock_value,
            "quantity_mg": "12.5",
            "reason": "Vial cracked",
            "witness_id": prescriber.user_id,
        },
        follow=True,
    )
    assert "Recorded 12.5 mg of lot K-1001 wasted; 487.5 mg left in Safe A." in text_of(done)
    lot_page = text_of(client.get(f"/ledger/lots/{entry.lot_id}/"))
    assert "Safe A Clinic" in lot_page and ": 487.5 mg" in lot_page
    assert "Receipt +500 500" in lot_page and "Waste -12.5 487.5" in lot_page
    assert prescriber.user.get_full_name() in lot_page and "Vial cracked" in lot_page
    assert "Synthetic Wholesale Ltd, invoice SYN-INV-77" in lot_page


def test_a_transfer_and_a_count_with_its_reconciliation_through_the_pages(practice):
    entry = received(practice, "1000")
    room = shelf(practice, "Room 2")
    client = nurse_client(practice)
    moved = client.post(
        "/ledger/transfer/",
        {
            "stock": f"{entry.lot_id}|{entry.location_id}",
            "to_location_id": str(room.pk),
            "quantity_mg": "300",
        },
        follow=True,
    )
    assert "Moved 300 mg of lot K-1001 from Safe A to Room 2." in text_of(moved)
    sheet = client.get("/ledger/count/", {"location": str(room.pk)}, headers=htmx("count-sheet"))
    assert "<html" not in sheet.content.decode() and "Count sheet: Room 2" in text_of(sheet)
    assert "300" not in text_of(sheet)  # a blind count: the balance is not shown
    field = f"counted_{entry.lot_id}"
    blank = client.post("/ledger/count/", {"location": str(room.pk), "kind": "periodic"})
    assert field_error(blank, f"id_{field}") == "Count this lot (enter 0 if none is there)."
    counted = client.post(
        "/ledger/count/", {"location": str(room.pk), "kind": "periodic", field: "290"}, follow=True
    )
    count = Count.objects.get()
    assert counted.redirect_chain[-1][0] == f"/ledger/counts/{count.pk}/"
    text = text_of(counted)
    assert "The count differs from the ledger" in text and "300 290 -10 Open" in text
    line = count.lines.get()
    reconciled = client.post(
        f"/ledger/counts/{count.pk}/",
        {f"reason_{line.pk}": "Vial found broken in the bin", "witness_id": str(witness_id(practice))},
        follow=True,
    )
    assert "Count reconciled: 1 adjustment entry." in text_of(reconciled)
    assert "Vial found broken in the bin (adjustment -10 mg, witnessed by" in text_of(reconciled)
    assert Balance.objects.get(location=room).quantity_mg == 290


def test_the_reports_page_previews_with_htmx_and_downloads_csv_and_pdf(practice):
    entry = received(practice, "1000")
    client = nurse_client(practice)
    today = today_in(practice.clinic)
    params = {
        "kind": "periodic",
        "location": str(entry.location_id),
        "start": today.replace(day=1).isoformat(),
    }
    params["end"] = today.isoformat()
    page = client.get("/ledger/reports/", params)
    assert "Periodic inventory: Safe A" in text_of(page)
    assert "K-1001 0 1000 0 0 0 0 0 1000" in text_of(page)
    preview = client.get("/ledger/reports/", params, headers=htmx("report-preview"))
    assert "<html" not in preview.content.decode() and "Download CSV" in text_of(preview)
    download = client.get("/ledger/reports/download/", {**params, "format": "csv"})
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"].startswith('attachment; filename="ledger-periodic-safe-a-')
    assert download.content.decode().splitlines()[1].split(",")[3:] == [
        "K-1001",
        entry.lot.expires_on.isoformat(),
        "0",
        "1000",
        "0",
        "0",
        "0",
        "0",
        "0",
        "1000",
        "2",
    ]
    pdf = client.get("/ledger/reports/download/", {**params, "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    future = client.get("/ledger/reports/", {**params, "end": (today + timedelta(days=3)).isoformat()})
    assert field_error(future, "id_end") == "The report cannot end after today."


def test_the_setup_page_adds_a_location_and_a_prescriber_adds_a_product(practice):
    nurse = nurse_client(practice)
    page = text_of(nurse.get("/ledger/setup/"))
    assert "Ketamine 500 mg/10 mL vial" in page and "500 mg per vial in 10 mL (50 mg/mL)" in page
    assert "Add a product" not in page and "A prescriber changes these." in page
    assert "one esketamine nasal device holds 28 mg (US prescribing information, reference §2)" in page
    nurse.post(
        "/ledger/setup/", {"action": "location", "clinic_id": str(practice.clinic.pk), "name": "Safe B"}
    )
    assert StorageLocation.objects.filter(name="Safe B", clinic=practice.clinic).exists()
    doctor = signed_in(practice.staff[Role.PRESCRIBER])
    bad = doctor.post(
        "/ledger/setup/", {"action": "product", "name": "Ketamine 100 mg/mL", "drug": "ketamine"}
    )
    assert (
        field_error(bad, "id_mg_per_unit") == "Enter a number from 0.001 to 99999 (at most 3 decimal places)."
    )
    doctor.post(
        "/ledger/setup/",
        {
            "action": "product",
            "name": "Ketamine 100 mg/mL, 5 mL vial",
            "drug": "ketamine",
            "schedule": "III",
            "form": "vial",
            "mg_per_unit": "500",
            "ml_per_unit": "5",
        },
    )
    added = Product.objects.get(name="Ketamine 100 mg/mL, 5 mL vial")
    assert added.concentration_mg_per_ml == 100
    doctor.post(
        "/ledger/setup/",
        {
            "action": "settings",
            "registrant": "Dr Synthetic",
            "expiry_warn_days": "90",
            "session_tolerance_mg": "1",
            "registration_number": "AS1234563",
        },
    )
    assert setup.ledger_settings(practice.org.pk).expiry_warn_days == 90


def test_a_flagged_session_dose_is_listed_and_cleared_by_recording_its_waste_from_the_overview(practice):
    session = stopped_early(practice)
    client = nurse_client(practice)
    overview = client.get("/ledger/")
    text = text_of(overview)
    assert "Session doses not reconciled" in text
    assert f"{practice.patient.display_name} ({practice.patient.mrn}) 20.5 mg" in text
    link = f"/ledger/waste/?session={session.pk}"
    assert link in overview.content.decode()
    assert f'href="/sessions/{session.pk}/"' in overview.content.decode()
    page = client.get(link)
    assert "20.5 mg not yet accounted for" in text_of(page)
    preparation = session.preparations.get()
    assert 'value="20.5"' in page.content.decode()
    lot_page = client.get(f"/ledger/lots/{preparation.lot_id}/").content.decode()
    assert f'<a href="/sessions/{session.pk}/">session</a>' in lot_page
    done = client.post(
        "/ledger/waste/",
        {
            "session": str(session.pk),
            "stock": f"{preparation.lot_id}|{preparation.location_id}",
            "quantity_mg": "20.5",
            "witness_id": str(second_nurse(practice).user_id),
            "reason": "Left in the bag after an early stop",
        },
        follow=True,
    )
    assert "Recorded 20.5 mg of lot" in text_of(done)
    assert "No discrepancy" in text_of(done) and "Session doses not reconciled" not in text_of(done)
    session.refresh_from_db()
    assert session.reconciled is True
