"""Calendar feeds: valid iCalendar with stable ids and real time zones; a patient's feed says only
"Appointment at <clinic>" and the address; a staff feed shows initials, never names; revoked and
unknown tokens are 404; one organization's feed never shows another's appointments. Also the
chart's Appointments tab and the portal card."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from ketaflow.accounts.middleware import PATIENT_PREFIXES
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.scheduling import feeds
from ketaflow.scheduling.models import CalendarFeed
from ketaflow.validation import Forbidden, NotFound
from tests.factories import ConditionFactory, PatientFactory, actor_of
from tests.integration.calendar_factories import book, esketamine_plan, open_clinic
from tests.integration.consent_factories import portal_patient
from tests.integration.pages import text_of

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def parsed(response) -> Calendar:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


@pytest.fixture
def harbor(practice):
    clinic = practice.clinic
    clinic.name, clinic.address_line1, clinic.city = "Harbor Clinic", "12 Quay Lane", "Portland"
    clinic.save()
    return practice, open_clinic(clinic)


def test_a_patient_feed_is_valid_icalendar_with_stable_uids_zoned_times_and_cancellations(harbor):
    practice, chairs = harbor
    soon = timezone.now().replace(microsecond=0, second=0) + timedelta(days=3)
    booked = book(practice.patient, soon, room=chairs[0])
    cancelled = book(practice.patient, soon + timedelta(days=1), room=chairs[1], status="cancelled")
    book(practice.patient, soon + timedelta(days=400), room=chairs[0])  # beyond a year: left out
    _feed, url = feeds.issue_feed(actor_of(practice.staff[Role.FRONT_DESK]), patient_id=practice.patient.pk)

    calendar = parsed(Client().get(path_of(url)))

    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"{booked.pk}@ketaflow", f"{cancelled.pk}@ketaflow"}
    event = events[f"{booked.pk}@ketaflow"]
    start = event.decoded("DTSTART")
    assert start == booked.starts_at and str(start.tzinfo) == "America/Denver"
    assert event.decoded("DTEND") == booked.ends_at
    assert event["DTSTAMP"] is not None
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(events[f"{cancelled.pk}@ketaflow"]["STATUS"]) == "CANCELLED"
    assert str(event["SUMMARY"]) == "Appointment at Harbor Clinic"
    assert str(event["LOCATION"]) == "Harbor Clinic, 12 Quay Lane, Portland"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Denver"]


def test_a_patient_feed_carries_no_type_route_or_diagnosis(harbor):
    practice, chairs = harbor
    ConditionFactory(patient=practice.patient)
    plan = esketamine_plan(practice.patient, practice.staff[Role.PRESCRIBER])
    book(practice.patient, timezone.now() + timedelta(days=2), room=chairs[0], key="esketamine", plan=plan,
         series_number=1, phase="induction")
    book(practice.patient, timezone.now() + timedelta(days=4), room=chairs[0], key="iv")
    _feed, url = feeds.issue_feed(actor_of(practice.staff[Role.NURSE]), patient_id=practice.patient.pk)

    body = Client().get(path_of(url)).content.decode().lower()

    assert body.count("summary:appointment at harbor clinic") == 2
    for word in ("ketamine", "esketamine", "infusion", "iv ", "depress", "f33", "induction", "session",
                 practice.patient.legal_family_name.lower(), "chair"):
        assert word not in body


def test_a_staff_feed_shows_the_type_and_initials_never_the_name(harbor, client_as):
    practice, chairs = harbor
    nurse = practice.staff[Role.NURSE]
    patient = PatientFactory(home_clinic=practice.clinic, legal_given_name="Rowan",
                             legal_family_name="Delacroix")
    mine = book(patient, timezone.now() + timedelta(days=1), room=chairs[2], staff=[nurse])
    book(practice.patient, timezone.now() + timedelta(days=1), room=chairs[0])  # not the nurse's

    page = client_as(Role.NURSE).post(reverse("scheduling:my_feed"), {"action": "issue"})
    url = re.search(r'<p class="feed-url">([^<]+)</p>', page.content.decode()).group(1)
    calendar = parsed(Client().get(path_of(url)))

    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"{mine.pk}@ketaflow"]
    assert str(events[0]["SUMMARY"]) == "IV infusion · RD"
    assert "Chair 03" in str(events[0]["LOCATION"])
    assert b"Rowan" not in Client().get(path_of(url)).content
    assert b"Delacroix" not in Client().get(path_of(url)).content


def test_only_the_tokens_hash_is_stored_and_a_new_link_revokes_the_old(harbor):
    practice, _chairs = harbor
    actor = actor_of(practice.staff[Role.FRONT_DESK])
    first, first_url = feeds.issue_feed(actor, patient_id=practice.patient.pk)
    token = path_of(first_url).rsplit("/", 1)[1].removesuffix(".ics")

    second, second_url = feeds.issue_feed(actor, patient_id=practice.patient.pk)

    assert first.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not CalendarFeed.objects.filter(token_hash=token).exists()
    first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    assert Client().get(path_of(first_url)).status_code == 404
    assert Client().get(path_of(second_url)).status_code == 200
    assert feeds.revoke_feed(actor, patient_id=practice.patient.pk) == 1
    assert Client().get(path_of(second_url)).status_code == 404
    assert Client().get("/schedule/p/feeds/not-a-real-token.ics").status_code == 404


def test_issuing_and_reading_feeds_is_audited_without_the_token(harbor):
    practice, chairs = harbor
    book(practice.patient, timezone.now() + timedelta(days=1), room=chairs[0])
    feed, url = feeds.issue_feed(actor_of(practice.staff[Role.FRONT_DESK]), patient_id=practice.patient.pk)
    Client().get(path_of(url))

    events = AuditEvent.objects.filter(organization=practice.org, object_type="CalendarFeed").order_by("seq")

    assert [(e.action, e.via) for e in events] == [("create", "web"), ("export", "ics")]
    assert events[1].detail == {"format": "ics", "count": 1} and events[1].patient_id == practice.patient.pk
    token = path_of(url).rsplit("/", 1)[1].removesuffix(".ics")
    assert all(token not in str(e.detail) for e in events)
    feed.refresh_from_db()
    assert feed.last_used_at is not None


def test_feeds_never_cross_organizations(harbor, stranger):
    practice, chairs = harbor
    theirs = open_clinic(stranger.clinic)
    book(practice.patient, timezone.now() + timedelta(days=1), room=chairs[0])
    book(stranger.patient, timezone.now() + timedelta(days=1), room=theirs[0],
         staff=[stranger.staff[Role.NURSE]])
    ours = actor_of(practice.staff[Role.OWNER])

    with pytest.raises(NotFound):
        feeds.issue_feed(ours, patient_id=stranger.patient.pk)
    with pytest.raises(NotFound):
        feeds.issue_feed(ours, staff_id=stranger.staff[Role.NURSE].pk)
    _feed, url = feeds.issue_feed(ours, patient_id=practice.patient.pk)
    calendar = parsed(Client().get(path_of(url)))
    client = Client()
    client.force_login(practice.staff[Role.FRONT_DESK].user)
    posted = client.post(reverse("scheduling:patient_feed", args=[stranger.patient.pk]), {"action": "issue"})

    assert len(calendar.walk("VEVENT")) == 1
    assert posted.status_code == 404
    assert not CalendarFeed.objects.filter(patient=stranger.patient).exists()


def test_a_staff_member_cannot_issue_a_colleagues_feed_without_managing_staff(harbor):
    practice, _chairs = harbor
    with pytest.raises(Forbidden):
        feeds.issue_feed(actor_of(practice.staff[Role.NURSE]), staff_id=practice.staff[Role.THERAPIST].pk)
    with pytest.raises(Forbidden):
        feeds.issue_feed(actor_of(practice.staff[Role.THERAPIST]), patient_id=practice.patient.pk)


def test_the_appointments_tab_lists_upcoming_and_past_and_shows_a_new_link_once(harbor, client_as):
    practice, chairs = harbor
    plan = esketamine_plan(practice.patient, practice.staff[Role.PRESCRIBER])
    upcoming = book(practice.patient, timezone.now() + timedelta(days=2), room=chairs[0], key="esketamine",
                    plan=plan, series_number=3, phase="induction")
    past = book(practice.patient, timezone.now() - timedelta(days=5), room=chairs[0], status="completed")
    past.reminder_sent_at = timezone.now() - timedelta(days=6)
    past.save()
    client = client_as(Role.FRONT_DESK)
    tab = reverse("patients:tab", kwargs={"patient_id": practice.patient.pk, "tab": "appointments"})

    page = client.get(tab)
    issued = client.post(reverse("scheduling:patient_feed", args=[practice.patient.pk]), {"action": "issue"})
    again = client.get(tab)

    text = text_of(page)
    assert "Upcoming appointments" in text and "Esketamine session" in text
    assert "Session 3 of induction" in text and "No reminder sent yet" in text
    assert "Completed" in text and "Reminder sent" in text and "1 reminder sent" in text
    assert text.index("Upcoming appointments") < text.index("Esketamine session") < text.index("Past and")
    assert f'data-appointment="{upcoming.pk}"' in page.content.decode()
    url = re.search(r'<p class="feed-url">([^<]+)</p>', issued.content.decode()).group(1)
    assert "/schedule/p/feeds/" in url and url.endswith(".ics")
    assert url not in again.content.decode() and "A calendar link is active since" in text_of(again)


def test_a_therapist_sees_the_tab_but_cannot_issue_a_patients_link(harbor, client_as):
    practice, _chairs = harbor
    client = client_as(Role.THERAPIST)

    tab = reverse("patients:tab", kwargs={"patient_id": practice.patient.pk, "tab": "appointments"})
    page = client.get(tab)
    posted = client.post(reverse("scheduling:patient_feed", args=[practice.patient.pk]), {"action": "issue"})

    assert page.status_code == 200 and "Create a calendar link" not in text_of(page)
    assert posted.status_code == 403 and not CalendarFeed.objects.exists()


def test_the_portal_card_lists_only_the_patients_own_upcoming_appointments_and_instructions(harbor):
    practice, chairs = harbor
    plan = esketamine_plan(practice.patient, practice.staff[Role.PRESCRIBER])
    mine = book(practice.patient, timezone.now() + timedelta(days=2), room=chairs[0], key="esketamine",
                plan=plan)
    neighbour = PatientFactory(home_clinic=practice.clinic, legal_family_name="Neighbourly")
    theirs = book(neighbour, timezone.now() + timedelta(days=2), room=chairs[1])
    client = portal_patient(practice)

    home = client.get("/portal/")

    html = home.content.decode()
    assert "Your appointments" in text_of(home)
    assert f'data-appointment="{mine.pk}"' in html and f'data-appointment="{theirs.pk}"' not in html
    assert "No food for 2 hours" in text_of(home) and "Harbor Clinic, 12 Quay Lane" in text_of(home)
    assert "Add to my calendar" in text_of(home)
    reads = AuditEvent.objects.filter(organization=practice.org, object_type="Appointment", action="read")
    read = reads.last()
    assert read is not None and read.detail == {"purpose": "portal:card", "count": 1}
    assert read.via == "portal"


@pytest.mark.skipif("/schedule/p/" not in PATIENT_PREFIXES,
                    reason="needs /schedule/p/ in accounts.middleware.PATIENT_PREFIXES (reported)")
def test_the_patient_gets_their_own_calendar_link_from_the_portal(harbor):
    practice, chairs = harbor
    book(practice.patient, timezone.now() + timedelta(days=2), room=chairs[0])
    client = portal_patient(practice)

    page = client.post(reverse("scheduling:portal_feed"), {"action": "issue"})

    url = re.search(r'<p class="feed-url">([^<]+)</p>', page.content.decode()).group(1)
    assert "webcal://" in page.content.decode()
    calendar = parsed(Client().get(path_of(url)))
    assert len(calendar.walk("VEVENT")) == 1
    assert CalendarFeed.objects.get(revoked_at__isnull=True).patient == practice.patient
    client.post(reverse("scheduling:portal_feed"), {"action": "revoke"})
    assert Client().get(path_of(url)).status_code == 404


def test_the_portal_calendar_page_turns_staff_away(harbor, client_as):
    response = client_as(Role.FRONT_DESK).get(reverse("scheduling:portal_feed"))

    assert response.status_code == 403


def test_my_feed_page_issues_once_revokes_and_ignores_an_unknown_action(harbor, client_as):
    practice, _chairs = harbor
    client = client_as(Role.THERAPIST)
    url = reverse("scheduling:my_feed")

    before = client.get(url)
    nothing = client.post(url, {"action": "bogus"})
    issued = client.post(url, {"action": "issue"})
    link = re.search(r'<p class="feed-url">([^<]+)</p>', issued.content.decode()).group(1)
    later = client.get(url)
    revoked = client.post(url, {"action": "revoke"})

    assert "You have no active calendar link." in text_of(before)
    assert nothing.status_code == 302 and CalendarFeed.objects.count() == 1
    assert "webcal://" in issued.content.decode()
    assert link not in later.content.decode() and "A link is active since" in text_of(later)
    assert revoked.status_code == 302 and Client().get(path_of(link)).status_code == 404
    assert CalendarFeed.objects.get().staff == practice.staff[Role.THERAPIST]
