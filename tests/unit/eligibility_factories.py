"""Facts for eligibility tests: a complete "all clear" patient, and that patient with one thing changed.

`all_clear()` knows every fact and triggers no rule except the one that always fires for home
treatment, so a test that changes one fact sees exactly what that fact does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ketaflow.clinical.eligibility import Facts

ALL_CLEAR = Facts(
    age_years=40,
    pregnant=False,
    breastfeeding=False,
    systolic_bp=122,
    diastolic_bp=78,
    hypertension_uncontrolled=False,
    cardiovascular_disease_poorly_controlled=False,
    cardiovascular_risk=False,
    ecg_reviewed=True,
    aneurysmal_vascular_disease=False,
    arteriovenous_malformation=False,
    intracerebral_haemorrhage_history=False,
    ketamine_hypersensitivity=False,
    hepatic_impairment="none",
    liver_tests_reviewed=True,
    raised_intracranial_pressure=False,
    raised_intraocular_pressure=False,
    active_psychosis=False,
    psychotic_disorder=False,
    bipolar_disorder=False,
    substance_misuse_active=False,
    alcohol_misuse_active=False,
    urine_drug_screen_reviewed=True,
    medication_classes=frozenset(),
    unclassified_medications=False,
    suicidal_ideation_recent=False,
    home_monitor_present=True,
    home_bp_cuff=True,
    clinically_stable=True,
)


def all_clear(**changes: Any) -> Facts:
    """The all-clear patient with `changes` (sets of medication classes may be given as lists)."""
    if "medication_classes" in changes and changes["medication_classes"] is not None:
        changes["medication_classes"] = frozenset(changes["medication_classes"])
    return dataclasses.replace(ALL_CLEAR, **changes)


def unknown(*names: str, base: Facts = ALL_CLEAR) -> Facts:
    """`base` with the named facts not known."""
    return dataclasses.replace(base, **dict.fromkeys(names))
