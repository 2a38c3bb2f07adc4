"""The intake form as data and its cleaning: every section, contradictions, impossible readings, future
dates, and the eligibility facts the answers report. No database."""

from __future__ import annotations

from datetime import date

import pytest

from ketaflow.clinical.eligibility import FACT_SPECS
from ketaflow.intake.facts import intake_facts, medications_answered
from ketaflow.intake.form import (
    ADEQUATE_TRIAL_WEEKS,
    FORM_VERSION,
    SECTION_IDS,
    SECTIONS,
    adequate_trials,
    clean_section,
    sections_for,
)
from ketaflow.intake.models import Intake
from ketaflow.validation import ValidationFailed
from tests.integration.intake_factories import ANSWERS, CSSRS_CLEAR

TODAY = date(2026, 11, 21)
BORN = date(1985, 6, 15)


def clean(section_id, raw, **context):
    return clean_section(section_id, raw, today=TODAY, date_of_birth=BORN, **context)


def errors_of(section_id, raw, **context) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        clean(section_id, raw, **context)
    return {e.field: e.message for e in caught.value.errors}


# ---------- the form as data ----------


def test_the_form_has_nine_sections_in_the_order_the_patient_answers_them():
    assert SECTION_IDS == (
        "about",
        "mental_health",
        "medical",
        "medications",
        "treatments",
        "substances",
        "pregnancy",
        "home",
        "goals",
    )
    assert FORM_VERSION


def test_every_fact_a_question_reports_is_an_eligibility_fact_answered_yes_no_or_not_sure():
    facts = {q.fact: q for s in SECTIONS for q in s.questions if q.fact}
    assert set(facts) == {
        "pregnant",
        "breastfeeding",
        "psychotic_disorder",
        "bipolar_disorder",
        "substance_misuse_active",
        "alcohol_misuse_active",
        "ketamine_hypersensitivity",
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_haemorrhage_history",
        "raised_intraocular_pressure",
        "raised_intracranial_pressure",
        "home_monitor_present",
        "home_bp_cuff",
    }
    for name, question in facts.items():
        assert FACT_SPECS[name].kind == "bool"
        assert [o.value for o in question.options] == ["yes", "no", "unsure"]


def test_pregnancy_is_not_asked_when_the_record_says_male():
    assert "pregnancy" not in [s.id for s in sections_for("male")]
    assert "pregnancy" in [s.id for s in sections_for("female")]
    assert "pregnancy" in [s.id for s in sections_for("intersex")]


# ---------- each section cleans its answers ----------


def test_every_section_of_the_synthetic_answers_is_clean():
    for section_id, raw in ANSWERS.items():
        assert clean(section_id, raw, sex_at_birth="female") is not None


def test_about_you_normalises_phones_and_email_with_the_registry_rules():
    found = clean(
        "about",
        {"phone_mobile": "(503) 555-0142", "email": " Quinn@Example.TEST ", "preferred_contact": "email"},
    )
    assert found == {
        "phone_mobile": "+15035550142",
        "email": "quinn@example.test",
        "preferred_contact": "email",
    }


def test_about_you_refuses_a_bad_phone_a_bad_email_and_over_long_text_on_their_fields():
    found = errors_of("about", {"phone_mobile": "555", "email": "not-an-email", "city": "x" * 101})
    assert found == {
        "about.phone_mobile": "Enter a phone number with its area code, for example (503) 555-0142.",
        "about.email": "Enter a valid email address.",
        "about.city": "Keep this to 100 characters.",
    }


def test_about_you_cannot_change_the_name_or_date_of_birth():
    found = errors_of("about", {"legal_family_name": "Other", "date_of_birth": "1990-01-01"})
    assert found == {
        "about.legal_family_name": "This question is not part of this section.",
        "about.date_of_birth": "This question is not part of this section.",
    }


def test_a_question_that_does_not_exist_is_named():
    assert errors_of("goals", {"wishes": "x"}) == {
        "goals.wishes": "This question is not part of this section."
    }


def test_an_unknown_section_is_refused():
    with pytest.raises(ValidationFailed, match="no intake section"):
        clean("hobbies", {})


def test_skipped_questions_are_left_out_and_an_answer_outside_the_options_is_refused():
    assert clean("home", {"monitor": "yes", "bp_cuff": ""}) == {"monitor": "yes"}
    assert errors_of("home", {"monitor": "maybe"}) == {"home.monitor": "Choose one of the answers shown."}


