"""Booking: every refusal names its field, nothing is half-written, cancel and reschedule free slots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from ketaflow.accounts.roles import Role
from ketaflow.measurement.models import Treatment
from ketaflow.scheduling import services
from ketaflow.scheduling.availability import free_slots
from ketaflow.scheduling.models import Appointment, AppointmentStaff, ClosedDay, Occupancy
from ketaflow.validation import Forbidden, ValidationFailed
from tests.conftest import _practice
from tests.factories import actor_of
from tests.integration.scheduling_factories import at, bookable, next_weekday, signed_plan

pytestmark = pytest.mark.django_db


def _errors(failure: ValidationFailed) -> dict[str | None, str]:
    """Each field's messages, joined."""
    found: dict[str | None, str] = {}
    for e in failure.errors:
        found[e.field] = f"{found[e.field]} {e.message}" if e.field in found else e.message
    return found


def _book(practice, hour=10, minute=0, *, day=None, type_key="consultation", **kwargs):
    nurse = actor_of(practice.staff[Role.NURSE])
    day = day or next_weekday(1)
    return services.book(
        nurse,
        practice.patient.pk,
        clinic_id=practice.clinic.pk,
        type_key=type_key,
        starts_at=at(practice, day, hour, minute),
        **kwargs,
    )


def test_a_consultation_books_a_consult_room_and_a_prescriber(practice):
    place = bookable(practice)
    appointment = _book(practice)
    assert appointment.room == place.consult
    assert [(r.staff, r.role) for r in appointment.staff_rows.all()] == [
        (practice.staff[Role.PRESCRIBER], "prescriber")
    ]
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=60)
    # 12 five-minute slots for the room and 12 for the prescriber
    assert Occupancy.objects.filter(appointment=appointment).count() == 24


def test_booking_outside_opening_hours_is_refused_on_the_start_time(practice):
    bookable(practice)
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, 17, 30)
    message = _errors(caught.value)["starts_at"]
    assert "outside opening hours" in message and "08:00-18:00" in message
    assert not Appointment.objects.exists()


def test_booking_on_a_closed_day_names_the_holiday(practice):
    bookable(practice)
    day = next_weekday(2)
    ClosedDay.objects.create(organization=practice.org, clinic=None, day=day, reason="Staff training")
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, day=day)
    assert (
        "closed" in _errors(caught.value)["starts_at"]
        and "Staff training" in _errors(caught.value)["starts_at"]
    )


def test_a_staff_member_who_is_not_working_then_is_refused(practice):
    bookable(practice, weekdays=range(5))
    saturday = next_weekday(5)
    from ketaflow.clinics.models import OpeningHours

    OpeningHours.objects.create(
        organization=practice.org,
        clinic=practice.clinic,
        weekday=5,
        opens=at(practice, saturday, 8).time(),
        closes=at(practice, saturday, 18).time(),
    )
    prescriber = practice.staff[Role.PRESCRIBER]
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, day=saturday, staff_ids=[prescriber.pk])
    assert "is not working" in _errors(caught.value)["staff_ids"]
    assert prescriber.display_name in _errors(caught.value)["staff_ids"]


def test_staff_without_the_required_role_are_refused(practice):
    bookable(practice)
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, staff_ids=[practice.staff[Role.NURSE].pk])
    assert "needs a prescriber" in _errors(caught.value)["staff_ids"]


def test_esketamine_needs_both_a_nurse_and_a_prescriber_on_site(practice):
    bookable(practice)
    plan = signed_plan(practice, "esketamine-trd")
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, type_key="esketamine", plan_id=plan.pk, staff_ids=[practice.staff[Role.NURSE].pk])
    assert "nurse and prescriber" in _errors(caught.value)["staff_ids"]
    booked = _book(practice, type_key="esketamine", plan_id=plan.pk)
    assert sorted(r.role for r in booked.staff_rows.all()) == ["nurse", "prescriber"]
    assert booked.ends_at - booked.starts_at == timedelta(minutes=135)


def test_a_wrong_room_kind_and_an_off_grid_time_are_refused(practice):
    place = bookable(practice)
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, room_id=place.chairs[0].pk)
    assert "needs a consultation room" in _errors(caught.value)["room_id"]
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, 10, 7)
    assert "5-minute" in _errors(caught.value)["starts_at"]


