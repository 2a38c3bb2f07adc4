"""Issue 6 in real Chromium on a landscape tablet: one IV session from check-in to the signed note.

The demo practice gets a clinic of its own (open every day, one chair, ketamine in its safe), a
nurse, a second nurse and a prescriber, and a patient with a signed IV plan (0.5 mg/kg x 82 kg =
41 mg) and an IV infusion booked today, all made with the integration test factories in the
server's management shell. The clinic's time zone is one where it is working hours now, so the
times typed into the chairside forms are today's.

Everything else happens in the browser: the nurse checks the patient in from today's board, fills
the checklist, draws up the dose; the second nurse verifies it; the nurse starts the infusion, enters
a hypertensive reading, answers the alert by pausing the infusion, resumes and stops it, takes
recovery readings and scores the Aldrete; the patient is discharged to the escort and the
prescriber signs the note.

Time passing is the one thing the shell stands in for (PASS_TIME moves every time recorded on the
session back, as if it had all been charted that much earlier): 25 minutes after the verification,
so the start typed into the form as 20 minutes ago comes after the checklist; and the 30-minute
minimum observation after the stop, which cannot be back-dated because the alert's "Pause infusion"
is stamped with the moment it is pressed. Screenshots of each stage (one also at portrait size) go
to SHOTS for a person to look at.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_browser import click_and_wait, field, sign_in, sign_out
from tests.e2e.test_browser_evaluation import stored

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
TABLET = {"width": 1024, "height": 768}
PORTRAIT = {"width": 768, "height": 1024}
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
ESCORT = "Sam Rivera"

SETUP = """
    import secrets
    from datetime import time
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo
    from django.utils import timezone
    from ketaflow.accounts.roles import Role
    from ketaflow.clinics.models import OpeningHours, Organization, Room
    from ketaflow.demo.practice import ORGANIZATION_SLUG
    from ketaflow.scheduling.models import Appointment
    from tests.factories import ClinicFactory, PatientFactory, RoomFactory, StaffFactory, UserFactory
    from tests.integration.sessions_factories import booked_treatment, stock

    # A zone where it is working hours now, so times typed as "20 minutes ago" are today's.
    zones = ("America/Denver", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo",
             "Australia/Sydney", "Pacific/Honolulu")
    zone = next(z for z in zones if 9 <= timezone.now().astimezone(ZoneInfo(z)).hour < 17)
    org = Organization.objects.get(slug=ORGANIZATION_SLUG)
    tag = secrets.token_hex(3)
    clinic = ClinicFactory(organization=org, name=f"Sessions E2E Clinic {tag}", timezone=zone)
    for weekday in range(7):
        OpeningHours.objects.create(organization=org, clinic=clinic, weekday=weekday,
                                    opens=time(0, 0), closes=time(23, 59))
    chair = RoomFactory(clinic=clinic, name="Chair 1", kind=Room.Kind.CHAIR)
    people = {}
    for key, role, first in (("nurse", Role.NURSE, "Nora"), ("second", Role.NURSE, "Sean"),
                             ("prescriber", Role.PRESCRIBER, "Priya")):
        user = UserFactory(organization=org, username=f"{key}{tag}", first_name=first,
                           last_name=f"E2e{tag}")
        people[key] = StaffFactory(organization=org, user=user, roles=[role])
    # Its own MRN: the factory's sequence restarts in every shell, so another journey's patient
    # in the same demo practice may already hold the first one.
    patient = PatientFactory(home_clinic=clinic, legal_given_name="Wren",
                             legal_family_name=f"Okafor{tag}", mrn=f"E2E-S-{tag}")
    practice = SimpleNamespace(org=org, clinic=clinic, patient=patient,
                               staff={Role.NURSE: people["nurse"], Role.PRESCRIBER: people["prescriber"]})
    visit = booked_treatment(practice, "iv")
    Appointment.objects.filter(pk=visit.pk).update(room=chair)
    product, location, lot = stock(practice)
    found = {
        "patient": patient.display_name, "appointment": str(visit.pk), "zone": zone,
        "clinic": clinic.name, "lot": lot.lot_number, "product": product.name,
        "users": {key: s.user.username for key, s in people.items()},
        "names": {key: s.user.get_full_name() for key, s in people.items()},
    }
