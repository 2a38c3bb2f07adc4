"""The chairside pages: today's board, the session page and its HTMX actions, the live chart and the
chart's Sessions tab. Sessions are built with the real services (sessions_factories.py)."""

from __future__ import annotations

import collections
import json
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from ketaflow.accounts.roles import Role
from ketaflow.sessions.models import DoseEvent, DosePreparation, SessionVitals, TreatmentSession, VitalAlert
from tests.factories import StaffFactory
from tests.integration.pages import PAGE_TEST_MARKS, field_error, htmx, signed_in, text_of
from tests.integration.sessions_factories import (
    CHECKLIST,
    booked_treatment,
    checked_in,
    dosing_session,
    second_nurse,
    stock,
    stopped_session,
)

pytestmark = PAGE_TEST_MARKS
BODY = htmx("session-body")


def page_of(session: TreatmentSession) -> str:
    return f"/sessions/{session.pk}/"


def test_the_board_lists_todays_treatment_and_checks_the_patient_in(practice):
    visit = booked_treatment(practice)
    day = visit.starts_at.astimezone(ZoneInfo(practice.clinic.timezone)).date().isoformat()
    nurse = signed_in(practice.staff[Role.NURSE])
    board = text_of(nurse.get("/sessions/", {"date": day}))
    assert f"{practice.clinic.name}" in board
    assert f"{practice.patient.display_name} Booked" in board and "Check in" in board
    assert "No session in progress." in board

    response = nurse.post(f"/sessions/check-in/{visit.pk}/", {"date": day})
    session = TreatmentSession.objects.get(appointment=visit)
    assert response["Location"] == page_of(session)
    page = text_of(nurse.get(page_of(session)))
    assert f"{practice.patient.display_name} is checked in." in page
    assert "Checklist before dosing" in page and "Save the checklist" in page
    board = text_of(nurse.get("/sessions/", {"date": day}))
    assert f"In the chair now {practice.patient.display_name} Checked in" in board
    assert f"{practice.patient.display_name} Arrived Session checked in IV infusion" in board


