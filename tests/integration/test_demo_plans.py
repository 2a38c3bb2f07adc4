"""The demo's treatment plans, appointments and invoices, checked on a small practice (40 patients)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ketaflow.audit.models import AuditEvent, chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.billing.models import Estimate, Invoice, Payment
from ketaflow.clinics.models import OpeningHours
from ketaflow.demo.planned import PAST_EVALUATION
from ketaflow.demo.showcase import showcase_planned
from ketaflow.measurement.models import MeasurementPlan, Treatment
from ketaflow.plans.models import DoseChange, ReviewPoint, TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.scheduling.models import Appointment, AppointmentStaff, ClosedDay, StaffHours, WaitlistEntry
from tests.integration.demo_support import module_demo

pytestmark = pytest.mark.django_db
PATIENTS = 40
ACTIVE = ("booked", "arrived", "completed")


demo = module_demo(PATIENTS)


def test_every_patient_past_evaluation_has_a_signed_plan_visits_past_and_booked_and_an_invoice(demo):
    org = demo.organization_id
    treated = set(Treatment.objects.for_organization(org).values_list("patient_id", flat=True))
    past = (
        set(
            MeasurementPlan.objects.for_organization(org)
            .filter(stage__in=PAST_EVALUATION)
            .values_list("patient_id", flat=True)
        )
        & treated
    )  # less those who declined before starting
    plans = {p.patient_id: p for p in TreatmentPlan.objects.for_organization(org)}
    assert past and past <= set(plans)
    assert all(p.status == "signed" and p.signed_by_id and p.prescriber_id for p in plans.values())
    statuses: dict[object, set[str]] = {}
    for patient_id, status in Appointment.objects.for_organization(org).values_list("patient_id", "status"):
        statuses.setdefault(patient_id, set()).add(status)
    invoiced = set(Invoice.objects.for_organization(org).values_list("patient_id", flat=True))
    for patient_id in past:
        assert "completed" in statuses.get(patient_id, set()) or "booked" in statuses.get(patient_id, set())
        if plans[patient_id].is_open:
            assert "booked" in statuses[patient_id] or plans[patient_id].phase == "maintenance"
    completed = {pk for pk, found in statuses.items() if "completed" in found}
    assert completed <= invoiced
    # An open plan with a treatment still to give has it booked (a few may not fit the calendar); a
    # maintenance plan between boosters may have none scheduled yet, which depends on the day.
    to_give = set(
        Treatment.objects.for_organization(org)
        .filter(status=Treatment.Status.SCHEDULED)
        .values_list("patient_id", flat=True)
    )
    waiting = [pk for pk in past if plans[pk].is_open and pk in to_give]
    open_with_booking = [pk for pk in waiting if "booked" in statuses.get(pk, set())]
    assert waiting and len(open_with_booking) >= len(waiting) * 0.7


def test_no_two_active_appointments_share_a_room_or_a_staff_member_and_all_fall_inside_opening_hours(demo):
    org = demo.organization_id
    active = list(
        Appointment.objects.for_organization(org).filter(status__in=ACTIVE).select_related("clinic")
    )
    assert len(active) > 100
    by_room: dict[object, list[Appointment]] = {}
    for a in active:
        if a.room_id:
            by_room.setdefault(a.room_id, []).append(a)
    by_staff: dict[object, list[Appointment]] = {}
    for row in AppointmentStaff.objects.for_organization(org).select_related("appointment"):
        if row.appointment.status in ACTIVE:
            by_staff.setdefault(row.staff_id, []).append(row.appointment)
    for group in [*by_room.values(), *by_staff.values()]:
        group.sort(key=lambda a: a.starts_at)
        for before, after in itertools.pairwise(group):
            assert before.ends_at <= after.starts_at, (before.pk, after.pk)
    hours: dict[tuple[object, int], list[tuple[object, object]]] = {}
    for row in OpeningHours.objects.for_organization(org):
        hours.setdefault((row.clinic_id, row.weekday), []).append((row.opens, row.closes))
    closed = set(ClosedDay.objects.for_organization(org).values_list("day", flat=True))
    for a in active:
        zone = ZoneInfo(a.clinic.timezone)
        start, end = a.starts_at.astimezone(zone), a.ends_at.astimezone(zone)
        assert start.minute % 5 == 0 and start.second == 0 and start.date() == end.date()
        assert start.date() not in closed
        assert any(o <= start.time() and end.time() <= c for o, c in hours[(a.clinic_id, start.weekday())])


def test_plans_doses_stay_within_their_protocols_caps_and_carry_their_arithmetic(demo):
    plans = list(TreatmentPlan.objects.for_organization(demo.organization_id))
    for plan in plans:
        protocol = protocol_of(plan)
        assert Decimal(plan.dose_mg) <= protocol.dose.cap_mg and not plan.dose_overridden
        assert plan.dose_arithmetic and plan.dose_summary
        first = DoseChange.objects.filter(plan=plan).order_by("recorded_at").first()
        assert first is not None and first.mg == plan.dose_mg and first.reason == "plan created"
        if plan.setting == "home":
            assert plan.home_justification
        if (
            plan.phase in ("maintenance", "completed", "discontinued")
            and plan.start_date < plan.phase_started_on
        ):
            assert plan.phase_changes.exists()
    assert Counter(p.protocol_key for p in plans).most_common(1)[0][0] == "iv-depression"


def test_the_demo_has_cancellations_a_no_show_a_waitlist_hours_holidays_and_mixed_invoices(demo):
    org = demo.organization_id
    ended = Appointment.objects.for_organization(org).filter(status__in=("cancelled", "no_show"))
    assert Counter(a.status for a in ended) == {"cancelled": 3, "no_show": 1}
    assert all(a.status_reason for a in ended)
    assert WaitlistEntry.objects.for_organization(org).count() == 2
    assert StaffHours.objects.for_organization(org).filter(staff__user__username="nurse").count() == 6
    assert {d.reason for d in ClosedDay.objects.for_organization(org)} == {"Christmas Day", "New Year's Day"}
    invoices = list(Invoice.objects.for_organization(org))
    assert Counter(i.status for i in invoices)["draft"] == 1
    assert any(i.status == "paid" for i in invoices)
    assert any(i.status == "issued" and 0 < i.paid_cents < i.total_cents for i in invoices)
    assert all(i.total_cents == sum(line.amount_cents for line in i.lines.all()) for i in invoices)
    assert Payment.objects.for_organization(org).filter(kind="deposit", invoice__isnull=True).exists()


def test_showcase_patients_are_planned_through_the_services_with_a_booked_induction_and_an_estimate(demo):
    from ketaflow.clinics.models import Organization

    org = Organization.objects.get(pk=demo.organization_id)
    chosen = showcase_planned(org)
    assert chosen
    for patient_id in chosen:
        plan = TreatmentPlan.objects.get(patient_id=patient_id, phase="induction")
        assert plan.consent_id and plan.eligibility_decision_id
        booked = Appointment.objects.filter(plan=plan, status="booked")
        assert booked.count() == protocol_of(plan).induction_sessions
        assert all(a.starts_at.date() >= plan.start_date - timedelta(days=1) for a in booked)
        assert Estimate.objects.filter(plan=plan, accepted_at__isnull=False).exists()


def test_the_summary_counts_the_rows_and_the_audit_chain_holds(demo):
    org = demo.organization_id
    assert (
        demo.plans["plans"] + demo.plans["showcase plans"]
        == TreatmentPlan.objects.for_organization(org).count()
    )
    assert demo.plans["invoices"] == Invoice.objects.for_organization(org).count()
    created = AuditEvent.objects.filter(chain=chain_key(org), object_type="TreatmentPlan", action="create")
    assert created.count() == demo.plans["plans"] + demo.plans["showcase plans"]
    # Review points are raised as completing visits raises them: on open, signed plans, each audited.
    points = ReviewPoint.objects.for_organization(org).select_related("plan")
    assert demo.plans.get("review points", 0) == points.count()
    assert all(p.plan.is_open and p.plan.status == "signed" for p in points)
    raised = AuditEvent.objects.filter(chain=chain_key(org), object_type="ReviewPoint", action="create")
    assert raised.count() == points.count()
    assert verify_chain(chain_key(org)).ok
