"""The intake's answers as readable lines, grouped by section: the patient's review page and the
staff summary (`intake/_summary.html`, context `intake_summary`) show the same thing.

Follow-up questions whose condition was not met are left out; a question the patient skipped says
"Not answered", so a reader never mistakes a gap for a "no".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ketaflow.clinical.eligibility import FACT_SPECS
from ketaflow.clinical.instruments import AnswerError, score_instrument
from ketaflow.phones import display_phone

from .cleaning import _asked, instrument_of
from .facts import FACT_QUESTIONS, intake_facts
from .form import (
    ADEQUATE_TRIAL_WEEKS,
    SAFETY_QUESTION,
    SAFETY_SECTION,
    SECTIONS,
    adequate_trials,
    sections_for,
)
from .models import Intake
from .questions import Question, Section
from .services import endorses_ideation

NOT_ANSWERED = "Not answered"
# Facts where "yes" is good news (home readiness); every other fact's "yes" is a contraindication or a
# caution a clinician must see.
REASSURING_FACTS = frozenset({"home_monitor_present", "home_bp_cuff"})


@dataclass(frozen=True)
class Line:
    label: str
    answer: str
    answered: bool = True
    flagged: bool = False  # an answer a clinician must see (a safety answer, a contraindication)
    rows: tuple[str, ...] = ()  # one line per entry of a list
    screen_item: str = ""  # the C-SSRS item id, for its answers


@dataclass(frozen=True)
class SectionSummary:
    id: str
    title: str
    saved: bool
    applies: bool
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class FactLine:
    name: str
    label: str
    answer: str  # Yes / No / Not known
    value: bool | None
    concern: bool  # a "yes" here is a contraindication or caution


@dataclass(frozen=True)
class IntakeSummary:
    intake: Intake
    sections: list[SectionSummary]
    facts: list[FactLine]
    adequate_trials: int | None
    adequate_trial_weeks: int
    ideation: bool
    screen_risk: str | None  # the C-SSRS screener's risk level, when answered
    unanswered: int

    @property
    def flagged(self) -> list[Line]:
        return [line for s in self.sections for line in s.lines if line.flagged]


def _number(value: Any) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def _line(question: Question, answers: dict[str, Any], region: str) -> Line | None:
    if not _asked(question, answers) or (question.record_field and question.id not in answers):
        return None  # a follow-up not asked; a contact detail the patient did not change
    value = answers.get(question.id)
    kind = question.kind
    if kind == "questionnaire":
        return None  # shown item by item by _screen_lines
    if kind == "check":
        return Line(question.label, "Yes", flagged=False) if value else None
    if kind == "rows":
        rows = tuple(_row(question, row) for row in value or ())
        return Line(question.label, f"{len(rows)} listed" if rows else "None listed", rows=rows)
    if value is None or value == "" or value == []:
        return Line(question.label, NOT_ANSWERED, answered=False)
    if kind == "choice":
        answer = question.option_label(value)
    elif kind == "multi":
        answer = ", ".join(question.option_label(v) for v in value)
    elif kind == "phone":
        answer = display_phone(value, region)
    elif kind == "measure":
        unit = next((u for u in question.units if u.value == answers.get(f"{question.id}_unit")), None)
        answer = _number(value) + (f" {unit.label}" if unit else "")
        if unit and unit.to_metric != 1.0:
            metric = Decimal(str(value)) * Decimal(str(unit.to_metric))
            metric_unit = "cm" if unit.value == "in" else "kg"
            answer += f" ({metric.quantize(Decimal('0.1')).normalize():f} {metric_unit})"
    elif kind == "integer":
        answer = f"{value} {question.unit}".strip()
    else:
        answer = str(value)
    concern = bool(question.fact) and question.fact not in REASSURING_FACTS
    return Line(question.label, answer, flagged=concern and value == "yes")


def _row(question: Question, row: dict[str, Any]) -> str:
    parts = []
    for column in question.columns:
        value = row.get(column.id)
        if value is None or value == "":
            continue
        if column.kind == "choice":
            label = next((o.label for o in column.options if o.value == value), str(value))
            parts.append(f"{column.label} {label.lower()}" if column.id != "category" else label)
        elif column.kind == "integer":
            parts.append(f"{value} {column.label.lower().replace(' taken', '')}")
        else:
            parts.append(str(value))
    return " · ".join(parts)


def _screen_lines(question: Question, answers: dict[str, Any]) -> tuple[list[Line], str | None]:
    instrument = instrument_of(question)
    given = answers.get(question.id) or {}
    lines = []
    for number, item in enumerate(instrument.items, start=1):
        value = given.get(item.id)
        if value is None:
            if item.ask_if is None or given.get(item.ask_if.item) == item.ask_if.equals:
                lines.append(Line(f"{number}. {item.text}", NOT_ANSWERED, answered=False,
                                  screen_item=item.id))
            continue
        lines.append(Line(f"{number}. {item.text}", item.label_for(value), flagged=value > 0,
                          screen_item=item.id))
    try:
        score = score_instrument(instrument, given)
    except AnswerError:
        return lines, None
    return lines, (score.band or ("none" if score.total == 0 else None)) if score.complete else None


def _section_lines(section: Section, given: dict[str, Any], region: str) -> tuple[list[Line], str | None]:
    lines: list[Line] = []
    risk = None
    for question in section.questions:
        if question.kind == "questionnaire":
            screen, risk = _screen_lines(question, given)
            lines.extend(screen)
            continue
        line = _line(question, given, region)
        if line is not None:
            lines.append(line)
    if not lines and any(q.record_field for q in section.questions):
        lines.append(Line("Contact details", "No changes to the record"))
    return lines, risk


def summarise(intake: Intake) -> IntakeSummary:
    """The intake's answers for reading. Needs `intake.patient` (its sex at birth and organization)."""
    patient = intake.patient
    region = patient.organization.country
    answers = intake.answers or {}
    shown = {s.id for s in sections_for(patient.sex_at_birth)}
    sections = []
    risk: str | None = None
    ideation = False
    for section in SECTIONS:
        given = answers.get(section.id)
        lines: list[Line] = []
        if isinstance(given, dict):
            lines, screen_risk = _section_lines(section, given, region)
            if section.id == SAFETY_SECTION:
                risk = screen_risk
                ideation = endorses_ideation(given.get(SAFETY_QUESTION) or {})
        sections.append(
            SectionSummary(section.id, section.title, given is not None, section.id in shown, lines)
        )
    facts = [
        FactLine(name, FACT_SPECS[name].label,
                 "Yes" if value else "No" if value is False else "Not known", value,
                 name not in REASSURING_FACTS)
        for name, value in intake_facts(intake).items() if name in FACT_QUESTIONS
    ]
    treatments = answers.get("treatments")
    return IntakeSummary(
        intake=intake,
        sections=sections,
        facts=facts,
        adequate_trials=adequate_trials(treatments) if treatments is not None else None,
        adequate_trial_weeks=ADEQUATE_TRIAL_WEEKS,
        ideation=ideation,
        screen_risk=risk,
        unanswered=sum(1 for s in sections for line in s.lines if not line.answered),
    )