def test_the_session_page_shows_every_section_with_its_figures_rules_and_sources(practice):
    session = dosing_session(practice)
    response = signed_in(practice.staff[Role.NURSE]).get(page_of(session))
    html, text = response.content.decode(), text_of(response)
    for heading in (
        "Checklist before dosing",
        "Readiness",
        "Dose",
        "Vital signs",
        "Side effects and rescue medication",
        "Dissociation and sedation",
        "Recovery and discharge",
        "Session note",
    ):
        assert f">{heading}</h" in html, heading
    assert f"{practice.patient.display_name} Dosing IV ketamine for depression" in text
    assert "Planned dose: 41 mg in 104.1 mL over 40 min at 156.1 mL/h (41 mg)" in text
    assert "0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg" in text
    assert "Next vital signs due in 14:" in text and "every 15 min clinic default — verify" in text
    assert "Readiness Ready to dose" in text
    assert "Systolic blood pressure before dosing at most 160 mmHg clinic default — verify" in text
    assert "41 mg from Ketamine 500 mg/10 mL vial, lot KET-" in text and "Verified by" in text
    assert "Started at 150 mL/h" in text and "Total given: 41 mg (100 mL over 45" in text
    assert "Systolic blood pressure limit 90-180 mmHg clinic default — verify" in text
    assert "Source: APA Council of Research consensus (Sanacora 2017)" in text
    assert "Pause Change the rate Stop the infusion" in text
    assert "Baseline 124/78" in text and "SpO2 low 92" in text
    assert "Things seemed unreal, as if in a dream (CADSS item 2)" in text
    assert "5 Responds readily to name spoken in normal tone" in text
    assert "Midazolam 2 mg (emergence reaction or severe anxiety; at most 4 mg, controlled)" in text
    assert "Pass mark at least 9 , or 8 with 2 on respiration and oxygen saturation" in text
    assert "The note is assembled from this record at discharge" in text
    ids = collections.Counter(re.findall(r'\sid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", html)


def test_the_nurse_takes_a_checked_in_patient_to_a_running_infusion(practice):
    session = checked_in(practice)
    nurse = signed_in(practice.staff[Role.NURSE])
    url = page_of(session)
    checklist = {f"checklist-{k}": v for k, v in CHECKLIST.items() if k != "fasting_confirmed"}
    checklist |= {
        "checklist-fasting_confirmed": "on",
        "checklist-systolic_bp": "172",
        "checklist-diastolic_bp": "96",
        "checklist-heart_rate": "70",
    }
    text = text_of(nurse.post(f"{url}checklist/", checklist, headers=BODY))
    assert "Checklist saved: not ready (1 to resolve or override)." in text
    assert "Not ready Systolic blood pressure 172 mmHg is outside this protocol" in text
    assert "(at most 160 mmHg). (systolic_bp; source: APA Council of Research consensus" in text
    assert "Only a prescriber can override a not-ready decision." in text

    prescriber = signed_in(practice.staff[Role.PRESCRIBER])
    refused = prescriber.post(f"{url}override/", {"override-reason": ""}, headers=BODY)
    assert "Say why dosing may proceed" in field_error(refused, "id_override-reason")
    prescriber.post(f"{url}override/", {"override-reason": "Anxious at arrival; 158/92 on repeat"})
    _product, location, lot = stock(practice)
    text = text_of(nurse.get(url))
    assert "Overridden by a prescriber" in text
    # the volume of the plan's dose at the lot's strength, then the bag and the plan's pump rate
    assert "For the 41 mg planned, from Ketamine 500 mg/10 mL vial: 41.0 mg / 50 mg/mL = 0.820 mL" in text
    assert "0.82 mL of drug + 100 mL bag = 100.82 mL 100.82 mL over 40 min = 151.2 mL/h" in text
    volume = (session.planned_mg / Decimal(50)).quantize(Decimal("0.01"))
    text = text_of(
        nurse.post(
            f"{url}prepare/",
            {
                "prep-stock": f"{lot.pk}:{location.pk}",
                "prep-volume_drawn_ml": f"{volume}",
                "prep-bag_ml": "100",
                "prep-pump_rate_ml_per_h": "150",
            },
            headers=BODY,
        )
    )
    assert f"Prepared {session.planned_mg.normalize()} mg; the ledger entry is written." in text
    assert "Waiting for a second person to verify" in text

    preparation = DosePreparation.objects.get(session=session)
    second = signed_in(second_nurse(practice))
    text = text_of(second.post(f"{url}preparations/{preparation.pk}/verify/", headers=BODY))
    assert "Preparation verified by a second person." in text and "Verified by" in text

    text = text_of(
        nurse.post(f"{url}events/", {"event-kind": "start", "event-rate_ml_per_h": "150"}, headers=BODY)
    )
    assert "Started at 150 mL/h Total given: 0 mg · running" in text
    assert re.search(r"Next vital signs due in 1[45]:\d\d due .* every 15 min", text)
    session.refresh_from_db()
    assert session.status == "dosing"


def test_an_htmx_vitals_entry_out_of_range_names_the_field_and_stores_nothing(practice):
    session = dosing_session(practice)
    before = SessionVitals.objects.filter(session=session).count()
    response = signed_in(practice.staff[Role.NURSE]).post(
        f"{page_of(session)}vitals/",
        {"vitals-systolic_bp": "400", "vitals-diastolic_bp": "80", "vitals-heart_rate": "72"},
        headers=BODY,
    )
    assert response.status_code == 200
    assert 'id="session-body"' not in response.content.decode()  # the body's content, swapped into it
    assert "Systolic blood pressure of 400 mmHg is not possible" in field_error(
        response, "id_vitals-systolic_bp"
    )
    assert 'value="400"' in response.content.decode()
    assert SessionVitals.objects.filter(session=session).count() == before


def test_a_reading_over_the_limit_raises_an_alert_answered_from_the_banner(practice):
    session = dosing_session(practice)
    nurse = signed_in(practice.staff[Role.NURSE])
    text = text_of(
        nurse.post(
            f"{page_of(session)}vitals/",
            {
                "vitals-systolic_bp": "186",
                "vitals-diastolic_bp": "98",
                "vitals-heart_rate": "88",
                "vitals-oxygen_saturation": "97",
            },
            headers=BODY,
        )
    )
    alert = VitalAlert.objects.get(session=session)
    assert "Saved. 1 alert raised: respond above." in text
    assert (
        "1 alert needing a response Systolic blood pressure 186 mmHg is high: the limit is 90-180 mmHg."
        in text
    )
    assert "Pause infusion Give medication Call prescriber" in text

    prefix = f"alert-{alert.pk.hex[:8]}"
    refused = nurse.post(
        f"{page_of(session)}alerts/{alert.pk}/respond/",
        {f"{prefix}-response": "call_prescriber"},
        headers=BODY,
    )
    assert "prescriber advised" in field_error(refused, f"id_{prefix}-note")
    text = text_of(
        nurse.post(
            f"{page_of(session)}alerts/{alert.pk}/respond/",
            {f"{prefix}-response": "pause_infusion"},
            headers=BODY,
        )
    )
    assert "Alert answered: paused the infusion." in text
    assert "alert needing a response" not in text and "Resume" in text
    alert.refresh_from_db()
    assert alert.response == "pause_infusion" and alert.responded_by == practice.staff[Role.NURSE].user
    assert DoseEvent.objects.filter(session=session, kind="pause").count() == 1


def test_the_live_chart_answers_the_readings_as_svg_and_as_json(practice):
    session = dosing_session(practice)
    nurse = signed_in(practice.staff[Role.NURSE])
    nurse.post(
        f"{page_of(session)}vitals/",
        {
            "vitals-systolic_bp": "132",
            "vitals-diastolic_bp": "84",
            "vitals-heart_rate": "80",
            "vitals-oxygen_saturation": "96",
        },
    )
    html = nurse.get(f"{page_of(session)}chart/", {"alerts": ""}, headers=htmx("live-chart")).content.decode()
    assert html.lstrip().startswith('<figure class="vitals-chart"')
    assert 'data-readings="2"' in html
    systolic = re.search(r'data-series="systolic_bp" points="([^"]+)"', html)
    assert systolic and len(systolic.group(1).split()) == 2
    assert "Systolic <strong>132</strong>" in html and "Baseline 124/78" in html
    assert '<div id="vitals-timer" class="vitals-timer" hx-swap-oob="true"' in html
    assert 'id="alert-banner"' not in html  # no alert changed since the page was drawn

    data = json.loads(nurse.get(f"{page_of(session)}chart/", {"format": "json"}).content)
    assert [(r["systolic_bp"], r["heart_rate"]) for r in data["readings"]] == [(124, 72), (132, 80)]
    assert data["baseline"]["systolic_bp"] == 124 and data["limits"]["systolic_bp"] == {
        "low": "90",
        "high": "180",
    }
    assert data["source"].startswith("APA Council of Research consensus")


def test_front_desk_is_refused_and_another_organizations_session_is_not_found(practice, stranger):
    ours = checked_in(practice)
    theirs = dosing_session(stranger)
    front_desk = signed_in(practice.staff[Role.FRONT_DESK])
    assert front_desk.get(page_of(ours)).status_code == 403
    assert front_desk.get("/sessions/").status_code == 403
    assert front_desk.post(f"/sessions/check-in/{ours.appointment_id}/").status_code == 403
    boss = signed_in(StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER]))
    before = SessionVitals.objects.filter(session=theirs).count()
    assert boss.get(page_of(theirs)).status_code == 404
    assert boss.get(f"{page_of(theirs)}chart/", {"format": "json"}).status_code == 404
    response = boss.post(
        f"{page_of(theirs)}vitals/", {"vitals-systolic_bp": "120", "vitals-diastolic_bp": "80"}, headers=BODY
    )
    assert response.status_code == 404 and stranger.patient.display_name not in response.content.decode()
    assert SessionVitals.objects.filter(session=theirs).count() == before
    assert stranger.patient.display_name not in text_of(boss.get("/sessions/"))


