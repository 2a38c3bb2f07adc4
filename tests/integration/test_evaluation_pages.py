"""The Evaluation chart tab and its forms, as a clinician uses them on a tablet."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.evaluation import services
from ketaflow.evaluation.models import Evaluation
from ketaflow.measurement.responses import record_response
from ketaflow.patients.medications import add_medication
from ketaflow.patients.models import Condition, Medication, VitalSigns
from ketaflow.patients.vital_signs import record_vitals
from tests.factories import ConditionFactory, actor_of
from tests.integration.pages import PAGE_TEST_MARKS, field_error, htmx, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


@pytest.fixture
def nurse(practice):
    return practice.staff[Role.NURSE]


@pytest.fixture
def prescriber(practice):
    return practice.staff[Role.PRESCRIBER]


def tab(patient) -> str:
    return f"/patients/{patient.pk}/evaluation/"


def page(patient, section: str) -> str:
    return f"/evaluation/patients/{patient.pk}/{section}/"


def section_text(response, section_id: str) -> str:
    html = response.content.decode()
    match = re.search(rf'<section class="card" id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


@pytest.fixture
def evaluated(practice, nurse):
    """A patient part-way through an evaluation: a diagnosis, vitals, medications, trials, facts, labs,
    a PHQ-9 and notes."""
    actor = actor_of(nurse)
    patient = practice.patient
    ConditionFactory(patient=patient, catalogue_id="trd", display="Treatment-resistant depression",
                     snomed_code="370143000", icd10_code="F33.2")
    ConditionFactory(patient=patient, catalogue_id="hypertension", display="Essential hypertension",
                     snomed_code="59621000", icd10_code="I10")
    record_vitals(actor, patient.pk, {"systolic_bp": 118, "diastolic_bp": 76},
                  measured_at=timezone.now() - timedelta(days=2))
    record_vitals(actor, patient.pk, {"systolic_bp": 134, "diastolic_bp": 86, "heart_rate": 72,
                                      "weight_kg": "81.4", "height_cm": "176"})
    add_medication(actor, patient.pk, name="Xanax 0.5 mg", dose="at night")
    add_medication(actor, patient.pk, name="Grandma's tonic")
    stopped = add_medication(actor, patient.pk, catalogue_id="sertraline")
    Medication.objects.filter(pk=stopped.pk).update(status=Medication.Status.STOPPED,
                                                    stopped_on=timezone.localdate())
    services.update_evaluation(actor, patient.pk, {
        "trials": [{"drug": "sertraline", "adequate": True, "outcome": "no_response"},
                   {"drug": "Cymbalta", "adequate": True, "outcome": "partial_response"}],
        "facts": {"pregnant": False, "substance_misuse_active": True},
        "ecg_date": timezone.localdate() - timedelta(days=1), "ecg_result": "normal",
        "notes": "Long history of recurrent depression.",
    })
    record_response(actor, patient.pk, "phq9", [2, 2, 2, 2, 1, 1, 1, 1, 0])
    return patient


def test_the_tab_shows_every_section_in_order_with_the_patients_real_content(practice, prescriber, evaluated):
    response = signed_in(prescriber).get(tab(evaluated))
    assert response.status_code == 200
    html = response.content.decode()
    order = ["diagnoses", "staging", "vitals", "medications", "facts", "labs", "baselines", "notes",
             "complete"]
    positions = [html.index(f'id="{section}"') for section in order]
    assert positions == sorted(positions)

    diagnoses = section_text(response, "diagnoses")
    assert "Treatment-resistant depression SNOMED CT 370143000 · ICD-10-CM F33.2" in diagnoses
    assert "Add a diagnosis" in diagnoses

    staging = section_text(response, "staging")
    assert "Stage II" in staging and "Two distinctly different classes failed: Stage II." in staging
    assert "Treatment-resistant" in staging and "Thase ME, Rush AJ" in staging
    assert "Duloxetine SNRI Yes Partial response Failed" in staging

    vitals = section_text(response, "vitals")
    assert "134/86 mmHg" in vitals and "72 /min" in vitals and "BMI 26.3 kg/m²" in vitals
    assert "118/76" in vitals  # the history table

    medications = section_text(response, "medications")
    assert "Xanax 0.5 mg · at night Benzodiazepine" in medications
    assert "RxNorm 596" in medications
    assert "Grandma's tonic Not in the catalogue: check interactions by hand" in medications
    assert "Stopped medications (1)" in medications and "Sertraline" in medications

    labs = section_text(response, "labs")
    assert "ECG Indicated Cardiovascular risk: problem list: Essential hypertension (I10)." in labs
    assert "Urine drug screen Indicated Suspected substance use: clinician: active substance misuse." in labs
    assert "Liver tests Not assessed Indicated when there is hepatic risk; not assessed yet." in labs
    assert "Normal" in labs and "Sanacora" in labs

    baselines = section_text(response, "baselines")
    assert re.search(r"PHQ-9 Latest 12 \(moderate\) on \d\d/\d\d/\d{4}", baselines), baselines
    assert "GAD-7 No baseline yet" in baselines

    assert "Long history of recurrent depression." in section_text(response, "notes")
    complete = section_text(response, "complete")
    assert "Ready to complete" in complete and "Complete evaluation" in complete
    assert 'name="facts-pregnant" value="no" id="id_facts-pregnant_1" checked' in html


def test_the_vital_sign_inputs_bring_up_a_number_pad_and_show_units(practice, nurse):
    html = signed_in(nurse).get(tab(practice.patient)).content.decode()
    tag = re.search(r'<input[^>]*id="id_vitals-weight_kg"[^>]*>', html).group(0)
    assert 'inputmode="decimal"' in tag
    assert '<label for="id_vitals-weight_kg">Weight (kg)</label>' in html
    assert '<label for="id_vitals-systolic_bp">Systolic blood pressure (mmHg)</label>' in html


def test_reading_the_tab_is_audited_with_its_purpose(practice, nurse):
    signed_in(nurse).get(tab(practice.patient))
    read = AuditEvent.objects.filter(organization=practice.org, action="read").latest("seq")
    assert (read.patient_id, read.detail) == (practice.patient.pk, {"purpose": "chart:evaluation"})


def test_front_desk_cannot_open_the_tab(practice):
    response = signed_in(practice.staff[Role.FRONT_DESK]).get(tab(practice.patient))
    assert response.status_code == 403
    links = [t.strip() for t in re.findall(r">([^<]+)</a></li>", response.content.decode())]
    assert "Evaluation" not in links


# ---------- Vital signs ----------

def test_a_systolic_of_20_is_refused_beside_the_field_and_nothing_is_stored(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "vitals"), {
        "vitals-systolic_bp": "20", "vitals-diastolic_bp": "10", "vitals-weight_kg": "0",
    })
    assert response.status_code == 200
    assert "is not possible" in field_error(response, "id_vitals-systolic_bp")
    assert "enter a value from 20 to 350 kg" in field_error(response, "id_vitals-weight_kg")
    assert 'value="20"' in response.content.decode()  # what was typed stays to be corrected
    assert not VitalSigns.objects.exists()


def test_half_a_blood_pressure_is_refused_on_the_missing_half(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "vitals"), {"vitals-systolic_bp": "120"})
    assert field_error(response, "id_vitals-diastolic_bp") == (
        "Enter both the systolic and the diastolic pressure.")
    assert not VitalSigns.objects.exists()


def test_a_reading_in_the_future_is_refused_on_the_time(practice, nurse):
    later = (timezone.now() + timedelta(days=1)).astimezone(timezone.get_current_timezone())
    response = signed_in(nurse).post(page(practice.patient, "vitals"), {
        "vitals-heart_rate": "70", "vitals-measured_at": later.strftime("%Y-%m-%dT%H:%M"),
    })
    assert field_error(response, "id_vitals-measured_at") == (
        "The time of the readings cannot be in the future.")
    assert not VitalSigns.objects.exists()


def test_saved_vital_signs_show_the_bmi_back_on_the_tab(practice, nurse):
    client = signed_in(nurse)
    response = client.post(page(practice.patient, "vitals"), {
        "vitals-systolic_bp": "128", "vitals-diastolic_bp": "82", "vitals-weight_kg": "70,5",
        "vitals-height_cm": "172",
    })
    assert response.status_code == 302 and response["Location"].endswith("/evaluation/#vitals")
    stored = VitalSigns.objects.get()
    assert (stored.systolic_bp, str(stored.weight_kg), str(stored.bmi)) == (128, "70.5", "23.8")
    shown = section_text(client.get(response["Location"]), "vitals")
    assert "128/82 mmHg" in shown and "BMI 23.8 kg/m²" in shown


def test_the_vitals_address_opens_the_tab_at_the_form(practice, nurse):
    response = signed_in(nurse).get(page(practice.patient, "vitals"))
    assert response.status_code == 200
    assert "Record vital signs" in section_text(response, "vitals")


def test_a_time_typed_on_the_form_is_the_clinics_local_time(practice, nurse):
    # The practice's clinic is in Denver: 8 pm on 20 November there is 3 am on the 21st in UTC.
    response = signed_in(nurse).post(page(practice.patient, "vitals"), {
        "vitals-heart_rate": "70", "vitals-measured_at": "2026-11-20T20:00",
    })
    assert response.status_code == 302
    assert VitalSigns.objects.get().measured_at == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_a_section_address_opens_that_sections_form_and_no_other(practice, nurse):
    record_vitals(actor_of(nurse), practice.patient.pk, {"heart_rate": 70})  # the form is closed by default
    html = signed_in(nurse).get(page(practice.patient, "labs")).content.decode()
    opened = re.findall(r'<details class="disclosure" open>\s*<summary>([^<]+)</summary>', html)
    assert opened == ["Record results"]


# ---------- Medications ----------

def test_picking_a_catalogue_entry_stores_its_codes_and_shows_its_class(practice, nurse):
    client = signed_in(nurse)
    response = client.post(page(practice.patient, "medications"), {
        "medication-medication": "Clonazepam (Klonopin)", "medication-dose": "0.5 mg bid",
        "medication-source": "patient",
    })
    assert response.status_code == 302
    medication = Medication.objects.get()
    assert (medication.catalogue_id, medication.name, medication.rxnorm_code, medication.classes) == (
        "clonazepam", "Clonazepam", "2598", ["benzodiazepine"])
    assert medication.source == "patient"
    shown = section_text(client.get(response["Location"]), "medications")
    assert "Clonazepam · 0.5 mg bid Benzodiazepine" in shown


def test_the_picker_lists_the_catalogue_with_brand_names_and_classes(practice, nurse):
    html = signed_in(nurse).get(tab(practice.patient)).content.decode()
    option = '<option value="Phenelzine (Nardil)" label="Phenelzine (Nardil) · Monoamine oxidase inhibitor'
    assert option in html


def test_a_medication_without_a_name_is_refused_beside_the_field(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "medications"), {
        "medication-medication": " ", "medication-source": "clinician",
    })
    assert field_error(response, "id_medication-medication") == "This field is required."
    assert not Medication.objects.exists()


def test_stopping_a_medication_moves_it_to_the_stopped_list(practice, nurse):
    medication = add_medication(actor_of(nurse), practice.patient.pk, catalogue_id="lamotrigine")
    client = signed_in(nurse)
    response = client.post(page(practice.patient, f"medications/{medication.pk}/stop"), {"stopped_on": ""})
    assert response.status_code == 302
    medication.refresh_from_db()
    assert medication.status == Medication.Status.STOPPED
    shown = section_text(client.get(response["Location"]), "medications")
    assert "No current medications recorded." in shown and "Stopped medications (1)" in shown


def test_stopping_a_medication_on_a_future_date_is_refused(practice, nurse):
    medication = add_medication(actor_of(nurse), practice.patient.pk, catalogue_id="lamotrigine")
    later = timezone.localdate() + timedelta(days=3)
    response = signed_in(nurse).post(page(practice.patient, f"medications/{medication.pk}/stop"),
                                     {"stopped_on": later.isoformat()})
    assert field_error(response, "id_stopped_on") == "A medication cannot be stopped in the future."
    medication.refresh_from_db()
    assert medication.status == Medication.Status.ACTIVE


# ---------- Facts, trials, labs, notes ----------

def test_facts_are_saved_and_not_assessed_stores_nothing(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "facts"), {
        "facts-pregnant": "no", "facts-hepatic_impairment": "moderate", "facts-home_bp_cuff": "",
        "facts-active_psychosis": "yes",
    })
    assert response.status_code == 302 and response["Location"].endswith("#facts")
    assert Evaluation.objects.get().facts == {"pregnant": False, "hepatic_impairment": "moderate",
                                              "active_psychosis": True}


def test_contradictory_facts_are_shown_beside_the_question(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "facts"), {
        "facts-cardiovascular_disease_poorly_controlled": "yes", "facts-cardiovascular_risk": "no",
    })
    html = response.content.decode()
    match = re.search(r'id="id_facts-cardiovascular_risk_helptext">[^<]*</span>\s*<ul class="errorlist"[^>]*>'
                      r"\s*<li>([^<]+)</li>", html)
    assert match and "poorly controlled cardiovascular disease" in match.group(1)
    assert not Evaluation.objects.exists()


def test_trials_are_saved_from_the_rows_and_the_stage_is_shown(practice, nurse):
    client = signed_in(nurse)
    response = client.post(page(practice.patient, "trials"), {
        "trials-rows": "3",
        "trials-trial_0_drug": "Lexapro", "trials-trial_0_adequate": "on",
        "trials-trial_0_outcome": "no_response",
        "trials-trial_1_drug": "", "trials-trial_1_drug_class": "",
        "trials-trial_2_drug": "Wellbutrin XL", "trials-trial_2_adequate": "on",
        "trials-trial_2_outcome": "no_response",
        "trials-ect_failed": "no",
    })
    assert response.status_code == 302
    evaluation = Evaluation.objects.get()
    assert [t["drug"] for t in evaluation.antidepressant_trials] == ["escitalopram", "bupropion"]
    assert (evaluation.trd_stage, evaluation.ect_failed) == (2, False)
    shown = section_text(client.get(response["Location"]), "staging")
    assert "Stage II" in shown and "Escitalopram SSRI Yes No response Failed" in shown


def test_a_contradictory_trial_row_shows_the_error_on_that_rows_class(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "trials"), {
        "trials-rows": "2",
        "trials-trial_0_drug": "", "trials-trial_0_drug_class": "",
        "trials-trial_1_drug": "Nardil", "trials-trial_1_drug_class": "tca",
        "trials-trial_1_adequate": "on", "trials-trial_1_outcome": "no_response",
    })
    assert field_error(response, "id_trials-trial_1_drug_class") == (
        "Phenelzine is an MAOI, not a Tricyclic (TCA).")
    assert not Evaluation.objects.exists()


def test_a_lab_date_in_the_future_is_refused_beside_the_field(practice, nurse):
    later = timezone.localdate() + timedelta(days=5)
    response = signed_in(nurse).post(page(practice.patient, "labs"), {
        "labs-ecg_date": later.isoformat(), "labs-ecg_result": "normal",
    })
    assert field_error(response, "id_labs-ecg_date") == "The date cannot be in the future."
    assert not Evaluation.objects.exists()


def test_labs_and_notes_are_saved(practice, nurse):
    client = signed_in(nurse)
    taken = timezone.localdate() - timedelta(days=10)
    assert client.post(page(practice.patient, "labs"), {
        "labs-liver_tests_date": taken.isoformat(), "labs-liver_tests_result": "abnormal",
    }).status_code == 302
    assert client.post(page(practice.patient, "notes"), {"notes-notes": "Formulation."}).status_code == 302
    evaluation = Evaluation.objects.get()
    assert (evaluation.liver_tests_date, evaluation.liver_tests_result, evaluation.notes) == (
        taken, "abnormal", "Formulation.")


def test_an_htmx_save_returns_the_refreshed_chart_body(practice, nurse):
    response = signed_in(nurse).post(page(practice.patient, "notes"), {"notes-notes": "Seen."},
                                     headers=htmx("chart-body"))
    assert response.status_code == 200
    assert "Seen." in section_text(response, "notes") and "Notes saved." in text_of(response)


def test_a_diagnosis_added_from_the_tab_returns_to_the_evaluation_tab(practice, nurse):
    response = signed_in(nurse).post(f"/patients/{practice.patient.pk}/conditions/", {
        "tab": "evaluation", "condition-catalogue_id": "ptsd",
    })
    assert response.status_code == 302 and response["Location"].endswith("/evaluation/")
    assert Condition.objects.get().icd10_code == "F43.10"


# ---------- Completing ----------

def test_a_nurse_cannot_complete_the_evaluation(practice, nurse, evaluated):
    response = signed_in(nurse).post(page(evaluated, "complete"))
    assert response.status_code == 403
    assert Evaluation.objects.get().status == Evaluation.Status.DRAFT
    assert "A prescriber completes the evaluation." in section_text(signed_in(nurse).get(tab(evaluated)),
                                                                    "complete")


def test_completing_without_a_blood_pressure_says_what_is_missing(practice, nurse, prescriber):
    services.save_notes(actor_of(nurse), practice.patient.pk, "Seen.")
    response = signed_in(prescriber).post(page(practice.patient, "complete"))
    shown = section_text(response, "complete")
    assert "The evaluation was not completed." in shown
    assert "Add the diagnosis to the problem list first." in shown
    assert "Record a baseline blood pressure first." in shown
    assert Evaluation.objects.get().status == Evaluation.Status.DRAFT


def test_a_prescriber_completes_the_evaluation(practice, prescriber, evaluated):
    client = signed_in(prescriber)
    response = client.post(page(evaluated, "complete"))
    assert response.status_code == 302
    evaluation = Evaluation.objects.get()
    assert evaluation.status == Evaluation.Status.COMPLETED
    assert evaluation.clinician_id == prescriber.user_id
    shown = section_text(client.get(tab(evaluated)), "evaluation-status")
    assert "Completed" in shown and "Start a re-evaluation" in shown


# ---------- Tenancy ----------

def test_another_organizations_patient_is_not_found_on_every_evaluation_address(practice, stranger):
    boss = signed_in(practice.staff[Role.PRESCRIBER])
    theirs = actor_of(stranger.staff[Role.NURSE])
    medication = add_medication(theirs, stranger.patient.pk, catalogue_id="lithium")
    sections = ["start", "vitals", "medications", "facts", "trials", "labs", "notes", "complete",
                f"medications/{medication.pk}/stop"]
    for section in sections:
        url = page(stranger.patient, section)
        assert boss.get(url).status_code in (404, 405), url
        assert boss.post(url, {"notes-notes": "x", "vitals-heart_rate": "70"}).status_code == 404, url
    # Our patient in the address with their medication is not found either.
    assert boss.post(page(practice.patient, f"medications/{medication.pk}/stop")).status_code == 404
    medication.refresh_from_db()
    assert medication.status == Medication.Status.ACTIVE
    assert not Evaluation.objects.exists() and not VitalSigns.objects.exists()
