"""Issue 5 in real Chromium: from an evaluated patient to a signed plan, a booked induction series and
an accepted estimate.

The demo practice gets a clinic of its own (open Monday to Saturday, three chairs, a prescriber and a
nurse who work there), the default appointment types and price list, and a patient who is weighed
(82 kg), approved for IV and holds a countersigned IV consent, all made with the integration test
factories in the server's management shell. Everything after that is done by the prescriber in the
browser. Screenshots of the plan, the series preview, the calendar day and the estimate at phone and
desktop widths go to SHOTS, for a person to look at.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_browser import CHART_PATH, click_and_wait, field, path_of, sign_in
from tests.e2e.test_browser_evaluation import fits_the_screen, stored

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
PROTOCOL = "IV ketamine for depression"
GOALS = "Back at work part time; PHQ-9 below 10 by the end of induction."

SETUP = """
    import secrets
    from datetime import timedelta
    from types import SimpleNamespace
    from django.utils import timezone
    from ketaflow.accounts.roles import Role
    from ketaflow.billing.defaults import ensure_price_list
    from ketaflow.clinics.models import Organization
    from ketaflow.demo.practice import ORGANIZATION_SLUG
    from tests.factories import ClinicFactory, PatientFactory, StaffFactory, UserFactory
    from tests.integration.plans_factories import ready_patient
    from tests.integration.scheduling_factories import bookable

    org = Organization.objects.get(slug=ORGANIZATION_SLUG)
    tag = secrets.token_hex(3)
    clinic = ClinicFactory(organization=org, name=f"Plans E2E Clinic {tag}", timezone="America/Denver")
    staff = {}
    for role in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST):
        user = UserFactory(organization=org, username=f"{role.value}{tag}",
                           first_name=role.value.title(), last_name=f"E2e{tag}")
        staff[role] = StaffFactory(organization=org, user=user, roles=[role])
    patient = PatientFactory(home_clinic=clinic, legal_given_name="Wren",
                             legal_family_name=f"Halloway{tag}")
    practice = SimpleNamespace(org=org, clinic=clinic, staff=staff, patient=patient)
    place = bookable(practice)
    ensure_price_list(org.pk)
    ready_patient(practice, "iv", weight_kg="82")
    today = timezone.localdate()
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    found = {"patient": str(patient.pk), "name": patient.display_name, "clinic": str(clinic.pk),
             "clinic_name": clinic.name, "prescriber": staff[Role.PRESCRIBER].user.username,
             "chairs": [c.name for c in place.chairs], "monday": monday.isoformat()}
"""

BOOKED = """
    from zoneinfo import ZoneInfo
    from ketaflow.scheduling.models import Appointment
    rows = Appointment.objects.filter(patient_id=given["patient"]).select_related("room", "clinic")
    found = [[a.series_number, a.status, a.phase, a.room.name if a.room else None,
              a.starts_at.astimezone(ZoneInfo(a.clinic.timezone)).isoformat()]
             for a in rows.order_by("starts_at")]
"""


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots of the current page at phone and desktop widths into SHOTS."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(100)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(before)


def us_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")


# --- 2. The plan ---------------------------------------------------------------------------------

def write_and_sign_the_plan(page: Any, chart: str, monday: date) -> str:
    """As the prescriber: Plan tab -> New plan -> draft -> sign; returns the plan page's path."""
    page.goto(chart)
    click_and_wait(page, page.get_by_role("link", name="Plan", exact=True))
    expect(page.get_by_text("No open treatment plan.")).to_be_visible()
    click_and_wait(page, page.get_by_role("link", name="New plan"))

    option = page.locator("label.protocol-option", has_text=PROTOCOL)
    expect(option).to_contain_text("Route approved")
    with page.expect_response(lambda r: "/preview/" in r.url):
        option.get_by_role("radio").check()
    preview = page.get_by_role("region", name="Dose preview")
    expect(preview).to_contain_text("0.5 mg/kg x 82.0 kg")
    expect(preview).to_contain_text("41 mg")
    expect(preview.get_by_role("list", name="Arithmetic")).to_contain_text("82.0 kg")
    field(page, "Condition treated").select_option(index=1)
    field(page, "Start date").fill(monday.isoformat())
    field(page, "Goals agreed with the patient").fill(GOALS)
    click_and_wait(page, page.get_by_role("button", name="Save the draft plan"))
    assert page.locator(".error-summary").count() == 0, page.locator("main").inner_text()[:2000]

    expect(page.locator("h1")).to_contain_text(PROTOCOL)
    expect(page.get_by_role("region", name="Sign the plan")).to_contain_text("Ready")
    click_and_wait(page, page.get_by_role("button", name="Sign the plan"))
    details = page.locator("dl.details-list")
    expect(details).to_contain_text(re.compile(r"Signed\s+by"))
    expect(details).to_contain_text(f"Induction since {us_date(monday)}")
    expect(details).to_contain_text(GOALS)
    dose = page.get_by_role("region", name="Dose")
    expect(dose.locator(".dose-summary")).to_contain_text("41 mg")
    expect(dose.get_by_role("list", name="Arithmetic")).to_contain_text("0.5 mg/kg x 82.0 kg")
    return path_of(page)


# --- 3. The induction series --------------------------------------------------------------------

