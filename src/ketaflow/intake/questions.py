"""The building blocks of the intake form: options, questions, repeatable rows and sections.

Plain frozen dataclasses, so the form is data (`ketaflow.intake.form.SECTIONS`) that the patient
pages, the staff summary, the API and the tests all read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "choice",  # one of `options` (radio buttons)
    "multi",  # any of `options` (checkboxes); stored as a list
    "check",  # one checkbox; stored as true/false
    "text",  # one line of text
    "long_text",  # a paragraph
    "phone",  # a phone number, normalised to E.164 like the patient registry
    "email",
    "integer",  # a whole number within `minimum`..`maximum`
    "year",  # a calendar year, not in the future and not before the patient's birth year
    "date",  # a date (YYYY-MM-DD), not in the future
    "measure",  # a number with a unit chosen from `units` (answer `<id>` and `<id>_unit`)
    "rows",  # a repeatable list of rows, each with `columns`
    "questionnaire",  # a validated instrument from the measurement library (`instrument`)
]
ColumnKind = Literal["text", "integer", "choice"]

YES, NO, UNSURE = "yes", "no", "unsure"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Unit:
    """A unit a patient may answer in, and the factor that turns it into the metric unit."""

    value: str
    label: str
    to_metric: float


@dataclass(frozen=True)
class AskIf:
    """Ask this question only when `question` (in the same section) has one of `values`
    (for a `multi` question: includes one of them). Otherwise the answer is dropped."""

    question: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: ColumnKind = "text"
    options: tuple[Option, ...] = ()
    required: bool = False
    max_length: int = 120
    minimum: int | None = None
    maximum: int | None = None
    hint: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    label: str
    hint: str = ""
    options: tuple[Option, ...] = ()
    ask_if: AskIf | None = None
    max_length: int = 200
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""  # shown after a number
    units: tuple[Unit, ...] = ()  # for "measure"
    vital: str = ""  # for "measure": the vital-sign field whose plausible range applies
    columns: tuple[Column, ...] = ()  # for "rows"
    max_rows: int = 30
    instrument: str = ""  # for "questionnaire"
    fact: str = ""  # the eligibility fact (FACT_SPECS name) a yes/no/not-sure answer reports
    group: str = ""  # a heading shown above the first question of a group
    record_field: bool = False  # a field of the patient's record (the "About you" section)

    def option_label(self, value: object) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return str(value)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    # Shown only when the record's sex at birth is not male (pregnancy and breastfeeding).
    unless_male: bool = False

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)
