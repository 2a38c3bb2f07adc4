"""Each section's own rules: contradictions between answers, and impossible readings taken together.

A rule gets the section's answers cleaned so far and returns the errors it finds, each naming the
field to correct (`medications.no_medications`, `treatments.antidepressants[1].weeks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketaflow.clinical.vitals import check_vitals
from ketaflow.validation import FieldError

from .questions import NO, YES

if TYPE_CHECKING:
    from .cleaning import Context

KETAMINE_WORDS = ("ketamine", "esketamine", "spravato", "ketalar")


def no_rules(ctx: Context, clean: dict[str, Any]) -> list[FieldError]:
    """For a section without rules of its own."""
    return []


def _mental_health_rules(ctx: Context, clean: dict[str, Any]) -> list[FieldError]:
    errors = []
    ticked = set(clean.get("diagnoses") or ())
    for option, question, name in (("bipolar", "bipolar_disorder", "bipolar disorder"),
                                   ("psychosis", "psychotic_disorder", "schizophrenia or psychosis")):
        if option in ticked and clean.get(question) == NO:
            errors.append(FieldError(ctx.name(question),
                                     f"You ticked {name} above. Answer “Yes” here, or untick it above."))
    return errors


def _medical_rules(ctx: Context, clean: dict[str, Any]) -> list[FieldError]:
    names = {"systolic_bp": "home_bp_systolic", "diastolic_bp": "home_bp_diastolic"}
    readings = {vital: clean.get(question) for vital, question in names.items()}
    errors = [FieldError(ctx.name(names.get(e.field, e.field)), e.message) for e in check_vitals(readings)]
    if clean.get("home_bp_date") and readings["systolic_bp"] is None and readings["diastolic_bp"] is None:
        errors.append(FieldError(ctx.name("home_bp_date"), "Enter the reading too, or clear the date."))
    return errors


def _medications_rules(ctx: Context, clean: dict[str, Any]) -> list[FieldError]:
    errors = []
    for listed, none, things, box in (
        ("medications", "no_medications", "medications", "I take no medications"),
        ("allergies", "no_known_allergies", "allergies", "I have no known allergies"),
    ):
        if clean.get(listed) and clean.get(none):
            errors.append(FieldError(ctx.name(none), f"You ticked “{box}” but listed {things}: "
                                                     "untick the box or clear the list."))
        elif not clean.get(listed) and not clean.get(none):
            errors.append(FieldError(ctx.name(listed), f"List your {things}, or tick “{box}”."))
    if clean.get("ketamine_hypersensitivity") == YES and clean.get("no_known_allergies"):
        errors.append(FieldError(ctx.name("no_known_allergies"),
                                 "You said you reacted to ketamine or esketamine: untick “I have no known "
                                 "allergies” and list the reaction."))
    substances = [(row.get("substance") or "").lower() for row in clean.get("allergies") or ()]
    mentions = any(word in substance for substance in substances for word in KETAMINE_WORDS)
    if mentions and clean.get("ketamine_hypersensitivity") == NO:
        errors.append(FieldError(ctx.name("ketamine_hypersensitivity"),
                                 "You listed an allergy to ketamine or esketamine above: answer “Yes” here, "
                                 "or correct the list."))
    return errors


def _trial_row(ctx: Context, where: str, row: dict[str, Any]) -> list[FieldError]:
    if row.get("weeks") == 0 and row.get("adequate_dose") == YES:
        return [FieldError(ctx.name(where, "weeks"), "0 weeks cannot be a trial at the full dose: enter how "
                                                     "many weeks you took it, or change the dose answer.")]
    return []


def _pregnancy_rules(ctx: Context, clean: dict[str, Any]) -> list[FieldError]:
    if ctx.sex_at_birth == "male" and clean.get("pregnant") == YES:
        return [FieldError(ctx.name("pregnant"), "Your clinic's record says your sex at birth is male. "
                                                 "If that is wrong, ask the clinic to correct it.")]
    return []


# Rules for one row of a list, by (section, question); errors name the row as it was sent.
ROW_RULES: dict[tuple[str, str], Callable[[Context, str, dict[str, Any]], list[FieldError]]] = {
    ("treatments", "antidepressants"): _trial_row,
}
SECTION_RULES: dict[str, Callable[[Context, dict[str, Any]], list[FieldError]]] = {
    "mental_health": _mental_health_rules,
    "medical": _medical_rules,
    "medications": _medications_rules,
    "pregnancy": _pregnancy_rules,
}
