"""The plan pages: library, protocol, clone, calculator, the chart's Plan tab, new plan, plan page."""

from __future__ import annotations

import html

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.plans.models import ClinicProtocol, TreatmentPlan
from tests.integration.pages import PAGE_TEST_MARKS, htmx, signed_in, text_of
from tests.integration.plans_factories import draft_plan, ready_patient, signed_plan, weigh

pytestmark = PAGE_TEST_MARKS


@pytest.fixture
def prescriber(practice):
    return signed_in(practice.staff[Role.PRESCRIBER])


def test_the_library_lists_protocols_with_their_route_version_source_and_verify_marks(practice, prescriber):
    text = text_of(prescriber.get("/plans/"))
    assert "IV ketamine for depression" in text and "Esketamine nasal spray" in text
    assert "Dose per kg: 0.5 mg/kg" in text and "Cap: 100 mg [verify]" in text
    assert "At home Prescriber decision" in text


def test_a_protocol_page_shows_every_number_the_schedule_in_words_and_an_example_calendar(
    practice, prescriber
):
    text = text_of(prescriber.get("/plans/protocols/esketamine-trd/"))
    assert "Allowed doses 56, 84 mg From the source" in text
    assert "First dose from age 65 28 mg [verify]" in text
    assert "weeks 1-4, twice weekly: 2 a week for 4 week(s) (8 sessions)" in text
    assert "the next phase starts on day 56" in text
    day_4 = (timezone.localdate() + timezone.timedelta(days=4)).strftime("%a %m/%d")
    assert f"#2 {day_4}" in text
    assert "Minimum observation after dosing 120 min From the source" in text
    assert "Before dosing: systolic blood pressure at most 140 mmHg From the source" in text
    assert "Alert: oxygen saturation at least 92 % [verify]" in text
    assert prescriber.get("/plans/protocols/no-such-protocol/").status_code == 404


def test_cloning_from_the_form_saves_a_new_version_and_shows_errors_beside_the_field(practice, prescriber):
    page = prescriber.get("/plans/protocols/iv-depression/clone/")
    assert page.status_code == 200 and 'value="100"' in page.content.decode()
    form = page.context["form"]
    data = {name: (value if value is not None else "") for name, value in form.initial.items()}
    data["source_version"] = "2026.11.1"
    response = prescriber.post(
        "/plans/protocols/iv-depression/clone/", data | {"cap_mg": "-1", "change_note": "x"}
    )
    assert response.status_code == 200
    assert "Cap (mg): dose.cap_mg: must be a number above zero" in text_of(response)
    spo2 = '"oxygen_saturation": {\n      "low": "9'
    stricter = data["monitoring"].replace(spo2 + '2"', spo2 + '4"')
    assert stricter != data["monitoring"]
    response = prescriber.post(
        "/plans/protocols/iv-depression/clone/",
        data | {"monitoring": '{"limits": {"heart_rate": {"high": 400}}}', "change_note": "x"},
    )
    assert "monitoring.limits.heart_rate.high: must be within 20-250 /min" in text_of(response)
    response = prescriber.post(
        "/plans/protocols/iv-depression/clone/",
        data | {"cap_mg": "90", "change_note": "Cap 90", "monitoring": stricter},
    )
    assert response.status_code == 302 and response["Location"] == "/plans/protocols/iv-depression/"
    row = ClinicProtocol.objects.get(organization=practice.org)
    assert row.number == 1 and row.definition["dose"]["cap_mg"] == "90"
    text = text_of(prescriber.get("/plans/protocols/iv-depression/"))
    assert "Cap 90 mg" in text and "clinic-1 Your clinic, from iv-depression@2026.11.1" in text
    assert "Alert: oxygen saturation at least 94 % Your clinic's setting" in text
    assert (
        signed_in(practice.staff[Role.NURSE]).get("/plans/protocols/iv-depression/clone/").status_code == 403
    )


def test_the_calculator_shows_the_dose_and_its_arithmetic(practice):
    nurse = signed_in(practice.staff[Role.NURSE])
    response = nurse.get(
        "/plans/calculator/",
        {"protocol": "iv-chronic-pain", "weight_kg": "110", "height_cm": "170", "sex": "male"},
    )
    text = text_of(response)
    assert "adjusted body weight = 65.9 + 0.4 x (110.0 - 65.9) = 83.6 kg" in text
    assert "Dose 167 mg in 266.7 mL over 240 min" in text
    fragment = nurse.get(
        "/plans/calculator/", {"protocol": "iv-depression", "weight_kg": "20"}, headers=htmx("dose-result")
    )
    assert "<html" not in fragment.content.decode()
    assert "outside the plausible range 35-250 kg" in text_of(fragment)


