"""The intake form as data: nine sections of questions, and `clean_section` to check one section.

Each section is one page for the patient. Answers are stored by section and question id
(`Intake.answers["medical"]["glaucoma"] == "yes"`); errors name the field as `<section>.<question>`
(`pregnancy.pregnant`), and a row of a list as `medications.medications[0].name`. A yes / no /
not-sure question that reports an eligibility fact names it in `fact` (see `intake_facts`).

Changing a question's meaning means a new `FORM_VERSION`; each intake stores the version it was
answered with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone

from ketaflow.validation import ValidationFailed

from .cleaning import clean_answers
from .questions import NO, UNSURE, YES, AskIf, Column, Option, Question, Section, Unit

FORM_VERSION = "2026.11-1"

# A trial counts as adequate when taken at the intended dose for at least this many weeks. Six weeks
# is the common research convention (e.g. the ATRQ, Chandler et al., J Clin Psychiatry 2010) [verify];
# the count is the patient's report, which the clinician confirms in the evaluation.
ADEQUATE_TRIAL_WEEKS = 6

YES_NO_UNSURE = (Option(YES, "Yes"), Option(NO, "No"), Option(UNSURE, "Not sure"))
HELPED = (Option("yes", "Yes, it helped"), Option("partly", "Partly"), Option("no", "No"),
          Option(UNSURE, "Not sure"))
IF_YES = ("yes",)


def _yn(qid: str, label: str, **kwargs: Any) -> Question:
    return Question(qid, "choice", label, options=YES_NO_UNSURE, **kwargs)


def _about() -> Section:
    def text(qid: str, label: str, group: str = "", **kwargs: Any) -> Question:
        return Question(qid, "text", label, group=group, record_field=True, **kwargs)

    def phone(qid: str, label: str, group: str = "") -> Question:
        return Question(qid, "phone", label, group=group, record_field=True)

    return Section(
        "about",
        "About you",
        "Your name, date of birth and sex at birth come from your clinic's record. Check your contact "
        "details and change anything that is out of date.",
        (
            phone("phone_mobile", "Mobile phone", "How to reach you"),
            phone("phone_home", "Home phone"),
            Question("email", "email", "Email address", record_field=True),
            Question("preferred_contact", "choice", "How should we contact you?", record_field=True,
                     options=(Option("phone", "Phone call"), Option("sms", "Text message"),
                              Option("email", "Email"))),
            text("address_line1", "Address", "Your address"),
            text("address_line2", "Address line 2"),
            text("city", "City or town"),
            text("region", "State"),
            text("postal_code", "ZIP code"),
            text("emergency_contact_name", "Name", "Emergency contact",
                 hint="Someone we can call if we are worried about you."),
            text("emergency_contact_relationship", "Relationship to you",
                 hint="For example partner or sister."),
            phone("emergency_contact_phone", "Their phone number"),
            text("pharmacy_name", "Pharmacy name", "Your pharmacy"),
            phone("pharmacy_phone", "Pharmacy phone"),
            text("pharmacy_address", "Pharmacy address"),
            text("primary_care_name", "Name", "Your primary-care clinician",
                 hint="Your family doctor, nurse practitioner or physician assistant."),
            text("primary_care_practice", "Practice"),
            phone("primary_care_phone", "Practice phone"),
        ),
    )


def _mental_health() -> Section:
    return Section(
        "mental_health",
        "Mental health",
        "These questions help your clinician understand what you are going through. Answer what you can.",
        (
            Question("diagnoses", "multi",
                     "Has a doctor or therapist ever told you that you have any of these?",
                     hint="Tick all that apply.",
                     options=(
                         Option("depression", "Depression"),
                         Option("anxiety", "An anxiety disorder"),
                         Option("ptsd", "Post-traumatic stress disorder (PTSD)"),
                         Option("ocd", "Obsessive-compulsive disorder (OCD)"),
                         Option("bipolar", "Bipolar disorder"),
                         Option("psychosis", "Schizophrenia or another psychotic illness"),
                         Option("eating_disorder", "An eating disorder"),
                         Option("substance_use", "An alcohol or drug use disorder"),
                         Option("chronic_pain",
                                "Chronic pain (for example fibromyalgia, CRPS or nerve pain)"),
                         Option("other", "Something else"),
                     )),
            Question("diagnoses_other", "text", "What else were you told you have?",
                     ask_if=AskIf("diagnoses", ("other",))),
            _yn("bipolar_disorder",
                "Has a doctor ever told you that you have bipolar disorder (once called manic depression)?",
                fact="bipolar_disorder"),
            _yn("psychotic_disorder",
                "Has a doctor ever told you that you have schizophrenia or another psychotic illness?",
                fact="psychotic_disorder"),
            _yn("hospitalised", "Have you ever stayed in hospital for your mental health?"),
            Question("hospital_stays", "integer", "About how many times?", minimum=1, maximum=99,
                     ask_if=AskIf("hospitalised", IF_YES)),
            Question("hospital_last_year", "year", "In what year was the most recent stay?",
                     ask_if=AskIf("hospitalised", IF_YES)),
            Question("symptoms", "long_text", "What are the main difficulties you have now?",
                     hint="For example low mood, worry, poor sleep, pain. Your own words are fine.",
                     max_length=2000),
            Question("cssrs", "questionnaire", "Thoughts of death or suicide", instrument="cssrs_screener",
                     hint="The next questions are about the past month, except where a question says "
                          "otherwise. Everyone is asked them."),
        ),
    )


def _medical() -> Section:
    def ever(qid: str, label: str, **kwargs: Any) -> Question:
        return _yn(qid, label, **kwargs)

    return Section(
        "medical",
        "Physical health",
        "Has a doctor ever told you that you have any of the following? Choose “Not sure” if you do "
        "not know.",
        (
            ever("heart_disease", "Heart disease (for example a heart attack, heart failure, angina or an "
                                  "irregular heartbeat)", group="Heart, blood vessels and brain"),
            ever("high_blood_pressure", "High blood pressure"),
            Question("blood_pressure_controlled", "choice", "Is your blood pressure well controlled?",
                     options=YES_NO_UNSURE, ask_if=AskIf("high_blood_pressure", IF_YES)),
            ever("aneurysm", "An aneurysm (a bulge in a blood vessel), in the aorta, the brain or elsewhere",
                 fact="aneurysmal_vascular_disease"),
            ever("brain_bleed", "Bleeding in the brain (a hemorrhagic stroke)",
                 fact="intracerebral_haemorrhage_history"),
            ever("avm", "An arteriovenous malformation (AVM), a tangle of blood vessels",
                 fact="arteriovenous_malformation"),
            ever("head_injury", "A serious head injury"),
            ever("raised_intracranial_pressure",
                 "Raised pressure inside the head (for example from a brain tumor or hydrocephalus)",
                 fact="raised_intracranial_pressure"),
            ever("glaucoma", "Glaucoma or raised pressure in the eyes", fact="raised_intraocular_pressure",
                 group="Other conditions"),
            ever("liver_disease", "Liver disease (for example hepatitis or cirrhosis)"),
            ever("seizures", "Seizures or epilepsy"),
            ever("breathing_problems", "Breathing problems (for example COPD, asthma or sleep apnea)"),
            Question("other_conditions", "long_text", "Any other medical conditions or operations?",
                     max_length=2000),
            Question("height", "measure", "Your height", group="Your measurements (if you know them)",
                     hint="5 feet 7 inches is 67 inches.", vital="height_cm",
                     units=(Unit("in", "inches", 2.54), Unit("cm", "cm", 1.0))),
            Question("weight", "measure", "Your weight", vital="weight_kg",
                     units=(Unit("lb", "pounds", 0.45359237), Unit("kg", "kg", 1.0))),
            Question("home_bp_systolic", "integer", "Your latest blood pressure: the top number",
                     hint="Only if you measured it yourself recently, for example 128.", unit="mmHg"),
            Question("home_bp_diastolic", "integer", "The bottom number", hint="For example 82.",
                     unit="mmHg"),
            Question("home_bp_date", "date", "The day you measured it"),
        ),
    )


def _medications() -> Section:
    return Section(
        "medications",
        "Medications and allergies",
        "List every medicine you take now: prescriptions, medicines bought without a prescription, and "
        "supplements. Your clinician will go through the list with you.",
        (
            Question("no_medications", "check", "I take no medications", group="Medications"),
            Question("medications", "rows", "Your medications", max_rows=30, columns=(
                Column("name", "Medicine", required=True, hint="For example sertraline or Zoloft."),
                Column("dose", "Dose and how often", hint="For example 50 mg once a day."),
            )),
            Question("no_known_allergies", "check", "I have no known allergies", group="Allergies"),
            Question("allergies", "rows", "Your allergies", max_rows=20, columns=(
                Column("substance", "Allergic to", required=True, hint="A medicine, food or other thing."),
                Column("reaction", "What happened", max_length=200, hint="For example a rash."),
                Column("category", "Kind", kind="choice", options=(
                    Option("medication", "A medicine"), Option("food", "A food"),
                    Option("environment", "Something around me (pollen, latex, animals)"),
                    Option("other", "Something else"))),
            )),
            _yn("ketamine_hypersensitivity",
                "Have you ever had an allergic or other serious reaction to ketamine or esketamine "
                "(Spravato)?",
                fact="ketamine_hypersensitivity"),
        ),
    )


def _treatments() -> Section:
    return Section(
        "treatments",
        "Treatments you have tried",
        "Tell us about treatments for depression or other mental-health conditions you have had before.",
        (
            Question("antidepressants", "rows", "Antidepressants you have taken", max_rows=20,
                     group="Antidepressants",
                     hint=f"One row for each. A trial taken at the intended dose for at least "
                          f"{ADEQUATE_TRIAL_WEEKS} weeks counts as an adequate trial.",
                     columns=(
                         Column("name", "Medicine", required=True),
                         Column("weeks", "Weeks taken", kind="integer", minimum=0, maximum=520),
                         Column("adequate_dose", "At the full dose your prescriber intended?", kind="choice",
                                options=YES_NO_UNSURE),
                         Column("helped", "Did it help?", kind="choice", options=HELPED),
                     )),
            _yn("therapy", "Have you had talking therapy (for example CBT)?", group="Other treatments"),
            _yn("therapy_now", "Are you seeing a therapist now?", ask_if=AskIf("therapy", IF_YES)),
            _yn("ect", "Have you had electroconvulsive therapy (ECT)?"),
            Question("ect_helped", "choice", "Did ECT help?", options=HELPED, ask_if=AskIf("ect", IF_YES)),
            _yn("tms", "Have you had transcranial magnetic stimulation (TMS)?"),
            Question("tms_helped", "choice", "Did TMS help?", options=HELPED, ask_if=AskIf("tms", IF_YES)),
            _yn("prior_ketamine", "Have you had ketamine or esketamine (Spravato) as a treatment before?",
                group="Ketamine or esketamine before"),
            Question("ketamine_routes", "multi", "How was it given?", ask_if=AskIf("prior_ketamine", IF_YES),
                     options=(
                         Option("iv", "Into a vein (IV infusion)"),
                         Option("im", "Injection into a muscle"),
                         Option("nasal", "Nasal spray (esketamine, Spravato)"),
                         Option("oral", "Lozenge, troche or tablet"),
                         Option("other", "Another way"),
                     )),
            Question("ketamine_last_year", "year", "In what year was your most recent treatment?",
                     ask_if=AskIf("prior_ketamine", IF_YES)),
            Question("ketamine_helped", "choice", "Did it help?", options=HELPED,
                     ask_if=AskIf("prior_ketamine", IF_YES)),
            Question("ketamine_effects", "long_text", "Any side effects or problems?", max_length=1000,
                     ask_if=AskIf("prior_ketamine", IF_YES)),
        ),
    )


def _substances() -> Section:
    often = (Option("never", "Never"), Option("less_than_monthly", "Less than monthly"),
             Option("monthly", "Monthly"), Option("weekly", "Weekly"),
             Option("daily", "Daily or almost daily"))
    drinks = AskIf("alcohol_frequency", ("monthly_or_less", "2_4_month", "2_3_week", "4_plus_week"))
    return Section(
        "substances",
        "Alcohol and drugs",
        "Honest answers keep your treatment safe; they are for your clinician only.",
        (
            Question("alcohol_frequency", "choice", "How often do you have a drink containing alcohol?",
                     group="Alcohol", options=(
                         Option("never", "Never"), Option("monthly_or_less", "Monthly or less"),
                         Option("2_4_month", "2 to 4 times a month"),
                         Option("2_3_week", "2 to 3 times a week"),
                         Option("4_plus_week", "4 or more times a week"))),
            Question("alcohol_per_day", "choice",
                     "How many drinks containing alcohol do you have on a typical day when you are drinking?",
                     ask_if=drinks, options=(
                         Option("1_2", "1 or 2"), Option("3_4", "3 or 4"), Option("5_6", "5 or 6"),
                         Option("7_9", "7 to 9"), Option("10_plus", "10 or more"))),
            Question("alcohol_six_plus", "choice",
                     "How often do you have six or more drinks on one occasion?", ask_if=drinks,
                     options=often),
            _yn("alcohol_problem", "Is alcohol causing problems for you at the moment (for example drinking "
                                   "more than you mean to, or others worrying about your drinking)?",
                fact="alcohol_misuse_active"),
            Question("cannabis", "choice", "How often do you use cannabis (marijuana)?", options=often,
                     group="Drugs"),
            _yn("drugs_current",
                "In the past 3 months, have you used street drugs (for example cocaine, methamphetamine, "
                "heroin or hallucinogens), or taken a prescription medicine in a way it was not prescribed?",
                fact="substance_misuse_active"),
            Question("drugs_which", "text", "Which ones?", ask_if=AskIf("drugs_current", IF_YES)),
            _yn("misuse_past", "Have you ever had a problem with alcohol or drugs?", group="In the past"),
            _yn("in_recovery", "Are you in recovery now?", ask_if=AskIf("misuse_past", IF_YES)),
        ),
    )


def _pregnancy() -> Section:
    return Section(
        "pregnancy",
        "Pregnancy and breastfeeding",
        "Ketamine is usually avoided in pregnancy, so your clinician needs to know. “Not sure” is a fine "
        "answer: the clinic can offer a test.",
        (
            _yn("pregnant", "Are you pregnant, or could you be pregnant?", fact="pregnant"),
            _yn("breastfeeding", "Are you breastfeeding?", fact="breastfeeding"),
            _yn("planning_pregnancy", "Are you planning a pregnancy in the next 6 months?"),
            _yn("contraception", "Do you use contraception?"),
            Question("contraception_method", "text", "Which kind?", ask_if=AskIf("contraception", IF_YES)),
        ),
        unless_male=True,
    )


def _home() -> Section:
    return Section(
        "home",
        "Support at home",
        "Some clinics offer treatment at home for some patients. That is always your prescriber's decision; "
        "these answers only help plan your care.",
        (
            _yn("monitor",
                "If you were treated at home, would a responsible adult be with you for every session?",
                fact="home_monitor_present"),
            _yn("bp_cuff", "Do you have a blood-pressure monitor (a cuff) at home?", fact="home_bp_cuff"),
            _yn("driver", "After a treatment at the clinic, could someone drive you home?"),
        ),
    )


def _goals() -> Section:
    return Section(
        "goals",
        "Your goals",
        "In your own words.",
        (
            Question("goals", "long_text", "What would you most like treatment to help with?",
                     max_length=2000),
            Question("hopes", "long_text", "What would a good result look like for you in three months?",
                     max_length=2000),
        ),
    )


SECTIONS: tuple[Section, ...] = (
    _about(), _mental_health(), _medical(), _medications(), _treatments(), _substances(), _pregnancy(),
    _home(), _goals(),
)
SECTION_IDS = tuple(section.id for section in SECTIONS)
_BY_ID = {section.id: section for section in SECTIONS}
SAFETY_SECTION = "mental_health"
SAFETY_QUESTION = "cssrs"


def section(section_id: str) -> Section:
    """The section `section_id`; KeyError when there is none."""
    return _BY_ID[section_id]


def sections_for(sex_at_birth: str) -> tuple[Section, ...]:
    """The sections a patient answers: pregnancy is skipped when the record's sex at birth is male."""
    return tuple(s for s in SECTIONS if not (s.unless_male and sex_at_birth == "male"))


