"""The scheduling API: types, free slots, booking with field errors, changes, the series."""

from __future__ import annotations

import pytest
from django.test import Client

from ketaflow.accounts.roles import Role
from ketaflow.scheduling.models import Appointment
from tests.integration.scheduling_factories import at, bookable, next_weekday, signed_plan

pytestmark = pytest.mark.django_db


def _client(practice, role=Role.NURSE) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(practice.staff[role].user)
    return client


def test_types_and_free_slots_are_listed(practice):
    bookable(practice)
    client = _client(practice)
    keys = [t["key"] for t in client.get("/api/v1/appointment-types").json()]
    assert {"iv", "esketamine", "home_checkin"} <= set(keys)
    day = next_weekday(1)
    slots = client.get(
        f"/api/v1/clinics/{practice.clinic.pk}/free-slots", {"type": "consultation", "date": day.isoformat()}
    ).json()
    assert slots[0]["starts_at"].startswith(f"{day.isoformat()}T08:00") and slots[0]["room"] == "Consult A"


def test_booking_by_api_answers_field_errors_and_then_books(practice):
    bookable(practice)
    plan = signed_plan(practice)
    client = _client(practice)
    url = f"/api/v1/patients/{practice.patient.pk}/appointments"
    day = next_weekday(1)
    body = {
        "clinic_id": str(practice.clinic.pk),
        "type": "iv",
        "starts_at": at(practice, day, 7).isoformat(),
        "plan_id": str(plan.pk),
    }
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 422
    assert any(
        e["field"] == "starts_at" and "outside opening hours" in e["message"]
        for e in refused.json()["errors"]
    )
    body["starts_at"] = at(practice, day, 9).isoformat()
    made = client.post(url, body, content_type="application/json")
    assert made.status_code == 201 and made.json()["room"] == "Chair 1"
    appointment_id = made.json()["id"]
    listed = client.get(
        "/api/v1/appointments",
        {
            "clinic_id": str(practice.clinic.pk),
            "start": at(practice, day, 0).isoformat(),
            "end": at(practice, day, 23).isoformat(),
        },
    ).json()
    assert [a["id"] for a in listed["items"]] == [appointment_id]
    moved = client.post(
        f"/api/v1/appointments/{appointment_id}/reschedule",
        {"starts_at": at(practice, day, 11).isoformat(), "reason": "Clash"},
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["rescheduled_from"] == appointment_id
    cancelled = client.post(
        f"/api/v1/appointments/{moved.json()['id']}/cancel",
        {"reason": "Unwell"},
        content_type="application/json",
    )
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["status_reason"] == "Unwell"


def test_the_series_endpoint_previews_and_books(practice):
    bookable(practice)
    plan = signed_plan(practice, "esketamine-suicidal-ideation")
    client = _client(practice)
    url = f"/api/v1/plans/{plan.pk}/series"
    preview = client.post(url, {"preview": True}, content_type="application/json").json()
    assert len(preview["sessions"]) == 8 and preview["booked"] is False
    booked = client.post(url, {"preview": False}, content_type="application/json").json()
    assert booked["booked"] is True and len(booked["sessions"]) == 8
    assert Appointment.objects.filter(plan=plan, status="booked").count() == 8