def test_the_plan_tab_offers_a_new_plan_and_then_shows_the_open_plan_with_its_arithmetic(
    practice, prescriber
):
    tab = f"/patients/{practice.patient.pk}/plan/"
    text = text_of(prescriber.get(tab))
    assert "No open treatment plan. New plan" in text
    weigh(practice.patient, "82")
    draft_plan(practice)
    text = text_of(prescriber.get(tab))
    assert "Draft, not signed" in text and "0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg" in text
    assert signed_in(practice.staff[Role.FRONT_DESK]).get(tab).status_code == 403


def test_the_new_plan_page_offers_approved_routes_first_and_disables_the_others_with_why(
    practice, prescriber
):
    ready_patient(practice)
    page = prescriber.get(f"/plans/patients/{practice.patient.pk}/new/")
    html = page.content.decode()
    assert html.index('value="iv-depression"') < html.index('value="esketamine-trd"')
    assert "Esketamine nasal spray is not approved for this patient yet" in text_of(page)
    assert 'value="esketamine-trd" disabled' in html
    assert "strongly discourages unsupervised home use" in text_of(page)
    assert '<option value="14">Every 14 days</option>' in html  # the esketamine protocol's intervals
    preview = prescriber.get(
        f"/plans/patients/{practice.patient.pk}/preview/",
        {"protocol_key": "iv-depression", "mg_per_kg": "0.75"},
    )
    assert "0.75 mg/kg x 82.0 kg (actual body weight) = 61.5 mg" in text_of(preview)


def test_a_plan_is_drafted_from_the_form_and_errors_come_back_beside_their_fields(practice, prescriber):
    ready_patient(practice)
    url = f"/plans/patients/{practice.patient.pk}/new/"
    data = {
        "protocol_key": "iv-depression",
        "clinic_id": str(practice.clinic.pk),
        "condition": "trd",
        "start_date": timezone.localdate().isoformat(),
        "goals": "",
    }
    response = prescriber.post(url, data | {"mg_per_kg": "3"})
    text = html.unescape(text_of(response))
    assert "Goals agreed with the patient: Write the goals agreed with the patient." in text
    assert "Dose (mg/kg): 3 is not one of this protocol's steps" in text
    response = prescriber.post(url, data | {"goals": "Synthetic goals"})
    plan = TreatmentPlan.objects.get(patient=practice.patient)
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"


def test_the_plan_page_shows_the_arithmetic_what_signing_needs_and_signs(practice, prescriber):
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    text = text_of(prescriber.get(f"/plans/{plan.pk}/"))
    assert "41 mg in 104.1 mL over 40 min" in text and "41.0 mg / 10 mg/mL = 4.10 mL" in text
    assert "No signed approval for IV infusion" in text and "Open the Consent tab" in text
    response = prescriber.post(f"/plans/{plan.pk}/sign/")
    assert "The plan was not signed" in text_of(response)
    plan.refresh_from_db()
    assert plan.status == "draft"


def test_a_signed_plan_page_changes_the_dose_and_moves_the_phase(practice, prescriber):
    plan = signed_plan(practice)
    text = text_of(prescriber.get(f"/plans/{plan.pk}/"))
    assert "Signed by" in text and "Titration: no step up now: 0 of 2 session(s) at this dose" in text
    response = prescriber.post(
        f"/plans/{plan.pk}/dose/",
        {"dose-mg_per_kg": "0.75", "dose-reason": "", "dose-effective_on": timezone.localdate().isoformat()},
    )
    assert "Why the dose changes: Say why the dose changes." in text_of(response)
    response = prescriber.post(
        f"/plans/{plan.pk}/dose/",
        {
            "dose-mg_per_kg": "0.75",
            "dose-reason": "No response",
            "dose-effective_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302
    response = prescriber.post(
        f"/plans/{plan.pk}/phase/",
        {
            "phase-to_phase": "discontinued",
            "phase-reason": "",
            "phase-effective_on": timezone.localdate().isoformat(),
        },
    )
    assert "Reason: Say why the plan is discontinued." in text_of(response)
    response = prescriber.post(
        f"/plans/{plan.pk}/phase/",
        {"phase-to_phase": "maintenance", "phase-effective_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.phase == "maintenance" and plan.dose_mg_per_kg == 0.75


def test_another_organizations_plan_page_is_not_found(practice, stranger):
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    outsider = signed_in(stranger.staff[Role.PRESCRIBER])
    assert outsider.get(f"/plans/{plan.pk}/").status_code == 404
    assert outsider.post(f"/plans/{plan.pk}/sign/").status_code == 404
    assert outsider.get(f"/plans/patients/{practice.patient.pk}/new/").status_code == 404
