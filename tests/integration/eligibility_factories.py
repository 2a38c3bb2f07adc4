"""Chart records for the eligibility tests: a patient whose chart answers every fact "all clear".

`chart_all_clear(practice)` gives the practice's patient a recent normal blood pressure, a completed
evaluation answering every clinician fact with a reassuring answer and recent normal tests, a
reviewed medication list (sertraline, no interacting class) and a clear PHQ-9, so the IV route is
plainly eligible and a test that changes one record sees exactly what that record does. All
synthetic.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.evaluation.models import Evaluation
from ketaflow.intake.models import Intake
from ketaflow.measurement.responses import record_response
from ketaflow.patients.medications import add_medication
from ketaflow.patients.models import Patient, VitalSigns
from tests.factories import actor_of

CLINICIAN_ALL_CLEAR: dict[str, Any] = {
    "pregnant": False,
    "breastfeeding": False,
    "hypertension_uncontrolled": False,
    "cardiovascular_disease_poorly_controlled": False,
    "cardiovascular_risk": False,
    "aneurysmal_vascular_disease": False,
    "arteriovenous_malformation": False,
    "intracerebral_haemorrhage_history": False,
    "ketamine_hypersensitivity": False,
    "hepatic_impairment": "none",
    "raised_intracranial_pressure": False,
    "raised_intraocular_pressure": False,
    "active_psychosis": False,
    "psychotic_disorder": False,
    "bipolar_disorder": False,
    "substance_misuse_active": False,
    "alcohol_misuse_active": False,
    "home_monitor_present": True,
    "home_bp_cuff": True,
    "clinically_stable": True,
}
CLEAR_PHQ9 = [1, 1, 0, 1, 0, 0, 1, 0, 0]


def vitals(
    patient: Patient, systolic: int, diastolic: int, *, ago: timedelta = timedelta(days=1)
) -> VitalSigns:
    return VitalSigns.objects.create(
        organization_id=patient.organization_id, patient=patient,
        measured_at=timezone.now() - ago, systolic_bp=systolic, diastolic_bp=diastolic,
    )


def evaluation(patient: Patient, facts: dict[str, Any] | None = None, **fields: Any) -> Evaluation:
    today = timezone.localdate()
    values: dict[str, Any] = {
        "ecg_date": today - timedelta(days=10), "ecg_result": "normal",
        "liver_tests_date": today - timedelta(days=10), "liver_tests_result": "normal",
        "urine_drug_screen_date": today - timedelta(days=10), "urine_drug_screen_result": "normal",
        "status": Evaluation.Status.COMPLETED, "completed_at": timezone.now() - timedelta(hours=2),
    }
    values.update(fields)
    return Evaluation.objects.create(
        organization_id=patient.organization_id, patient=patient,
        facts=dict(CLINICIAN_ALL_CLEAR if facts is None else facts), **values,
    )


def submitted_intake(
    patient: Patient, answers: dict[str, Any], *, ago: timedelta = timedelta(days=3)
) -> Intake:
    return Intake.objects.create(
        organization_id=patient.organization_id, patient=patient, status=Intake.Status.SUBMITTED,
        answers=answers, submitted_at=timezone.now() - ago,
    )


def phq9(practice: Any, answers: list[int], *, ago: timedelta = timedelta(days=2)) -> Any:
    actor = actor_of(practice.staff[Role.NURSE])
    return record_response(actor, practice.patient.pk, "phq9", answers, authored_at=timezone.now() - ago)


def cssrs(practice: Any, answers: dict[str, int], *, ago: timedelta = timedelta(days=2)) -> Any:
    actor = actor_of(practice.staff[Role.NURSE])
    when = timezone.now() - ago
    return record_response(actor, practice.patient.pk, "cssrs_screener", answers, authored_at=when)


def medication(practice: Any, catalogue_id: str = "", name: str = "") -> Any:
    actor = actor_of(practice.staff[Role.NURSE])
    return add_medication(actor, practice.patient.pk, catalogue_id=catalogue_id, name=name)


def chart_all_clear(practice: Any) -> Patient:
    patient: Patient = practice.patient
    vitals(patient, 122, 78)
    medication(practice, "sertraline")
    evaluation(patient)
    phq9(practice, CLEAR_PHQ9)
    return patient