def test_recovery_discharge_signature_and_amendment_from_the_page_and_the_sessions_tab(practice):
    session = stopped_session(practice)
    url = page_of(session)
    nurse = signed_in(practice.staff[Role.NURSE])
    items = {
        f"aldrete-{k}": "2"
        for k in ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation")
    }
    text = text_of(nurse.post(f"{url}aldrete/", items, headers=BODY))
    assert "Aldrete scored: not ready yet." in text and ": 10 of 10 (Activity 2, Respiration 2," in text
    assert re.search(r"Not ready yet Observe for 2\d more min: this protocol.{1,8}s minimum is 30 min", text)

    refused = nurse.post(
        f"{url}discharge/",
        {"discharge-escort_handover_name": "Sam Synthetic", "discharge-send_instructions": "print"},
        headers=BODY,
    )
    assert "Observe for" in text_of(refused).split("nothing was saved")[1]
    prescriber = signed_in(practice.staff[Role.PRESCRIBER])
    text = text_of(
        prescriber.post(
            f"{url}discharge/",
            {
                "discharge-escort_handover_name": "Sam Synthetic",
                "discharge-send_instructions": "print",
                "discharge-override_reason": "Fully alert; escort must leave now",
            },
            headers=BODY,
        )
    )
    assert "Discharged. The note is assembled" in text
    assert "Discharged at" in text and "handed over to Sam Synthetic" in text and "Before ready" in text
    assert re.search(r"Follow-up questionnaires due: PHQ-9 \d\d/\d\d/\d{4}, GAD-7 ", text)

    text = text_of(prescriber.post(f"{url}sign/", {"sign-note": ""}, headers=BODY))
    assert "The note is signed and locked." in text and "Signed and locked" in text
    text = text_of(
        prescriber.post(
            f"{url}amend/",
            {"amend-note": "Corrected note text.", "amend-reason": "Escort name spelt wrong"},
            headers=BODY,
        )
    )
    assert "Amendment recorded; the original note is kept." in text
    assert "Corrected note text. Amendments Escort name spelt wrong" in text
    assert "Text before this amendment" in text
    locked = nurse.get(url).content.decode()
    assert f'action="{url}vitals/"' not in locked and 'hx-trigger="every 15s"' not in locked

    tab = text_of(nurse.get(f"/patients/{practice.patient.pk}/sessions/"))
    assert "IV ketamine for depression" in tab and "41 mg Signed" in tab


