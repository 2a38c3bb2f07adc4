"""Clinics, opening hours and rooms over the API, and the audit-trail search."""

from __future__ import annotations

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from tests.factories import RoomFactory
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS


@pytest.fixture
def admin(practice):
    return api_as(practice.staff[Role.ADMIN])


def test_any_staff_member_lists_their_clinics(practice, stranger):
    response = api_as(practice.staff[Role.FRONT_DESK]).get("/clinics")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["items"]] == [str(practice.clinic.pk)]
    assert response.json()["items"][0]["timezone"] == "America/Denver"


def test_an_admin_opens_a_clinic_with_a_normalised_phone(practice, admin):
    response = admin.post(
        "/clinics",
        {"name": "Eastside", "city": "Portland", "phone": "503-555-0190", "timezone": "America/Los_Angeles"},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["phone"] == "+15035550190" and response.json()["is_active"] is True
    clinic = Clinic.objects.get(pk=response.json()["id"])
    assert clinic.organization_id == practice.org.pk
    assert [e.object_id for e in audit_rows(practice.org.pk, action="create", object_type="Clinic")] == [
        str(clinic.pk)
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Eastside", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "Eastside", "phone": "555"}, "phone"),
        ({"city": "Portland"}, "name"),
        ({"name": "Eastside", "is_active": "yes"}, "is_active"),
        ({"name": "Eastside", "beds": 4}, "beds"),
    ],
)
def test_a_bad_clinic_is_refused_naming_the_field(practice, admin, body, field):
    count = Clinic.objects.count()
    response = admin.post("/clinics", body)
    assert response.status_code == 422 and field in field_errors(response), response.json()
    assert Clinic.objects.count() == count


def test_clinic_names_are_unique_within_the_organization(practice, admin):
    response = admin.post("/clinics", {"name": practice.clinic.name.upper()})
    assert response.status_code == 422 and "name" in field_errors(response)


def test_a_clinic_can_be_changed_and_deactivated(practice, admin):
    response = admin.patch(f"/clinics/{practice.clinic.pk}", {"city": "Bend", "is_active": False})
    assert response.status_code == 200
    assert (response.json()["city"], response.json()["is_active"]) == ("Bend", False)
    assert admin.get("/clinics").json()["items"] == []
    assert admin.get("/clinics", {"include_inactive": "true"}).json()["total"] == 1


def test_a_nurse_cannot_change_clinics(practice):
    nurse = api_as(practice.staff[Role.NURSE])
    assert nurse.post("/clinics", {"name": "Eastside"}).status_code == 403
    response = nurse.patch(f"/clinics/{practice.clinic.pk}", {"city": "Bend"})
    assert response.status_code == 403 and "clinics.manage" in field_errors(response)[None]
    assert Clinic.objects.get(pk=practice.clinic.pk).city == "Springfield"


def test_opening_hours_replace_the_week(practice, admin):
    week = {
        "hours": [
            {"weekday": 0, "opens": "08:30", "closes": "12:00"},
            {"weekday": 0, "opens": "13:00", "closes": "17:00"},
            {"weekday": 4, "opens": "09:00", "closes": "15:00"},
        ]
    }
    response = admin.put(f"/clinics/{practice.clinic.pk}/opening-hours", week)
    assert response.status_code == 200, response.json()
    assert response.json()["timezone"] == "America/Denver"
    assert [(h["weekday"], h["opens"], h["closes"]) for h in response.json()["hours"]] == [
        (0, "08:30:00", "12:00:00"),
        (0, "13:00:00", "17:00:00"),
        (4, "09:00:00", "15:00:00"),
    ]
    assert admin.get(f"/clinics/{practice.clinic.pk}/opening-hours").json() == response.json()
    admin.put(f"/clinics/{practice.clinic.pk}/opening-hours", {"hours": [week["hours"][2]]})
    assert OpeningHours.objects.filter(clinic=practice.clinic).count() == 1


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ([{"weekday": 1, "opens": "9am", "closes": "17:00"}], "hours[0].opens"),
        ([{"weekday": 7, "opens": "09:00", "closes": "17:00"}], "hours[0].weekday"),
        ([{"weekday": 1, "opens": "17:00", "closes": "09:00"}], "hours[0].closes"),
        (
            [
                {"weekday": 1, "opens": "09:00", "closes": "13:00"},
                {"weekday": 1, "opens": "12:00", "closes": "17:00"},
            ],
            "hours[1].opens",
        ),
        ([{"weekday": 1, "opens": "09:00"}], "hours[0].closes"),
    ],
)
def test_bad_opening_hours_are_refused_and_the_week_is_kept(practice, admin, hours, field):
    admin.put(
        f"/clinics/{practice.clinic.pk}/opening-hours",
        {"hours": [{"weekday": 2, "opens": "10:00", "closes": "14:00"}]},
    )
    response = admin.put(f"/clinics/{practice.clinic.pk}/opening-hours", {"hours": hours})
    assert response.status_code == 422 and field in field_errors(response), response.json()
    assert list(OpeningHours.objects.filter(clinic=practice.clinic).values_list("weekday", flat=True)) == [2]