def test_a_treatment_visit_needs_a_signed_plan_of_the_same_route(practice):
    bookable(practice)
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, type_key="iv")
    assert "signed plan" in _errors(caught.value)["plan_id"]
    draft = signed_plan(practice, "iv-depression", status="draft", signed_by=None, signed_at=None)
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, type_key="iv", plan_id=draft.pk)
    assert "not signed" in _errors(caught.value)["plan_id"]
    draft.delete()
    plan = signed_plan(practice, "esketamine-trd")
    with pytest.raises(ValidationFailed) as caught:
        _book(practice, type_key="iv", plan_id=plan.pk)
    assert "Esketamine" in _errors(caught.value)["type_key"]


def test_the_same_chair_twice_is_refused_with_nothing_half_written(practice):
    place = bookable(practice)
    plan = signed_plan(practice)
    chair = place.chairs[0]
    first = _book(practice, type_key="iv", plan_id=plan.pk, room_id=chair.pk)
    counts = (
        Appointment.objects.count(),
        AppointmentStaff.objects.count(),
        Occupancy.objects.count(),
        Treatment.objects.count(),
    )
    with pytest.raises(ValidationFailed) as caught:
        _book(
            practice,
            10,
            15,
            type_key="iv",
            plan_id=plan.pk,
            room_id=chair.pk,
            staff_ids=[practice.staff[Role.PRESCRIBER].pk, practice.staff[Role.NURSE].pk],
        )
    assert "Chair 1 is already booked at 10:15" in _errors(caught.value)["starts_at"]
    assert (
        Appointment.objects.count(),
        AppointmentStaff.objects.count(),
        Occupancy.objects.count(),
        Treatment.objects.count(),
    ) == counts
    assert first.treatment.status == Treatment.Status.SCHEDULED


def test_a_lost_race_at_the_database_is_answered_like_a_taken_slot(practice, monkeypatch):
    """The pre-check sees a free chair (as two simultaneous bookers would); the unique constraint
    refuses the second, and the refusal names the chair, with nothing written."""
    place = bookable(practice)
    plan = signed_plan(practice)
    _book(practice, type_key="iv", plan_id=plan.pk, room_id=place.chairs[0].pk)
    from ketaflow.scheduling import booking

    monkeypatch.setattr(booking, "_taken", lambda *args: None)
    before = Appointment.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        _book(
            practice,
            10,
            30,
            type_key="iv",
            plan_id=plan.pk,
            room_id=place.chairs[0].pk,
            staff_ids=[practice.staff[Role.NURSE].pk],
        )
    assert _errors(caught.value)["starts_at"] == "Chair 1 is already booked at 10:30."
    assert Appointment.objects.count() == before


