"""Staff journeys in real Chromium against the real server (the demo practice).

The pages are found the way a person finds them: by label text, button and link names, and the
two agreed ids (#temporary-password, #totp-secret).
"""

from __future__ import annotations

import re
import secrets
import string
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Deployment
from tests.e2e.web_client import fresh_totp

pytestmark = pytest.mark.browser

LOGIN_PATH = "/account/login/"
TWO_FACTOR_SETUP_PATH = "/account/two-factor/setup/"
TWO_FACTOR_VERIFY_PATH = "/account/two-factor/verify/"
PASSWORD_CHANGE_PATH = "/account/password/"
CHART_PATH = re.compile(r"^/patients/[0-9a-f-]{36}/$")


def demo_password() -> str:
    from ketaflow.demo.loader import DEMO_PASSWORD

    return DEMO_PASSWORD


def field(page: Any, label: str) -> Any:
    """The form control labelled exactly `label` (a "(required)" marker after it is allowed)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}(\s*\(required\))?\s*$", re.I))


def path_of(page: Any) -> str:
    return urlsplit(page.url).path


def click_and_wait(page: Any, locator: Any) -> Any:
    """Click something that loads a new page; returns that page's response."""
    with page.expect_navigation() as navigation:
        locator.click()
    return navigation.value


def submit_login(page: Any, username: str, password: str) -> Any:
    """Open the sign-in page, fill the form and submit it; returns the response to the POST."""
    page.goto(LOGIN_PATH)
    field(page, "Username").fill(username)
    field(page, "Password").fill(password)
    with page.expect_navigation() as navigation:
        field(page, "Password").press("Enter")
    return navigation.value


def sign_in(page: Any, username: str, password: str) -> None:
    submit_login(page, username, password)
    assert path_of(page) != LOGIN_PATH, f"sign-in as {username!r} was refused"


def sign_out_button(page: Any) -> Any:
    """The "Sign out" button, with the menu around it opened if it sits in a closed one."""
    anywhere = page.get_by_role("button", name="Sign out", include_hidden=True)
    expect(anywhere).to_have_count(1)
    if not anywhere.is_visible():
        page.locator("details", has=anywhere).locator("summary").first.click()
    button = page.get_by_role("button", name="Sign out")
    expect(button).to_be_visible()
    return button


def sign_out(page: Any) -> None:
    click_and_wait(page, sign_out_button(page))
    assert path_of(page) == LOGIN_PATH


# --- Patients ------------------------------------------------------------------------------------

def chart_links(page: Any) -> list[str]:
    """The paths of every link on the page that opens a patient's chart, in page order."""
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    return [path for path in (urlsplit(href).path for href in hrefs) if CHART_PATH.match(path)]


def search_patients(page: Any, query: str) -> tuple[list[str], list[str]]:
    """Type `query` into "Search patients" on the patient list and submit it.

    Returns (charts listed before searching, charts listed for the query). Works whether the page
    reloads or swaps its results in place.
    """
    page.goto("/patients/")
    unfiltered = chart_links(page)
    box = field(page, "Search patients")
    box.fill(query)
    box.press("Enter")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page.wait_for_load_state("networkidle")
        if chart_links(page) != unfiltered:
            break
        time.sleep(0.1)
    return unfiltered, chart_links(page)


def test_owner_registers_a_patient_then_finds_them_by_name_and_birth_date_and_opens_the_chart(
    page: Any,
):
    given = "Marisol"
    family = "Quennell" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
    birth_date = "1961-02-27"

    sign_in(page, "owner", demo_password())
    assert path_of(page) == "/"
    click_and_wait(page, page.get_by_role("link", name="Patients", exact=True).first)
    assert path_of(page) == "/patients/"
    click_and_wait(page, page.get_by_role("link", name=re.compile(
        r"register|new patient|add patient", re.IGNORECASE)).first)
    field(page, "Legal first name").fill(given)
    field(page, "Legal last name").fill(family)
    field(page, "Date of birth").fill(birth_date)
    clinic = field(page, "Home clinic")
    clinic.select_option(index=1)
    field(page, "Mobile phone").fill("(503) 555-0187")
    click_and_wait(page, page.get_by_role("button", name="Register patient"))
    assert page.get_by_role("button", name="Register patient").count() == 0, (
        "the registration form came back: " + page.locator("main").inner_text()[:2000]
    )
    chart = path_of(page)
    assert CHART_PATH.match(chart), f"registering led to {page.url}, not the new chart"

    for query in (f"{given} {family}", family):
        _, found = search_patients(page, query)
        assert found == [chart], f"searching {query!r} listed {found}"
    unfiltered, found = search_patients(page, birth_date)
    assert chart in found, f"searching {birth_date!r} did not list the patient"
    assert len(found) < len(unfiltered), "searching by date of birth did not narrow the list"

    click_and_wait(page, page.locator(f'a[href="{chart}"]').first)
    assert path_of(page) == chart
    heading = page.locator("h1").first.inner_text()
    assert given in heading
    assert family in heading


