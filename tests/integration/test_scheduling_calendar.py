"""The day and week calendars: columns are chairs, rows are times, closed days say so, other
organizations never show, the staff filter narrows to one person, and a 20-chair week is one query
for its appointments."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.scheduling.models import ClosedDay
from tests.factories import PatientFactory
from tests.integration.calendar_factories import book, local, next_weekday, open_clinic
from tests.integration.pages import PAGE_TEST_MARKS, text_of

pytestmark = PAGE_TEST_MARKS


def day_url(clinic, day, **extra) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"clinic": clinic.pk, "date": day.isoformat(), **extra}.items())
    return f"{reverse('scheduling:day')}?{query}"


def week_url(clinic, day) -> str:
    return f"{reverse('scheduling:week')}?clinic={clinic.pk}&date={day.isoformat()}"


def cell_of(html: str, appointment) -> str:
    found = re.search(rf'<td[^>]*data-appointment="{appointment.pk}"[^>]*>', html)
    assert found, f"appointment {appointment.pk} is not on the page"
    return found.group(0)


def attribute(tag: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', tag)
    assert found, f"{name} missing in {tag}"
    return found.group(1)


def test_the_day_page_puts_each_appointment_in_its_chair_column_and_time_row(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=3)
    monday = next_weekday(0)
    nurse = practice.staff[Role.NURSE]
    nurse.user.first_name, nurse.user.last_name = "Nola", "Reyes"
    nurse.user.save()
    other = PatientFactory(home_clinic=practice.clinic, legal_given_name="Briar", legal_family_name="Okafor")
    first = book(practice.patient, local(practice.clinic, monday, 9), room=chairs[1], staff=[nurse])
    second = book(other, local(practice.clinic, monday, 10, 15), room=chairs[0], minutes=90)

    response = client_as(Role.NURSE).get(day_url(practice.clinic, monday))

    html = response.content.decode()
    assert response.status_code == 200
    headers = re.findall(r'<th scope="col" class="cal-room" data-column="([^"]+)"', html)
    assert headers == [str(c.pk) for c in chairs]
    tag = cell_of(html, first)
    assert attribute(tag, "data-column") == str(chairs[1].pk)
    assert attribute(tag, "data-starts") == "09:00"
    assert attribute(tag, "rowspan") == "12"  # 60 minutes of 5-minute rows
    tag = cell_of(html, second)
    assert (attribute(tag, "data-column"), attribute(tag, "data-starts"), attribute(tag, "rowspan")) == (
        str(chairs[0].pk), "10:15", "18")
    page = reverse("scheduling:appointment", args=[second.pk])
    assert f'<span class="cal-appt__name"><a href="{page}">Briar Okafor</a></span>' in html
    text = text_of(response)
    assert practice.patient.display_name in text and "Briar Okafor" in text
    assert "IV infusion" in text and "NR" in text and "Booked" in text
    assert "8:00 AM" in text and "5:45 PM" in text  # the grid runs through opening hours
    assert monday.strftime("%B") in text


def test_a_closed_day_says_closed_with_its_reason_and_offers_no_free_slots(practice, client_as):
    open_clinic(practice.clinic, chairs=2)
    monday = next_weekday(0)
    ClosedDay.objects.create(organization=practice.org, clinic=None, day=monday, reason="Staff training day")

    closed = client_as(Role.FRONT_DESK).get(day_url(practice.clinic, monday))
    sunday = client_as(Role.FRONT_DESK).get(day_url(practice.clinic, monday + timedelta(days=6)))
    tuesday = client_as(Role.FRONT_DESK).get(day_url(practice.clinic, monday + timedelta(days=1)))

    assert "Closed: Staff training day." in text_of(closed)
    assert "cal-slot__book" not in closed.content.decode()
    assert "Closed: No opening hours on this day." in text_of(sunday)
    assert "Closed" not in text_of(tuesday) and "cal-slot__book" in tuesday.content.decode()


def test_the_week_shows_a_closed_day_and_the_count_per_room_and_day(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=2)
    monday = next_weekday(0)
    ClosedDay.objects.create(organization=practice.org, clinic=practice.clinic,
                             day=monday + timedelta(days=2), reason="Public holiday")
    first = book(practice.patient, local(practice.clinic, monday, 9), room=chairs[0])
    book(PatientFactory(home_clinic=practice.clinic), local(practice.clinic, monday, 11), room=chairs[0])
    book(PatientFactory(home_clinic=practice.clinic), local(practice.clinic, monday, 11), room=chairs[1],
         status="cancelled")

    response = client_as(Role.FRONT_DESK).get(week_url(practice.clinic, monday + timedelta(days=3)))

    text = text_of(response)
    assert "Week of" in text and monday.strftime("%B") in text
    assert "Closed: Public holiday" in text
    assert "2 appointments from" in text  # the cancelled one is not counted
    assert re.search(rf'data-column="{chairs[0].pk}">\s*<span class="cal-week__count">2</span>',
                     response.content.decode())
    assert "9:00 AM" in text and "11:00 AM" in text
    page = reverse("scheduling:appointment", args=[first.pk])
    short = f"{practice.patient.legal_given_name} {practice.patient.legal_family_name[0]}."
    assert f'<a href="{page}">{short}</a>' in response.content.decode()


def test_another_organizations_appointments_and_clinics_never_appear(practice, stranger, client_as):
    chairs = open_clinic(practice.clinic, chairs=2)
    theirs = open_clinic(stranger.clinic, chairs=2)
    monday = next_weekday(0)
    stranger.patient.legal_family_name = "Zephyrstrange"
    stranger.patient.save()
    book(practice.patient, local(practice.clinic, monday, 9), room=chairs[0])
    book(stranger.patient, local(stranger.clinic, monday, 9), room=theirs[0])
    client = client_as(Role.OWNER)

    ours = client.get(day_url(practice.clinic, monday))
    week = client.get(week_url(practice.clinic, monday))
    their_day = client.get(day_url(stranger.clinic, monday))
    their_staff = client.get(day_url(practice.clinic, monday, staff=stranger.staff[Role.NURSE].pk))

    short = f"{practice.patient.legal_given_name} {practice.patient.legal_family_name[0]}."
    assert practice.patient.display_name in text_of(ours) and short in text_of(week)
    for response in (ours, week):
        assert "Zephyrstrange" not in text_of(response)
        assert stranger.clinic.name not in text_of(response)
    assert their_day.status_code == 404 and "Zephyrstrange" not in text_of(their_day)
    assert their_staff.status_code == 404


def test_the_staff_filter_shows_only_that_persons_day(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=2)
    monday = next_weekday(0)
    nurse, therapist = practice.staff[Role.NURSE], practice.staff[Role.THERAPIST]
    with_nurse = book(practice.patient, local(practice.clinic, monday, 9), room=chairs[0], staff=[nurse])
    other = PatientFactory(home_clinic=practice.clinic, legal_family_name="Otherperson")
    with_therapist = book(other, local(practice.clinic, monday, 9), room=chairs[1], staff=[therapist])

    response = client_as(Role.FRONT_DESK).get(day_url(practice.clinic, monday, staff=nurse.pk))

    html = response.content.decode()
    assert f'data-appointment="{with_nurse.pk}"' in html
    assert f'data-appointment="{with_therapist.pk}"' not in html
    assert "Otherperson" not in text_of(response)
    assert f"{nurse.display_name}'s day" in text_of(response)
    assert f'<option value="{nurse.pk}" selected>' in html


def test_front_desk_reads_names_and_types_and_the_read_is_audited_with_the_count_only(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=1)
    monday = next_weekday(0)
    book(practice.patient, local(practice.clinic, monday, 14), room=chairs[0], key="consultation")

    response = client_as(Role.FRONT_DESK).get(day_url(practice.clinic, monday))

    assert practice.patient.display_name in text_of(response) and "Consultation" in text_of(response)
    lists = AuditEvent.objects.filter(organization=practice.org, action="list", object_type="Appointment")
    event = lists.last()
    assert event is not None and event.detail["count"] == 1 and event.detail["view"] == "day"
    assert event.detail["date"] == monday.isoformat()
    assert practice.patient.legal_family_name not in str(event.detail)


def test_previous_and_next_move_by_a_day_and_keep_the_clinic(practice, client_as):
    open_clinic(practice.clinic, chairs=1)
    monday = next_weekday(0)

    html = client_as(Role.NURSE).get(day_url(practice.clinic, monday)).content.decode()

    for day in (monday - timedelta(days=1), monday + timedelta(days=1)):
        assert f"clinic={practice.clinic.pk}&amp;date={day.isoformat()}" in html


def test_a_cancelled_appointment_is_listed_under_the_grid_not_in_it(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=1)
    monday = next_weekday(0)
    cancelled = book(practice.patient, local(practice.clinic, monday, 9), room=chairs[0], status="cancelled")

    response = client_as(Role.NURSE).get(day_url(practice.clinic, monday))

    html = response.content.decode()
    assert not re.search(rf'<td[^>]*data-appointment="{cancelled.pk}"', html)
    assert re.search(rf'<li data-appointment="{cancelled.pk}"', html)
    assert "Cancelled and no-shows" in text_of(response) and "Cancelled" in text_of(response)


def test_the_week_of_a_twenty_chair_clinic_reads_its_appointments_in_one_query(
    practice, client_as, django_assert_max_num_queries
):
    chairs = open_clinic(practice.clinic, chairs=20)
    monday = next_weekday(0)
    nurse = practice.staff[Role.NURSE]
    client = client_as(Role.FRONT_DESK)
    url = week_url(practice.clinic, monday)
    book(practice.patient, local(practice.clinic, monday, 8), room=chairs[0], staff=[nurse])
    client.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    patients = [PatientFactory(home_clinic=practice.clinic) for _ in range(10)]
    for n, chair in enumerate(chairs):
        for d in range(6):
            book(patients[(n + d) % 10], local(practice.clinic, monday + timedelta(days=d), 9 + n % 8),
                 room=chair, staff=[nurse] if n == 0 else [])

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert "121 appointments" in text_of(response)
    assert len(re.findall(r'<li class="cal-mini', response.content.decode())) == 121


def test_the_day_page_needs_the_schedule_permission_and_a_sign_in(practice):
    from django.test import Client

    response = Client().get(reverse("scheduling:day"))

    assert response.status_code == 302 and "/account/login" in response["Location"]


def test_the_calendar_pages_carry_no_inline_script_or_style(practice, client_as):
    chairs = open_clinic(practice.clinic, chairs=2)
    monday = next_weekday(0)
    nurse = practice.staff[Role.NURSE]
    book(practice.patient, local(practice.clinic, monday, 9), room=chairs[0], staff=[nurse])
    client = client_as(Role.OWNER)
    tab = reverse("patients:tab", kwargs={"patient_id": practice.patient.pk, "tab": "appointments"})

    for url in (day_url(practice.clinic, monday), week_url(practice.clinic, monday), tab,
                reverse("scheduling:my_feed")):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url
