"""Plans made from the chart: the dose from the chart's weight, signing, dose changes, phases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.measurement.models import MeasurementPlan
from ketaflow.plans.changes import change_dose, move_phase
from ketaflow.plans.models import DoseChange, PhaseChange, TreatmentPlan
from ketaflow.plans.services import create_plan, open_plan, sign_plan
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.consent_factories import signed
from tests.integration.eligibility_factories import chart_all_clear
from tests.integration.plans_factories import approve, draft_plan, ready_patient, signed_plan, weigh

pytestmark = pytest.mark.django_db


def fields_of(failure: pytest.ExceptionInfo) -> dict[str | None, str]:
    return {e.field: e.message for e in failure.value.errors}


def test_a_new_plan_stores_the_dose_worked_out_from_the_latest_weight_with_its_arithmetic(practice):
    weigh(practice.patient, "70", ago=timedelta(days=30))
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    assert plan.status == "draft" and plan.phase == "induction"
    assert plan.dose_mg == Decimal("41.00") and plan.weight_kg == Decimal("82.0")
    assert plan.dose_summary.startswith("41 mg in 104.1 mL over 40 min")
    assert "0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg" in plan.dose_arithmetic
    assert plan.protocol["key"] == "iv-depression" and plan.protocol_version == "2026.11.1"
    first = DoseChange.objects.get(plan=plan)
    assert (
        first.reason == "plan created"
        and first.mg == plan.dose_mg
        and first.arithmetic == plan.dose_arithmetic
    )


def test_a_dose_above_the_cap_is_held_at_the_cap_without_an_override(practice):
    weigh(practice.patient, "120")
    plan = draft_plan(practice, mg_per_kg="1.0")
    assert plan.dose_mg == Decimal("100.00") and not plan.dose_overridden
    assert any(
        "above the protocol cap of 100.0 mg, so the dose is held at 100.0 mg" in line
        for line in plan.dose_arithmetic
    )


def test_an_override_above_the_cap_needs_its_own_reason_and_is_recorded_with_it(practice):
    weigh(practice.patient, "120")
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice, mg_per_kg="1.0", override_mg="120")
    assert "override_reason" in fields_of(failure)
    assert not TreatmentPlan.objects.exists()
    plan = draft_plan(
        practice,
        mg_per_kg="1.0",
        override_mg="120",
        override_reason="Synthetic: tolerated 120 mg at the previous clinic",
    )
    assert plan.dose_overridden and plan.dose_mg == Decimal("120.00")
    assert any(
        "prescriber override to 120.0 mg (protocol cap 100.0 mg)" in line for line in plan.dose_arithmetic
    )


def test_a_dose_problem_comes_back_on_the_field_at_fault(practice):
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice)
    assert "weigh the patient first" in fields_of(failure)["weight_kg"]
    weigh(practice.patient, "82")
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice, mg_per_kg="0.6")
    assert "is not one of this protocol's steps (0.5, 0.75, 1)" in fields_of(failure)["mg_per_kg"]


def test_a_home_plan_needs_the_prescribers_justification_and_says_why(practice):
    weigh(practice.patient, "82")
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice, "sublingual_home", home_justification="  ")
    assert "strongly discourages unsupervised home use" in fields_of(failure)["home_justification"]
    plan = draft_plan(practice, "sublingual_home")
    assert plan.setting == "home" and plan.dose_mg == Decimal("40.00")
    assert "troche" in plan.dose_summary


def test_a_patient_has_one_open_plan_at_a_time(practice):
    weigh(practice.patient, "82")
    draft_plan(practice)
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice)
    assert "already has an open plan (IV ketamine for depression, induction)" in fields_of(failure)[None]


def test_the_condition_must_be_one_the_protocol_treats(practice):
    weigh(practice.patient, "82")
    with pytest.raises(ValidationFailed) as failure:
        draft_plan(practice, condition="crps")
    assert "choose another protocol" in fields_of(failure)["condition"]


def test_signing_is_refused_without_approval_or_consent_and_says_where_to_fix_it(practice):
    chart_all_clear(practice)
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    with pytest.raises(ValidationFailed) as failure:
        sign_plan(prescriber, plan.pk)
    errors = fields_of(failure)
    assert f"/patients/{practice.patient.pk}/eligibility/" in errors["eligibility"]
    assert f"/patients/{practice.patient.pk}/consent/" in errors["consent"]
    approve(practice)
    with pytest.raises(ValidationFailed) as failure:
        sign_plan(prescriber, plan.pk)
    assert set(fields_of(failure)) == {"consent"}
    signed(practice, "iv")  # signed by the patient, not countersigned yet: not current
    with pytest.raises(ValidationFailed):
        sign_plan(prescriber, plan.pk)
    assert TreatmentPlan.objects.get(pk=plan.pk).status == "draft"


def test_signing_with_approval_and_consent_stores_both_and_moves_the_measurement_stage(practice):
    plan = signed_plan(practice)
    assert plan.status == "signed" and plan.signed_by_id == practice.staff[Role.PRESCRIBER].user_id
    assert plan.eligibility_decision.decision == "approve" and plan.consent.route == "iv"
    assert MeasurementPlan.objects.get(patient=practice.patient).stage == "induction"
    events = AuditEvent.objects.filter(object_type="TreatmentPlan", object_id=str(plan.pk))
    assert [e.detail.get("event") for e in events.filter(action="update")] == ["signed"]
    assert events.filter(action="create").count() == 1


def test_only_a_prescriber_signs(practice):
    ready_patient(practice)
    plan = draft_plan(practice)
    with pytest.raises(Forbidden):
        sign_plan(actor_of(practice.staff[Role.NURSE]), plan.pk)


def test_a_nurse_may_draft_a_plan(practice):
    weigh(practice.patient, "82")
    plan = create_plan(
        actor_of(practice.staff[Role.NURSE]),
        practice.patient.pk,
        protocol_key="iv-depression",
        clinic_id=practice.clinic.pk,
        condition="trd",
        start_date=timezone.localdate(),
        goals="Synthetic goals",
    )
    assert plan.prescriber is None and plan.recorded_by_id == practice.staff[Role.NURSE].user_id


def test_a_dose_change_needs_a_reason_and_records_the_new_arithmetic(practice):
    plan = signed_plan(practice)
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    with pytest.raises(ValidationFailed) as failure:
        change_dose(prescriber, plan.pk, mg_per_kg="0.75", reason=" ", effective_on=timezone.localdate())
    assert "reason" in fields_of(failure)
    change = change_dose(
        prescriber,
        plan.pk,
        mg_per_kg="0.75",
        reason="Tolerated, no response after 2",
        effective_on=timezone.localdate(),
    )
    plan.refresh_from_db()
    assert change.mg == Decimal("62.00") and plan.dose_mg == Decimal("62.00")  # 6.15 mL -> 6.2 mL
    assert plan.dose_mg_per_kg == Decimal("0.750")
    assert "0.75 mg/kg x 82.0 kg (actual body weight) = 61.5 mg" in plan.dose_arithmetic
    assert [c.reason for c in plan.dose_changes.order_by("recorded_at")] == [
        "plan created",
        "Tolerated, no response after 2",
    ]


def test_phases_move_by_the_rules_and_the_measurement_stage_follows(practice):
    plan = signed_plan(practice)
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    today = timezone.localdate()
    move_phase(prescriber, plan.pk, to_phase="maintenance", effective_on=today)
    assert MeasurementPlan.objects.get(patient=practice.patient).stage == "maintenance"
    move_phase(prescriber, plan.pk, to_phase="induction", reason="Relapse: re-induction", effective_on=today)
    move_phase(prescriber, plan.pk, to_phase="taper", effective_on=today)
    with pytest.raises(ValidationFailed) as failure:
        move_phase(prescriber, plan.pk, to_phase="induction", effective_on=today)
    assert (
        "can move to maintenance, completed, discontinued; not to induction" in fields_of(failure)["to_phase"]
    )
    with pytest.raises(ValidationFailed) as failure:
        move_phase(prescriber, plan.pk, to_phase="discontinued", effective_on=today)
    assert "reason" in fields_of(failure)
    move_phase(prescriber, plan.pk, to_phase="discontinued", reason="Patient moved away", effective_on=today)
    plan.refresh_from_db()
    assert plan.phase == "discontinued" and plan.ended_reason == "Patient moved away"
    assert MeasurementPlan.objects.get(patient=practice.patient).stage == "discontinued"
    assert [
        (c.from_phase, c.to_phase) for c in PhaseChange.objects.filter(plan=plan).order_by("recorded_at")
    ] == [
        ("induction", "maintenance"),
        ("maintenance", "induction"),
        ("induction", "taper"),
        ("taper", "discontinued"),
    ]
    with pytest.raises(ValidationFailed):
        move_phase(prescriber, plan.pk, to_phase="maintenance", effective_on=today)


def test_a_protocol_without_a_taper_phase_cannot_taper(practice):
    plan = signed_plan(practice, "esketamine")
    with pytest.raises(ValidationFailed) as failure:
        move_phase(
            actor_of(practice.staff[Role.PRESCRIBER]),
            plan.pk,
            to_phase="taper",
            effective_on=timezone.localdate(),
        )
    assert "has no taper phase" in fields_of(failure)["to_phase"]


def test_esketamine_plans_start_at_the_first_dose_in_devices(practice):
    plan = signed_plan(practice, "esketamine")
    assert plan.dose_mg == Decimal("56.00") and plan.dose_mg_per_kg is None
    assert plan.dose_summary == "56 mg: 2 device(s), 5 min apart"


def test_another_organizations_plan_is_not_found(practice, stranger):
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    outsider = actor_of(stranger.staff[Role.PRESCRIBER])
    for attempt in (
        lambda: open_plan(outsider, plan.pk),
        lambda: sign_plan(outsider, plan.pk),
        lambda: move_phase(outsider, plan.pk, to_phase="completed", effective_on=timezone.localdate()),
    ):
        with pytest.raises(NotFound):
            attempt()


def test_reading_a_plan_is_audited(practice):
    weigh(practice.patient, "82")
    plan = draft_plan(practice)
    open_plan(actor_of(practice.staff[Role.NURSE]), plan.pk, purpose="test")
    event = AuditEvent.objects.filter(object_type="TreatmentPlan", action="read").get()
    assert event.patient_id == practice.patient.pk and event.detail == {"purpose": "test"}
