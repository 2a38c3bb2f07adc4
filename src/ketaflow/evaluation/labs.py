"""Labs and ECG at evaluation: the ECG, liver tests and urine drug screen, and when each is indicated.

Each test is a date and a result (normal or abnormal), or neither. A date cannot be in the future
or before the patient was born; a result needs the date it was taken, and a date needs its result.
The "indicated" hints follow clinical reference §3: an ECG when there is cardiovascular risk and
liver tests when there is hepatic risk (Cohen et al., Reg Anesth Pain Med 2018;43:521-546, the
ASRA/AAPM/ASA consensus); a urine drug screen where substance use is suspected (APA consensus,
Sanacora et al., JAMA Psychiatry 2017;74:399-405). They advise; the clinician decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ketaflow.validation import FieldError, ValidationFailed

from .models import Evaluation

COHEN_2018 = "Cohen et al., ASRA/AAPM/ASA consensus, Reg Anesth Pain Med 2018;43:521-546"
APA_2017 = "APA consensus, Sanacora et al., JAMA Psychiatry 2017;74:399-405"
NOTE_LIMIT = 300


@dataclass(frozen=True)
class LabTest:
    key: str  # the model's field prefix
    label: str
    noun: str  # in a sentence
    source: str


LAB_TESTS: tuple[LabTest, ...] = (
    LabTest("ecg", "ECG", "ECG", COHEN_2018),
    LabTest("liver_tests", "Liver tests", "liver tests", COHEN_2018),
    LabTest("urine_drug_screen", "Urine drug screen", "urine drug screen", APA_2017),
)
LAB_FIELDS: tuple[str, ...] = (
    *(f"{test.key}_{part}" for test in LAB_TESTS for part in ("date", "result")), "ecg_note",
)
RESULTS = frozenset(value for value in Evaluation.Result.values if value)


def clean_labs(raw: Mapping[str, Any], *, current: Evaluation | None, today: date,
               born: date) -> dict[str, Any]:
    """The lab fields sent (a subset of LAB_FIELDS), checked together with the stored values they
    pair with. Raises ValidationFailed naming every bad field."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in LAB_FIELDS:
            errors.append(FieldError(name, "This is not a lab or ECG field."))
        elif name.endswith("_date"):
            if value is not None and not isinstance(value, date):
                errors.append(FieldError(name, "Enter a date."))
            elif value is not None and value > today:
                errors.append(FieldError(name, "The date cannot be in the future."))
            elif value is not None and value < born:
                errors.append(FieldError(name, "The date is before the patient was born."))
            else:
                clean[name] = value
        elif name.endswith("_result"):
            value = value or ""
            if value and value not in RESULTS:
                errors.append(FieldError(name, "Choose normal or abnormal."))
            else:
                clean[name] = value
        elif value is not None and not isinstance(value, str):
            errors.append(FieldError(name, "Enter text."))
        elif len(text := (value or "").strip()) > NOTE_LIMIT:
            errors.append(FieldError(name, f"Keep the note to {NOTE_LIMIT} characters."))
        else:
            clean[name] = text
    if errors:
        raise ValidationFailed(errors)
    errors.extend(_pairs(clean, current))
    if errors:
        raise ValidationFailed(errors)
    return clean


def _pairs(clean: Mapping[str, Any], current: Evaluation | None) -> Iterable[FieldError]:
    """A result needs its date and a date its result, judged on the values after the change."""

    def after(name: str) -> Any:
        if name in clean:
            return clean[name]
        return getattr(current, name) if current is not None else None

    for test in LAB_TESTS:
        taken, result = after(f"{test.key}_date"), after(f"{test.key}_result")
        if result and taken is None:
            yield FieldError(f"{test.key}_date", f"Enter the date of the {test.noun}.")
        elif taken is not None and not result:
            yield FieldError(f"{test.key}_result",
                             f"Enter the {test.noun} result, or clear its date.")
    if after("ecg_note") and after("ecg_date") is None:
        yield FieldError("ecg_note", "A note needs the ECG it describes: enter the ECG date and result.")


@dataclass(frozen=True)
class Indication:
    test: LabTest
    indicated: bool | None  # None: the facts that decide it are not assessed yet
    reason: str


def indications(facts: Mapping[str, Any], diagnoses: Iterable[tuple[str, str, str]]) -> list[Indication]:
    """Whether each test is indicated by what is recorded: the clinician's facts and the active
    problem list, given as (catalogue group, display, ICD-10) per diagnosis."""
    listed = list(diagnoses)

    def on_list(groups: set[str]) -> list[str]:
        return [f"problem list: {display} ({icd10})" for group, display, icd10 in listed if group in groups]

    cardiac = [f"clinician: {label}" for name, label in (
        ("cardiovascular_risk", "cardiovascular risk"),
        ("hypertension_uncontrolled", "uncontrolled hypertension"),
        ("cardiovascular_disease_poorly_controlled", "poorly controlled cardiovascular disease"),
    ) if facts.get(name) is True] + on_list({"cardiovascular", "vascular"})
    hepatic_level = facts.get("hepatic_impairment")
    hepatic = ([f"clinician: {hepatic_level} hepatic impairment"]
               if hepatic_level in ("mild", "moderate", "severe") else [])
    hepatic += ["clinician: alcohol misuse"] if facts.get("alcohol_misuse_active") is True else []
    substance = [f"clinician: {label}" for name, label in (
        ("substance_misuse_active", "active substance misuse"), ("alcohol_misuse_active", "alcohol misuse"),
    ) if facts.get(name) is True] + on_list({"substance_use"})
    return [
        _indication(LAB_TESTS[0], cardiac, facts.get("cardiovascular_risk"), "cardiovascular risk"),
        _indication(LAB_TESTS[1], hepatic, hepatic_level, "hepatic risk"),
        _indication(LAB_TESTS[2], substance, facts.get("substance_misuse_active"), "suspected substance use"),
    ]


def _indication(test: LabTest, reasons: list[str], deciding: Any, risk: str) -> Indication:
    if reasons:
        return Indication(test, True, f"{risk.capitalize()}: {'; '.join(reasons)}.")
    if deciding is None:
        return Indication(test, None, f"Indicated when there is {risk}; not assessed yet.")
    return Indication(test, False, f"Not indicated by what is recorded (no {risk}).")