def test_a_treatment_booking_writes_a_scheduled_treatment_that_follows_the_appointment(practice):
    bookable(practice)
    plan = signed_plan(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    appointment = _book(practice, type_key="iv", plan_id=plan.pk)
    assert appointment.treatment.occurred_at == appointment.starts_at
    assert appointment.series_number is None and appointment.phase == "induction"
    services.cancel(nurse, appointment.pk, reason="Patient has a cold")
    appointment.treatment.refresh_from_db()
    assert appointment.treatment.status == Treatment.Status.CANCELLED


def test_cancel_frees_the_slot_for_another_booking(practice):
    place = bookable(practice, chairs=1)
    plan = signed_plan(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    day = next_weekday(3)
    appointment = _book(practice, day=day, type_key="iv", plan_id=plan.pk)
    kind = services.type_for(practice.org.pk, "iv")
    starts = [s.starts_at for s in free_slots(practice.org.pk, practice.clinic, kind, day)]
    assert appointment.starts_at not in starts
    with pytest.raises(ValidationFailed):
        services.cancel(nurse, appointment.pk, reason="  ")
    services.cancel(nurse, appointment.pk, reason="Patient asked to move")
    assert not Occupancy.objects.filter(appointment=appointment).exists()
    starts = [s.starts_at for s in free_slots(practice.org.pk, practice.clinic, kind, day)]
    assert appointment.starts_at in starts
    again = _book(practice, day=day, type_key="iv", plan_id=plan.pk, room_id=place.chairs[0].pk)
    assert again.room == appointment.room


def test_a_no_show_needs_a_reason_and_releases_the_chair(practice):
    bookable(practice)
    plan = signed_plan(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    appointment = _book(practice, type_key="iv", plan_id=plan.pk)
    with pytest.raises(ValidationFailed) as caught:
        services.mark_no_show(nurse, appointment.pk, reason="")
    assert "reason" in _errors(caught.value)
    done = services.mark_no_show(nurse, appointment.pk, reason="Did not answer the phone")
    assert done.status == "no_show" and done.status_reason == "Did not answer the phone"
    assert not Occupancy.objects.filter(appointment=appointment).exists()


def test_reschedule_moves_the_booking_and_cancels_the_old_one_with_its_reason(practice):
    bookable(practice)
    plan = signed_plan(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    old = _book(practice, type_key="iv", plan_id=plan.pk)
    new = services.reschedule(
        nurse, old.pk, starts_at=old.starts_at + timedelta(minutes=30), reason="Traffic"
    )
    old.refresh_from_db()
    assert old.status == "cancelled" and old.status_reason == "Rescheduled: Traffic"
    assert new.rescheduled_from == old and new.room == old.room
    assert new.starts_at == old.starts_at + timedelta(minutes=30)
    assert new.treatment.status == Treatment.Status.SCHEDULED


def test_a_reschedule_into_a_taken_time_leaves_the_old_booking_intact(practice):
    bookable(practice, chairs=1)
    plan = signed_plan(practice)
    other = signed_plan(practice, patient=_other_patient(practice))
    nurse = actor_of(practice.staff[Role.NURSE])
    mine = _book(practice, 9, type_key="iv", plan_id=plan.pk)
    services.book(
        nurse,
        other.patient_id,
        clinic_id=practice.clinic.pk,
        type_key="iv",
        starts_at=at(practice, mine.starts_at.astimezone(mine.starts_at.tzinfo).date(), 13),
        plan_id=other.pk,
    )
    slots = Occupancy.objects.filter(appointment=mine).count()
    with pytest.raises(ValidationFailed) as caught:
        services.reschedule(
            nurse, mine.pk, starts_at=mine.starts_at + timedelta(hours=4), reason="Later, please"
        )
    assert (
        "already booked" in _errors(caught.value)["starts_at"] or "No" in _errors(caught.value)["starts_at"]
    )
    mine.refresh_from_db()
    assert mine.status == "booked" and Occupancy.objects.filter(appointment=mine).count() == slots
    assert mine.treatment.status == Treatment.Status.SCHEDULED


def _other_patient(practice):
    from tests.factories import PatientFactory

    return PatientFactory(home_clinic=practice.clinic)


def test_complete_gives_the_treatment_and_arrive_comes_first(practice):
    bookable(practice)
    plan = signed_plan(practice, start=timezone.localdate())
    nurse = actor_of(practice.staff[Role.NURSE])
    today = timezone.now().astimezone(at(practice, timezone.localdate(), 8).tzinfo).date()
    appointment = (
        services.book(
            nurse,
            practice.patient.pk,
            clinic_id=practice.clinic.pk,
            type_key="iv",
            starts_at=at(practice, today, 8),
            plan_id=plan.pk,
        )
        if today.weekday() < 6
        else None
    )
    if appointment is None:
        pytest.skip("the clinic is closed on Sundays")
    future = _book(practice, type_key="iv", plan_id=plan.pk)
    with pytest.raises(ValidationFailed):
        services.complete(nurse, future.pk)
    services.mark_arrived(nurse, appointment.pk)
    done = services.complete(nurse, appointment.pk)
    assert done.status == "completed"
    done.treatment.refresh_from_db()
    assert done.treatment.status == Treatment.Status.GIVEN
    assert (
        done.treatment.occurred_at == min(timezone.now(), appointment.starts_at)
        or done.treatment.occurred_at <= timezone.now()
    )


def test_front_desk_books_but_a_therapist_cannot(practice):
    bookable(practice)
    therapist = actor_of(practice.staff[Role.THERAPIST])
    with pytest.raises(Forbidden):
        services.book(
            therapist,
            practice.patient.pk,
            clinic_id=practice.clinic.pk,
            type_key="consultation",
            starts_at=at(practice, next_weekday(1), 10),
        )
    desk = actor_of(practice.staff[Role.FRONT_DESK])
    made = services.book(
        desk,
        practice.patient.pk,
        clinic_id=practice.clinic.pk,
        type_key="consultation",
        starts_at=at(practice, next_weekday(1), 10),
    )
    assert made.status == "booked"


def test_the_waitlist_is_offered_a_freed_slot_and_booked_into_it(practice):
    bookable(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    appointment = _book(practice)
    other = _other_patient(practice)
    day = appointment.starts_at.astimezone(appointment.starts_at.tzinfo).date()
    entry = services.add_to_waitlist(
        nurse,
        other.pk,
        clinic_id=practice.clinic.pk,
        type_key="consultation",
        earliest=day - timedelta(days=3),
    )
    assert services.offers_for(appointment) == []
    services.cancel(nurse, appointment.pk, reason="Feeling better")
    appointment.refresh_from_db()
    assert services.offers_for(appointment) == [entry]
    booked = services.book_from_waitlist(nurse, entry.pk, appointment.pk)
    entry.refresh_from_db()
    assert (booked.patient_id, booked.starts_at, booked.room_id) == (
        other.pk,
        appointment.starts_at,
        appointment.room_id,
    )
    assert entry.status == "booked" and entry.appointment == booked


def test_a_patient_waiting_behind_ten_others_can_still_be_booked_into_the_freed_slot(practice):
    bookable(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    appointment = _book(practice)
    day = appointment.starts_at.astimezone(appointment.starts_at.tzinfo).date()
    entries = [
        services.add_to_waitlist(
            nurse, _other_patient(practice).pk, clinic_id=practice.clinic.pk, type_key="consultation",
            earliest=day,
        )
        for _ in range(11)
    ]
    services.cancel(nurse, appointment.pk, reason="Moved away")
    appointment.refresh_from_db()

    assert services.offers_for(appointment) == entries[:10]  # the page offers the ten oldest
    booked = services.book_from_waitlist(nurse, entries[10].pk, appointment.pk)

    assert booked.patient_id == entries[10].patient_id and booked.starts_at == appointment.starts_at
    entries[10].refresh_from_db()
    assert entries[10].status == "booked"


class TestRandomBookingsNeverOverlap(HypothesisTestCase):
    """Property: whatever is asked, active appointments never overlap for a room or a staff member."""

    @classmethod
    def setUpTestData(cls):
        cls.practice = _practice("Property Practice")
        cls.place = bookable(cls.practice, chairs=2)
        cls.plan = signed_plan(cls.practice)
        cls.day = next_weekday(1)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(
            st.tuples(st.integers(0, 40), st.integers(0, 2), st.integers(0, 1), st.booleans()),
            min_size=1,
            max_size=8,
        )
    )
    def test_random_bookings_never_double_book(self, requests):
        practice = self.practice
        nurse = actor_of(practice.staff[Role.NURSE])
        chairs = self.place.chairs
        for step, chair, who, cancel in requests:
            staff = [[practice.staff[Role.NURSE].pk], [practice.staff[Role.PRESCRIBER].pk], []][
                who if who < 2 else 2
            ]
            try:
                made = services.book(
                    nurse,
                    practice.patient.pk,
                    clinic_id=practice.clinic.pk,
                    type_key="iv",
                    starts_at=at(practice, self.day, 8) + timedelta(minutes=15 * step),
                    room_id=chairs[chair % len(chairs)].pk,
                    staff_ids=staff,
                    plan_id=self.plan.pk,
                )
            except ValidationFailed:
                continue
            if cancel:
                services.cancel(nurse, made.pk, reason="Property test")
        active = list(Appointment.objects.filter(status__in=["booked", "arrived", "completed"]))
        for i, a in enumerate(active):
            for b in active[i + 1 :]:
                overlap = a.starts_at < b.ends_at and b.starts_at < a.ends_at
                if not overlap:
                    continue
                assert a.room_id != b.room_id
                assert not set(a.staff_rows.values_list("staff_id", flat=True)) & set(
                    b.staff_rows.values_list("staff_id", flat=True)
                )
