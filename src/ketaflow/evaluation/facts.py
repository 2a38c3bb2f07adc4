"""The eligibility facts a clinician asserts at evaluation, grouped as the Evaluation tab asks them.

Each answer is checked by the core's `check_fact` against its `FactSpec` (a yes/no fact is
true or false, hepatic impairment one of its levels). "Not assessed" stores nothing: a fact absent
from `Evaluation.facts` stays unknown, which eligibility reports as missing, never as "no".

Some facts are not the clinician's to assert here because the record answers them: age (date of
birth), blood pressure (vital signs), the medication classes (medication list), recent suicidal
ideation (questionnaires) and whether an ECG, liver tests or a drug screen were reviewed (the
labs and ECG section). Sending one of those is refused with a field error saying where it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ketaflow.clinical.eligibility import FACT_SPECS, FactError, FactSpec
from ketaflow.clinical.eligibility.facts import check_fact
from ketaflow.validation import FieldError, ValidationFailed


@dataclass(frozen=True)
class FactGroup:
    slug: str
    label: str
    names: tuple[str, ...]

    @property
    def specs(self) -> list[FactSpec]:
        return [FACT_SPECS[name] for name in self.names]


FACT_GROUPS: tuple[FactGroup, ...] = (
    FactGroup("general", "General", ("pregnant", "breastfeeding", "ketamine_hypersensitivity")),
    FactGroup("cardiovascular", "Cardiovascular", (
        "hypertension_uncontrolled", "cardiovascular_disease_poorly_controlled", "cardiovascular_risk",
        "aneurysmal_vascular_disease", "arteriovenous_malformation", "intracerebral_haemorrhage_history",
    )),
    FactGroup("neurological", "Neurological and eye", (
        "raised_intracranial_pressure", "raised_intraocular_pressure",
    )),
    FactGroup("hepatic", "Hepatic", ("hepatic_impairment",)),
    FactGroup("psychiatric", "Psychiatric", (
        "active_psychosis", "psychotic_disorder", "bipolar_disorder", "clinically_stable",
    )),
    FactGroup("substance", "Substance use", ("substance_misuse_active", "alcohol_misuse_active")),
    FactGroup("home", "Home setting", ("home_monitor_present", "home_bp_cuff")),
)
CLINICIAN_FACTS: frozenset[str] = frozenset(name for group in FACT_GROUPS for name in group.names)
FROM_THE_RECORD: dict[str, str] = {
    "age_years": "the date of birth",
    "systolic_bp": "the vital signs",
    "diastolic_bp": "the vital signs",
    "medication_classes": "the medication list",
    "unclassified_medications": "the medication list",
    "suicidal_ideation_recent": "the latest C-SSRS or PHQ-9",
    "ecg_reviewed": "the ECG result under labs and ECG",
    "liver_tests_reviewed": "the liver tests under labs and ECG",
    "urine_drug_screen_reviewed": "the urine drug screen under labs and ECG",
}
# Facts that, when true, make "no cardiovascular risk" a contradiction.
CARDIOVASCULAR_RISKS = ("hypertension_uncontrolled", "cardiovascular_disease_poorly_controlled")


def unassigned_facts() -> set[str]:
    """Core facts neither asked here nor taken from the record (empty unless the core grew)."""
    return set(FACT_SPECS) - CLINICIAN_FACTS - set(FROM_THE_RECORD)


def clean_facts(raw: Any) -> dict[str, Any]:
    """The clinician's answers, checked: {name: value} without the unassessed (None) ones.

    Raises ValidationFailed naming every bad fact as `facts.<name>`: an unknown name, a fact the
    record answers, a wrong value, or answers that contradict each other."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed.single("facts", "Send the facts as an object of name: value.")
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for name, value in raw.items():
        field = f"facts.{name}"
        if name in FROM_THE_RECORD:
            errors.append(FieldError(field, f"This comes from {FROM_THE_RECORD[name]}; record it there."))
            continue
        if name not in CLINICIAN_FACTS:
            errors.append(FieldError(field, "This is not an eligibility fact a clinician records."))
            continue
        try:
            checked = check_fact(FACT_SPECS[name], value)
        except FactError as exc:
            errors.append(FieldError(field, _sentence(exc.message)))
            continue
        if checked is not None:
            clean[name] = checked
    if not errors and clean.get("cardiovascular_risk") is False:
        risky = [FACT_SPECS[name].label.lower() for name in CARDIOVASCULAR_RISKS if clean.get(name)]
        if risky:
            errors.append(FieldError(
                "facts.cardiovascular_risk",
                f"You answered yes to {' and '.join(risky)}, which is a cardiovascular risk: "
                "answer yes here, or change that answer.",
            ))
    if errors:
        raise ValidationFailed(errors)
    return clean


def _sentence(message: str) -> str:
    text = message[0].upper() + message[1:]
    return text if text.endswith(".") else f"{text}."
