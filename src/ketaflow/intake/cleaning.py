"""Cleaning one section of intake answers: each question by its kind, then the section's own rules.

Every problem is collected and raised together as ValidationFailed, each naming its field, so the
patient sees all of them beside their questions at once. A follow-up question whose condition is not
met (`AskIf`) is dropped with whatever was typed in it: radio buttons cannot be cleared on a phone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ketaflow.clinical.instruments import AnswerError, Instrument, builtin_instruments, score_instrument
from ketaflow.clinical.vitals import VITAL_SPECS
from ketaflow.patients.fields import clean_patient_fields
from ketaflow.patients.models import Patient
from ketaflow.validation import FieldError, ValidationFailed

from .questions import Column, Question, Section
from .rules import ROW_RULES, SECTION_RULES, no_rules

TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})


class _Invalid(Exception):
    """One answer refused; the message is for the patient."""


@dataclass(frozen=True)
class Context:
    section: Section
    today: date
    region: str
    sex_at_birth: str
    date_of_birth: date | None

    def name(self, question: str, *rest: str) -> str:
        return ".".join((self.section.id, question, *rest))


def instrument_of(question: Question) -> Instrument:
    """The built-in instrument a questionnaire question asks (the C-SSRS screener)."""
    return builtin_instruments()[question.instrument]


def clean_answers(
    section: Section,
    raw: Mapping[str, Any],
    *,
    today: date,
    region: str,
    sex_at_birth: str,
    date_of_birth: date | None,
) -> dict[str, Any]:
    ctx = Context(section, today, region, sex_at_birth, date_of_birth)
    if not isinstance(raw, Mapping):
        raise ValidationFailed.single(section.id, "Send the section's answers as an object.")
    errors: list[FieldError] = []
    known = {q.id for q in section.questions}
    known |= {f"{q.id}_unit" for q in section.questions if q.kind == "measure"}
    errors.extend(
        FieldError(ctx.name(str(key)), "This question is not part of this section.")
        for key in raw if key not in known
    )
    clean: dict[str, Any] = {}
    if any(q.record_field for q in section.questions):
        clean.update(_record_fields(ctx, raw, errors))
    for question in section.questions:
        if question.record_field or not _asked(question, clean):
            continue
        try:
            value = _clean_one(ctx, question, raw, errors)
        except _Invalid as exc:
            errors.append(FieldError(ctx.name(question.id), str(exc)))
            continue
        if value is None:
            continue
        if question.kind == "measure":
            clean[question.id], clean[f"{question.id}_unit"] = value
        else:
            clean[question.id] = value
    # The section's own rules run on what is clean so far, so an impossible reading and a contradiction
    # show together; a field already refused gets no second message.
    refused = {e.field for e in errors}
    errors.extend(e for e in SECTION_RULES.get(section.id, no_rules)(ctx, clean) if e.field not in refused)
    if errors:
        raise ValidationFailed(errors)
    return clean


def _asked(question: Question, clean: Mapping[str, Any]) -> bool:
    if question.ask_if is None:
        return True
    given = clean.get(question.ask_if.question)
    if isinstance(given, list):
        return any(v in question.ask_if.values for v in given)
    return given in question.ask_if.values


# ---------- the patient's record ("About you") ----------


def _record_fields(ctx: Context, raw: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The contact fields, checked by the patient registry's own rules (phones to E.164, email)."""
    data: dict[str, Any] = {}
    for question in ctx.section.questions:
        if not question.record_field or question.id not in raw:
            continue
        value = raw[question.id]
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(ctx.name(question.id), "Enter text."))
            continue
        value = (value or "").strip()
        limit = getattr(Patient._meta.get_field(question.id), "max_length", None)
        if limit and len(value) > limit:
            errors.append(FieldError(ctx.name(question.id), f"Keep this to {limit} characters."))
            continue
        if question.kind == "choice" and value and value not in {o.value for o in question.options}:
            errors.append(FieldError(ctx.name(question.id), "Choose one of the answers shown."))
            continue
        data[question.id] = value
    if "preferred_contact" in data and not data["preferred_contact"]:
        del data["preferred_contact"]  # left unchosen: keep the record's
    try:
        return clean_patient_fields(data, region=ctx.region, today=ctx.today, partial=True)
    except ValidationFailed as exc:
        errors.extend(
            FieldError(ctx.name(e.field) if e.field else ctx.section.id, e.message) for e in exc.errors
        )
        return {}


