"""The evaluation pathway in real Chromium, from the practice's public page to a signed consent.

One person's journey through the real server (the demo practice): they answer the self-screen on a
phone and leave their details; the front desk registers the lead as a patient; the intake link is
given in person; the patient completes the intake on a phone; a prescriber records vital signs and
signs the IV infusion decision; the patient signs the IV consent on the clinic's tablet and the
prescriber countersigns it. What the people see is checked on the pages, what is stored through the
server's management shell.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import textwrap
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_browser import CHART_PATH, click_and_wait, demo_password, field, path_of, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
BIRTH_DATE = ("03", "09", "1984")
CLINIC = "Harbor Ketamine — Portland"  # the nurse and the NP of the demo work here
NOT_ELIGIBLE_WITHOUT_REASON = ("Needs review", "Not eligible")


def stored(server: LiveServer, code: str, **given: str) -> Any:
    """Run `code` in the server's management shell and return `found`, which it must set (JSON-able).

    The keyword arguments reach the code as the dict `given`.
    """
    program = (f"import json\ngiven = json.loads({json.dumps(given)!r})\n{textwrap.dedent(code)}\n"
               "print(json.dumps(found))")
    output = server.deployment.ok("manage", "shell", "-c", program).stdout
    return json.loads(output.strip().splitlines()[-1])


LEAD = """
    from ketaflow.enquiries.models import Lead
    lead = Lead.objects.select_related("preferred_clinic").get(name=given["name"])
    found = [lead.outcome, lead.red_flags, lead.consent_to_contact, lead.status, lead.phone,
             lead.preferred_clinic.name]
"""
INTAKE = """
    from ketaflow.enquiries.models import Lead
    from ketaflow.intake.models import Intake
    from ketaflow.patients.models import Medication
    intake = Intake.objects.get(patient_id=given["patient"])
    lead = Lead.objects.get(name=given["name"])
    found = {
        "intake": [intake.status, intake.channel, intake.submitted_at is not None],
        "medications": [[m.name, m.catalogue_id, m.source, m.status]
                        for m in Medication.objects.filter(patient_id=given["patient"])],
        "lead": [lead.status, str(lead.patient_id)],
    }
"""
SIGNED = """
    from ketaflow.consent.models import Consent
    from ketaflow.consent.text import text_hash
    from ketaflow.eligibility.models import EligibilityDecision
    from ketaflow.patients.models import VitalSigns
    consent = Consent.objects.select_related("template").get(patient_id=given["patient"], route="iv")
    decision = EligibilityDecision.objects.get(patient_id=given["patient"], route="iv")
    found = {
        "consent": [consent.status, consent.channel, consent.typed_name, consent.signed_at is not None,
                    consent.countersigned_at is not None, consent.text_hash == text_hash(consent.template),
                    bool(consent.signature_png)],
        "decision": [decision.decision, decision.status, decision.assessed_status,
                     bool(decision.override_reason)],
        "vitals": [[v.systolic_bp, v.diastolic_bp]
                   for v in VitalSigns.objects.filter(patient_id=given["patient"])],
    }