def test_a_follow_up_whose_condition_is_not_met_is_dropped():
    found = clean(
        "treatments", {"prior_ketamine": "no", "ketamine_routes": ["iv"], "ketamine_last_year": "2020"}
    )
    assert found == {"prior_ketamine": "no"}
    kept = clean(
        "treatments",
        {
            "prior_ketamine": "yes",
            "ketamine_routes": ["iv", "nasal"],
            "ketamine_last_year": "2020",
            "ketamine_helped": "partly",
        },
    )
    assert kept["ketamine_routes"] == ["iv", "nasal"] and kept["ketamine_last_year"] == 2020


# ---------- impossible readings and future dates ----------


def test_an_impossible_blood_pressure_and_a_future_reading_date_are_refused_on_their_fields():
    found = errors_of(
        "medical", {"home_bp_systolic": "20", "home_bp_diastolic": "80", "home_bp_date": "2026-11-22"}
    )
    assert found["medical.home_bp_systolic"].startswith("Systolic blood pressure of 20 mmHg is not possible")
    assert found["medical.home_bp_date"] == "The date cannot be in the future."


def test_half_a_blood_pressure_and_a_diastolic_above_the_systolic_are_refused():
    assert errors_of("medical", {"home_bp_systolic": "130"}) == {
        "medical.home_bp_diastolic": "Enter both the systolic and the diastolic pressure."
    }
    assert errors_of("medical", {"home_bp_systolic": "90", "home_bp_diastolic": "120"}) == {
        "medical.home_bp_diastolic": "The diastolic pressure must be lower than the systolic."
    }


def test_a_weight_of_zero_and_an_impossible_height_are_refused_in_the_patients_unit():
    found = errors_of("medical", {"weight": "0", "weight_unit": "lb", "height": "700", "height_unit": "cm"})
    assert found == {
        "medical.weight": "Your weight of 0 pounds is not possible; check the number and the unit.",
        "medical.height": "Your height of 700 cm is not possible; check the number and the unit.",
    }


def test_measurements_are_kept_in_the_unit_given():
    found = clean("medical", {"weight": "150", "weight_unit": "lb", "height": "170", "height_unit": "cm"})
    assert (found["weight"], found["weight_unit"], found["height"], found["height_unit"]) == (
        150,
        "lb",
        170,
        "cm",
    )


def test_a_year_in_the_future_or_before_birth_is_refused():
    raw = {"hospitalised": "yes", "hospital_last_year": "2027", "cssrs": CSSRS_CLEAR}
    assert errors_of("mental_health", raw) == {
        "mental_health.hospital_last_year": "The year cannot be in the future."
    }
    raw["hospital_last_year"] = "1980"
    assert errors_of("mental_health", raw) == {
        "mental_health.hospital_last_year": "That year is before you were born."
    }


# ---------- contradictions ----------


def test_no_medications_ticked_with_a_list_is_a_contradiction_on_the_tick():
    found = errors_of(
        "medications",
        {"no_medications": True, "medications": [{"name": "Sertraline"}], "no_known_allergies": True},
    )
    assert found == {
        "medications.no_medications": "You ticked “I take no medications” but listed medications: "
        "untick the box or clear the list."
    }


def test_the_medication_and_allergy_questions_need_a_list_or_the_none_box():
    found = errors_of("medications", {})
    assert found == {
        "medications.medications": "List your medications, or tick “I take no medications”.",
        "medications.allergies": "List your allergies, or tick “I have no known allergies”.",
    }


def test_no_known_allergies_contradicts_a_ketamine_reaction():
    found = errors_of(
        "medications",
        {"no_medications": True, "no_known_allergies": True, "ketamine_hypersensitivity": "yes"},
    )
    assert list(found) == ["medications.no_known_allergies"]


def test_a_listed_ketamine_allergy_contradicts_no_ketamine_reaction():
    found = errors_of(
        "medications",
        {
            "no_medications": True,
            "allergies": [{"substance": "Esketamine"}],
            "ketamine_hypersensitivity": "no",
        },
    )
    assert list(found) == ["medications.ketamine_hypersensitivity"]


def test_a_row_needs_its_name_and_empty_rows_are_ignored_keeping_each_rows_own_number():
    found = errors_of(
        "medications",
        {"medications": [{"name": "", "dose": ""}, {"name": "", "dose": "5 mg"}], "no_known_allergies": True},
    )
    assert found == {"medications.medications[1].name": "Enter the medicine, or clear this row."}
    kept = clean(
        "medications",
        {
            "medications": [{"name": "", "dose": ""}, {"name": "Xanax", "dose": "0.5 mg"}],
            "no_known_allergies": True,
        },
    )
    assert kept["medications"] == [{"name": "Xanax", "dose": "0.5 mg"}]


