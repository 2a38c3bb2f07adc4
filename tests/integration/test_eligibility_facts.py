"""Gathering a patient's eligibility facts from the chart: every source, the windows and precedence.

A fact nothing answers stays None (reported as missing), never False.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketaflow.clinical.eligibility import FACTS
from ketaflow.eligibility.decisions import assess_patient
from ketaflow.eligibility.facts import gather_facts
from ketaflow.eligibility.models import EligibilitySettings
from ketaflow.patients.models import Condition, Medication, VitalSigns
from tests.factories import ConditionFactory
from tests.integration.eligibility_factories import (
    CLINICIAN_ALL_CLEAR,
    cssrs,
    evaluation,
    medication,
    phq9,
    submitted_intake,
    vitals,
)

pytestmark = pytest.mark.django_db


def gathered(patient):
    now = timezone.now()
    return gather_facts(patient, today=timezone.localdate(), now=now)


CLINIC_ZONE = ZoneInfo("America/Denver")  # tests.factories.ClinicFactory


def local_day(moment) -> str:
    return timezone.localtime(moment, CLINIC_ZONE).strftime("%Y-%m-%d")


def test_a_patient_with_nothing_recorded_knows_only_the_age_and_nothing_is_read_as_no(practice):
    found = gathered(practice.patient)
    facts = found.facts.as_dict()
    assert facts["age_years"] == 41  # born 1985-06-15; today is 2026-11-21
    assert found.sources["age_years"] == "date of birth 1985-06-15"
    unknown = {name for name, value in facts.items() if value is None}
    assert unknown == {spec.name for spec in FACTS} - {"age_years"}
    assert found.sources["systolic_bp"] == "no blood-pressure reading recorded"
    assert found.sources["ecg_reviewed"] == "no evaluation yet"
    assert "no C-SSRS screener or PHQ-9 in the last 30 days" in found.sources["suicidal_ideation_recent"]


def test_age_is_counted_on_the_day_passed_in(practice):
    found = gather_facts(practice.patient, today=date(2026, 6, 14), now=timezone.now())
    assert found.facts.age_years == 40


def test_the_latest_blood_pressure_in_the_window_is_used_and_named_with_its_time(practice):
    patient = practice.patient
    vitals(patient, 128, 80, ago=timedelta(days=5))
    latest = vitals(patient, 142, 88, ago=timedelta(hours=3))
    found = gathered(patient)
    assert (found.facts.systolic_bp, found.facts.diastolic_bp) == (142, 88)
    when = timezone.localtime(latest.measured_at, CLINIC_ZONE)  # the clinic's time, not the server's
    assert found.sources["systolic_bp"] == f"BP 142/88 on {when:%Y-%m-%d %H:%M}"


def test_a_reading_without_a_diastolic_pressure_is_skipped(practice):
    patient = practice.patient
    vitals(patient, 130, 84, ago=timedelta(days=2))
    VitalSigns.objects.create(organization_id=patient.organization_id, patient=patient,
                              measured_at=timezone.now(), heart_rate=70)
    found = gathered(patient)
    assert (found.facts.systolic_bp, found.facts.diastolic_bp) == (130, 84)


def test_a_blood_pressure_older_than_the_window_is_unknown_and_the_source_says_why(practice):
    patient = practice.patient
    vitals(patient, 150, 95, ago=timedelta(days=120))
    found = gathered(patient)
    assert found.facts.systolic_bp is None and found.facts.diastolic_bp is None
    assert found.sources["systolic_bp"].startswith("no reading in the last 90 days (latest: BP 150/95 on ")


def test_the_vitals_window_is_the_organizations_setting(practice):
    patient = practice.patient
    vitals(patient, 150, 95, ago=timedelta(days=120))
    EligibilitySettings.objects.create(organization=practice.org, vitals_window_days=180)
    assert gathered(patient).facts.systolic_bp == 150


def test_medication_classes_stay_unknown_until_the_list_is_reviewed(practice):
    medication(practice, "phenelzine")
    found = gathered(practice.patient)
    assert found.facts.medication_classes is None
    assert found.facts.unclassified_medications is None
    assert "not yet reviewed" in found.sources["medication_classes"]
    assert "Phenelzine (MAOI)" in found.sources["medication_classes"]


def test_an_evaluation_reviews_the_medication_list_and_the_classes_become_known(practice):
    medication(practice, "phenelzine")
    medication(practice, "sertraline")
    evaluation(practice.patient)
    found = gathered(practice.patient)
    assert found.facts.medication_classes == frozenset({"maoi"})
    assert found.facts.unclassified_medications is False
    assert "reviewed in the evaluation" in found.sources["medication_classes"]
    assert found.medications_reviewed
    assert [m.name for m in found.medications] == ["Phenelzine", "Sertraline"]


def test_a_reviewed_empty_list_is_known_as_none_of_the_classes(practice):
    evaluation(practice.patient)
    found = gathered(practice.patient)
    assert found.facts.medication_classes == frozenset()
    assert found.facts.unclassified_medications is False


def test_a_stopped_medication_no_longer_counts(practice):
    stopped = medication(practice, "alprazolam")
    Medication.objects.filter(pk=stopped.pk).update(status=Medication.Status.STOPPED)
    evaluation(practice.patient)
    assert gathered(practice.patient).facts.medication_classes == frozenset()


def test_a_free_text_medication_is_unclassified_even_before_the_review(practice):
    medication(practice, name="Grandma's herbal drops")
    found = gathered(practice.patient)
    assert found.facts.unclassified_medications is True
    assert found.sources["unclassified_medications"] == "not in the catalogue: Grandma's herbal drops"
    assert found.facts.medication_classes is None


def test_an_intake_that_answered_the_medication_question_reviews_the_list(practice):
    submitted_intake(practice.patient, {"medications": {"no_medications": True}})
    found = gathered(practice.patient)
    assert found.facts.medication_classes == frozenset()
    assert "reported in the patient intake" in found.sources["medication_classes"]


def test_an_intake_that_skipped_the_medication_question_does_not(practice):
    submitted_intake(practice.patient, {"medical": {"glaucoma": "no"}})
    assert gathered(practice.patient).facts.medication_classes is None


@pytest.mark.parametrize(("catalogue_id", "display", "icd10", "fact"), [
    ("schizophrenia", "Schizophrenia", "F20.9", "psychotic_disorder"),
    ("bipolar_depression", "Bipolar disorder, current episode depressed", "F31.9", "bipolar_disorder"),
    ("aortic_aneurysm", "Aortic aneurysm", "I71.9", "aneurysmal_vascular_disease"),
    ("intracranial_aneurysm", "Intracranial aneurysm", "I67.1", "aneurysmal_vascular_disease"),
    ("glaucoma", "Glaucoma", "H40.9", "raised_intraocular_pressure"),
    ("alcohol_use_disorder", "Alcohol use disorder", "F10.20", "alcohol_misuse_active"),
    ("hypertension", "Essential hypertension", "I10", "cardiovascular_risk"),
])
def test_an_active_diagnosis_answers_its_fact_yes_naming_the_problem_list(
    practice, catalogue_id, display, icd10, fact
):
    ConditionFactory(patient=practice.patient, catalogue_id=catalogue_id, display=display, icd10_code=icd10)
    found = gathered(practice.patient)
    assert found.facts.value(fact) is True
    assert found.sources[fact] == f"problem list: {display} ({icd10})"


def test_a_resolved_or_remitted_diagnosis_answers_nothing(practice):
    ConditionFactory(patient=practice.patient, catalogue_id="schizophrenia", display="Schizophrenia",
                     icd10_code="F20.9", status=Condition.Status.RESOLVED)
    assert gathered(practice.patient).facts.psychotic_disorder is None


def test_a_diagnosis_wins_over_the_clinicians_no(practice):
    evaluation(practice.patient, CLINICIAN_ALL_CLEAR | {"psychotic_disorder": False})
    ConditionFactory(patient=practice.patient, catalogue_id="schizophrenia", display="Schizophrenia",
                     icd10_code="F20.9")
    found = gathered(practice.patient)
    assert found.facts.psychotic_disorder is True
    assert found.sources["psychotic_disorder"] == "problem list: Schizophrenia (F20.9)"


def test_the_clinicians_answers_come_from_the_current_evaluation_with_its_date(practice):
    done = evaluation(practice.patient, {"pregnant": True, "hepatic_impairment": "moderate"})
    found = gathered(practice.patient)
    assert found.facts.pregnant is True and found.facts.hepatic_impairment == "moderate"
    assert found.sources["pregnant"] == f"clinician, evaluation {local_day(done.completed_at)}"


def test_the_clinicians_answer_wins_over_the_patients(practice):
    submitted_intake(practice.patient, {"pregnancy": {"pregnant": "yes"}})
    evaluation(practice.patient, {"pregnant": False})
    found = gathered(practice.patient)
    assert found.facts.pregnant is False
    assert found.sources["pregnant"].startswith("clinician, evaluation ")


def test_a_patients_yes_the_clinician_has_not_answered_counts_as_yes(practice):
    intake = submitted_intake(practice.patient, {"medical": {"glaucoma": "yes"}})
    evaluation(practice.patient, {"pregnant": False})
    found = gathered(practice.patient)
    assert found.facts.raised_intraocular_pressure is True
    assert found.sources["raised_intraocular_pressure"] == f"patient intake {local_day(intake.submitted_at)}"


def test_a_patients_not_sure_stays_unknown(practice):
    submitted_intake(practice.patient, {"pregnancy": {"pregnant": "unsure"}})
    assert gathered(practice.patient).facts.pregnant is None


def test_a_recent_test_result_is_reviewed_an_old_one_is_not_and_without_an_evaluation_nobody_knows(practice):
    assert gathered(practice.patient).facts.ecg_reviewed is None
    today = timezone.localdate()
    evaluation(practice.patient, {}, ecg_date=today - timedelta(days=400), ecg_result="abnormal",
               liver_tests_date=today - timedelta(days=30), liver_tests_result="normal",
               urine_drug_screen_date=None, urine_drug_screen_result="")
    found = gathered(practice.patient)
    assert found.facts.ecg_reviewed is False
    assert found.sources["ecg_reviewed"].startswith(
        f"ECG result on {today - timedelta(days=400):%Y-%m-%d} is older than 365 days")
    assert found.facts.liver_tests_reviewed is True
    tested = today - timedelta(days=30)
    assert found.sources["liver_tests_reviewed"] == f"Liver tests normal on {tested:%Y-%m-%d} (evaluation)"
    assert found.facts.urine_drug_screen_reviewed is False
    assert found.sources["urine_drug_screen_reviewed"].startswith("no Urine drug screen result recorded")


def test_a_phq9_item_nine_above_zero_in_the_window_means_recent_suicidal_ideation(practice):
    phq9(practice, [1, 1, 0, 1, 0, 0, 1, 0, 1])
    found = gathered(practice.patient)
    assert found.facts.suicidal_ideation_recent is True
    assert found.sources["suicidal_ideation_recent"].startswith("PHQ-9 item 9 = 1 on ")


def test_a_clear_screen_in_the_window_means_no_recent_ideation(practice):
    phq9(practice, [1, 1, 0, 1, 0, 0, 1, 0, 0])
    found = gathered(practice.patient)
    assert found.facts.suicidal_ideation_recent is False
    assert found.sources["suicidal_ideation_recent"].startswith("PHQ-9 item 9 = 0 on ")


def test_any_cssrs_risk_above_none_means_recent_ideation(practice):
    cssrs(practice, {"1": 1, "2": 0, "6": 0})
    found = gathered(practice.patient)
    assert found.facts.suicidal_ideation_recent is True
    assert "C-SSRS screener on " in found.sources["suicidal_ideation_recent"]
    assert found.sources["suicidal_ideation_recent"].endswith(": low risk")


def test_a_later_clear_screen_does_not_hide_an_endorsing_one_in_the_window(practice):
    phq9(practice, [1, 1, 0, 1, 0, 0, 1, 0, 2], ago=timedelta(days=10))
    cssrs(practice, {"1": 0, "2": 0, "6": 0}, ago=timedelta(days=1))
    assert gathered(practice.patient).facts.suicidal_ideation_recent is True


def test_a_screen_older_than_the_window_leaves_ideation_unknown(practice):
    phq9(practice, [1, 1, 0, 1, 0, 0, 1, 0, 2], ago=timedelta(days=45))
    assert gathered(practice.patient).facts.suicidal_ideation_recent is None


def test_the_assessment_uses_the_gathered_facts(practice):
    """End to end: a schizophrenia diagnosis makes every route need a prescriber's review."""
    ConditionFactory(patient=practice.patient, catalogue_id="schizophrenia", display="Schizophrenia",
                     icd10_code="F20.9")
    result = assess_patient(practice.patient).assessment.result("iv")
    assert "psychotic-disorder" in result.fired
    assert result.status.value == "needs_review"