# ---------- one question by its kind ----------


def _clean_one(ctx: Context, question: Question, raw: Mapping[str, Any], errors: list[FieldError]) -> Any:
    value = raw.get(question.id)
    kind = question.kind
    if kind == "check":
        return _boolean(value)
    if kind == "multi":
        return _multi(question, value)
    if kind == "rows":
        return _rows(ctx, question, value, errors)
    if kind == "questionnaire":
        return _questionnaire(ctx, question, value, errors)
    if kind == "measure":
        return _measure(ctx, question, value, raw.get(f"{question.id}_unit"), errors)
    if _blank(value):
        return None
    if kind == "choice":
        return _choice(question.options, value)
    if kind in ("text", "long_text"):
        return _text(value, question.max_length)
    if kind == "integer":
        return _integer(value, question.minimum, question.maximum)
    if kind == "year":
        return _year(ctx, value)
    if kind == "date":
        return _date(ctx, value).isoformat()
    raise _Invalid("This question cannot be answered here.")  # phone/email only exist as record fields


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return False
    raise _Invalid("Tick the box or leave it empty.")


def _choice(options: tuple[Any, ...], value: Any) -> str:
    if not isinstance(value, str) or value not in {o.value for o in options}:
        raise _Invalid("Choose one of the answers shown.")
    return value


def _multi(question: Question, value: Any) -> list[str] | None:
    if _blank(value):
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple):
        raise _Invalid("Choose from the answers shown.")
    allowed = [o.value for o in question.options]
    chosen = set()
    for item in values:
        if not isinstance(item, str) or item not in allowed:
            raise _Invalid("Choose from the answers shown.")
        chosen.add(item)
    return [v for v in allowed if v in chosen] or None


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _Invalid("Enter text.")
    text = value.strip()
    if len(text) > limit:
        raise _Invalid(f"Keep this to {limit} characters.")
    return text


