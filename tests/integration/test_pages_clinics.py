"""Clinic settings pages: clinics, opening hours, and rooms and chairs."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from tests.factories import RoomFactory
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def clinic_data(**overrides):
    data = {"name": "Lakeside Clinic", "address_line1": "9 Shore Rd", "city": "Bend", "region": "OR",
            "postal_code": "97701", "phone": "(541) 555-0134", "timezone": "America/Los_Angeles",
            "is_active": "on"}
    return data | overrides


def week(**days):
    """Opening-hours form data: every day closed unless given as d0=("09:00", "17:00") etc."""
    data = {}
    for day in range(7):
        hours = days.get(f"d{day}")
        if hours is None:
            data[f"d{day}_closed"] = "on"
        else:
            data[f"d{day}_opens1"], data[f"d{day}_closes1"] = hours[:2]
            if len(hours) == 4:
                data[f"d{day}_opens2"], data[f"d{day}_closes2"] = hours[2:]
    return data


def test_the_settings_page_lists_our_clinics_with_hours_and_rooms_only(practice, stranger):
    RoomFactory(clinic=practice.clinic, name="Chair Aurora")
    OpeningHours.objects.create(organization=practice.org, clinic=practice.clinic, weekday=0,
                                opens=dt.time(9), closes=dt.time(17))
    text = text_of(signed_in(practice.staff[Role.ADMIN]).get("/settings/"))
    assert practice.clinic.name in text
    assert "Mon 09:00\u201317:00" in text  # an en dash
    assert "Sun Closed" in text
    assert "1 active of 1" in text
    assert stranger.clinic.name not in text


def test_adding_a_clinic_saves_it_and_goes_on_to_its_hours(practice):
    response = signed_in(practice.staff[Role.OWNER]).post("/settings/clinics/new/", clinic_data())
    clinic = Clinic.objects.get(organization=practice.org, name="Lakeside Clinic")
    assert response["Location"] == f"/settings/clinics/{clinic.pk}/hours/"
    assert clinic.phone == "+15415550134"
    assert clinic.timezone == "America/Los_Angeles"
    assert clinic.is_active


def test_the_time_zone_list_starts_with_common_us_zones(practice):
    html = signed_in(practice.staff[Role.OWNER]).get("/settings/clinics/new/").content.decode()
    assert '<label for="id_timezone">Time zone' in html
    first = html.index('<optgroup label="Common US time zones">')
    assert first < html.index('value="America/New_York"') < html.index('<optgroup label="All time zones">')
    assert 'value="Europe/Dublin"' in html


def test_clinic_errors_show_next_to_the_field_and_nothing_is_saved(practice):
    client = signed_in(practice.staff[Role.OWNER])
    response = client.post("/settings/clinics/new/", clinic_data(name=practice.clinic.name, phone="123"))
    assert response.status_code == 200
    assert "area code" in field_error(response, "id_phone")
    assert not Clinic.objects.filter(organization=practice.org, city="Bend").exists()
    duplicate = client.post("/settings/clinics/new/", clinic_data(name=practice.clinic.name))
    assert field_error(duplicate, "id_name") == "Another clinic already has this name."


def test_editing_a_clinic_can_make_it_inactive(practice):
    client = signed_in(practice.staff[Role.ADMIN])
    response = client.post(f"/settings/clinics/{practice.clinic.pk}/",
                           clinic_data(name="Harbor Main", is_active=""))
    assert response["Location"] == "/settings/"
    practice.clinic.refresh_from_db()
    assert practice.clinic.name == "Harbor Main"
    assert not practice.clinic.is_active


def test_opening_hours_are_saved_for_each_weekday_with_an_optional_second_session(practice):
    client = signed_in(practice.staff[Role.ADMIN])
    data = week(d0=("08:00", "12:00", "13:00", "17:00"), d1=("09:00", "17:00"), d4=("09:00", "13:00"))
    response = client.post(f"/settings/clinics/{practice.clinic.pk}/hours/", data)
    assert response.status_code == 302
    hours = practice.clinic.opening_hours.order_by("weekday", "opens")
    saved = [(h.weekday, h.opens, h.closes) for h in hours]
    assert saved == [(0, dt.time(8), dt.time(12)), (0, dt.time(13), dt.time(17)),
                     (1, dt.time(9), dt.time(17)), (4, dt.time(9), dt.time(13))]
    form = client.get(f"/settings/clinics/{practice.clinic.pk}/hours/").content.decode()
    assert 'name="d0_opens2" value="13:00"' in form


def test_hours_that_close_before_they_open_are_refused_next_to_the_day(practice):
    client = signed_in(practice.staff[Role.ADMIN])
    response = client.post(f"/settings/clinics/{practice.clinic.pk}/hours/",
                           week(d0=("09:00", "17:00"), d2=("17:00", "09:00")))
    assert response.status_code == 200
    assert field_error(response, "id_d2_closes1") == "Wednesday: Closing time must be after opening time."
    assert not practice.clinic.opening_hours.exists()


def test_an_open_day_needs_both_times(practice):
    data = week(d0=("09:00", "17:00")) | {"d3_opens1": "09:00"}
    data.pop("d3_closed")
    client = signed_in(practice.staff[Role.ADMIN])
    response = client.post(f"/settings/clinics/{practice.clinic.pk}/hours/", data)
    assert field_error(response, "id_d3_closes1") == "Thursday: enter both times, or leave both empty."


def test_rooms_are_listed_added_and_edited(practice):
    client = signed_in(practice.staff[Role.ADMIN])
    room_data = {"name": "Chair Juniper", "kind": "chair", "is_active": "on", "notes": "By window"}
    response = client.post(f"/settings/clinics/{practice.clinic.pk}/rooms/", room_data)
    assert response.status_code == 302
    room = Room.objects.get(clinic=practice.clinic, name="Chair Juniper")
    listing = text_of(client.get(f"/settings/clinics/{practice.clinic.pk}/rooms/"))
    assert "Chair Juniper Treatment chair Active By window" in listing
    client.post(f"/settings/clinics/{practice.clinic.pk}/rooms/{room.pk}/",
                {"name": "Chair Juniper", "kind": "recovery", "notes": ""})
    room.refresh_from_db()
    assert room.kind == Room.Kind.RECOVERY
    assert not room.is_active


def test_a_duplicate_room_name_is_refused_next_to_the_name(practice):
    RoomFactory(clinic=practice.clinic, name="Chair 9")
    response = signed_in(practice.staff[Role.ADMIN]).post(
        f"/settings/clinics/{practice.clinic.pk}/rooms/", {"name": "chair 9", "kind": "chair"}
    )
    assert field_error(response, "id_name") == "Another room in this clinic has this name."
    assert Room.objects.filter(clinic=practice.clinic).count() == 1


@pytest.mark.parametrize("role", [Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.FRONT_DESK])
def test_roles_without_clinic_management_get_403(practice, role):
    client = signed_in(practice.staff[role])
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/clinics/new/", clinic_data()).status_code == 403
    assert not Clinic.objects.filter(name="Lakeside Clinic").exists()
