"""The public self-screen ("Is ketamine therapy right for me?"): questions as versioned data, one rule.

    from ketaflow.clinical.self_screen import triage
    result = triage({"age_group": "adult", "conditions": ["depression"], ...})
    result.outcome          # Outcome.BOOK or Outcome.TALK_TO_DOCTOR
    result.reasons          # plain-language sentences, never a diagnosis
    result.risk_endorsed    # True: show crisis resources first

The questions, the red flags (each with its source in the clinical reference, §3 and §8) and the
wording live in `data/self_screen.json`, validated on load. The rule: any red flag means "talk to
your doctor first"; otherwise "book a consultation". A red flag marked `risk` (thoughts of suicide
now) also sets `risk_endorsed`. Answers are checked whole; `AnswerError` names every question with a
problem, so nothing is judged on half an answer set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

from .conditions import catalogue

QuestionKind = Literal["single", "multi"]
Answer = str | tuple[str, ...]

_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_FLAG_ID = re.compile(r"^[a-z][a-z0-9-]{2,59}$")


class Outcome(StrEnum):
    BOOK = "book"
    TALK_TO_DOCTOR = "talk_to_doctor"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.BOOK: "Book a consultation",
    Outcome.TALK_TO_DOCTOR: "Talk to your doctor first",
}


class DefinitionError(ValueError):
    """A self-screen document that must not be used; the message names the entry and field."""


@dataclass(frozen=True)
class AnswerProblem:
    question: str
    message: str


class AnswerError(ValueError):
    """Answers refused whole; `.problems` names each question (or unknown key) with its message."""

    def __init__(self, problems: Sequence[AnswerProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.question}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    note: str = ""  # a plain-language sentence added to the reasons when this answer is given
    catalogue_ids: tuple[str, ...] = ()  # conditions.json entries this interest corresponds to


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    kind: QuestionKind
    text: str
    options: tuple[Option, ...]
    hint: str = ""
    exclusive: tuple[str, ...] = ()  # multi: answers that cannot be combined with any other

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    def label_for(self, value: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return value


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str


@dataclass(frozen=True)
class RedFlag:
    id: str
    question: str
    answers: frozenset[str]
    reason: str
    source: str
    risk: bool


@dataclass(frozen=True)
class SelfScreen:
    version: str
    source: str
    book_reason: str
    talk_to_doctor_reason: str
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    red_flags: tuple[RedFlag, ...]

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def questions_in(self, section_id: str) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.section == section_id)


@dataclass(frozen=True)
class SelfScreenResult:
    """The decision, its reasons and the answers it was made from (normalised, in question order)."""

    outcome: Outcome
    reasons: tuple[str, ...]
    risk_endorsed: bool
    red_flags: tuple[str, ...]  # ids of the red flags raised, in the definition's order
    version: str
    answers: Mapping[str, Answer]

    def answers_json(self) -> dict[str, str | list[str]]:
        """The answers as plain JSON values (a list for a multi-choice question)."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in self.answers.items()}


# ---------- loading ----------


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = raw.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise DefinitionError(f"{where}: {key} must be {'non-empty ' if required else ''}text")
    return value


