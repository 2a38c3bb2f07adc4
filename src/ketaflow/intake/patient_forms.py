"""The intake's section pages for the patient: reading a posted page into answers, and the question
views the templates draw (values filled in, each error beside its own question).

Field names on the page are the question ids (`glaucoma`), rows `medications-0-name`, and the
C-SSRS items as on every questionnaire page (`cssrs_screener.1`), so the measurement app's
questionnaire view models are reused for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from ketaflow.measurement.patient_views import QuestionnaireForm, answers_from, questionnaire_form
from ketaflow.validation import FieldError, ValidationFailed

from .cleaning import instrument_of
from .questions import Question, Section

BLANK_ROWS = 3
MAX_EXTRA_ROWS = 30


def raw_from_post(section: Section, data: QueryDict) -> dict[str, Any]:
    """The section's answers as the service takes them, from the posted page."""
    raw: dict[str, Any] = {}
    for question in section.questions:
        qid = question.id
        if question.kind == "multi":
            raw[qid] = data.getlist(qid)
        elif question.kind == "check":
            raw[qid] = qid in data
        elif question.kind == "rows":
            raw[qid] = _rows_from_post(question, data)
        elif question.kind == "questionnaire":
            instrument = instrument_of(question)
            raw[qid] = answers_from(data, [instrument])[instrument.id]
        elif question.kind == "measure":
            raw[qid] = data.get(qid)
            raw[f"{qid}_unit"] = data.get(f"{qid}_unit")
        elif qid in data:
            raw[qid] = data.get(qid)
    return raw


def _rows_from_post(question: Question, data: QueryDict) -> list[dict[str, Any]]:
    try:
        count = min(int(data.get(f"{question.id}-count", "0")), question.max_rows + MAX_EXTRA_ROWS)
    except ValueError:
        count = 0
    return [
        {column.id: data.get(f"{question.id}-{index}-{column.id}", "") for column in question.columns}
        for index in range(max(count, 0))
    ]


@dataclass(frozen=True)
class OptionView:
    value: str
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class CellView:
    column: Any
    name: str
    input_id: str
    value: str
    error: str
    options: list[OptionView] = field(default_factory=list)


@dataclass(frozen=True)
class RowView:
    number: int
    cells: list[CellView]


@dataclass(frozen=True)
class QuestionView:
    question: Question
    anchor: str
    value: str
    error: str
    options: list[OptionView] = field(default_factory=list)
    condition: str = ""
    rows: list[RowView] = field(default_factory=list)
    unit_options: list[OptionView] = field(default_factory=list)
    screen: QuestionnaireForm | None = None

    @property
    def kind(self) -> str:
        return self.question.kind

    @property
    def name(self) -> str:
        return self.question.id


@dataclass(frozen=True)
class Problem:
    anchor: str
    text: str


@dataclass
class SectionPage:
    section: Section
    questions: list[QuestionView]
    problems: list[Problem]


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "on"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _condition(section: Section, question: Question) -> str:
    if question.ask_if is None:
        return ""
    asked = section.question(question.ask_if.question)
    labels = " or ".join(f"“{asked.option_label(v)}”" for v in question.ask_if.values)
    if asked.kind == "multi":
        return f"Answer only if you ticked {labels} above."
    return f"Answer only if you answered {labels} above."


def section_page(
    section: Section,
    values: Mapping[str, Any],
    failure: ValidationFailed | None = None,
    *,
    extra_rows: int = 0,
) -> SectionPage:
    """Each question of `section` with `values` filled in and each error of `failure` beside its
    question; errors the page cannot place go in the summary at the top."""
    errors: dict[str, str] = {}
    for error in failure.errors if failure else ():
        name = (error.field or "").removeprefix(f"{section.id}.")
        errors.setdefault(name, error.message)
    placed: set[str] = set()
    views = []
    problems = []

    def take(name: str) -> str:
        if name in errors:
            placed.add(name)
            return errors[name]
        return ""

    for question in section.questions:
        anchor = f"q-{question.id}"
        value = values.get(question.id)
        message = take(question.id)
        view = QuestionView(question, anchor, _text(value) if question.kind not in ("multi", "rows") else "",
                            message, condition=_condition(section, question))
        if question.kind in ("choice", "multi"):
            chosen = set(value) if isinstance(value, list | tuple) else {value}
            view = _with(view, options=[
                OptionView(o.value, o.label, f"{anchor}-{o.value}", o.value in chosen)
                for o in question.options
            ])
        elif question.kind == "measure":
            unit = values.get(f"{question.id}_unit") or question.units[0].value
            message = message or take(f"{question.id}_unit")
            view = _with(view, error=message, unit_options=[
                OptionView(u.value, u.label, f"{anchor}-{u.value}", u.value == unit) for u in question.units
            ])
        elif question.kind == "rows":
            view = _with(view, rows=_rows(question, value, take, extra_rows))
        elif question.kind == "questionnaire":
            view = _with(view, screen=_screen(question, value, errors, placed))
        if view.error:
            problems.append(Problem(anchor, f"{question.label}: {view.error}"))
        for row in view.rows:
            problems.extend(Problem(cell.input_id, f"{question.label}, row {row.number}: {cell.error}")
                            for cell in row.cells if cell.error)
        if view.screen is not None:
            problems.extend(Problem(p.anchor, p.text) for p in view.screen.problems)
        views.append(view)
    problems.extend(Problem("", message) for name, message in errors.items() if name not in placed)
    return SectionPage(section, views, problems)


def _with(view: QuestionView, **changes: Any) -> QuestionView:
    from dataclasses import replace

    return replace(view, **changes)


def _rows(question: Question, value: Any, take: Any, extra_rows: int) -> list[RowView]:
    given = list(value) if isinstance(value, list | tuple) else []
    blank = BLANK_ROWS if not given else 1
    total = min(len(given) + blank + max(extra_rows, 0), question.max_rows + MAX_EXTRA_ROWS)
    rows = []
    for index in range(max(total, len(given))):
        row = given[index] if index < len(given) and isinstance(given[index], Mapping) else {}
        cells = []
        for column in question.columns:
            input_id = f"q-{question.id}-{index}-{column.id}"
            cell_value = _text(row.get(column.id))
            options = [OptionView(o.value, o.label, "", o.value == cell_value) for o in column.options]
            cells.append(CellView(column, f"{question.id}-{index}-{column.id}", input_id, cell_value,
                                  take(f"{question.id}[{index}].{column.id}"), options))
        rows.append(RowView(index + 1, cells))
    return rows


def _screen(question: Question, value: Any, errors: dict[str, str], placed: set[str]) -> QuestionnaireForm:
    instrument = instrument_of(question)
    prefix = f"{question.id}."
    mine = [FieldError(f"{instrument.id}.{name.removeprefix(prefix)}", message)
            for name, message in errors.items() if name.startswith(prefix)]
    placed.update(name for name in errors if name.startswith(prefix))
    given = value if isinstance(value, Mapping) else {}
    return questionnaire_form([instrument], {instrument.id: dict(given)},
                              ValidationFailed(mine) if mine else None)