def _integer(value: Any, minimum: int | None, maximum: int | None) -> int:
    if isinstance(value, bool):
        raise _Invalid("Enter a whole number.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 10:
        number = int(value.strip())
    else:
        raise _Invalid("Enter a whole number.")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        if minimum is not None and maximum is not None:
            raise _Invalid(f"Enter a number from {minimum} to {maximum}.")
        raise _Invalid(f"Enter a number of at least {minimum}." if minimum is not None
                       else f"Enter a number of at most {maximum}.")
    return number


def _year(ctx: Context, value: Any) -> int:
    try:
        year = _integer(value, None, None)
    except _Invalid:
        raise _Invalid("Enter a year, for example 2019.") from None
    if year > ctx.today.year:
        raise _Invalid("The year cannot be in the future.")
    if ctx.date_of_birth and year < ctx.date_of_birth.year:
        raise _Invalid("That year is before you were born.")
    if year < 1900:
        raise _Invalid("Enter a year, for example 2019.")
    return year


def _date(ctx: Context, value: Any) -> date:
    if isinstance(value, date):
        found = value
    else:
        try:
            found = date.fromisoformat(str(value).strip())
        except ValueError:
            raise _Invalid("Enter a date as YYYY-MM-DD.") from None
    if found > ctx.today:
        raise _Invalid("The date cannot be in the future.")
    if ctx.date_of_birth and found < ctx.date_of_birth:
        raise _Invalid("That date is before you were born.")
    return found


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("Enter a number.")
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise _Invalid("Enter a number.") from None
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise _Invalid("Enter a number.")
    return number


def _measure(
    ctx: Context, question: Question, value: Any, unit: Any, errors: list[FieldError]
) -> tuple[float, str] | None:
    if _blank(value):
        return None
    number = _number(value)
    units = {u.value: u for u in question.units}
    if unit not in units:
        errors.append(FieldError(ctx.name(f"{question.id}_unit"), "Choose a unit."))
        return None
    chosen = units[unit]
    spec = VITAL_SPECS[question.vital]
    metric = number * Decimal(str(chosen.to_metric))
    if not spec.minimum <= metric <= spec.maximum:
        raise _Invalid(f"{question.label} of {number.normalize():f} {chosen.label} is not possible; "
                       "check the number and the unit.")
    return float(round(number, 1)), chosen.value


def _rows(
    ctx: Context, question: Question, value: Any, errors: list[FieldError]
) -> list[dict[str, Any]] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list | tuple):
        raise _Invalid("Send a list of rows.")
    rows: list[dict[str, Any]] = []
    for index, row in enumerate(value):
        where = f"{question.id}[{index}]"
        if not isinstance(row, Mapping):
            errors.append(FieldError(ctx.name(where), "Send each row as an object."))
            continue
        columns = {c.id: c for c in question.columns}
        unknown = [key for key in row if key not in columns]
        errors.extend(
            FieldError(ctx.name(where, str(key)), "This is not part of the row.") for key in unknown
        )
        if all(_blank(row.get(c)) for c in columns):
            continue  # an empty row on the page
        cleaned: dict[str, Any] = {}
        for column in question.columns:
            cell = row.get(column.id)
            if _blank(cell):
                if column.required:
                    errors.append(FieldError(ctx.name(where, column.id),
                                             f"Enter the {column.label.lower()}, or clear this row."))
                continue
            try:
                cleaned[column.id] = _cell(column, cell)
            except _Invalid as exc:
                errors.append(FieldError(ctx.name(where, column.id), str(exc)))
        rule = ROW_RULES.get((ctx.section.id, question.id))
        if rule is not None:
            errors.extend(rule(ctx, where, cleaned))
        rows.append(cleaned)
    if len(rows) > question.max_rows:
        errors.append(FieldError(ctx.name(question.id), f"List at most {question.max_rows}."))
    return rows or None


def _cell(column: Column, value: Any) -> Any:
    if column.kind == "integer":
        return _integer(value, column.minimum, column.maximum)
    if column.kind == "choice":
        return _choice(column.options, value)
    return _text(value, column.max_length)


def _questionnaire(
    ctx: Context, question: Question, value: Any, errors: list[FieldError]
) -> dict[str, int]:
    """The instrument's answers by item id, complete by its own rules (conditional items included)."""
    instrument = instrument_of(question)
    given = value if isinstance(value, Mapping) else {}
    if value is not None and not isinstance(value, Mapping):
        raise _Invalid("Send the answers as an object by question number.")
    answers: dict[str | int, int | None] = {}
    for key, raw in given.items():
        if _blank(raw):
            answers[str(key)] = None
        elif isinstance(raw, int) and not isinstance(raw, bool):
            answers[str(key)] = raw
        elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            answers[str(key)] = int(raw.strip())
        else:
            errors.append(
                FieldError(ctx.name(question.id, str(key)), "Please choose one of the answers shown.")
            )
    try:
        result = score_instrument(instrument, answers)
    except AnswerError as exc:
        errors.append(FieldError(ctx.name(question.id, exc.item) if exc.item else ctx.name(question.id),
                                 "Please choose one of the answers shown."))
        return {}
    errors.extend(
        FieldError(ctx.name(question.id, item), f"{instrument.short_name} item {item} needs an answer.")
        for item in result.missing
    )
    return {str(item): number for item, number in answers.items() if number is not None}
