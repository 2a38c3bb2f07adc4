"""A plan's series laid into real slots: esketamine weeks 1-9, holidays, full days, all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.scheduling import services
from ketaflow.scheduling.models import Appointment, ClosedDay
from ketaflow.scheduling.series_booking import book_series, preview_series
from tests.factories import actor_of
from tests.integration.scheduling_factories import at, bookable, next_weekday, signed_plan

pytestmark = pytest.mark.django_db


def test_the_esketamine_induction_lands_on_the_label_days_in_weeks_1_to_8_on_real_slots(practice):
    bookable(practice)
    start = next_weekday(0)
    plan = signed_plan(practice, "esketamine-trd", start=start)
    preview = preview_series(actor_of(practice.staff[Role.NURSE]), plan.pk)
    days = [(p.slot.starts_at.date() - start).days for p in preview.proposed]
    assert days == [0, 4, 7, 11, 14, 18, 21, 25, 28, 35, 42, 49]
    assert [p.target.week for p in preview.proposed] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8]
    assert preview.unplaced == ()
    first = preview.proposed[0].slot
    assert sorted(s.pk for s in first.staff) == sorted(
        [practice.staff[Role.NURSE].pk, practice.staff[Role.PRESCRIBER].pk]
    )
    assert first.room.kind == "chair" and preview.minutes == 135


def test_esketamine_maintenance_from_week_9_follows_the_plan_interval(practice):
    bookable(practice)
    start = next_weekday(0)
    plan = signed_plan(practice, "esketamine-trd", start=start, maintenance_every_days=14)
    preview = preview_series(actor_of(practice.staff[Role.NURSE]), plan.pk, phase="maintenance")
    days = [(p.slot.starts_at.date() - start).days for p in preview.proposed]
    assert days == [56, 70, 84]
    assert (preview.proposed[0].target.on - start).days // 7 + 1 == 9  # week 9 of the plan


def test_a_holiday_moves_a_session_within_the_tolerance_and_says_so(practice):
    bookable(practice)
    start = next_weekday(0)
    plan = signed_plan(practice, "iv-depression", start=start)
    holiday = start + timedelta(days=7)
    ClosedDay.objects.create(organization=practice.org, clinic=practice.clinic, day=holiday, reason="Holiday")
    preview = preview_series(actor_of(practice.staff[Role.NURSE]), plan.pk)
    dates = [p.slot.starts_at.date() for p in preview.proposed]
    assert holiday not in dates and len(dates) == 6
    moved = next(p for p in preview.proposed if p.target.on == holiday)
    assert moved.placed.days_off_target == 1


def test_full_days_and_a_closed_week_leave_sessions_unplaced_with_reasons(practice):
    bookable(practice, chairs=1)
    start = next_weekday(0)
    for offset in range(7, 14):
        ClosedDay.objects.create(
            organization=practice.org,
            clinic=None,
            day=start + timedelta(days=offset),
            reason="Closed for works",
        )
    plan = signed_plan(practice, "iv-crps-daily", start=start)
    nurse = actor_of(practice.staff[Role.NURSE])
    other = signed_plan(practice, "iv-crps-daily", start=start, patient=_patient(practice))
    # fill the only chair all of day 2 (08:00-18:00 in 300-minute blocks)
    for hour in (8, 13):
        services.book(
            nurse,
            other.patient_id,
            clinic_id=practice.clinic.pk,
            type_key="iv",
            starts_at=at(practice, start + timedelta(days=2), hour),
            plan_id=other.pk,
        )
    preview = preview_series(nurse, plan.pk)
    placed = [p.slot.starts_at.date() for p in preview.proposed]
    assert start + timedelta(days=2) not in placed
    assert preview.unplaced, "a full day and a closed week must leave sessions unplaced"
    assert all("no free slot" in u.reason for u in preview.unplaced)


def _patient(practice):
    from tests.factories import PatientFactory

    return PatientFactory(home_clinic=practice.clinic)


def test_book_series_books_every_session_with_its_number_and_treatment(practice):
    bookable(practice)
    plan = signed_plan(practice, "iv-depression")
    result = book_series(actor_of(practice.staff[Role.NURSE]), plan.pk)
    assert len(result.booked) == 6 and result.unplaced == ()
    rows = Appointment.objects.filter(plan=plan).order_by("starts_at")
    assert [a.series_number for a in rows] == [1, 2, 3, 4, 5, 6]
    assert all(a.treatment is not None and a.phase == "induction" for a in rows)
    again = preview_series(actor_of(practice.staff[Role.NURSE]), plan.pk)
    assert again.proposed == () and again.already_booked == 6


def test_a_slot_taken_after_the_preview_is_replanned_the_same_day(practice, monkeypatch):
    place = bookable(practice, chairs=1)
    start = next_weekday(0)
    plan = signed_plan(practice, "iv-depression", start=start)
    nurse = actor_of(practice.staff[Role.NURSE])
    preview = preview_series(nurse, plan.pk)
    first = preview.proposed[0].slot
    other = signed_plan(practice, "iv-depression", start=start, patient=_patient(practice))
    services.book(
        nurse,
        other.patient_id,
        clinic_id=practice.clinic.pk,
        type_key="iv",
        starts_at=first.starts_at,
        plan_id=other.pk,
        room_id=place.chairs[0].pk,
    )
    from ketaflow.scheduling import series_booking

    monkeypatch.setattr(series_booking, "preview_series", lambda *a, **k: preview)
    result = book_series(nurse, plan.pk)
    mine = next(a for a in result.booked if a.series_number == 1)
    assert mine.starts_at.date() == first.starts_at.date() and mine.starts_at != first.starts_at
    assert len(result.booked) == 6