def book_the_series(page: Any, monday: date, chairs: list[str]) -> list[str]:
    """From the plan page: preview the series and book it; returns the proposed dates as shown."""
    click_and_wait(page, page.get_by_role("link", name="Book the induction series"))
    expect(page.locator("h1")).to_contain_text(PROTOCOL)
    proposed = page.get_by_role("region", name=re.compile("sessions? proposed"))
    expect(proposed.get_by_role("heading")).to_have_text(re.compile(r"^Induction: 6 sessions proposed"))
    rows = proposed.locator("tbody tr")
    expect(rows).to_have_count(6)
    dates = rows.locator("td[data-label=Proposed]").all_inner_texts()
    assert dates[0].startswith(monday.strftime("%a %d %b %Y")), dates
    days = [date.fromisoformat(_iso(d)) for d in dates]
    assert days == sorted(days) and len(set(days)) == 6, dates
    assert days[-1] - days[0] <= timedelta(days=21), f"six infusions over more than 3 weeks: {dates}"
    assert all(d.weekday() < 6 for d in days), f"a session on a Sunday: {dates}"
    assert set(rows.locator("td[data-label=Chair]").all_inner_texts()) <= set(chairs)
    shoot(page, "series-preview")

    click_and_wait(page, page.get_by_role("button", name="Book all 6"))
    expect(page.get_by_role("heading", name="Booked 6 sessions")).to_be_visible()
    return dates


def _iso(shown: str) -> str:
    """'Mon 02 Mar 2026 09:00' -> '2026-03-02'."""
    return datetime.strptime(" ".join(shown.split()[:4]), "%a %d %b %Y").date().isoformat()


def check_the_appointments_tab(page: Any, chart: str, dates: list[str]) -> None:
    page.goto(chart)
    click_and_wait(page, page.get_by_role("link", name="Appointments", exact=True))
    upcoming = page.get_by_role("list", name="Upcoming appointments, soonest first")
    items = upcoming.locator(":scope > li")
    expect(items).to_have_count(6)
    for number, (item, shown) in enumerate(zip(items.all(), dates, strict=True), start=1):
        day = date.fromisoformat(_iso(shown))
        expect(item).to_contain_text(day.strftime("%a %m/%d/%Y"))
        expect(item).to_contain_text("Booked")
        expect(item).to_contain_text(f"Session {number} of induction")


def check_the_calendar_day(page: Any, clinic: str, monday: date, name: str, chair: str) -> None:
    page.goto(f"/schedule/calendar/?clinic={clinic}&date={monday.isoformat()}")
    expect(page.locator("h1")).to_contain_text(monday.strftime("%A, %B %-d, %Y"))
    expect(page.get_by_text("1 appointment.")).to_be_visible()
    grid = page.locator("table.cal-day")
    headers = grid.locator("thead th").all_inner_texts()
    column = next(i for i, h in enumerate(headers) if h.startswith(chair))
    booked = grid.locator(f"tbody td:has-text('{name}')")
    expect(booked).to_have_count(1)
    assert booked.evaluate("td => td.cellIndex") == column, (
        f"the session is not in the {chair} column: {headers}")
    shoot(page, "calendar-day")


# --- 4. The estimate ----------------------------------------------------------------------------

def accept_the_estimate(page: Any, plan: str) -> None:
    page.goto(plan)
    click_and_wait(page, page.get_by_role("link", name="Estimate"))
    expect(page.locator("h1")).to_have_text(f"Estimate for {PROTOCOL}")
    now = page.get_by_role("region", name=re.compile("^What the induction would cost now"))
    package = now.locator("tbody tr", has_text="6 IV infusions")
    expect(package.locator("td[data-label=Quantity]")).to_have_text("1")
    expect(package.locator("td[data-label=Amount]")).to_have_text("$2,700.00")
    expect(now.locator("tfoot tr", has_text="Total")).to_contain_text("$2,700.00")
    expect(now).to_contain_text(re.compile(r"Package saving:\s*\$300\.00"))
    click_and_wait(page, now.get_by_role("button", name="Save this estimate for the patient"))

    saved = page.get_by_role("region", name=re.compile(r"^Estimates made \(1\)"))
    card = saved.get_by_role("article")
    expect(card).to_contain_text("Not accepted yet")
    expect(card.locator("tfoot tr", has_text="Total")).to_contain_text("$2,700.00")
    click_and_wait(page, card.get_by_role("button", name="The patient accepts this estimate"))
    card = page.get_by_role("region", name=re.compile(r"^Estimates made")).get_by_role("article")
    expect(card).to_contain_text(re.compile(r"Accepted \d\d/\d\d/\d{4}"))
    expect(card.get_by_role("button", name="The patient accepts this estimate")).to_have_count(0)
    shoot(page, "estimate")


# --- The journey --------------------------------------------------------------------------------

def test_a_prescriber_signs_an_iv_plan_books_the_six_infusions_and_the_patient_accepts_the_estimate(
    page: Any, ketaflow_server: LiveServer,
):
    made = stored(ketaflow_server, SETUP)
    monday = date.fromisoformat(made["monday"])
    chart = f"/patients/{made['patient']}/"
    assert CHART_PATH.match(chart)

    sign_in(page, made["prescriber"], PASSWORD)
    plan = write_and_sign_the_plan(page, chart, monday)
    shoot(page, "plan")

    dates = book_the_series(page, monday, made["chairs"])
    booked = stored(ketaflow_server, BOOKED, patient=made["patient"])
    assert [row[:3] for row in booked] == [[n, "booked", "induction"] for n in range(1, 7)]
    assert [row[4][:10] for row in booked] == [_iso(d) for d in dates]
    check_the_appointments_tab(page, chart, dates)
    check_the_calendar_day(page, made["clinic"], monday, made["name"], booked[0][3])

    accept_the_estimate(page, plan)
    page.set_viewport_size(PHONE)
    for path in (plan, f"/schedule/plans/{plan.split('/')[2]}/series/"):
        page.goto(path)
        fits_the_screen(page)
