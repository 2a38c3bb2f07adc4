"""The evaluation services: facts, trials, labs, completion, vital signs and medications."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.evaluation import services
from ketaflow.evaluation.facts import unassigned_facts
from ketaflow.evaluation.models import Evaluation
from ketaflow.patients.medications import add_medication, current_medications, stop_medication
from ketaflow.patients.models import Medication, VitalSigns
from ketaflow.patients.vital_signs import record_vitals
from ketaflow.scheduling.calendar import today_in
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import ConditionFactory, actor_of

pytestmark = pytest.mark.django_db

SERTRALINE = {"drug": "sertraline", "adequate": True, "outcome": "no_response"}
VENLAFAXINE = {"drug": "Effexor", "adequate": True, "outcome": "partial_response"}


@pytest.fixture
def nurse(practice):
    return actor_of(practice.staff[Role.NURSE])


@pytest.fixture
def prescriber(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


def errors_of(call, *args, **kwargs) -> dict[str | None, str]:
    with pytest.raises(ValidationFailed) as caught:
        call(*args, **kwargs)
    return {e.field: e.message for e in caught.value.errors}


def audit(org, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=org, **filters).order_by("seq"))


def ready_to_complete(practice, nurse) -> None:
    ConditionFactory(patient=practice.patient, catalogue_id="trd", display="Treatment-resistant depression")
    record_vitals(nurse, practice.patient.pk, {"systolic_bp": 124, "diastolic_bp": 80})


# ---------- Facts ----------

def test_every_core_fact_is_either_asked_of_the_clinician_or_taken_from_the_record():
    assert unassigned_facts() == set()


def test_saving_facts_starts_a_draft_and_stores_only_the_assessed_answers(practice, nurse):
    evaluation = services.save_facts(nurse, practice.patient.pk, {
        "pregnant": False, "hepatic_impairment": "mild", "home_bp_cuff": None, "bipolar_disorder": True,
    })
    evaluation.refresh_from_db()
    assert evaluation.status == Evaluation.Status.DRAFT
    assert evaluation.facts == {"pregnant": False, "hepatic_impairment": "mild", "bipolar_disorder": True}
    assert services.current_evaluation(practice.patient) == evaluation
    created, updated = audit(practice.org, object_type="Evaluation")
    assert (created.action, updated.action) == ("create", "update")
    assert updated.detail == {
        "fields": ["facts"], "facts": ["bipolar_disorder", "hepatic_impairment", "pregnant"],
    }
    assert "mild" not in str(updated.detail) and updated.patient_id == practice.patient.pk


def test_saving_the_same_facts_again_writes_no_update_event(practice, nurse):
    services.save_facts(nurse, practice.patient.pk, {"pregnant": False})
    services.save_facts(nurse, practice.patient.pk, {"pregnant": False})
    assert [e.action for e in audit(practice.org, object_type="Evaluation")] == ["create", "update"]


@pytest.mark.parametrize(("facts", "field", "message"), [
    ({"telepathy": True}, "facts.telepathy", "This is not an eligibility fact a clinician records."),
    ({"age_years": 40}, "facts.age_years", "This comes from the date of birth; record it there."),
    ({"systolic_bp": 128}, "facts.systolic_bp", "This comes from the vital signs; record it there."),
    ({"medication_classes": []}, "facts.medication_classes",
     "This comes from the medication list; record it there."),
    ({"suicidal_ideation_recent": False}, "facts.suicidal_ideation_recent",
     "This comes from the latest C-SSRS or PHQ-9; record it there."),
    ({"pregnant": "yes"}, "facts.pregnant", "Must be true, false or null."),
    ({"hepatic_impairment": "terrible"}, "facts.hepatic_impairment",
     "Must be one of none, mild, moderate, severe or null."),
])
def test_a_bad_fact_is_refused_naming_it_and_nothing_is_stored(practice, nurse, facts, field, message):
    assert errors_of(services.save_facts, nurse, practice.patient.pk, facts) == {field: message}
    assert not Evaluation.objects.exists()
    assert not audit(practice.org, object_type="Evaluation")


def test_contradictory_cardiovascular_answers_are_refused_on_the_risk_question(practice, nurse):
    found = errors_of(services.save_facts, nurse, practice.patient.pk,
                      {"hypertension_uncontrolled": True, "cardiovascular_risk": False})
    assert list(found) == ["facts.cardiovascular_risk"]
    assert "uncontrolled hypertension" in found["facts.cardiovascular_risk"]
    assert not Evaluation.objects.exists()


# ---------- Trials and staging ----------

def test_saving_trials_stores_them_with_the_computed_thase_rush_stage(practice, nurse):
    evaluation = services.save_trials(nurse, practice.patient.pk, [SERTRALINE, VENLAFAXINE], ect_failed=False)
    evaluation.refresh_from_db()
    assert evaluation.trd_stage == 2 and evaluation.ect_failed is False
    assert evaluation.antidepressant_trials == [
        {"drug": "sertraline", "drug_class": "ssri", "adequate": True, "outcome": "no_response"},
        {"drug": "venlafaxine", "drug_class": "snri", "adequate": True, "outcome": "partial_response"},
    ]
    staging = services.staging_of(evaluation)
    assert (staging.label, staging.is_trd) == ("Stage II", True)


def test_adding_a_failed_tca_and_maoi_and_ect_raises_the_stored_stage_to_five(practice, nurse):
    trials = [SERTRALINE, VENLAFAXINE, {"drug": "nortriptyline", "adequate": True, "outcome": "no_response"},
              {"drug": "Nardil", "adequate": True, "outcome": "no_response"}]
    assert services.save_trials(nurse, practice.patient.pk, trials, ect_failed=None).trd_stage == 4
    assert services.update_evaluation(nurse, practice.patient.pk, {"ect_failed": True}).trd_stage == 5


def test_a_contradictory_trial_is_refused_naming_the_row_and_field(practice, nurse):
    services.save_trials(nurse, practice.patient.pk, [SERTRALINE], ect_failed=None)
    found = errors_of(services.save_trials, nurse, practice.patient.pk,
                      [SERTRALINE, {"drug": "sertraline", "drug_class": "maoi", "adequate": True,
                                    "outcome": "no_response"}], ect_failed="maybe")
    assert found == {"trials[1].drug_class": "Sertraline is an SSRI, not an MAOI.",
                     "ect_failed": "Answer yes, no, or leave it not known."}
    evaluation = Evaluation.objects.get()
    assert len(evaluation.antidepressant_trials) == 1 and evaluation.trd_stage == 1


# ---------- Labs ----------

def test_labs_are_saved_with_their_dates_and_results(practice, nurse):
    taken = today_in(practice.clinic) - timedelta(days=3)
    evaluation = services.save_labs(nurse, practice.patient.pk, {
        "ecg_date": taken, "ecg_result": "abnormal", "ecg_note": "Left bundle branch block",
        "liver_tests_date": None, "liver_tests_result": "",
    })
    evaluation.refresh_from_db()
    assert (evaluation.ecg_date, evaluation.ecg_result, evaluation.ecg_note) == (
        taken, "abnormal", "Left bundle branch block")
    [update] = audit(practice.org, object_type="Evaluation", action="update")
    assert update.detail == {"fields": ["ecg_date", "ecg_note", "ecg_result"]}


def test_a_lab_date_in_the_future_a_result_without_a_date_and_a_date_before_birth_are_refused(
    practice, nurse
):
    found = errors_of(services.save_labs, nurse, practice.patient.pk, {
        "ecg_date": today_in(practice.clinic) + timedelta(days=2), "ecg_result": "normal",
        "liver_tests_result": "normal",
        "urine_drug_screen_date": date(1970, 1, 1), "urine_drug_screen_result": "normal",
    })
    assert found == {
        "ecg_date": "The date cannot be in the future.",
        "urine_drug_screen_date": "The date is before the patient was born.",
    }
    found = errors_of(services.save_labs, nurse, practice.patient.pk,
                      {"liver_tests_result": "normal", "ecg_date": today_in(practice.clinic)})
    assert found == {"liver_tests_date": "Enter the date of the liver tests.",
                     "ecg_result": "Enter the ECG result, or clear its date."}
    assert not Evaluation.objects.exists()


def test_errors_in_several_sections_are_reported_together_and_nothing_is_saved(practice, nurse):
    services.save_notes(nurse, practice.patient.pk, "First visit.")
    found = errors_of(services.update_evaluation, nurse, practice.patient.pk, {
        "facts": {"age_years": 30}, "trials": [{"drug": "sertraline"}], "notes": "Changed",
        "ecg_date": timezone.localdate() + timedelta(days=1), "colour": "blue",
    })
    assert set(found) == {"facts.age_years", "trials[0].adequate", "trials[0].outcome", "ecg_date", "colour"}
    assert Evaluation.objects.get().notes == "First visit."


# ---------- Completing, and re-evaluating ----------

def test_a_nurse_drafts_but_cannot_complete_the_evaluation(practice, nurse):
    ready_to_complete(practice, nurse)
    services.save_notes(nurse, practice.patient.pk, "Ready.")
    with pytest.raises(Forbidden):
        services.complete_evaluation(nurse, practice.patient.pk)
    assert Evaluation.objects.get().status == Evaluation.Status.DRAFT


def test_completing_needs_a_diagnosis_and_a_baseline_blood_pressure(practice, nurse, prescriber):
    services.save_notes(nurse, practice.patient.pk, "Seen today.")
    assert errors_of(services.complete_evaluation, prescriber, practice.patient.pk) == {
        "diagnoses": "Add the diagnosis to the problem list first.",
        "vital_signs": "Record a baseline blood pressure first.",
    }
    record_vitals(nurse, practice.patient.pk, {"weight_kg": 70, "height_cm": 170})
    assert "vital_signs" in errors_of(services.complete_evaluation, prescriber, practice.patient.pk)
    assert Evaluation.objects.get().status == Evaluation.Status.DRAFT


def test_there_is_nothing_to_complete_before_an_evaluation_is_started(practice, nurse, prescriber):
    ready_to_complete(practice, nurse)
    assert errors_of(services.complete_evaluation, prescriber, practice.patient.pk) == {
        None: "There is no evaluation in progress: save any section to start one."
    }
    assert not Evaluation.objects.exists()


def test_a_prescriber_completes_the_evaluation_and_the_sign_off_is_audited(practice, nurse, prescriber):
    ready_to_complete(practice, nurse)
    services.save_facts(nurse, practice.patient.pk, {"pregnant": False})
    evaluation = services.complete_evaluation(prescriber, practice.patient.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == Evaluation.Status.COMPLETED
    assert evaluation.clinician_id == prescriber.user_id and evaluation.completed_at is not None
    last = audit(practice.org, object_type="Evaluation")[-1]
    assert (last.action, last.username, last.detail) == (
        "update", prescriber.username, {"fields": ["clinician", "completed_at", "status"]})
    assert errors_of(services.complete_evaluation, prescriber, practice.patient.pk) == {
        None: "There is no evaluation in progress to complete."
    }


def test_saving_after_completion_starts_a_re_evaluation_carrying_the_answers_forward(
    practice, nurse, prescriber
):
    ready_to_complete(practice, nurse)
    services.update_evaluation(nurse, practice.patient.pk, {
        "facts": {"pregnant": False}, "trials": [SERTRALINE], "ecg_date": today_in(practice.clinic),
        "ecg_result": "normal", "notes": "Initial evaluation.",
    })
    first = services.complete_evaluation(prescriber, practice.patient.pk)
    second = services.save_facts(nurse, practice.patient.pk, {"pregnant": False, "bipolar_disorder": False})
    assert second.pk != first.pk and second.status == Evaluation.Status.DRAFT
    assert second.antidepressant_trials == first.antidepressant_trials and second.trd_stage == 1
    assert (second.ecg_result, second.notes) == ("normal", "")
    first.refresh_from_db()
    assert first.facts == {"pregnant": False} and first.status == Evaluation.Status.COMPLETED
    assert services.current_evaluation(practice.patient) == second
    created = audit(practice.org, object_type="Evaluation", action="create")[-1]
    assert created.object_id == str(second.pk) and created.detail == {"continues": str(first.pk)}
    # The re-evaluation needs a blood pressure taken after the first was completed.
    assert errors_of(services.complete_evaluation, prescriber, practice.patient.pk) == {
        "vital_signs": "Record a baseline blood pressure since the last evaluation first."
    }


def test_start_evaluation_returns_the_draft_and_starts_only_one(practice, nurse):
    first = services.start_evaluation(nurse, practice.patient.pk)
    assert services.start_evaluation(nurse, practice.patient.pk) == first
    assert Evaluation.objects.count() == 1


def test_another_organizations_patient_is_not_found_and_nothing_is_written(practice, stranger, nurse):
    with pytest.raises(NotFound):
        services.save_facts(nurse, stranger.patient.pk, {"pregnant": False})
    with pytest.raises(NotFound):
        services.open_evaluation(nurse, stranger.patient.pk)
    assert not Evaluation.objects.exists()


def test_front_desk_cannot_read_or_draft_an_evaluation(practice):
    desk = actor_of(practice.staff[Role.FRONT_DESK])
    with pytest.raises(Forbidden):
        services.open_evaluation(desk, practice.patient.pk)
    with pytest.raises(Forbidden):
        services.save_notes(desk, practice.patient.pk, "Note")


def test_opening_the_evaluation_is_audited_as_a_read(practice, nurse):
    patient, evaluation = services.open_evaluation(nurse, practice.patient.pk)
    assert patient == practice.patient and evaluation is None
    [read] = audit(practice.org, action="read")
    assert (read.object_type, read.patient_id) == ("Patient", patient.pk)
    assert read.detail == {"purpose": "evaluation"}


# ---------- Vital signs (patients.vital_signs) ----------

@pytest.mark.parametrize(("readings", "field", "phrase"), [
    ({"systolic_bp": 20, "diastolic_bp": 10}, "systolic_bp", "is not possible"),
    ({"systolic_bp": 400, "diastolic_bp": 80}, "systolic_bp", "is not possible"),
    ({"weight_kg": 0}, "weight_kg", "is not possible"),
    ({"systolic_bp": 120}, "diastolic_bp", "Enter both the systolic and the diastolic pressure."),
    ({"systolic_bp": 120, "diastolic_bp": 130}, "diastolic_bp", "must be lower than the systolic"),
])
def test_impossible_vital_signs_are_refused_naming_the_field_and_nothing_is_stored(
    practice, nurse, readings, field, phrase
):
    found = errors_of(record_vitals, nurse, practice.patient.pk, readings)
    assert field in found and phrase in found[field]
    assert not VitalSigns.objects.exists()
    assert not audit(practice.org, object_type="VitalSigns")


def test_vital_signs_in_the_future_are_refused(practice, nurse):
    later = timezone.now() + timedelta(hours=2)
    found = errors_of(record_vitals, nurse, practice.patient.pk, {"heart_rate": 70}, measured_at=later)
    assert found == {"measured_at": "The time of the readings cannot be in the future."}
    assert not VitalSigns.objects.exists()


def test_weight_and_height_store_the_bmi_and_the_write_is_audited(practice, nurse):
    readings = {"systolic_bp": "132", "diastolic_bp": "84", "weight_kg": "81.4", "height_cm": "176"}
    vitals = record_vitals(nurse, practice.patient.pk, readings)
    vitals.refresh_from_db()
    assert (vitals.systolic_bp, vitals.diastolic_bp, vitals.bmi) == (132, 84, Decimal("26.3"))
    [event] = audit(practice.org, object_type="VitalSigns")
    assert (event.action, event.object_id) == ("create", str(vitals.pk))


# ---------- Medications (patients.medications) ----------

def test_a_catalogue_medication_carries_its_rxnorm_code_and_classes(practice, nurse):
    medication = add_medication(nurse, practice.patient.pk, catalogue_id="phenelzine", dose="15 mg tid")
    assert (medication.name, medication.rxnorm_code, medication.classes) == ("Phenelzine", "8123", ["maoi"])


def test_a_brand_name_is_matched_to_its_ingredient_and_class(practice, nurse):
    medication = add_medication(nurse, practice.patient.pk, name="Xanax 0.5 mg")
    assert (medication.catalogue_id, medication.rxnorm_code, medication.classes) == (
        "alprazolam", "596", ["benzodiazepine"])
    assert medication.name == "Xanax 0.5 mg"


def test_free_text_outside_the_catalogue_is_kept_unclassified(practice, nurse):
    medication = add_medication(nurse, practice.patient.pk, name="Grandma's tonic")
    assert (medication.catalogue_id, medication.rxnorm_code, medication.classes) == ("", "", [])


def test_a_stopped_medication_leaves_the_current_list(practice, nurse):
    medication = add_medication(nurse, practice.patient.pk, catalogue_id="sertraline")
    stop_medication(nurse, medication.pk)
    assert current_medications(practice.patient) == []
    medication.refresh_from_db()
    clinic_today = timezone.localdate(timezone=ZoneInfo(practice.patient.home_clinic.timezone))
    assert (medication.status, medication.stopped_on) == (Medication.Status.STOPPED, clinic_today)


def test_stopping_a_medication_today_means_today_at_the_patients_clinic(practice, nurse):
    # 03:00 UTC on 21 November is still the evening of the 20th at the clinic in Denver.
    evening = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    first = add_medication(nurse, practice.patient.pk, catalogue_id="sertraline")
    second = add_medication(nurse, practice.patient.pk, catalogue_id="lamotrigine")
    with mock.patch("django.utils.timezone.now", return_value=evening):
        assert stop_medication(nurse, first.pk).stopped_on == date(2026, 11, 20)
        found = errors_of(stop_medication, nurse, second.pk, stopped_on=date(2026, 11, 21))
    assert found == {"stopped_on": "A medication cannot be stopped in the future."}
    second.refresh_from_db()
    assert second.status == Medication.Status.ACTIVE