"""

# Time passing: every time recorded on the session and its rows, `minutes` earlier.
PASS_TIME = """
    from datetime import timedelta
    from django.db.models import DateTimeField, F
    from ketaflow.patients.models import VitalSigns
    from ketaflow.sessions.models import TreatmentSession

    back = timedelta(minutes=int(given["minutes"]))
    session = TreatmentSession.objects.get(pk=given["session"])

    def shift(rows):
        names = [f.name for f in rows.model._meta.concrete_fields if isinstance(f, DateTimeField)]
        return rows.update(**{name: F(name) - back for name in names})

    vitals = VitalSigns.objects.filter(pk__in=list(session.vital_links.values_list("vitals_id", flat=True)))
    found = [shift(vitals)] + [shift(getattr(session, name).all()) for name in
             ("dose_events", "preparations", "vital_links", "alerts", "side_effects", "rescue_doses")]
    found.append(shift(TreatmentSession.objects.filter(pk=session.pk)))
"""


def shoot(page: Any, name: str, size: dict[str, int] = TABLET) -> None:
    """A full-page screenshot of the current page at `size` into SHOTS."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    page.set_viewport_size(size)
    page.screenshot(path=str(SHOTS / f"session-{name}.png"), full_page=True)
    page.set_viewport_size(before)


def pass_time(server: LiveServer, session_id: str, minutes: int) -> None:
    counts = stored(server, PASS_TIME, session=session_id, minutes=str(minutes))
    assert counts[-1] == 1, counts


def clock(zone: ZoneInfo, minutes_ago: int) -> str:
    """The clinic's time of day `minutes_ago`, as typed into a time field (HH:MM)."""
    return (datetime.now(zone) - timedelta(minutes=minutes_ago)).strftime("%H:%M")


def enter_vitals(page: Any, readings: dict[str, str], taken_at: str = "") -> None:
    """Type one row of readings into the vitals section and press Enter, as at the chair."""
    vitals = page.locator("#vitals")
    for label, value in readings.items():
        field(vitals, label).fill(value)
    if taken_at:
        field(vitals, "Taken at").fill(taken_at)
    field(vitals, next(iter(readings))).press("Enter")


def event_form(page: Any) -> Any:
    return page.locator("#dose form", has=page.locator(".event-buttons"))


def record_event(page: Any, button: str, state: str, at: str = "") -> None:
    """Press one of the dose section's event buttons (the time typed, or blank for now) and wait
    until the page says the infusion is in `state`."""
    dose = page.locator("#dose")
    if at:
        field(event_form(page), "At").fill(at)
    event_form(page).get_by_role("button", name=button, exact=True).click()
    expect(dose.locator(".running-total")).to_contain_text(f"· {state}")


def event_times(page: Any) -> dict[str, datetime]:
    """The dose events shown (kind -> time of day), e.g. {"Started": 14:02:00, "Paused": ...}."""
    found = {}
    for line in page.locator("#dose .event-list li").all_inner_texts():
        match = re.match(r"(\d{1,2}:\d\d:\d\d [AP]M)\s+(\w+)", line.strip())
        assert match, line
        found[match.group(2)] = datetime.strptime(match.group(1), "%I:%M:%S %p")
    return found


