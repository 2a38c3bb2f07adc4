"""The Spravato REMS monitoring form answered from a session's facts (pure builder, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ketaflow.clinical.monitoring import monitoring_rules
from ketaflow.clinical.rems import MedicationFact, Reading, RemsFacts, dose_answer, rems_answers

FIRST = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)  # 09:00 in Denver (MST)


def at(minutes: int) -> datetime:
    return FIRST + timedelta(minutes=minutes)


def facts(**changes) -> RemsFacts:
    base = RemsFacts(
        patient_name="Avery Quinn Synthetic",
        date_of_birth=date(1984, 5, 17),
        sex="Female",
        clinic_name="Harbor Clinic",
        clinic_address="1 Harbor Way, Portland",
        prescriber_name="Dr Rowan Prescriber",
        setting="Certified healthcare setting (in clinic)",
        zone="America/Denver",
        treatment_date=date(2026, 11, 3),
        rules=monitoring_rules("esketamine"),
        medications=(
            MedicationFact("Lorazepam", frozenset({"benzodiazepine"})),
            MedicationFact("Sertraline"),
        ),
        delivered_mg=Decimal("84"),
        lot_numbers=("ESK-2027",),
        first_device_at=FIRST,
        monitoring_ended_at=at(125),
        ready_to_leave_at=at(70),
        ready_before_dosing=True,
        pre_dose=Reading(at(-20), 128, 82, 70),
        readings=(
            Reading(at(15), 150, 92, 80, 14, 97),
            Reading(at(38), 146, 88, 78, 13, 96),
            Reading(at(60), 138, 84, 74, 14, 97),
            Reading(at(118), 126, 80, 70, 14, 98),
        ),
        moaas=(5, 4, 5),
        cadss6=(0, 3),
    )
    return replace(base, **changes)


def test_every_field_of_the_form_is_answered_from_a_complete_session():
    answers = rems_answers(facts())
    shown = {f.key: f.value for f in answers.fields}
    assert shown == {
        "patient_name": "Avery Quinn Synthetic",
        "date_of_birth": "17 May 1984",
        "sex": "Female",
        "benzodiazepines": "Yes",
        "sedative_hypnotics": "No",
        "psychostimulants": "No",
        "maois": "No",
        "monitoring_provider": "Harbor Clinic, 1 Harbor Way, Portland",
        "prescriber": "Dr Rowan Prescriber",
        "setting": "Certified healthcare setting (in clinic)",
        "treatment_date": "03 Nov 2026",
        "dose": "84 mg",
        "lot_number": "ESK-2027",
        "monitoring_minutes": "125 min",
        "ready_to_leave": "10:10 (70 min after the first device)",
        "vitals_ok_before": "Yes",
        "vitals_ok_end": "Yes",
        "bp_before": "128/82 mmHg",
        "bp_40_min": "146/88 mmHg",
        "bp_end": "126/80 mmHg",
        "sedation": "Yes",
        "dissociation": "Yes",
        "respiratory_depression": "No",
    }
    assert not answers.missing
    assert answers["benzodiazepines"].detail == "Current medication list: Lorazepam."
    assert answers["bp_40_min"].detail == "Taken at 09:38, 38 min after the first device."
    assert answers["sedation"].detail == "Lowest MOAA/S 4 of 5 (3 scored)."
    assert answers["dose"].detail == "3 device(s) of 28 mg given"
    assert [f["key"] for f in answers.as_dict()["fields"]] == list(shown)


def test_a_dose_other_than_56_or_84_mg_is_written_as_other():
    assert dose_answer(Decimal("56.000")) == "56 mg"
    assert dose_answer(Decimal("28")) == "Other: 28 mg"
    assert rems_answers(facts(delivered_mg=Decimal("28")))["dose"].value == "Other: 28 mg"


def test_unacceptable_vitals_and_low_saturation_answer_yes_with_the_limit_crossed():
    low_end = Reading(at(118), 186, 112, 70, 7, 90)
    answers = rems_answers(
        facts(
            readings=(*facts().readings[:-1], low_end),
            ready_before_dosing=False,
            override_reason="Benefit outweighs",
        )
    )
    assert answers["vitals_ok_before"].value == "No"
    assert "override: Benefit outweighs" in answers["vitals_ok_before"].detail
    assert answers["vitals_ok_end"].value == "No"
    assert "Systolic blood pressure 186 mmHg (limit 90-180 mmHg)" in answers["vitals_ok_end"].detail
    assert answers["respiratory_depression"].value == "Yes"
    assert "Oxygen saturation 90 % (limit at least 92 %)" in answers["respiratory_depression"].detail


def test_a_dissociation_side_effect_answers_yes_without_a_cadss_score():
    answers = rems_answers(facts(cadss6=(), side_effects=("nausea", "dissociation")))
    assert answers["dissociation"].value == "Yes"
    assert answers["dissociation"].detail == "Dissociation recorded as a side effect."


def test_what_the_record_cannot_answer_is_marked_missing_not_guessed():
    answers = rems_answers(
        facts(
            sex="",
            medications=(MedicationFact("Herbal sleep mix", classified=False),),
            lot_numbers=(),
            ready_to_leave_at=None,
            readings=(),
            moaas=(),
            cadss6=(),
        )
    )
    assert {f.key for f in answers.missing} == {
        "sex",
        "lot_number",
        "ready_to_leave",
        "vitals_ok_end",
        "bp_40_min",
        "bp_end",
        "sedation",
        "dissociation",
        "respiratory_depression",
    }
    assert answers["sedation"].value == "Not recorded"
    assert answers["maois"].value == "No"
    assert "check by hand: Herbal sleep mix" in answers["maois"].detail
