"""Vital signs in a session: plausibility, alerts raised once and answered, the monitor's batch feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.models import Notification
from ketaflow.patients.models import VitalSigns
from ketaflow.sessions.models import DoseEvent, SessionVitals, VitalAlert
from ketaflow.sessions.vitals import ingest_batch, open_alerts, record_vitals, respond_to_alert
from ketaflow.validation import NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.sessions_factories import NORMAL_VITALS, dosing_session, nurse

pytestmark = pytest.mark.django_db


def _fields(failure: pytest.ExceptionInfo[ValidationFailed]) -> dict[str | None, str]:
    return {e.field: e.message for e in failure.value.errors}


def test_implausible_readings_are_refused_naming_each_field_and_nothing_is_saved(practice):
    session = dosing_session(practice, "iv")
    before = VitalSigns.objects.count(), SessionVitals.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        record_vitals(
            nurse(practice),
            session.pk,
            {"systolic_bp": 400, "diastolic_bp": 80, "heart_rate": "fast", "oxygen_saturation": "97.5"},
        )
    errors = _fields(refused)
    assert set(errors) == {"systolic_bp", "heart_rate", "oxygen_saturation"}
    assert "400 mmHg is not possible" in errors["systolic_bp"]
    assert "whole number" in errors["oxygen_saturation"]
    assert (VitalSigns.objects.count(), SessionVitals.objects.count()) == before

    stored = record_vitals(nurse(practice), session.pk, {**NORMAL_VITALS, "temperature_c": "36.8"})
    assert stored.alerts == [] and stored.link.phase == "dosing" and stored.link.source == "manual"
    assert stored.link.vitals.context == "session" and str(stored.link.vitals.temperature_c) == "36.8"


def test_an_alert_is_raised_once_per_crossing_and_a_pause_answer_pauses_the_infusion(practice):
    session = dosing_session(practice, "iv")
    low = record_vitals(nurse(practice), session.pk, {"oxygen_saturation": 88, "heart_rate": 80})
    [alert] = low.alerts
    assert (alert.field, alert.direction, alert.limit_text) == ("oxygen_saturation", "low", "at least 92 %")
    assert "Sanacora" in alert.source and alert.is_open
    assert record_vitals(nurse(practice), session.pk, {"oxygen_saturation": 89}).alerts == []  # still open
    rise = record_vitals(nurse(practice), session.pk, {"systolic_bp": 170, "diastolic_bp": 90}).alerts
    assert [(a.field, a.direction) for a in rise] == [("systolic_bp", "rise")]
    assert "baseline of 124" in rise[0].message
    assert [a.pk for a in open_alerts(session)] == [alert.pk, rise[0].pk]
    prescriber = practice.staff[Role.PRESCRIBER].user
    assert Notification.objects.filter(recipient=prescriber, patient=session.patient).count() == 2

    with pytest.raises(ValidationFailed) as no_note:
        respond_to_alert(nurse(practice), alert.pk, response="call_prescriber")
    assert "prescriber advised" in _fields(no_note)["note"]
    answered = respond_to_alert(nurse(practice), alert.pk, response="pause_infusion", note="Chin lift, O2 on")
    assert (
        answered.response == "pause_infusion"
        and answered.responded_by_id == practice.staff[Role.NURSE].user_id
    )
    last = DoseEvent.objects.filter(session=session).order_by("at").last()
    assert last.kind == "pause" and "Oxygen saturation 88" in last.note
    with pytest.raises(ValidationFailed) as twice:
        respond_to_alert(nurse(practice), alert.pk, response="pause_infusion")
    assert "already been answered" in _fields(twice)["response"]
    respond_to_alert(
        nurse(practice), rise[0].pk, response="call_prescriber", note="Dr advised to recheck in 5 min"
    )
    assert open_alerts(session) == []
    assert DoseEvent.objects.filter(session=session, kind="pause").count() == 1  # already paused: no second


def test_a_monitor_batch_is_stored_all_or_nothing_with_errors_named_by_position(practice, stranger):
    session = dosing_session(practice, "iv")
    start = timezone.now() - timedelta(minutes=30)
    bad = [
        {"measured_at": start.isoformat(), **NORMAL_VITALS},
        {"measured_at": start + timedelta(minutes=1), **NORMAL_VITALS, "systolic_bp": 20},
        {**NORMAL_VITALS},
        {"measured_at": timezone.now() + timedelta(hours=1), "heart_rate": 70},
    ]
    with pytest.raises(ValidationFailed) as refused:
        ingest_batch(nurse(practice), session.pk, bad)
    assert set(_fields(refused)) == {
        "readings[1].systolic_bp",
        "readings[2].measured_at",
        "readings[3].measured_at",
    }
    assert list(SessionVitals.objects.filter(session=session).values_list("phase", flat=True)) == ["pre_dose"]
    with pytest.raises(ValidationFailed) as too_many:
        ingest_batch(nurse(practice), session.pk, [{"measured_at": start, "heart_rate": 70}] * 501)
    assert "at most 500" in _fields(too_many)["readings"]

    audited = AuditEvent.objects.filter(patient_id=session.patient_id).count()
    feed = [
        {
            "measured_at": start + timedelta(minutes=n),
            **NORMAL_VITALS,
            "oxygen_saturation": 90 if n in (7, 8) else 97,
            "device": "Monitor 3",
        }
        for n in range(20)
    ]
    result = ingest_batch(nurse(practice), session.pk, feed)
    assert result.stored == 20
    [alert] = result.alerts  # two low readings in a row are one crossing
    assert (alert.field, alert.raised_at) == ("oxygen_saturation", start + timedelta(minutes=7))
    links = SessionVitals.objects.filter(session=session).exclude(phase="pre_dose")
    assert links.count() == 20 and {(link.phase, link.source, link.device) for link in links} == {
        ("dosing", "monitor", "Monitor 3")
    }
    assert AuditEvent.objects.filter(patient_id=session.patient_id).count() == audited + 21
    assert VitalAlert.objects.filter(session=session).count() == 1

    with pytest.raises(NotFound):
        ingest_batch(actor_of(stranger.staff[Role.NURSE]), session.pk, feed[:1])
    with pytest.raises(NotFound):
        respond_to_alert(actor_of(stranger.staff[Role.NURSE]), alert.pk, response="call_prescriber", note="x")