def test_rooms_are_added_listed_read_and_changed(practice, admin):
    response = admin.post(f"/clinics/{practice.clinic.pk}/rooms", {"name": "Chair 1", "kind": "chair"})
    assert response.status_code == 201, response.json()
    room_id = response.json()["id"]
    assert response.json()["clinic_id"] == str(practice.clinic.pk)
    listed = admin.get(f"/clinics/{practice.clinic.pk}/rooms").json()
    assert [r["id"] for r in listed["items"]] == [room_id]
    assert admin.get(f"/clinics/{practice.clinic.pk}/rooms/{room_id}").json()["name"] == "Chair 1"
    response = admin.patch(f"/clinics/{practice.clinic.pk}/rooms/{room_id}", {"notes": "By the window"})
    assert response.status_code == 200 and response.json()["notes"] == "By the window"
    assert Room.objects.get(pk=room_id).notes == "By the window"


def test_a_room_is_only_found_under_its_own_clinic(practice, admin):
    other = Clinic.objects.create(organization=practice.org, name="Annex")
    room = RoomFactory(clinic=practice.clinic)
    assert admin.get(f"/clinics/{other.pk}/rooms/{room.pk}").status_code == 404
    assert admin.patch(f"/clinics/{other.pk}/rooms/{room.pk}", {"name": "Moved"}).status_code == 404
    assert Room.objects.get(pk=room.pk).name != "Moved"


def test_bad_rooms_are_refused(practice, admin):
    RoomFactory(clinic=practice.clinic, name="Chair 1")
    response = admin.post(f"/clinics/{practice.clinic.pk}/rooms", {"name": "chair 1"})
    assert response.status_code == 422 and "name" in field_errors(response)
    response = admin.post(f"/clinics/{practice.clinic.pk}/rooms", {"name": "Bay", "kind": "sofa"})
    assert response.status_code == 422 and "kind" in field_errors(response)
    assert Room.objects.count() == 1


def test_the_audit_trail_search_is_itself_audited(practice, admin):
    api_as(practice.staff[Role.NURSE]).get(f"/patients/{practice.patient.pk}")
    response = admin.get("/audit-events", {"action": "read"})
    assert response.status_code == 200
    [event] = response.json()["items"]
    assert (event["username"], event["patient_id"], event["detail"]) == (
        practice.staff[Role.NURSE].user.username,
        str(practice.patient.pk),
        {"purpose": "demographics"},
    )
    [search] = audit_rows(practice.org.pk, object_type="AuditEvent")
    assert search.action == "list" and search.detail["filters"] == ["action"]
    newest = admin.get("/audit-events").json()["items"][0]
    assert (newest["object_type"], newest["action"]) == ("AuditEvent", "list")


def test_the_audit_trail_can_be_searched_by_patient_mrn(practice, admin):
    nurse = api_as(practice.staff[Role.NURSE])
    nurse.get(f"/patients/{practice.patient.pk}")
    nurse.get("/patients")
    items = admin.get("/audit-events", {"mrn": practice.patient.mrn}).json()["items"]
    assert [(e["action"], e["patient_id"]) for e in items] == [("read", str(practice.patient.pk))]


def test_only_roles_with_the_audit_permission_read_the_trail(practice):
    for role in (Role.NURSE, Role.PRESCRIBER, Role.FRONT_DESK, Role.THERAPIST):
        response = api_as(practice.staff[role]).get("/audit-events")
        assert response.status_code == 403 and "audit.view" in field_errors(response)[None]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "delete"}, "action"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"patient": "x"}, "patient"),
    ],
)
def test_bad_audit_filters_are_refused(practice, admin, params, field):
    response = admin.get("/audit-events", params)
    assert response.status_code == 422 and field in field_errors(response)