"""


def fits_the_screen(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} scrolls sideways ({width}px)"


def question(page: Any, text: str) -> Any:
    """The question (a fieldset) whose legend contains `text`."""
    return page.get_by_role("group", name=re.compile(re.escape(text)))


def answer(page: Any, text: str, choice: str) -> None:
    question(page, text).get_by_label(choice, exact=True).check()


# --- 1. The self-screen ------------------------------------------------------------------------

SELF_SCREEN = [  # no red flag anywhere
    ("How old are you?", "18 to 64"),
    ("What would you like help with?", "Depression"),
    ("How many different antidepressant medicines", "Three or more"),
    ("Which of these have you tried?", "Talk therapy, such as counselling or CBT"),
    ("Are you pregnant", "No"),
    ("schizophrenia, or had psychosis", "No"),
    ("high blood pressure that is not well controlled", "No"),
    ("Have you ever had an aneurysm", "No"),
    ("allergic reaction to ketamine", "No"),
    ("drinking alcohol or using drugs", "No"),
    ("thoughts of ending your life", "No"),
]


def answer_the_self_screen_and_leave_details(phone: Any, slug: str, name: str) -> None:
    phone.goto(f"/c/{slug}/")
    fits_the_screen(phone)
    click_and_wait(phone, phone.get_by_role("link", name="Start the questions"))
    expect(phone.locator("h1")).to_have_text("Is ketamine therapy right for me?")
    for text, choice in SELF_SCREEN:
        answer(phone, text, choice)
    fits_the_screen(phone)
    click_and_wait(phone, phone.get_by_role("button", name="See my result"))

    expect(phone.locator("h1")).to_have_text("Book a consultation")
    expect(phone.get_by_text(re.compile("Nothing in your answers suggests you need"))).to_be_visible()
    details = phone.get_by_role("heading", name="Leave your details and we will call you to book")
    expect(details).to_be_visible()
    field(phone, "Your name").fill(name)
    field(phone, "Phone number").fill("(503) 555-0164")
    field(phone, "Email address").fill("oriel.e2e@example.org")
    field(phone, "Which clinic suits you best?").select_option(label=CLINIC)
    phone.get_by_label("I agree that the clinic may contact me about booking a consultation.").check()
    fits_the_screen(phone)
    click_and_wait(phone, phone.get_by_role("button", name="Send my details"))
    expect(phone.locator("h1")).to_have_text("Thank you, your details have been sent.")
    expect(phone.get_by_role("link", name=re.compile("988")).first).to_be_visible()


# --- 2. The front desk registers the lead ---------------------------------------------------------

def register_the_lead(page: Any, name: str, given: str, family: str) -> str:
    """As the front desk: find the lead, check it, register it; returns the chart's path."""
    sign_in(page, "frontdesk", demo_password())
    click_and_wait(page, page.get_by_role("link", name="Leads", exact=True).first)
    assert path_of(page) == "/leads/"
    row = page.locator("tr", has=page.get_by_role("link", name=name))
    expect(row).to_contain_text("Book a consultation")
    expect(row).to_contain_text("(503) 555-0164")
    click_and_wait(page, row.get_by_role("link", name=name))
    expect(page.get_by_role("heading", name="Self-screen result: Book a consultation")).to_be_visible()
    expect(page.get_by_text("Agreed to be contacted about booking a consultation")).to_be_visible()
    expect(page.locator(".lead-answers")).to_contain_text("Three or more")

    click_and_wait(page, page.get_by_role("link", name="Register as patient"))
    expect(field(page, "Legal first name")).to_have_value(given)
    expect(field(page, "Legal last name")).to_have_value(family)
    expect(field(page, "Mobile phone")).to_have_value("(503) 555-0164")
    expect(field(page, "Email")).to_have_value("oriel.e2e@example.org")
    expect(field(page, "Home clinic").locator("option:checked")).to_have_text(CLINIC)
    field(page, "Date of birth").fill("-".join((BIRTH_DATE[2], BIRTH_DATE[0], BIRTH_DATE[1])))
    field(page, "Sex assigned at birth").select_option(label="Female")
    click_and_wait(page, page.get_by_role("button", name="Register patient"))

    chart = path_of(page)
    assert CHART_PATH.match(chart), f"registering did not open the chart: {page.locator('main').inner_text()}"
    expect(page.get_by_text("The patient is registered and the lead is marked as registered")).to_be_visible()
    expect(page.locator("h1").first).to_have_text(name)
    identity = page.get_by_role("region", name="Identity")
    expect(identity).to_contain_text("03/09/1984")
    expect(identity).to_contain_text("Female")
    return chart


# --- 3. The intake link, given in person ----------------------------------------------------------