def clean_section(
    section_id: str,
    raw: Mapping[str, Any],
    *,
    today: date | None = None,
    region: str = "US",
    sex_at_birth: str = "",
    date_of_birth: date | None = None,
) -> dict[str, Any]:
    """Check one section's answers and return them cleaned (skipped questions left out).

    `raw` maps question ids to values as a browser or JSON sends them. Raises ValidationFailed with
    every problem at once, each naming its field (`pregnancy.pregnant`, `medications.allergies[1].substance`):
    impossible measurements, future dates, contradictory answers, unknown questions. `today` defaults
    to the clinic's local date; `sex_at_birth` and `date_of_birth` come from the patient's record.
    """
    if today is None:
        today = timezone.localdate()
    try:
        found = section(section_id)
    except KeyError as exc:
        raise ValidationFailed.single("section", f"There is no intake section {section_id!r}.") from exc
    return clean_answers(found, raw, today=today, region=region, sex_at_birth=sex_at_birth,
                         date_of_birth=date_of_birth)


def adequate_trials(answers: Mapping[str, Any]) -> int:
    """How many antidepressant trials the patient reports at the intended dose for at least
    `ADEQUATE_TRIAL_WEEKS` weeks (from the cleaned `treatments` section)."""
    rows = answers.get("antidepressants") or []
    return sum(
        1 for row in rows
        if row.get("adequate_dose") == YES and (row.get("weeks") or 0) >= ADEQUATE_TRIAL_WEEKS
    )
