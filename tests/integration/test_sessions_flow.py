"""The chairside flow: check-in, checklist and readiness, preparation and its second check, dose events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.ledger.models import Entry
from ketaflow.measurement.models import Treatment
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.checkin import (
    cancel_session,
    check_in,
    may_start,
    override_readiness,
    record_checklist,
)
from ketaflow.sessions.doses import delivery_now, prepare_dose, record_event, verify_preparation
from ketaflow.sessions.models import DoseEvent, DosePreparation, TreatmentSession
from ketaflow.sessions.vitals import record_vitals
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.sessions_factories import (
    CHECKLIST,
    NORMAL_VITALS,
    arrived,
    booked_treatment,
    checked_in,
    enrol_rems,
    expired_lot,
    nurse,
    prepared,
    prescriber,
    ready_session,
    second_nurse,
    stock,
)

pytestmark = pytest.mark.django_db


def _fields(failure: pytest.ExceptionInfo[ValidationFailed]) -> dict[str | None, str]:
    return {e.field: e.message for e in failure.value.errors}


def test_an_iv_session_runs_from_check_in_to_stop_with_the_dose_computed_from_its_events(practice):
    appointment = booked_treatment(practice, "iv")
    session = check_in(nurse(practice), appointment.pk)
    assert check_in(nurse(practice), appointment.pk).pk == session.pk  # checking in twice is harmless
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ARRIVED
    assert session.planned_mg == Decimal("41.000")  # 0.5 mg/kg x 82 kg, the plan's dose
    assert session.monitoring["limits"]["oxygen_saturation"] == {"low": "92"}
    assert "Sanacora" in session.monitoring["source"]

    decision = record_checklist(nurse(practice), session.pk, **CHECKLIST, pre_dose=dict(NORMAL_VITALS))
    assert decision.ready and decision.blockers == ()
    session.refresh_from_db()
    assert session.checklist["intention"] == CHECKLIST["intention"] and session.checklist["mood"] == 4
    assert session.pre_dose_vitals.systolic_bp == 124 and session.pre_dose_vitals.context == "session"
    assert may_start(session) == ["Prepare the dose first."]

    _, location, lot = stock(practice)
    with pytest.raises(ValidationFailed) as too_fast:
        prepare_dose(
            nurse(practice),
            session.pk,
            lot_id=lot.pk,
            location_id=location.pk,
            volume_drawn_ml="0.82",
            bag_ml="100",
            pump_rate_ml_per_h="300",
        )
    assert "minimum of 40 min" in _fields(too_fast)["pump_rate_ml_per_h"]
    preparation = prepare_dose(
        nurse(practice),
        session.pk,
        lot_id=lot.pk,
        location_id=location.pk,
        volume_drawn_ml="0.82",
        bag_ml="100",
        pump_rate_ml_per_h="150",
    )
    assert preparation.drawn_mg == Decimal("41.000")  # 0.82 mL x 50 mg/mL
    entry = Entry.objects.get(session=session)
    assert (entry.kind, entry.change_mg, entry.balance_after_mg) == ("administration", -41, 4959)
    assert preparation.ledger_entry == entry

    with pytest.raises(ValidationFailed) as unchecked:
        record_event(nurse(practice), session.pk, kind="start", rate_ml_per_h="150")
    assert "second person" in _fields(unchecked)["verified_by"]
    with pytest.raises(ValidationFailed) as own_check:
        verify_preparation(nurse(practice), preparation.pk)
    assert "not the one who drew it up" in _fields(own_check)["verified_by"]
    verify_preparation(actor_of(second_nurse(practice)), preparation.pk)

    t0 = timezone.now() - timedelta(minutes=55)
    with pytest.raises(ValidationFailed) as early_stop:
        record_event(nurse(practice), session.pk, kind="stop", at=t0)
    assert "not started" in _fields(early_stop)["kind"]
    with pytest.raises(ValidationFailed) as before_arrival:
        record_event(nurse(practice), session.pk, kind="start", at=t0)
    assert "cannot come before the check-in at" in _fields(before_arrival)["at"]
    assert not DoseEvent.objects.filter(session=session).exists()
    arrived(session, t0 - timedelta(minutes=20))  # charted late: the patient came in before the dose
    record_event(nurse(practice), session.pk, kind="start", at=t0)  # the prepared pump rate, 150 mL/h
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.DOSING and session.dosing_started_at == t0
    record_event(nurse(practice), session.pk, kind="pause", at=t0 + timedelta(minutes=10), note="Nausea")
    with pytest.raises(ValidationFailed) as backwards:
        record_event(nurse(practice), session.pk, kind="resume", at=t0 + timedelta(minutes=5))
    assert "earlier than the last event" in _fields(backwards)["at"]
    record_event(nurse(practice), session.pk, kind="resume", at=t0 + timedelta(minutes=20))
    running = delivery_now(session, t0 + timedelta(minutes=30))
    assert (running.state, running.running_minutes, running.mg) == (
        "running",
        Decimal("20.0"),
        Decimal("20.50"),
    )

    record_event(nurse(practice), session.pk, kind="stop", at=t0 + timedelta(minutes=50))
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.RECOVERY
    # 10 + 30 min at 150 mL/h = 100 mL of a 41 mg / 100 mL bag
    assert (session.delivered_ml, session.delivered_mg) == (Decimal("100.00"), Decimal("41.000"))
    assert session.dosing_ended_at == t0 + timedelta(minutes=50)
    assert session.reconciled is True and session.reconciliation["unaccounted_mg"] == "0.000"
    assert [e.kind for e in DoseEvent.objects.filter(session=session)] == ["start", "pause", "resume", "stop"]
    assert AuditEvent.objects.filter(object_type="DoseEvent", patient_id=session.patient_id).count() == 4
    with pytest.raises(ValidationFailed) as after:
        record_event(nurse(practice), session.pk, kind="resume")
    assert "Dosing has ended" in _fields(after)["kind"]


def test_a_not_ready_patient_starts_only_after_a_prescriber_overrides_with_a_reason(practice):
    session = checked_in(practice, "iv")
    checklist = {**CHECKLIST, "escort_name": ""}
    decision = record_checklist(
        nurse(practice),
        session.pk,
        **checklist,
        pre_dose={**NORMAL_VITALS, "systolic_bp": 172, "diastolic_bp": 96},
    )
    assert not decision.ready
    assert {b.field for b in decision.blockers} == {"systolic_bp", "escort_name"}
    assert "172 mmHg is outside this protocol's pre-dose limit" in decision.blockers[0].message
    prepared(practice, session)
    with pytest.raises(ValidationFailed) as refused:
        record_event(nurse(practice), session.pk, kind="start", rate_ml_per_h="150")
    assert "override" in _fields(refused)["readiness"]
    assert not DoseEvent.objects.filter(session=session).exists()

    with pytest.raises(Forbidden):
        override_readiness(nurse(practice), session.pk, reason="Looks fine")
    with pytest.raises(ValidationFailed) as no_reason:
        override_readiness(prescriber(practice), session.pk, reason="  ")
    assert "reason" in _fields(no_reason)
    override_readiness(
        prescriber(practice), session.pk, reason="BP 172/96 is her usual; escort confirmed by phone."
    )
    record_event(nurse(practice), session.pk, kind="start", rate_ml_per_h="150")
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.DOSING
    assert session.override_by_id == practice.staff[Role.PRESCRIBER].user_id
    assert session.readiness["ready"] is False and session.override_reason.startswith("BP 172/96")


def test_a_dose_above_the_plan_wrong_drug_or_expired_lot_is_refused_and_nothing_is_drawn(practice):
    session = ready_session(practice, "iv")
    _, location, lot = stock(practice)
    _, _, old = expired_lot(practice)
    _, _, devices = stock(practice, "esketamine")
    dose = {"location_id": location.pk, "volume_drawn_ml": "0.82", "bag_ml": "100"}
    for wrong, words in ((old, "expired"), (devices, "this session's dose is ketamine")):
        with pytest.raises(ValidationFailed) as refused:
            prepare_dose(nurse(practice), session.pk, lot_id=wrong.pk, **dose)
        assert words in _fields(refused)["lot_id"]
    above = {**dose, "volume_drawn_ml": "1.0"}  # 50 mg against the plan's 41 mg
    with pytest.raises(ValidationFailed) as no_reason:
        prepare_dose(nurse(practice), session.pk, lot_id=lot.pk, **above)
    assert "The prepared 50 mg is above the plan's 41 mg" in _fields(no_reason)["override_reason"]
    with pytest.raises(ValidationFailed) as nurse_override:
        prepare_dose(nurse(practice), session.pk, lot_id=lot.pk, override_reason="Titration step", **above)
    assert "prescriber" in _fields(nurse_override)["override_reason"]
    assert not DosePreparation.objects.filter(session=session).exists()
    assert not Entry.objects.filter(session=session).exists()

    made = prepare_dose(
        prescriber(practice), session.pk, lot_id=lot.pk, override_reason="Titration step agreed", **above
    )
    assert (made.drawn_mg, made.override_reason) == (Decimal("50.000"), "Titration step agreed")
    assert Entry.objects.get(session=session).change_mg == -50


def test_esketamine_waits_for_rems_enrolment_and_gives_no_more_than_was_prepared(practice):
    session = check_in(nurse(practice), booked_treatment(practice, "esketamine").pk)
    record_checklist(nurse(practice), session.pk, **CHECKLIST, pre_dose=dict(NORMAL_VITALS))
    _, location, lot = stock(practice, "esketamine")
    preparation = prepare_dose(nurse(practice), session.pk, lot_id=lot.pk, location_id=location.pk, units=2)
    assert preparation.drawn_mg == Decimal("56")  # two 28 mg devices; no second check for this route
    assert any("REMS" in reason for reason in may_start(session))
    with pytest.raises(ValidationFailed) as refused:
        record_event(nurse(practice), session.pk, kind="give", amount_mg="28")
    assert "not enrolled in the Spravato REMS" in _fields(refused)["rems"]

    enrol_rems(practice)
    session.refresh_from_db()
    assert may_start(session) == []
    start = timezone.now() - timedelta(minutes=15)
    arrived(session, start - timedelta(minutes=10))
    with pytest.raises(ValidationFailed) as infusion:
        record_event(nurse(practice), session.pk, kind="start", at=start, rate_ml_per_h="100")
    assert "give or stop" in _fields(infusion)["kind"]
    record_event(nurse(practice), session.pk, kind="give", at=start, amount_mg="28")
    record_event(nurse(practice), session.pk, kind="give", at=start + timedelta(minutes=5), amount_mg="28")
    with pytest.raises(ValidationFailed) as third:
        record_event(
            nurse(practice), session.pk, kind="give", at=start + timedelta(minutes=10), amount_mg="28"
        )
    assert "more than the 56 mg prepared" in _fields(third)["amount_mg"]
    record_event(nurse(practice), session.pk, kind="stop", at=start + timedelta(minutes=10))
    session.refresh_from_db()
    assert (session.status, session.delivered_mg, session.delivered_ml) == (
        "recovery",
        Decimal("56.000"),
        None,
    )


def test_check_in_and_cancelling_keep_to_the_day_and_to_the_organization(practice, stranger):
    later = booked_treatment(practice, "iv", today=False)
    with pytest.raises(ValidationFailed) as refused:
        check_in(nurse(practice), later.pk)
    assert "later day" in _fields(refused)["appointment_id"]
    assert not TreatmentSession.objects.exists()
    session = checked_in(practice, "iv")

    theirs = actor_of(stranger.staff[Role.NURSE])
    with pytest.raises(NotFound):
        check_in(theirs, session.appointment_id)
    with pytest.raises(NotFound):
        record_checklist(theirs, session.pk, **CHECKLIST, pre_dose=dict(NORMAL_VITALS))
    with pytest.raises(NotFound):
        record_vitals(theirs, session.pk, dict(NORMAL_VITALS))
    with pytest.raises(NotFound):
        cancel_session(theirs, session.pk, reason="Wrong clinic")

    cancel_session(nurse(practice), session.pk, reason="Patient unwell with a fever; rebooked next week")
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.CANCELLED
    appointment = Appointment.objects.select_related("treatment").get(pk=session.appointment_id)
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.treatment.status == Treatment.Status.CANCELLED
    with pytest.raises(ValidationFailed):
        record_event(nurse(practice), session.pk, kind="start", rate_ml_per_h="150")
