"""The treatment-session API: a whole IV session charted over JSON, the monitor feed, paging and
tenancy. All data synthetic."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.patients.models import VitalSigns
from ketaflow.scheduling.calendar import today_in
from ketaflow.sessions.models import SessionVitals, TreatmentSession, VitalAlert
from tests.integration.sessions_factories import (
    NORMAL_VITALS,
    arrived,
    booked_treatment,
    checked_in,
    dosing_session,
    second_nurse,
    stock,
)
from tests.integration.test_api_support import API_TEST_MARKS, api_as, field_errors

pytestmark = API_TEST_MARKS


def ago(minutes: int) -> str:
    return (timezone.now() - timedelta(minutes=minutes)).isoformat()


def readings(count: int, start_minutes_ago: int = 20, **overrides: object) -> list[dict[str, object]]:
    """`count` normal monitor readings a minute apart, ending before now."""
    return [
        {
            **NORMAL_VITALS,
            "measured_at": ago(start_minutes_ago - i),
            "device": "Synthetic monitor 7",
            **overrides,
        }
        for i in range(count)
    ]


def test_an_iv_session_is_charted_from_check_in_to_an_amended_note_over_the_api(practice):
    nurse, prescriber = api_as(practice.staff[Role.NURSE]), api_as(practice.staff[Role.PRESCRIBER])
    visit = booked_treatment(practice)

    opened = nurse.post("/sessions", {"appointment_id": str(visit.pk)})
    assert opened.status_code == 201, opened.content
    session = opened.json()
    sid = session["id"]
    assert session["status"] == "checked_in" and session["appointment_id"] == str(visit.pk)
    assert session["dose"]["arithmetic"] and Decimal(session["dose"]["planned_mg"]) > 0
    assert {
        "field": "systolic_bp",
        "label": "Systolic blood pressure",
        "unit": "mmHg",
        "low": "90",
        "high": "180",
        "text": "90-180 mmHg",
    } in session["rules"]["limits"]
    assert "Sanacora" in session["rules"]["source"] and "limits" in session["rules"]["verify"]
    assert nurse.post("/sessions", {"appointment_id": str(visit.pk)}).json()["id"] == sid  # idempotent
    arrived(TreatmentSession.objects.get(pk=sid), timezone.now() - timedelta(minutes=90))  # charted after

    checklist = {
        "fasting_confirmed": True,
        "escort_name": "Sam Synthetic",
        "escort_phone": "+15035550199",
        "medications_taken": "none",
        "pregnancy_test": "not_applicable",
        "mood": 5,
        "pre_dose": {**NORMAL_VITALS, "systolic_bp": 172},
    }
    readiness = nurse.post(f"/sessions/{sid}/checklist", checklist).json()
    assert readiness["ready"] is False
    blocker = next(b for b in readiness["blockers"] if b["field"] == "systolic_bp")
    assert "172" in blocker["message"] and "Sanacora" in blocker["source"]
    assert nurse.post(f"/sessions/{sid}/override", {"reason": "Anxious"}).status_code == 403
    overridden = prescriber.post(f"/sessions/{sid}/override", {"reason": "White-coat; repeat 150/90"})
    assert overridden.json()["override_reason"] == "White-coat; repeat 150/90"

    _product, location, lot = stock(practice)
    planned = Decimal(session["dose"]["planned_mg"])
    drawn = nurse.post(
        f"/sessions/{sid}/preparations",
        {
            "lot_id": str(lot.pk),
            "location_id": str(location.pk),
            "volume_drawn_ml": float((planned / 50).quantize(Decimal("0.01"))),
            "bag_ml": 100,
            "pump_rate_ml_per_h": 150,
        },
    )
    assert drawn.status_code == 201, drawn.content
    preparation = drawn.json()
    assert Decimal(preparation["drawn_mg"]) == planned and preparation["lot_number"] == lot.lot_number
    verify = f"/sessions/{sid}/preparations/{preparation['id']}/verify"
    assert nurse.post(verify).status_code == 422  # the preparer cannot be the second check
    checker = api_as(second_nurse(practice))
    assert checker.post(verify.replace(sid, "not-a-session")).status_code == 404
    assert checker.post(verify).json()["verified"] is True

    started = nurse.post(f"/sessions/{sid}/events", {"kind": "start", "at": ago(75), "rate_ml_per_h": 150})
    assert started.status_code == 201, started.content
    out_of_order = nurse.post(f"/sessions/{sid}/events", {"kind": "resume", "at": ago(70)})
    assert out_of_order.status_code == 422 and "kind" in field_errors(out_of_order)

    high = nurse.post(
        f"/sessions/{sid}/vitals", {**NORMAL_VITALS, "systolic_bp": 186, "measured_at": ago(60)}
    )
    assert high.status_code == 201, high.content
    [alert] = high.json()["alerts"]
    assert (
        alert["field"] == "systolic_bp"
        and alert["direction"] == "high"
        and alert["limit_text"] == "90-180 mmHg"
    )
    answered = nurse.post(
        f"/sessions/{sid}/alerts/{alert['id']}/response",
        {"response": "call_prescriber", "note": "Dr advised observe, recheck in 5 min"},
    )
    assert answered.json()["response"] == "call_prescriber" and answered.json()["responded_at"]

    effect = nurse.post(
        f"/sessions/{sid}/side-effects", {"kind": "nausea", "severity": "mild", "onset_at": ago(55)}
    )
    assert effect.status_code == 201 and effect.json()["kind"] == "nausea"
    rescue = nurse.post(
        f"/sessions/{sid}/rescue-doses",
        {"drug_key": "ondansetron", "dose_mg": 4, "route": "iv", "reason": "Nausea", "given_at": ago(54)},
    )
    assert rescue.status_code == 201 and rescue.json()["dose_mg"] == "4"
    scored = nurse.post(f"/sessions/{sid}/scores", {"instrument_id": "cadss6", "answers": [1, 0, 2, 0, 1, 0]})
    assert scored.status_code == 201 and scored.json()["value"] == 4

    assert nurse.post(f"/sessions/{sid}/events", {"kind": "stop", "at": ago(35)}).status_code == 201
    low = nurse.post(
        f"/sessions/{sid}/aldrete",
        {"activity": 1, "respiration": 2, "circulation": 1, "consciousness": 1, "oxygen_saturation": 2},
    )
    assert low.json()["ready"] is False and any(r["field"] == "aldrete" for r in low.json()["reasons"])
    passed = nurse.post(
        f"/sessions/{sid}/aldrete",
        dict.fromkeys(("activity", "respiration", "circulation", "consciousness", "oxygen_saturation"), 2),
    )
    assert passed.json() == {"ready": True, "reasons": [], "minutes_left": 0}

    left = nurse.post(f"/sessions/{sid}/discharge", {"escort_handover_name": "Sam Synthetic"})
    assert left.status_code == 200, left.content
    record = left.json()
    assert record["status"] == "discharged" and record["escort_handover_name"] == "Sam Synthetic"
    assert Decimal(record["delivered_mg"]) == planned and record["delivery"]["state"] == "stopped"
    assert [e["kind"] for e in record["events"]] == ["start", "stop"]
    assert record["alerts"][0]["response_note"].startswith("Dr advised")
    assert record["follow_up"], "the follow-up questionnaire is scheduled at discharge"
    assert "Ondansetron" in record["note"]

    assert nurse.post(f"/sessions/{sid}/note/sign", {}).status_code == 403
    signed = prescriber.post(f"/sessions/{sid}/note/sign", {})
    assert signed.json()["status"] == "signed" and signed.json()["signed_at"]
    assert (
        nurse.post(f"/sessions/{sid}/side-effects", {"kind": "dizziness", "severity": "mild"}).status_code
        == 422
    )
    amended = prescriber.post(
        f"/sessions/{sid}/note/amendments",
        {"note": signed.json()["note"] + "\nLate entry: tolerated well.", "reason": "Late entry"},
    )
    assert amended.status_code == 201
    assert amended.json()["previous_note"] == signed.json()["note"]
    final = nurse.get(f"/sessions/{sid}").json()
    assert final["note"].endswith("tolerated well.") and [a["reason"] for a in final["amendments"]] == [
        "Late entry"
    ]
    assert AuditEvent.objects.filter(
        organization=practice.org, action="read", object_type="TreatmentSession", object_id=sid
    ).exists()


def test_the_monitor_feed_stores_every_reading_and_raises_each_crossing_once(practice):
    session = dosing_session(practice)
    nurse = api_as(practice.staff[Role.NURSE])
    batch = readings(6)
    batch[2] |= {"systolic_bp": 188}
    batch[3] |= {"systolic_bp": 191}  # the same crossing, still unanswered: no second alert
    batch[5] |= {"oxygen_saturation": 89}

    response = nurse.post(f"/sessions/{session.pk}/vitals/batch", {"readings": batch})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stored"] == 6
    assert [(a["field"], a["value"], a["direction"]) for a in body["alerts"]] == [
        ("systolic_bp", "188", "high"),
        ("oxygen_saturation", "89", "low"),
    ]
    assert all(a["source"] and a["limit_text"] for a in body["alerts"])
    links = SessionVitals.objects.filter(session=session, source="monitor")
    assert links.count() == 6 and set(links.values_list("device", flat=True)) == {"Synthetic monitor 7"}
    audited = AuditEvent.objects.filter(organization=practice.org, object_type="VitalSigns", action="create")
    assert audited.count() >= 6
    shown = nurse.get(f"/sessions/{session.pk}").json()
    assert [p["sys"] for p in shown["vitals"] if p["phase"] == "dosing"] == [124, 124, 188, 191, 124, 124]
    assert shown["open_alerts"] == 2 and shown["baseline"]["sys"] == NORMAL_VITALS["systolic_bp"]
    assert shown["timer"]["every_min"] == 15


def test_one_bad_reading_refuses_the_whole_batch_naming_its_place(practice):
    session = dosing_session(practice)
    nurse = api_as(practice.staff[Role.NURSE])
    before = VitalSigns.objects.filter(patient=session.patient).count()

    impossible = readings(4)
    impossible[2] |= {"systolic_bp": 400}
    impossible[3] |= {"heart_rate": 71.5}
    refused = nurse.post(f"/sessions/{session.pk}/vitals/batch", {"readings": impossible})
    misspelt = readings(3)
    misspelt[1]["sytolic_bp"] = misspelt[1].pop("systolic_bp")
    unknown = nurse.post(f"/sessions/{session.pk}/vitals/batch", {"readings": misspelt})

    assert refused.status_code == 422
    errors = field_errors(refused)
    assert set(errors) == {"readings[2].systolic_bp", "readings[3].heart_rate"}
    assert "400" in errors["readings[2].systolic_bp"] and "whole" in errors["readings[3].heart_rate"]
    assert unknown.status_code == 422 and "readings[1].sytolic_bp" in field_errors(unknown)
    assert VitalSigns.objects.filter(patient=session.patient).count() == before
    assert not VitalAlert.objects.filter(session=session).exists()


def test_another_organizations_session_is_not_found_and_nothing_is_written(practice, stranger):
    theirs = checked_in(stranger)
    us = api_as(practice.staff[Role.NURSE])
    not_found = {"errors": [{"field": None, "message": "Not found."}]}

    assert us.get(f"/sessions/{theirs.pk}").json() == not_found
    fed = us.post(f"/sessions/{theirs.pk}/vitals/batch", {"readings": readings(2)})
    assert fed.status_code == 404 and fed.json() == not_found
    assert us.post("/sessions", {"appointment_id": str(theirs.appointment_id)}).status_code == 422
    assert not SessionVitals.objects.filter(session=theirs).exists()
    assert us.get("/sessions").json()["total"] == 0


def test_the_session_list_pages_newest_first_and_filters_by_day_and_status(practice):
    first = checked_in(practice)
    for days_back, status in ((1, "recovery"), (2, "dosing")):  # earlier sessions: copies of the row
        row = TreatmentSession.objects.get(pk=first.pk)
        row.pk, row.appointment, row.status = None, None, status
        row.checked_in_at = first.checked_in_at - timedelta(days=days_back)
        row._state.adding = True
        row.save()
    nurse = api_as(practice.staff[Role.NURSE])

    page = nurse.get("/sessions", {"page_size": 2}).json()
    today = nurse.get(
        "/sessions", {"date": today_in(practice.clinic, first.checked_in_at).isoformat()}
    ).json()
    dosing = nurse.get("/sessions", {"status": "dosing"}).json()

    assert (page["total"], page["pages"], len(page["items"])) == (3, 2, 2)
    assert page["items"][0]["id"] == str(first.pk)
    assert "page=2" in page["next"] and page["previous"] is None
    assert len(nurse.get("/sessions", {"page_size": 2, "page": 2}).json()["items"]) == 1
    assert [s["id"] for s in today["items"]] == [str(first.pk)]
    assert [s["status"] for s in dosing["items"]] == ["dosing"]
    assert nurse.get("/sessions", {"status": "asleep"}).status_code == 422
    assert nurse.get("/sessions", {"stauts": "dosing"}).status_code == 422