# --- Staff -------------------------------------------------------------------------------------

def finish_first_sign_in(page: Any, temporary_password: str, new_password: str) -> list[str]:
    """Complete whichever forced step appears (two-factor set-up, new password) until neither does.

    Returns the forced pages met, in order.
    """
    met: list[str] = []
    for _ in range(4):
        path = path_of(page)
        if path == TWO_FACTOR_SETUP_PATH:
            secret = page.locator("#totp-secret").inner_text()
            field(page, "6-digit code").fill(fresh_totp(secret))
            click_and_wait(page, page.get_by_role("button", name="Turn on two-factor"))
        elif path == PASSWORD_CHANGE_PATH:
            field(page, "Current password").fill(temporary_password)
            field(page, "New password").fill(new_password)
            field(page, "Confirm password").fill(new_password)
            click_and_wait(page, page.get_by_role("button", name="Change password"))
        else:
            return met
        if path_of(page) == path:
            raise AssertionError(f"{path} refused the step: {page.locator('main').inner_text()[:1500]}")
        met.append(path)
    return met


def test_owner_adds_a_nurse_who_must_set_a_password_and_two_factor_and_cannot_manage_staff(
    page: Any,
):
    username = f"nurse{secrets.token_hex(3)}"
    sign_in(page, "owner", demo_password())
    page.goto("/staff/new/")
    field(page, "Username").fill(username)
    field(page, "First name").fill("Rowan")
    field(page, "Last name").fill("Ellery")
    field(page, "Email").fill(f"{username}@clinic.example.org")
    field(page, "Nurse").check()
    click_and_wait(page, page.get_by_role("button", name="Add staff member"))
    temporary = page.locator("#temporary-password")
    assert temporary.count() == 1, "no #temporary-password: " + page.locator("main").inner_text()[:2000]
    temporary_password = temporary.inner_text().strip()
    assert len(temporary_password) >= 12
    sign_out(page)

    sign_in(page, username, temporary_password)
    new_password = f"Tidepool-{secrets.token_urlsafe(10)}"
    forced = finish_first_sign_in(page, temporary_password, new_password)

    assert sorted(forced) == sorted([TWO_FACTOR_SETUP_PATH, PASSWORD_CHANGE_PATH])
    assert path_of(page) == "/"
    staff_list = page.goto("/staff/")
    assert staff_list is not None
    assert staff_list.status == 403
    expect(sign_out_button(page)).to_be_visible()

    sign_out(page)
    sign_in(page, username, new_password)
    assert path_of(page) == TWO_FACTOR_VERIFY_PATH, "the second sign-in did not ask for a code"


# --- Lock-out ----------------------------------------------------------------------------------

def wrong_password_attempts(page: Any, username: str) -> list[tuple[int, str]]:
    """Five wrong passwords for `username`; (status, page text) after each."""
    seen = []
    for attempt in range(5):
        response = submit_login(page, username, f"not-the-password-{attempt}")
        seen.append((response.status, page.locator("main").inner_text()))
    return seen


def test_five_wrong_passwords_lock_the_account_out_without_revealing_whether_it_exists(
    page: Any, deployment: Deployment,
):
    existing = next(name for name in deployment.demo_logins if name != "owner")
    unknown = f"ghost{secrets.token_hex(3)}"

    attempts = wrong_password_attempts(page, existing)
    right_password_while_locked = submit_login(page, existing, demo_password())
    still_locked_text = page.locator("main").inner_text()
    unknown_attempts = wrong_password_attempts(page, unknown)

    refused, (locked_status, locked_text) = attempts[:4], attempts[4]
    assert [status for status, _ in refused] == [200] * 4
    assert all(text == refused[0][1] for _, text in refused)
    assert locked_status in {403, 429}, f"the fifth wrong password was answered {locked_status}"
    assert re.search(r"locked|too many", locked_text, re.IGNORECASE), locked_text
    assert right_password_while_locked.status == locked_status
    assert path_of(page) == LOGIN_PATH
    assert still_locked_text == locked_text
    assert unknown_attempts == attempts, "an unknown username is answered differently"