def check_the_total(page: Any) -> tuple[str, str]:
    """The total shown after stopping is rate x running time x bag concentration, from the events
    on the page: 150 mL/h for (pause - start) + (stop - resume), 41 mg in 100 mL. Returns (mg, mL)."""
    total = page.locator("#dose .running-total")
    match = re.search(
        r"Total given: ([\d.]+) mg \(([\d.]+) mL over ([\d.]+) min\) · stopped", total.inner_text()
    )
    assert match, total.inner_text()
    mg, ml, minutes = (Decimal(g) for g in match.groups())
    at = event_times(page)
    running = (at["Paused"] - at["Started"]) + (at["Stopped"] - at["Resumed"])
    assert abs(minutes - Decimal(running.total_seconds()) / 60) <= Decimal("0.1"), (minutes, at)
    assert 20 <= minutes < 25, f"the infusion ran from the back-dated start to the pause: {minutes} min"
    assert abs(ml - minutes * 150 / 60) <= Decimal("0.15"), (ml, minutes)
    assert abs(mg - ml * Decimal("0.41")) <= Decimal("0.02"), (mg, ml)
    return match.group(1), match.group(2)


def test_a_nurse_gives_an_iv_infusion_answers_a_blood_pressure_alert_and_the_prescriber_signs_the_note(
    page: Any,
    ketaflow_server: LiveServer,
):
    made = stored(ketaflow_server, SETUP)
    zone = ZoneInfo(made["zone"])
    users, names, patient = made["users"], made["names"], made["patient"]
    page.set_viewport_size(TABLET)

    # --- The nurse checks the patient in from today's board ---
    sign_in(page, users["nurse"], PASSWORD)
    page.goto("/sessions/")
    expect(page.locator("h1")).to_have_text("Today's treatments")
    visit = page.locator(f"li[data-appointment='{made['appointment']}']")
    expect(visit).to_contain_text(patient)
    expect(visit).to_contain_text("Booked")
    expect(visit).to_contain_text("Chair 1")
    expect(page.get_by_role("heading", name=made["clinic"])).to_be_visible()
    shoot(page, "board")
    click_and_wait(page, visit.get_by_role("button", name=re.compile("^Check in")))
    session_path = re.sub(r"^https?://[^/]+", "", page.url).split("#")[0]
    assert re.fullmatch(r"/sessions/[0-9a-f-]{36}/", session_path), page.url
    session_id = session_path.strip("/").split("/")[-1]
    title = page.locator("#session-title")
    expect(title).to_contain_text(patient)
    expect(title.locator(".badge")).to_have_text("Checked in")
    expect(page.locator(".dose-summary")).to_contain_text("(41 mg)")
    expect(page.locator("#messages")).to_contain_text(f"{patient} is checked in.")

    # --- Checklist with normal pre-dose vitals: ready to dose ---
    checklist = page.locator("#checklist")
    expect(checklist.locator("#readiness")).to_contain_text(
        "Save the checklist to see whether dosing may start."
    )
    field(checklist, "Fasting confirmed").check()
    field(checklist, "Escort's name").fill(ESCORT)
    field(checklist, "Escort's phone").fill("+1 503 555 0199")
    field(checklist, "Medications taken today").fill("sertraline 100 mg this morning")
    field(checklist, "Pregnancy test").select_option(label="Negative")
    for label, value in (
        ("Systolic (mmHg)", "124"),
        ("Diastolic (mmHg)", "78"),
        ("HR (/min)", "72"),
        ("SpO2 (%)", "98"),
        ("RR (/min)", "14"),
    ):
        field(checklist, label).fill(value)
    field(checklist, "Intention for the session").fill("Notice what comes up without judging it")
    checklist.get_by_role("button", name="Save the checklist").click()
    readiness = page.locator("#readiness")
    expect(readiness).to_contain_text("Ready to dose")
    expect(readiness).to_contain_text("Every item of the checklist is within this protocol's rules.")
    baseline = page.locator("#vitals .vitals-table tbody tr").first
    expect(baseline).to_contain_text("Before dosing")
    expect(baseline).to_contain_text("124/78")
    expect(page.locator("#messages")).to_contain_text("Checklist saved: ready to dose.")

    # --- The dose drawn up: lot, volume, bag, pump rate ---
    dose = page.locator("#dose")
    prep = dose.locator("form", has=page.get_by_role("button", name="Record the preparation"))
    lots = field(prep, "Lot and location")
    lot = lots.locator("option", has_text=f"lot {made['lot']}")
    expect(lot).to_contain_text("5000 mg in Main safe")
    lots.select_option(lot.get_attribute("value"))
    field(prep, "Volume drawn (mL)").fill("0.82")
    field(prep, "Bag volume (mL)").fill("100")
    field(prep, "Pump rate (mL/h)").fill("150")
    prep.get_by_role("button", name="Record the preparation").click()
    prepared = dose.locator(".record-list li").first
    expect(prepared).to_contain_text(f"41 mg from {made['product']}, lot {made['lot']}")
    expect(prepared).to_contain_text("0.82 mL drawn at 50 mg/mL · bag 100 mL · pump 150 mL/h")
    expect(prepared).to_contain_text("Waiting for a second person to verify")
    expect(dose.get_by_role("button", name="Verify (second person)")).to_be_visible()
    expect(dose.get_by_role("button", name="Start the infusion")).to_be_visible()
    expect(dose.locator(".notice--warning")).to_contain_text("Before the first dose:")

    # --- The second nurse verifies it ---
    sign_out(page)
    sign_in(page, users["second"], PASSWORD)
    page.goto(session_path)
    dose.get_by_role("button", name="Verify (second person)").click()
    expect(prepared).to_contain_text(f"Verified by {names['second']}")
    expect(dose.locator(".notice--warning")).to_have_count(0)
    shoot(page, "dose-verified")
    sign_out(page)
    pass_time(ketaflow_server, session_id, 25)

    # --- 25 minutes later the nurse starts the infusion, recorded as started 20 minutes ago ---
    sign_in(page, users["nurse"], PASSWORD)
    page.goto(session_path)
    expect(field(event_form(page), "Pump rate (mL/h)")).to_have_value("150")
    record_event(page, "Start the infusion", "running", at=clock(zone, 20))
    expect(title.locator(".badge")).to_have_text("Dosing")
    expect(dose.locator(".event-list")).to_contain_text("Started at 150 mL/h")
    expect(page.locator("#vitals-timer")).to_contain_text("every 15 min")

    # --- A hypertensive reading raises the alert; the nurse pauses the infusion ---
    banner = page.get_by_role("region", name="Open alerts")
    expect(banner.get_by_role("alert")).to_have_count(0)
    enter_vitals(
        page,
        {
            "Systolic (mmHg)": "196",
            "Diastolic (mmHg)": "98",
            "HR (/min)": "88",
            "SpO2 (%)": "97",
            "RR (/min)": "16",
        },
        taken_at=clock(zone, 5),
    )
    alert = banner.get_by_role("alert")
    expect(alert).to_have_count(1)
    expect(banner.get_by_role("heading")).to_have_text("1 alert needing a response")
    expect(alert).to_contain_text("196 mmHg is high: the limit is 90-180 mmHg.")
    expect(alert).to_contain_text("Source: APA Council of Research consensus")
    expect(page.locator("#vitals .vitals-table tbody tr").first).to_contain_text("196/98")
    shoot(page, "alert")
    shoot(page, "alert-portrait", PORTRAIT)
    page.goto("/sessions/")
    running = page.locator("#running li", has_text=patient)
    expect(running).to_contain_text("1 open alert: respond now")
    expect(running).to_contain_text("Dosing")
    click_and_wait(page, running.get_by_role("link", name="Open the session"))

    field(alert, "Note").fill("Patient calm; prescriber informed")
    alert.get_by_role("button", name="Pause infusion").click()
    expect(banner.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#alert-banner")).not_to_have_class(re.compile("alert-banner--open"))
    expect(dose.locator(".running-total")).to_contain_text("· paused")
    expect(dose.locator(".event-list li").nth(1)).to_contain_text(
        "Paused · Alert: Systolic blood pressure 196"
    )

    # --- Resume, then stop: the total is computed from the events ---
    record_event(page, "Resume", "running")
    record_event(page, "Stop the infusion", "stopped")
    expect(title.locator(".badge")).to_have_text("Recovery")
    expect(dose.get_by_role("button", name="Start the infusion")).to_have_count(0)
    mg, ml = check_the_total(page)
    expect(page.locator(".session-head__given")).to_contain_text(f"Given so far: {mg} mg (stopped)")
    # stopped early, the rest of the bag not yet wasted in the ledger: the reconciliation says so
    expect(dose).to_contain_text("Flagged: cannot be reconciled")

    # --- Recovery: normal readings, the Aldrete, ready to leave after the observation ---
    enter_vitals(
        page,
        {
            "Systolic (mmHg)": "128",
            "Diastolic (mmHg)": "80",
            "HR (/min)": "74",
            "SpO2 (%)": "98",
            "RR (/min)": "14",
        },
    )
    expect(page.locator("#vitals .vitals-table tbody tr").first).to_contain_text("Recovery")
    recovery = page.locator("#recovery")
    expect(recovery).to_contain_text("Minimum observation 30 min")
    for item in recovery.locator(".aldrete-items fieldset").all():
        item.get_by_role("radio", name=re.compile(r"^2: ")).check()
    recovery.get_by_role("button", name="Score the Aldrete").click()
    expect(recovery).to_contain_text(re.compile(r"Last scored .*: 10 of 10"))
    expect(recovery).to_contain_text("Not ready yet")
    expect(recovery.locator(".blocker-list")).to_have_text(
        re.compile(r"^\s*Observe for (29|30) more min: this protocol's minimum is 30 min\.\s*$")
    )
    shoot(page, "recovery")

    pass_time(ketaflow_server, session_id, 31)
    page.reload()
    expect(recovery).to_contain_text("Ready for discharge")
    expect(field(recovery, "Escort at handover")).to_have_value(ESCORT)
    recovery.get_by_role("button", name="Discharge").click()
    expect(recovery).to_contain_text(f"handed over to {ESCORT}.")
    expect(title.locator(".badge")).to_have_text("Discharged")
    expect(page.locator("#note")).to_contain_text("A prescriber signs and locks the note.")
    sign_out(page)

    # --- The prescriber signs the note from the board ---
    sign_in(page, users["prescriber"], PASSWORD)
    page.goto("/sessions/")
    to_sign = page.get_by_role("region", name="Discharged: notes to sign").locator("li", has_text=patient)
    click_and_wait(page, to_sign.get_by_role("link", name="Review and sign"))
    note = page.locator("#note")
    draft = field(note, "Note").input_value()
    assert f"Delivered {mg} mg ({ml} mL)" in draft, draft
    note.get_by_role("button", name="Sign and lock the note").click()
    expect(note).to_contain_text(f"Signed and locked by {names['prescriber']}")
    expect(title.locator(".badge")).to_have_text("Signed")
    signed = note.locator("pre.session-note").inner_text()
    for expected in (
        "Treatment session: IV ketamine for depression",
        "Arithmetic: 0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg",
        f"{made['product']} lot {made['lot']}",
        "0.82 mL = 41 mg, in a 100 mL bag, pump 150 mL/h; verified ",
        f"by {names['second']}.",
        "Started at 150 mL/h",
        "Paused (Alert: Systolic blood pressure 196",
        f"Delivered {mg} mg ({ml} mL)",
        "Systolic blood pressure 196 mmHg is high: the limit is 90-180 mmHg.",
        "Response: paused the infusion (",
        f"{names['nurse']}): Patient calm; prescriber informed",
        "Modified Aldrete 10",
        f"Escort handover: {ESCORT}.",
    ):
        assert expected in signed, f"{expected!r} is not in the signed note:\n{signed}"
    for form in (
        "Save",
        "Record the preparation",
        "Score the Aldrete",
        "Discharge",
        "Sign and lock the note",
    ):
        expect(page.get_by_role("button", name=form, exact=True)).to_have_count(0)
    expect(page.locator("#live-chart")).not_to_have_attribute("hx-get", re.compile("."))
    shoot(page, "signed")