def give_the_intake_link_in_person(page: Any, chart: str) -> str:
    """As the front desk (signed in), from the chart's Intake tab; returns the link's path (BASE_URL
    may name another host)."""
    page.goto(chart)
    click_and_wait(page, page.get_by_role("link", name="Intake", exact=True))
    expect(page.get_by_text("No intake form has been sent to this patient.")).to_be_visible()
    page.get_by_label(re.compile(r"^\s*In person")).check()
    click_and_wait(page, page.get_by_role("button", name="Send the intake link"))
    expect(page.get_by_text("Give this link to the patient now; it is shown only this once.")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of the intake link")).to_be_visible()
    expect(page.get_by_text("Link given in person")).to_be_visible()
    link = urlsplit(page.locator("#intake-issued-link").inner_text().strip()).path
    assert re.fullmatch(r"/intake/[\w-]{20,}/", link), link
    return link


# --- 4. The patient completes the intake on a phone -----------------------------------------------

def save_the_page(phone: Any, next_title: str) -> None:
    save = phone.get_by_role("button", name=re.compile(r"^Save and (continue|check my answers)$"))
    click_and_wait(phone, save)
    problems = phone.locator(".error-summary")
    assert problems.count() == 0, f"{phone.url} was refused: {problems.inner_text()}"
    expect(phone.locator("h1")).to_have_text(next_title)
    fits_the_screen(phone)


def complete_the_intake(phone: Any, link: str, name: str) -> None:
    phone.goto(link)
    expect(phone.locator("h1")).to_have_text("Your health form")
    assert name not in phone.content(), "the link names the patient before the date of birth is confirmed"
    month, day, year = BIRTH_DATE
    field(phone, "Month").fill(month)
    field(phone, "Day").fill(day)
    field(phone, "Year").fill(year)
    click_and_wait(phone, phone.get_by_role("button", name="Continue"))
    expect(phone.get_by_role("heading", name="0 of 9 pages done")).to_be_visible()
    fits_the_screen(phone)
    click_and_wait(phone, phone.get_by_role("link", name="Start", exact=True))

    expect(phone.locator("h1")).to_have_text("About you")
    record = phone.get_by_role("region", name="On your clinic's record")
    expect(record).to_contain_text(name)
    expect(record).to_contain_text("March 9, 1984")
    expect(field(phone, "Email address")).to_have_value("oriel.e2e@example.org")
    field(phone, "City or town").fill("Portland")
    save_the_page(phone, "Mental health")

    question(phone, "Has a doctor or therapist ever told you").get_by_label("Depression", exact=True).check()
    answer(phone, "told you that you have bipolar disorder", "No")
    answer(phone, "schizophrenia or another psychotic illness?", "No")
    answer(phone, "stayed in hospital for your mental health", "No")
    field(phone, "What are the main difficulties you have now?").fill("Low mood most days and poor sleep.")
    for item in ("1. Have you wished you were dead", "2. Have you actually had any thoughts",
                 "6. Have you ever done anything"):
        answer(phone, item, "No")
    save_the_page(phone, "Physical health")

    for condition in ("Heart disease", "High blood pressure", "An aneurysm", "Bleeding in the brain",
                      "arteriovenous malformation", "A serious head injury",
                      "Raised pressure inside the head", "Glaucoma", "Liver disease", "Seizures",
                      "Breathing problems"):
        answer(phone, condition, "No")
    field(phone, "Your height").fill("65")
    field(phone, "Your weight").fill("150")
    save_the_page(phone, "Medications and allergies")

    first = phone.get_by_role("group", name="Your medications, row 1")
    first.get_by_label("Medicine").fill("Zoloft 50 mg")
    first.get_by_label("Dose and how often").fill("Once a day")
    phone.get_by_label("I have no known allergies").check()
    answer(phone, "reaction to ketamine or esketamine", "No")
    save_the_page(phone, "Treatments you have tried")

    trials = [("Sertraline", "12", "Partly"), ("Fluoxetine", "8", "No"), ("Escitalopram", "10", "No")]
    for number, (medicine, weeks, helped) in enumerate(trials, start=1):
        row = phone.get_by_role("group", name=f"Antidepressants you have taken, row {number}")
        row.get_by_label("Medicine").fill(medicine)
        row.get_by_label("Weeks taken").fill(weeks)
        row.get_by_label("At the full dose your prescriber intended?").select_option(label="Yes")
        row.get_by_label("Did it help?").select_option(label=helped)
    answer(phone, "talking therapy", "Yes")
    answer(phone, "seeing a therapist now", "No")
    answer(phone, "electroconvulsive therapy", "No")
    answer(phone, "transcranial magnetic stimulation", "No")
    answer(phone, "ketamine or esketamine (Spravato) as a treatment before", "No")
    save_the_page(phone, "Alcohol and drugs")

    answer(phone, "How often do you have a drink containing alcohol?", "Monthly or less")
    answer(phone, "on a typical day when you are drinking", "1 or 2")
    answer(phone, "six or more drinks on one occasion", "Never")
    answer(phone, "Is alcohol causing problems", "No")
    answer(phone, "How often do you use cannabis", "Never")
    answer(phone, "street drugs", "No")
    answer(phone, "ever had a problem with alcohol or drugs", "No")
    save_the_page(phone, "Pregnancy and breastfeeding")

    answer(phone, "Are you pregnant", "No")
    answer(phone, "Are you breastfeeding?", "No")
    answer(phone, "planning a pregnancy", "No")
    answer(phone, "Do you use contraception?", "Yes")
    field(phone, "Which kind?").fill("IUD")
    save_the_page(phone, "Support at home")

    answer(phone, "responsible adult be with you", "Yes")
    answer(phone, "blood-pressure monitor", "Yes")
    answer(phone, "could someone drive you home", "Yes")
    save_the_page(phone, "Your goals")

    field(phone, "What would you most like treatment to help with?").fill("Feeling like myself again.")
    field(phone, "What would a good result look like for you in three months?").fill("Back at work.")
    save_the_page(phone, "Check your answers")

    medications = phone.get_by_role("region", name="Medications and allergies")
    expect(medications).to_contain_text("Zoloft 50 mg · Once a day")
    expect(phone.get_by_text(re.compile(r"Antidepressant trials at the full dose .*: 3\."))).to_be_visible()
    click_and_wait(phone, phone.get_by_role("button", name="Send my answers"))
    expect(phone.locator("h1")).to_have_text("Thank you, your answers have been sent.")
    phone.goto(link)
    expect(phone.get_by_text(re.compile("expired or has already been used", re.I))).to_be_visible()


# --- 5. The prescriber: vital signs and the IV decision -------------------------------------------

def save_htmx(page: Any, button: Any, url_part: str) -> None:
    """Click a button whose form posts through HTMX into the chart body, and wait for the swap."""
    with page.expect_response(lambda answer: url_part in answer.url and answer.request.method == "POST"):
        button.click()
    page.wait_for_load_state("networkidle")


def record_vital_signs(page: Any, chart: str) -> None:
    page.goto(chart)
    click_and_wait(page, page.get_by_role("link", name="Evaluation", exact=True))
    medications = page.locator("#medications")
    expect(medications).to_contain_text("Zoloft 50 mg")
    expect(medications).to_contain_text("Reported by the patient")

    vitals = page.locator("#vitals")
    expect(vitals).to_contain_text("No vital signs recorded yet.")
    field(vitals, "Systolic blood pressure (mmHg)").fill("400")
    field(vitals, "Diastolic blood pressure (mmHg)").fill("82")
    field(vitals, "Heart rate (/min)").fill("72")
    save_htmx(page, vitals.get_by_role("button", name="Save vital signs"), "/vitals/")
    systolic = field(vitals, "Systolic blood pressure (mmHg)")
    expect(systolic).to_have_attribute("aria-invalid", "true")
    beside = vitals.locator(".field--error", has=field(page, "Systolic blood pressure (mmHg)"))
    expect(beside).to_contain_text("400 mmHg is not possible")
    expect(vitals).to_contain_text("No vital signs recorded yet.")

    systolic.fill("128")
    field(vitals, "Weight (kg)").fill("68")
    field(vitals, "Height (cm)").fill("165")
    save_htmx(page, vitals.get_by_role("button", name="Save vital signs"), "/vitals/")
    expect(vitals).to_contain_text("128/82 mmHg")
    expect(vitals).to_contain_text("25.0 kg/m²")
    expect(vitals.locator(".field--error")).to_have_count(0)


def sign_the_iv_decision(page: Any) -> str:
    """Approve IV infusion on the Eligibility tab; returns the status the route was assessed as."""
    click_and_wait(page, page.get_by_role("link", name="Eligibility", exact=True))
    card = page.locator("#route-iv")
    heading = card.get_by_role("heading", name=re.compile("^IV infusion"))
    expect(heading).to_be_visible()
    status = card.locator("h3 .badge").inner_text().strip(" ?!\u2713\u2715")
    assert status in ("Eligible", "Eligible with cautions", *NOT_ELIGIBLE_WITHOUT_REASON), status
    expect(card.get_by_text(re.compile(r"^Source: ")).first).to_be_visible()
    expect(card.locator("li", has_text="Ask:").or_(card.get_by_text("Facts read:")).first).to_be_visible()
    expect(card).to_contain_text("No decision signed for this route.")

    card.get_by_label("Approve this route").check()
    sign = card.get_by_role("button", name="Sign decision for IV infusion")
    reason = card.get_by_label("Reason")
    if status in NOT_ELIGIBLE_WITHOUT_REASON:
        save_htmx(page, sign, "/iv/sign/")
        expect(card.get_by_text("There is a problem; nothing was signed")).to_be_visible()
        expect(reason).to_have_attribute("aria-invalid", "true")
        expect(card.locator(".field--error", has=page.get_by_label("Reason"))).to_contain_text("write why")
        expect(card.get_by_label("Approve this route")).to_be_checked()
        expect(card).to_contain_text("No decision signed for this route.")
    reason.fill("BP 128/82 today; no liver disease or psychosis by history. ECG before the first dose.")
    save_htmx(page, sign, "/iv/sign/")
    expect(card).to_contain_text("Approved by")
    expect(card).to_contain_text("ECG before the first dose.")
    return status


# --- 6. Consent, signed on the clinic's tablet ------------------------------------------------------

def consent_on_the_tablet(page: Any, chart: str, name: str) -> None:
    page.goto(chart)
    click_and_wait(page, page.get_by_role("link", name="Consent", exact=True))
    iv = page.locator("#consent-iv")
    expect(iv).to_contain_text("No consent requested yet.")
    click_and_wait(page, iv.get_by_role("button", name=re.compile(r"^Request IV infusion consent")))
    expect(page.get_by_text(re.compile(r"IV infusion consent requested \(version \d+\)"))).to_be_visible()
    expect(iv).to_contain_text("waiting for the patient's signature")

    click_and_wait(page, iv.get_by_role("link", name="Sign on this tablet"))
    expect(page.locator("h1")).to_have_text(re.compile("IV infusion"))
    assert page.get_by_role("link", name="Leads").count() == 0, "the signing page shows the staff navigation"
    assert page.get_by_role("button", name="Sign out", include_hidden=True).count() == 0
    fits_the_screen(page)
    field(page, "Type your full name").fill(name)
    pad = page.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    left, middle = box["x"] + 40, box["y"] + box["height"] / 2
    page.mouse.move(left, middle)
    page.mouse.down()
    for step in range(1, 10):  # a zigzag
        page.mouse.move(left + step * 30, middle + (step % 2) * 30, steps=3)
    page.mouse.up()
    page.get_by_label("I have read this consent form and I agree to it").check()
    click_and_wait(page, page.get_by_role("button", name="Sign the consent form"))
    expect(page.locator("h1")).to_have_text(re.compile("please hand the device back"))

    click_and_wait(page, page.get_by_role("link", name="Staff: back to the chart"))
    click_and_wait(page, page.locator("#consent-iv").get_by_role("link", name="Review and countersign"))
    review = page.locator("#consent-review")
    expect(review).to_contain_text("Signed, awaiting countersignature")
    expect(review).to_contain_text(name)
    expect(review.get_by_role("img", name="The patient's drawn signature")).to_be_visible()
    expect(review).to_contain_text("Clinic tablet")
    click_and_wait(page, review.get_by_role("button", name="Countersign this consent"))
    expect(page.get_by_text("The consent is countersigned and now current.")).to_be_visible()
    iv = page.locator("#consent-iv")
    expect(iv.locator(".consent-state")).to_have_text("Current")
    expect(iv).to_contain_text("countersigned by")

    pdf_link = iv.get_by_role("link", name=re.compile(r"^PDF")).first
    response = page.request.get(pdf_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")


# --- The journey ----------------------------------------------------------------------------------

def test_a_visitor_is_screened_registered_takes_the_intake_and_signs_the_iv_consent(
    page: Any, chromium: Any, ketaflow_server: LiveServer,
):
    server = ketaflow_server
    given = "Oriel"
    family = "Thornquist" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
    name = f"{given} {family}"
    from ketaflow.demo.practice import ORGANIZATION_SLUG as slug

    # 1. On a phone, the visitor answers the self-screen with no red flag and leaves their details.
    visitor = chromium.new_context(base_url=server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        answer_the_self_screen_and_leave_details(visitor.new_page(), slug, name)
    finally:
        visitor.close()
    lead = stored(server, LEAD, name=name)
    assert lead == ["book", [], True, "new", "+15035550164", CLINIC]

    # 2. The front desk registers the lead as a patient, on a tablet.
    page.set_viewport_size(TABLET)
    chart = register_the_lead(page, name, given, family)
    patient_id = chart.split("/")[2]

    # 3. The front desk gives the intake link in person.
    link = give_the_intake_link_in_person(page, chart)

    # 4. The patient completes the intake on a phone.
    patient = chromium.new_context(base_url=server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        complete_the_intake(patient.new_page(), link, name)
    finally:
        patient.close()
    intake = stored(server, INTAKE, name=name, patient=patient_id)
    assert intake == {
        "intake": ["submitted", "in_person", True],
        "medications": [["Zoloft 50 mg", "sertraline", "patient", "active"]],
        "lead": ["converted", patient_id],
    }

    # 5. The prescriber records vital signs and signs the IV infusion decision.
    page.context.clear_cookies()
    sign_in(page, "np", demo_password())
    record_vital_signs(page, chart)
    assessed = sign_the_iv_decision(page)

    # 6. The patient signs the IV consent on the clinic's tablet; the prescriber countersigns it.
    consent_on_the_tablet(page, chart, name)

    records = stored(server, SIGNED, patient=patient_id)
    assert records["consent"] == ["signed", "tablet", name, True, True, True, True]
    decision, state, assessed_as, has_reason = records["decision"]
    assert (decision, state, has_reason) == ("approve", "signed", True)
    assert assessed_as == assessed.lower().replace(" ", "_")
    assert records["vitals"] == [[128, 82]], "the refused reading of 400 mmHg was stored"