def test_ending_an_injection_records_no_second_amount_and_times_read_as_the_page_shows_them(practice):
    session = dosing_session(practice, "im")
    url = page_of(session)
    nurse = signed_in(practice.staff[Role.NURSE])
    page = nurse.get(url).content.decode()
    given = DoseEvent.objects.get(session=session, kind="give")
    assert f'name="event-amount_mg" value="{given.amount_mg.normalize():f}"' in page  # prefilled
    text = text_of(
        nurse.post(
            f"{url}events/",
            {"event-kind": "stop", "event-amount_mg": f"{given.amount_mg.normalize():f}"},
            headers=BODY,
        )
    )
    stop = DoseEvent.objects.get(session=session, kind="stop")
    assert stop.amount_mg is None
    clock = stop.at.astimezone(ZoneInfo(practice.clinic.timezone))
    shown = f"{clock.hour % 12 or 12}:{clock:%M} {'AM' if clock.hour < 12 else 'PM'}"
    assert f"Stopped at {shown}." in text
    assert re.search(r"\d:\d\d:\d\d [AP]M Stopped (?!\d)", text)


def test_session_settings_show_each_fault_once_beside_its_field_and_save_good_values(practice):
    owner = signed_in(StaffFactory(organization=practice.org, roles=[Role.OWNER]))
    form = {
        "aldrete_minimum": "",
        "aldrete_alternative": "",
        "rems_due_days": "7",
        "discharge_instructions": "No driving until tomorrow.",
        "formulary": "[]",
    }
    refused = owner.post("/sessions/settings/", form)
    assert refused.status_code == 422
    assert field_error(refused, "id_aldrete_minimum") == "Enter a whole number from 0 to 10."
    saved = owner.post("/sessions/settings/", form | {"aldrete_minimum": "8"}, follow=True)
    assert "The session settings are saved." in text_of(saved)
    assert 'name="aldrete_minimum" value="8"' in saved.content.decode()


def test_a_number_the_clinic_changed_is_marked_as_its_own_not_as_the_sources(practice):
    session = dosing_session(practice)
    session.monitoring = {**session.monitoring, "min_observation_min": 45}
    session.save(update_fields=["monitoring"])
    text = text_of(signed_in(practice.staff[Role.NURSE]).get(page_of(session)))
    assert "Minimum observation 45 min set by your clinic" in text
    assert "Systolic blood pressure limit 90-180 mmHg clinic default — verify" in text