def _parse_option(raw: Any, where: str, known_conditions: frozenset[str]) -> Option:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where}: an option must be an object")
    value = _text(raw, "value", where)
    if not _ID.match(value):
        raise DefinitionError(f"{where}: option value {value!r} must be lower-case letters, digits and _")
    ids = raw.get("catalogue_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i in known_conditions for i in ids):
        raise DefinitionError(f"{where}: option {value!r} names a condition not in the catalogue")
    return Option(value, _text(raw, "label", where), _text(raw, "note", where, required=False), tuple(ids))


def _parse_question(raw: Any, index: int, sections: set[str], known_conditions: frozenset[str]) -> Question:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"question #{index}: must be an object")
    question_id = raw.get("id")
    if not isinstance(question_id, str) or not _ID.match(question_id):
        raise DefinitionError(f"question #{index}: id must be lower-case letters, digits and _")
    where = f"question {question_id!r}"
    section = _text(raw, "section", where)
    if section not in sections:
        raise DefinitionError(f"{where}: unknown section {section!r}")
    kind = raw.get("kind")
    if kind not in ("single", "multi"):
        raise DefinitionError(f"{where}: kind must be single or multi")
    items = raw.get("options")
    if not isinstance(items, list) or len(items) < 2:
        raise DefinitionError(f"{where}: options must list at least two answers")
    options = tuple(_parse_option(item, where, known_conditions) for item in items)
    values = [option.value for option in options]
    if len(set(values)) != len(values):
        raise DefinitionError(f"{where}: duplicate option value")
    exclusive = raw.get("exclusive", [])
    if not isinstance(exclusive, list) or not set(exclusive) <= set(values):
        raise DefinitionError(f"{where}: exclusive must list some of its option values")
    if exclusive and kind != "multi":
        raise DefinitionError(f"{where}: only a multi-choice question has exclusive answers")
    return Question(
        question_id, section, kind, _text(raw, "text", where), options,
        _text(raw, "hint", where, required=False), tuple(exclusive),
    )


def _parse_flag(raw: Any, index: int, questions: Mapping[str, Question]) -> RedFlag:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"red flag #{index}: must be an object")
    flag_id = raw.get("id")
    if not isinstance(flag_id, str) or not _FLAG_ID.match(flag_id):
        raise DefinitionError(f"red flag #{index}: id must be lower-case letters, digits and hyphens")
    where = f"red flag {flag_id!r}"
    question = questions.get(str(raw.get("question")))
    if question is None:
        raise DefinitionError(f"{where}: unknown question {raw.get('question')!r}")
    answers = raw.get("answers")
    if not isinstance(answers, list) or not answers or not set(answers) <= set(question.values):
        raise DefinitionError(f"{where}: answers must list some answers of {question.id!r}")
    risk = raw.get("risk")
    if not isinstance(risk, bool):
        raise DefinitionError(f"{where}: risk must be true or false")
    reason, source = _text(raw, "reason", where), _text(raw, "source", where)
    return RedFlag(flag_id, question.id, frozenset(answers), reason, source, risk)


def parse_self_screen(raw: Mapping[str, Any]) -> SelfScreen:
    """Validate a self-screen document; raises DefinitionError naming the first problem."""
    if not isinstance(raw, Mapping):
        raise DefinitionError("self-screen document: must be an object")
    where = "self-screen document"
    sections = []
    for index, item in enumerate(raw.get("sections") or []):
        if not isinstance(item, Mapping) or not _ID.match(str(item.get("id", ""))):
            raise DefinitionError(f"section #{index}: needs an id of lower-case letters, digits and _")
        sections.append(Section(str(item["id"]), _text(item, "title", f"section {item['id']!r}"),
                                _text(item, "intro", f"section {item['id']!r}", required=False)))
    if not sections or len({s.id for s in sections}) != len(sections):
        raise DefinitionError(f"{where}: sections must be listed once each")
    known_conditions = frozenset(c.id for c in catalogue().conditions)
    items = raw.get("questions")
    if not isinstance(items, list) or not items:
        raise DefinitionError(f"{where}: questions must be a non-empty list")
    questions: dict[str, Question] = {}
    for index, item in enumerate(items):
        question = _parse_question(item, index, {s.id for s in sections}, known_conditions)
        if question.id in questions:
            raise DefinitionError(f"question {question.id!r}: duplicate id")
        questions[question.id] = question
    flags = [_parse_flag(item, index, questions) for index, item in enumerate(raw.get("red_flags") or [])]
    if len({f.id for f in flags}) != len(flags):
        raise DefinitionError(f"{where}: duplicate red flag id")
    if not any(flag.risk for flag in flags):
        raise DefinitionError(f"{where}: at least one red flag must mark risk (clinical reference §8)")
    return SelfScreen(
        _text(raw, "version", where), _text(raw, "source", where), _text(raw, "book_reason", where),
        _text(raw, "talk_to_doctor_reason", where), tuple(sections), tuple(questions.values()), tuple(flags),
    )


