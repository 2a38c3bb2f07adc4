"""What the patient's intake tells eligibility: yes / no / not known, never guessed.

`intake_facts` reads only the stored answers. A question the patient skipped, or answered "Not
sure", is None (not known), never False; eligibility reports it as missing.
"""

from __future__ import annotations

from typing import Any

from .form import SECTIONS
from .models import Intake
from .questions import NO, YES

# A diagnosis ticked in the mental-health list also reports the fact as true.
TICKED_DIAGNOSES = {"bipolar_disorder": "bipolar", "psychotic_disorder": "psychosis"}

FACT_QUESTIONS: dict[str, tuple[str, str]] = {
    question.fact: (section.id, question.id)
    for section in SECTIONS
    for question in section.questions
    if question.fact
}


def intake_facts(intake: Intake) -> dict[str, bool | None]:
    """The patient-reported eligibility facts, keyed by `ketaflow.clinical.eligibility.FACT_SPECS` names:
    True for "Yes", False for "No", None for "Not sure", a skipped question or an unanswered section."""
    answers: dict[str, Any] = intake.answers or {}
    facts: dict[str, bool | None] = {}
    for fact, (section_id, question_id) in FACT_QUESTIONS.items():
        section = answers.get(section_id) or {}
        value = section.get(question_id)
        facts[fact] = True if value == YES else False if value == NO else None
        ticked = TICKED_DIAGNOSES.get(fact)
        if ticked and ticked in (section.get("diagnoses") or ()):
            facts[fact] = True
    return facts


def medications_answered(intake: Intake) -> bool:
    """Did the patient answer the medication question (listed medications or "I take no medications")?"""
    section = (intake.answers or {}).get("medications") or {}
    return bool(section.get("medications") or section.get("no_medications"))
