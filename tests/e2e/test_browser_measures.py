"""Measurement-based care in real Chromium: a patient on a phone endorses PHQ-9 item 9 through a
single-use link, and a clinician sees the alert and acknowledges it with a documented action."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_browser import click_and_wait, demo_password, field, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def a_demo_patient(server: LiveServer) -> tuple[str, str]:
    """(id, MRN) of the demo patient with the lowest MRN, read through the management shell."""
    code = ("from ketaflow.patients.models import Patient; "
            "p = Patient.objects.order_by('mrn').first(); print(p.pk, p.mrn)")
    output = server.deployment.ok("manage", "shell", "-c", code).stdout.split()
    return output[-2], output[-1]


def test_a_patient_on_a_phone_endorses_item_nine_and_the_clinician_acknowledges_the_alert(
    page: Any, chromium: Any, ketaflow_server: LiveServer
):
    patient_id, mrn = a_demo_patient(ketaflow_server)

    # A nurse creates a single-use link for PHQ-9 from the chart and gives it in person.
    sign_in(page, "nurse", demo_password())
    page.goto(f"/patients/{patient_id}/measures/")
    link_form = page.locator("form.measures-link-form")
    link_form.get_by_label("PHQ-9", exact=True).check()
    link_form.get_by_label(re.compile("in person", re.I)).check()
    click_and_wait(page, link_form.get_by_role("button", name="Create the link"))
    url = urlsplit(page.locator("#issued-link").inner_text().strip()).path  # served here, not at BASE_URL
    assert url.startswith("/q/")

    # The patient answers on a phone-sized page: item 9 "More than half the days" (2).
    phone = chromium.new_context(base_url=ketaflow_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        patient_page = phone.new_page()
        patient_page.goto(url)
        expect(patient_page.get_by_text("988").first).to_be_visible()
        assert mrn not in patient_page.content(), "the link page names no patient"
        questions = patient_page.locator("fieldset.question")
        for index in range(8):
            questions.nth(index).get_by_text("Not at all", exact=True).click()
        questions.nth(8).get_by_text("More than half the days", exact=True).click()
        width = patient_page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the form scrolls sideways on a phone ({width}px)"
        with patient_page.expect_navigation():
            patient_page.get_by_role("button", name=re.compile("send my answers", re.I)).click()
        expect(patient_page.get_by_text(re.compile("not read in real time", re.I))).to_be_visible()
        expect(patient_page.get_by_role("link", name=re.compile("988")).first).to_be_visible()
        patient_page.goto(url)
        expect(patient_page.get_by_text(re.compile("expired or has already been used", re.I))).to_be_visible()
    finally:
        phone.close()

    # The prescriber finds the open alert for this patient and acknowledges it with an action.
    page.context.clear_cookies()
    sign_in(page, "np", demo_password())
    page.goto("/measures/?tab=alerts")
    row = page.locator("tr", has_text=mrn).filter(has_text="Open").first
    click_and_wait(page, row.get_by_role("link", name=re.compile("item 9", re.I)))
    expect(page.get_by_text(re.compile("PHQ-9 item 9", re.I)).first).to_be_visible()
    page.get_by_label("Contacted the patient; risk assessed and safety plan reviewed").check()
    field(page, "Note").fill("Called the patient; no plan or intent; safety plan reviewed with them.")
    click_and_wait(page, page.get_by_role("button", name="Acknowledge the alert"))
    expect(page.get_by_text("safety plan reviewed with them")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge the alert")).to_have_count(0)