@cache
def load_self_screen() -> SelfScreen:
    """The self-screen shipped with ketaflow, parsed once."""
    text = resources.files("ketaflow.clinical").joinpath("data/self_screen.json").read_text("utf-8")
    return parse_self_screen(json.loads(text))


# ---------- answering ----------

NEEDS_ANSWER = "Please answer this question."
NOT_AN_OPTION = "Choose one of the answers shown."
NOT_A_QUESTION = "This is not a question of the self-screen."


def _check_one(question: Question, raw: Any) -> tuple[Answer | None, str]:
    """The normalised answer, or None and the message explaining why it is refused."""
    if question.kind == "single":
        if raw is None or raw == "" or raw == [] or raw == ():
            return None, NEEDS_ANSWER
        if not isinstance(raw, str):
            return None, "Choose one answer."
        return (raw, "") if raw in question.values else (None, NOT_AN_OPTION)
    if raw is None or raw == "":
        return None, NEEDS_ANSWER
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
        return None, "Send a list of answers."
    if not raw:
        return None, NEEDS_ANSWER
    if not all(isinstance(value, str) and value in question.values for value in raw):
        return None, NOT_AN_OPTION
    chosen = set(raw)
    for value in question.exclusive:
        if value in chosen and len(chosen) > 1:
            return None, f"“{question.label_for(value)}” cannot be chosen together with other answers."
    return tuple(v for v in question.values if v in chosen), ""


def validate_answers(answers: Mapping[str, Any], screen: SelfScreen | None = None) -> dict[str, Answer]:
    """Every question answered with one of its options; raises AnswerError naming each problem."""
    screen = screen or load_self_screen()
    if not isinstance(answers, Mapping):
        raise AnswerError([AnswerProblem("answers", "Send the answers as an object keyed by question.")])
    known = {q.id for q in screen.questions}
    problems = [AnswerProblem(str(key), NOT_A_QUESTION) for key in answers if key not in known]
    clean: dict[str, Answer] = {}
    for question in screen.questions:
        value, message = _check_one(question, answers.get(question.id))
        if value is None:
            problems.append(AnswerProblem(question.id, message))
        else:
            clean[question.id] = value
    if problems:
        raise AnswerError(problems)
    return clean


def _chosen(answer: Answer) -> tuple[str, ...]:
    return answer if isinstance(answer, tuple) else (answer,)


def triage(answers: Mapping[str, Any], screen: SelfScreen | None = None) -> SelfScreenResult:
    """Book a consultation, or talk to a doctor first, with the reasons; raises AnswerError.

    Red flags come first in the reasons, in the definition's order; then the general sentence for
    the outcome; then any note attached to an answer given. Nothing here names a diagnosis.
    """
    screen = screen or load_self_screen()
    clean = validate_answers(answers, screen)
    raised = [flag for flag in screen.red_flags if set(_chosen(clean[flag.question])) & flag.answers]
    outcome = Outcome.TALK_TO_DOCTOR if raised else Outcome.BOOK
    reasons = [flag.reason for flag in raised]
    reasons.append(screen.talk_to_doctor_reason if raised else screen.book_reason)
    for question in screen.questions:
        for value in _chosen(clean[question.id]):
            note = next((o.note for o in question.options if o.value == value), "")
            if note and note not in reasons:
                reasons.append(note)
    return SelfScreenResult(
        outcome=outcome,
        reasons=tuple(reasons),
        risk_endorsed=any(flag.risk for flag in raised),
        red_flags=tuple(flag.id for flag in raised),
        version=screen.version,
        answers=clean,
    )

