"""The booking, series, appointment, waitlist and settings pages."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.scheduling import services
from ketaflow.scheduling.models import Appointment, AppointmentType, ClosedDay, StaffHours
from tests.factories import PatientFactory, actor_of
from tests.integration.calendar_factories import book as calendar_book
from tests.integration.calendar_factories import local, open_clinic
from tests.integration.pages import PAGE_TEST_MARKS, htmx, signed_in, text_of
from tests.integration.scheduling_factories import at, bookable, next_weekday, signed_plan

pytestmark = PAGE_TEST_MARKS


def test_the_booking_page_lists_free_slots_by_htmx_and_books_the_one_picked(practice):
    place = bookable(practice)
    client = signed_in(practice.staff[Role.FRONT_DESK])
    url = reverse("scheduling:book", args=[practice.patient.pk])
    day = next_weekday(1)
    query = {"clinic_id": practice.clinic.pk, "type_key": "consultation", "day": day.isoformat()}
    fragment = client.get(url, query, headers=htmx("slot-list"))
    assert fragment.status_code == 200
    assert "08:00 · Consult A" in text_of(fragment) and "<html" not in fragment.content.decode()
    slot = f"{at(practice, day, 9).isoformat()}|{place.consult.pk}|{practice.staff[Role.PRESCRIBER].pk}"
    response = client.post(url, {**query, "slot": slot})
    appointment = Appointment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "scheduling:appointment", args=[appointment.pk]
    )
    assert appointment.starts_at == at(practice, day, 9)


def test_a_time_typed_outside_opening_hours_comes_back_beside_the_time_field(practice):
    bookable(practice)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(
        reverse("scheduling:book", args=[practice.patient.pk]),
        {
            "clinic_id": practice.clinic.pk,
            "type_key": "consultation",
            "day": next_weekday(1).isoformat(),
            "time": "19:00",
        },
    )
    assert response.status_code == 200
    assert "outside opening hours" in text_of(response)
    assert not Appointment.objects.exists()


def test_the_series_page_previews_then_books_all(practice):
    bookable(practice)
    plan = signed_plan(practice, "iv-depression")
    client = signed_in(practice.staff[Role.NURSE])
    url = reverse("scheduling:series", args=[plan.pk])
    page = text_of(client.get(url))
    assert "6 sessions proposed" in page and "weeks 1-3, twice weekly" in page and "Book all 6" in page
    response = client.post(url, {"phase": "induction"})
    assert response.status_code == 200 and "Booked 6 sessions" in text_of(response)
    assert Appointment.objects.filter(plan=plan).count() == 6


def test_the_appointment_page_cancels_with_a_reason_and_offers_the_slot(practice):
    bookable(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    appointment = services.book(
        nurse,
        practice.patient.pk,
        clinic_id=practice.clinic.pk,
        type_key="consultation",
        starts_at=at(practice, next_weekday(2), 11),
    )
    from tests.factories import PatientFactory

    other = PatientFactory(home_clinic=practice.clinic, legal_given_name="Waitlisted")
    services.add_to_waitlist(
        nurse, other.pk, clinic_id=practice.clinic.pk, type_key="consultation", earliest=next_weekday(0)
    )
    client = signed_in(practice.staff[Role.NURSE])
    url = reverse("scheduling:appointment", args=[appointment.pk])
    refused = client.post(url, {"action": "cancel", "cancel-reason": ""})
    assert refused.status_code == 422 and "This field is required" in text_of(refused)
    done = client.post(url, {"action": "cancel", "cancel-reason": "Patient unwell"}, follow=True)
    assert "Cancelled" in text_of(done) and "Patient unwell" in text_of(done)
    assert "Offer this slot to Waitlisted" in text_of(done)


def test_the_settings_pages_edit_a_type_add_hours_and_close_a_day(practice):
    bookable(practice)
    client = signed_in(practice.staff[Role.ADMIN])
    kind = AppointmentType.objects.get(organization=practice.org, key="iv")
    response = client.post(
        reverse("scheduling:types"),
        {
            "type_id": kind.pk,
            "iv-name": "IV infusion",
            "iv-minutes": "120",
            "iv-required_roles": ["nurse"],
            "iv-instructions": "Light meal only.",
            "iv-is_active": "on",
        },
    )
    assert response.status_code == 302
    kind.refresh_from_db()
    assert kind.minutes == 120 and kind.instructions == "Light meal only."
    response = client.post(
        reverse("scheduling:hours") + f"?clinic={practice.clinic.pk}",
        {
            "clinic_id": practice.clinic.pk,
            "staff_id": practice.staff[Role.FRONT_DESK].pk,
            "weekday": "6",
            "starts": "09:00",
            "ends": "12:00",
        },
    )
    assert response.status_code == 302
    assert StaffHours.objects.filter(staff=practice.staff[Role.FRONT_DESK], weekday=6).exists()
    day = next_weekday(3) + timedelta(days=7)
    response = client.post(
        reverse("scheduling:closed_days"),
        {"day": day.isoformat(), "clinic_id": "", "reason": "Founders' day"},
    )
    assert response.status_code == 302
    assert ClosedDay.objects.get(organization=practice.org).reason == "Founders' day"
    assert "Founders" in text_of(client.get(reverse("scheduling:closed_days")))


def test_settings_pages_are_for_practice_managers_only(practice):
    client = signed_in(practice.staff[Role.NURSE])
    for name in ("scheduling:types", "scheduling:hours", "scheduling:closed_days"):
        response = client.get(reverse(name))
        assert response.status_code == 403, name


def test_the_closed_days_page_counts_the_bookings_left_on_each_day_by_the_clinics_own_clock(practice):
    chairs = open_clinic(practice.clinic, chairs=2)
    day = next_weekday(2)
    ClosedDay.objects.create(organization=practice.org, clinic=None, day=day, reason="Staff training")
    ClosedDay.objects.create(organization=practice.org, clinic=practice.clinic,
                             day=day + timedelta(days=7), reason="Deep clean")
    # 19:00 in Denver is the next day in UTC: counted on its own clinic day, not the one after.
    def other():
        return PatientFactory(home_clinic=practice.clinic)

    calendar_book(practice.patient, local(practice.clinic, day, 19), room=chairs[0])
    calendar_book(other(), local(practice.clinic, day, 9), room=chairs[1])
    calendar_book(other(), local(practice.clinic, day, 11), room=chairs[1], status="cancelled")
    calendar_book(other(), local(practice.clinic, day + timedelta(days=6), 19), room=chairs[0])

    page = text_of(signed_in(practice.staff[Role.OWNER]).get(reverse("scheduling:closed_days")))

    assert "2 appointments to move" in page  # the evening one and the morning one; not the cancelled one
    assert "1 appointment to move" not in page  # the evening before the deep clean is not on it
    assert "Deep clean none" in page