def test_zero_weeks_at_an_adequate_dose_is_refused_on_that_rows_weeks():
    raw = {
        "antidepressants": [
            {"name": "", "weeks": ""},
            {"name": "Sertraline", "weeks": "0", "adequate_dose": "yes", "helped": "no"},
        ]
    }
    assert errors_of("treatments", raw) == {
        "treatments.antidepressants[1].weeks": "0 weeks cannot be a trial at the full dose: enter how many "
        "weeks you took it, or change the dose answer."
    }


def test_weeks_out_of_range_are_refused():
    raw = {"antidepressants": [{"name": "Sertraline", "weeks": "-3"}]}
    assert errors_of("treatments", raw) == {
        "treatments.antidepressants[0].weeks": "Enter a number from 0 to 520."
    }


def test_pregnant_yes_with_a_male_record_is_refused_on_pregnant():
    found = errors_of("pregnancy", {"pregnant": "yes"}, sex_at_birth="male")
    assert found == {
        "pregnancy.pregnant": "Your clinic's record says your sex at birth is male. If that is wrong, "
        "ask the clinic to correct it."
    }
    assert clean("pregnancy", {"pregnant": "yes"}, sex_at_birth="female") == {"pregnant": "yes"}


def test_a_ticked_diagnosis_contradicts_a_no_to_the_same_diagnosis():
    raw = {
        "diagnoses": ["bipolar", "psychosis"],
        "bipolar_disorder": "no",
        "psychotic_disorder": "no",
        "cssrs": CSSRS_CLEAR,
    }
    found = errors_of("mental_health", raw)
    assert set(found) == {"mental_health.bipolar_disorder", "mental_health.psychotic_disorder"}


def test_a_contradiction_shows_together_with_an_impossible_reading():
    found = errors_of(
        "medical",
        {"home_bp_systolic": "400", "home_bp_diastolic": "80", "weight": "abc", "weight_unit": "kg"},
    )
    assert set(found) == {"medical.home_bp_systolic", "medical.weight"}


# ---------- the suicide-risk screen ----------


def test_the_cssrs_screen_must_be_complete_naming_each_missing_item():
    found = errors_of("mental_health", {"cssrs": {"1": "1", "2": "1"}})
    assert set(found) == {
        "mental_health.cssrs.3",
        "mental_health.cssrs.4",
        "mental_health.cssrs.5",
        "mental_health.cssrs.6",
    }


def test_the_cssrs_answers_are_stored_as_numbers_by_item():
    found = clean("mental_health", {"cssrs": {"1": "1", "2": "0", "6": "0"}})
    assert found["cssrs"] == {"1": 1, "2": 0, "6": 0}


def test_a_cssrs_answer_outside_yes_or_no_is_refused_on_its_item():
    assert errors_of("mental_health", {"cssrs": {"1": "7", "2": "0", "6": "0"}}) == {
        "mental_health.cssrs.1": "Please choose one of the answers shown."
    }


# ---------- derived: adequate trials and eligibility facts ----------


def test_adequate_trials_count_the_intended_dose_for_at_least_six_weeks():
    assert ADEQUATE_TRIAL_WEEKS == 6
    found = clean("treatments", ANSWERS["treatments"])
    assert adequate_trials(found) == 2
    assert adequate_trials({"antidepressants": [{"name": "x", "weeks": 5, "adequate_dose": "yes"}]}) == 0


def test_facts_are_true_for_yes_false_for_no_and_none_for_not_sure_or_skipped():
    intake = Intake(
        answers={
            "medical": {"glaucoma": "yes", "aneurysm": "no", "avm": "unsure"},
            "pregnancy": {"pregnant": "no"},
            "home": {"monitor": "yes"},
        }
    )
    facts = intake_facts(intake)
    assert facts["raised_intraocular_pressure"] is True
    assert facts["aneurysmal_vascular_disease"] is False
    assert facts["arteriovenous_malformation"] is None
    assert facts["pregnant"] is False
    assert facts["breastfeeding"] is None  # skipped
    assert facts["substance_misuse_active"] is None  # section never answered
    assert facts["home_monitor_present"] is True
    assert len(facts) == 14 and all(name in FACT_SPECS for name in facts)


def test_a_ticked_diagnosis_reports_the_fact_even_when_the_question_was_skipped():
    facts = intake_facts(Intake(answers={"mental_health": {"diagnoses": ["bipolar"]}}))
    assert facts["bipolar_disorder"] is True and facts["psychotic_disorder"] is None


def test_the_medication_question_is_answered_by_a_list_or_the_none_box():
    assert medications_answered(Intake(answers={"medications": {"no_medications": True}}))
    assert medications_answered(Intake(answers={"medications": {"medications": [{"name": "x"}]}}))
    assert not medications_answered(Intake(answers={}))
