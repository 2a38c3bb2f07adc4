"""The session note (assembled from the record, signed and locked, amended with the original kept)
and the chairside view (everything the page and API show, in a fixed number of queries)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ketaflow.sessions.access import open_session
from ketaflow.sessions.doses import record_event
from ketaflow.sessions.effects import give_rescue, record_side_effect
from ketaflow.sessions.models import NoteAmendment, TreatmentSession
from ketaflow.sessions.notes import amend_note, assemble_note, sign_note
from ketaflow.sessions.recovery import discharge, score_aldrete
from ketaflow.sessions.scores import score_in_session
from ketaflow.sessions.view import session_view
from ketaflow.sessions.vitals import ingest_batch, record_vitals, respond_to_alert
from ketaflow.validation import Forbidden, ValidationFailed
from tests.integration.sessions_factories import NORMAL_VITALS, dosing_session, nurse, prescriber

PASSING = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "oxygen_saturation": 2}


def fields_of(excinfo: pytest.ExceptionInfo[ValidationFailed]) -> dict[str | None, str]:
    return {e.field: e.message for e in excinfo.value.errors}


def charted_iv_session(practice) -> TreatmentSession:
    """An IV session charted two hours ago: a high reading answered, nausea, ondansetron, a CADSS-6,
    the infusion stopped after 40 minutes and a passing Aldrete."""
    start = timezone.now() - timedelta(hours=2)
    session = dosing_session(practice, "iv", started=start)
    high = record_vitals(
        nurse(practice),
        session.pk,
        {**NORMAL_VITALS, "systolic_bp": 186, "diastolic_bp": 96},
        measured_at=start + timedelta(minutes=15),
    ).alerts[0]
    respond_to_alert(nurse(practice), high.pk, response="call_prescriber", note="Continue, recheck in 5 min")
    record_vitals(nurse(practice), session.pk, NORMAL_VITALS, measured_at=start + timedelta(minutes=30))
    record_side_effect(
        nurse(practice), session.pk, kind="nausea", severity="mild", onset_at=start + timedelta(minutes=20)
    )
    give_rescue(
        nurse(practice),
        session.pk,
        drug_key="ondansetron",
        dose_mg="4",
        route="iv",
        reason="nausea",
        given_at=start + timedelta(minutes=21),
    )
    score_in_session(nurse(practice), session.pk, "cadss6", {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1})
    record_event(nurse(practice), session.pk, kind="stop", at=start + timedelta(minutes=40))
    score_aldrete(nurse(practice), session.pk, PASSING)
    return TreatmentSession.objects.get(pk=session.pk)


def test_the_note_is_assembled_from_the_record_then_signed_and_locked(practice):
    session = charted_iv_session(practice)
    with pytest.raises(ValidationFailed) as early:
        sign_note(prescriber(practice), session.pk)
    assert "Discharge the patient" in fields_of(early)["status"]

    discharged = discharge(nurse(practice), session.pk, escort_handover_name="Sam Synthetic")
    note = assemble_note(discharged)
    for expected in (
        "Escort: Sam Synthetic",
        "Pre-dose vital signs: BP 124/78 mmHg",
        "Ready to dose against the protocol's rules.",
        f"Planned: {session.dose_summary}",
        "Ketamine 500 mg/10 mL vial lot KET-",
        "pump 150 mL/h; verified",
        "Started at 150 mL/h",
        "Stopped",
        "Delivered ",
        "Systolic blood pressure: 124-186 mmHg",
        "Response: called the prescriber",
        "Continue, recheck in 5 min",
        "Nausea (mild), not resolved",
        "Ondansetron 4 mg intravenous for nausea",
        "CADSS-6 (0-24): 6",
        "Modified Aldrete 10",
        "Escort handover: Sam Synthetic.",
        "Discharge instructions: print.",
    ):
        assert expected in note, expected
    assert discharged.note == note

    # A late entry before signing is part of the note the prescriber reads and signs.
    record_side_effect(nurse(practice), session.pk, kind="dizziness", severity="mild")
    refreshed = TreatmentSession.objects.get(pk=session.pk).note
    assert "Dizziness (mild)" in refreshed and "Nausea (mild)" in refreshed
    with pytest.raises(Forbidden):
        sign_note(nurse(practice), session.pk)
    signed = sign_note(prescriber(practice), session.pk)
    assert signed.status == "signed" and signed.is_locked and signed.note == refreshed

    for change in (
        lambda: record_side_effect(nurse(practice), session.pk, kind="vomiting", severity="mild"),
        lambda: score_in_session(nurse(practice), session.pk, "moaas", {"1": 5}),
        lambda: sign_note(prescriber(practice), session.pk, note="Rewritten"),
    ):
        with pytest.raises(ValidationFailed) as locked:
            change()
        assert "signed" in str(locked.value)


def test_an_amendment_needs_a_reason_and_keeps_the_signed_text(practice):
    session = charted_iv_session(practice)
    discharge(nurse(practice), session.pk, escort_handover_name="Sam Synthetic")
    with pytest.raises(ValidationFailed) as unsigned:
        amend_note(prescriber(practice), session.pk, note="Changed", reason="Typo")
    assert "sign it first" in fields_of(unsigned)["status"]
    original = sign_note(prescriber(practice), session.pk, note="Uneventful IV session.").note

    with pytest.raises(ValidationFailed) as no_reason:
        amend_note(prescriber(practice), session.pk, note="Uneventful IV session; mild nausea.", reason=" ")
    assert set(fields_of(no_reason)) == {"reason"}
    amendment = amend_note(
        prescriber(practice),
        session.pk,
        note="Uneventful IV session; mild nausea.",
        reason="Left out the nausea",
    )

    assert (amendment.previous_note, amendment.note) == (original, "Uneventful IV session; mild nausea.")
    assert TreatmentSession.objects.get(pk=session.pk).note == "Uneventful IV session; mild nausea."
    with pytest.raises(PermissionError):
        amendment.save()
    second = amend_note(prescriber(practice), session.pk, note="Final text.", reason="Clearer")
    assert second.previous_note == "Uneventful IV session; mild nausea."
    assert NoteAmendment.objects.filter(session=session).count() == 2


def test_the_session_view_shows_the_chart_in_a_fixed_number_of_queries(
    practice, django_assert_max_num_queries
):
    start = timezone.now() - timedelta(hours=3)
    session = dosing_session(practice, "iv", started=start)
    at = start
    for _ in range(9):  # 20 events: start, 9 pauses and resumes, stop
        at += timedelta(minutes=2)
        record_event(nurse(practice), session.pk, kind="pause", at=at)
        at += timedelta(minutes=1)
        record_event(nurse(practice), session.pk, kind="resume", at=at)

    def readings(count: int, offset: int) -> list[dict]:
        return [
            {**NORMAL_VITALS, "heart_rate": 70 + i % 5, "measured_at": start + timedelta(minutes=offset + i)}
            for i in range(count)
        ]

    ingest_batch(nurse(practice), session.pk, readings(10, 30))
    opened = open_session(nurse(practice), session.pk)
    with django_assert_max_num_queries(15) as few:
        small = session_view(opened, timezone.now())
    ingest_batch(nurse(practice), session.pk, readings(50, 60))
    opened = open_session(nurse(practice), session.pk)
    with django_assert_max_num_queries(15) as many:
        view = session_view(opened, timezone.now())

    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(small.vitals_series) == 11 and len(view.vitals_series) == 61 and len(view.events) == 19
    point = next(p for p in view.vitals_series if p["phase"] == "dosing")
    assert set(point) == {"t", "phase", "sys", "dia", "hr", "spo2", "rr"}
    assert (point["sys"], point["hr"], point["t"]) == (124, 70, (start + timedelta(minutes=30)).isoformat())
    assert view.baseline is not None and view.baseline["systolic_bp"] == 124
    assert [p["phase"] for p in view.vitals_series].count("pre_dose") == 1
    assert {t.field: t.text for t in view.thresholds}["oxygen_saturation"] == "at least 92 %"
    assert "APA" in view.rules_source and view.aldrete_rules.minimum_total == 9
    assert "[verify]" in view.aldrete_rules.source
    assert (
        view.timer.every_min == 15
        and view.timer.due_at == view.session.vital_links.last().measured_at + timedelta(minutes=15)
    )
    assert view.delivery is not None and view.delivery.state == "running" and view.delivery.mg > Decimal(0)
    assert [d.key for d in view.formulary] == ["ondansetron", "clonidine", "labetalol", "midazolam"]
    assert not view.discharge.ready and dict(view.discharge.reasons)["status"].startswith(
        "Dosing has not ended"
    )
    data = json.loads(json.dumps(view.as_dict()))
    assert data["vitals_series"] == view.vitals_series and data["timer"]["every_min"] == 15
