"""Two people book the same chair at the same moment on PostgreSQL: exactly one succeeds."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from ketaflow.accounts.roles import Role
from ketaflow.scheduling import services
from ketaflow.scheduling.models import Appointment, Occupancy
from ketaflow.validation import ValidationFailed
from tests.factories import PatientFactory, actor_of
from tests.integration.scheduling_factories import at, bookable, next_weekday, signed_plan


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_of_one_chair_let_exactly_one_through(practice):
    if connection.vendor != "postgresql":
        pytest.skip("needs two real connections racing on PostgreSQL; SQLite serialises writers itself")
    place = bookable(practice, chairs=1)
    patients = [practice.patient, PatientFactory(home_clinic=practice.clinic)]
    plans = [signed_plan(practice, patient=p) for p in patients]
    starts_at = at(practice, next_weekday(1), 10)
    staff = [practice.staff[Role.NURSE], practice.staff[Role.PRESCRIBER]]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            made = services.book(
                actor_of(staff[index]),
                patients[index].pk,
                clinic_id=practice.clinic.pk,
                type_key="iv",
                starts_at=starts_at,
                room_id=place.chairs[0].pk,
                plan_id=plans[index].pk,
            )
            outcomes.append(made.pk)
        except ValidationFailed as failure:
            outcomes.append(failure)
        except BaseException as exc:  # pragma: no cover - reported below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    booked = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(booked) == 1 and len(refused) == 1, outcomes
    assert refused[0].errors[0].field == "starts_at"
    assert "Chair 1 is already booked at 10:00" in refused[0].errors[0].message
    assert Appointment.objects.count() == 1
    assert Occupancy.objects.filter(room=place.chairs[0]).count() == 18
