"""The facts an eligibility assessment reads: one plain, documented, frozen object.

Every fact may be None, which means *not known*: the engine reports it as missing and never reads
it as "no". `FACTS` describes each one (type, label, the question that answers it) so pages, the
API and other tools can ask for exactly what is missing. `facts_from_mapping` builds a `Facts`
from JSON-like input and raises `FactError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

FactKind = Literal["bool", "int", "choice", "set"]

HEPATIC_LEVELS = ("none", "mild", "moderate", "severe")
MEDICATION_CLASSES = (
    "benzodiazepine",
    "lamotrigine",
    "maoi",
    "psychostimulant",
    "sedative_hypnotic",
    "opioid",
)


class FactError(ValueError):
    """A fact with the wrong type or an impossible value; `.field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FactSpec:
    name: str
    kind: FactKind
    label: str
    question: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


FACTS: tuple[FactSpec, ...] = (
    FactSpec("age_years", "int", "Age", "Date of birth", minimum=0, maximum=130),
    FactSpec("pregnant", "bool", "Pregnant", "Is the patient pregnant, or could they be?"),
    FactSpec("breastfeeding", "bool", "Breastfeeding", "Is the patient breastfeeding?"),
    FactSpec("systolic_bp", "int", "Systolic blood pressure (mmHg)", "A baseline blood-pressure reading",
             minimum=40, maximum=300),
    FactSpec("diastolic_bp", "int", "Diastolic blood pressure (mmHg)", "A baseline blood-pressure reading",
             minimum=20, maximum=200),
    FactSpec("hypertension_uncontrolled", "bool", "Uncontrolled hypertension",
             "Is the patient's hypertension uncontrolled?"),
    FactSpec("cardiovascular_disease_poorly_controlled", "bool", "Poorly controlled cardiovascular disease",
             "Does the patient have poorly controlled cardiovascular disease?"),
    FactSpec("cardiovascular_risk", "bool", "Cardiovascular risk",
             "Does the patient have cardiovascular risk factors that call for an ECG?"),
    FactSpec("ecg_reviewed", "bool", "ECG reviewed", "Has a recent ECG been reviewed?"),
    FactSpec("aneurysmal_vascular_disease", "bool", "Aneurysmal vascular disease",
             "Aneurysmal vascular disease (thoracic or abdominal aorta, intracranial, peripheral arterial)?"),
    FactSpec("arteriovenous_malformation", "bool", "Arteriovenous malformation",
             "Any arteriovenous malformation?"),
    FactSpec("intracerebral_haemorrhage_history", "bool", "History of intracerebral haemorrhage",
             "Any history of intracerebral haemorrhage?"),
    FactSpec("ketamine_hypersensitivity", "bool", "Hypersensitivity to ketamine or esketamine",
             "Any hypersensitivity to ketamine or esketamine?"),
    FactSpec("hepatic_impairment", "choice", "Hepatic impairment",
             "How severe is any liver disease (none, mild, moderate, severe)?", choices=HEPATIC_LEVELS),
    FactSpec("liver_tests_reviewed", "bool", "Liver tests reviewed",
             "Have recent liver tests been reviewed?"),
    FactSpec("raised_intracranial_pressure", "bool", "Raised intracranial pressure",
             "Any condition raising intracranial pressure?"),
    FactSpec("raised_intraocular_pressure", "bool", "Raised intraocular pressure",
             "Glaucoma or other raised intraocular pressure?"),
    FactSpec("active_psychosis", "bool", "Active psychosis", "Is the patient currently psychotic?"),
    FactSpec("psychotic_disorder", "bool", "Schizophrenia or another psychotic disorder",
             "Any diagnosis of schizophrenia or another psychotic disorder?"),
    FactSpec("bipolar_disorder", "bool", "Bipolar disorder", "Any diagnosis of bipolar disorder?"),
    FactSpec("substance_misuse_active", "bool", "Active substance misuse", "Any current substance misuse?"),
    FactSpec("alcohol_misuse_active", "bool", "Alcohol misuse",
             "Current alcohol misuse or recent intoxication?"),
    FactSpec("urine_drug_screen_reviewed", "bool", "Urine drug screen reviewed",
             "Has a urine drug screen been reviewed?"),
    FactSpec("medication_classes", "set", "Interacting medication classes",
             "The current medication list, reviewed", choices=MEDICATION_CLASSES),
    FactSpec("unclassified_medications", "bool", "Medications outside the catalogue",
             "Are all current medications in the catalogue?"),
    FactSpec("suicidal_ideation_recent", "bool", "Recent suicidal ideation",
             "A recent suicide-risk screen (C-SSRS or PHQ-9 item 9)"),
    FactSpec("home_monitor_present", "bool", "A treatment monitor present at home",
             "Will a responsible adult be present for every home session?"),
    FactSpec("home_bp_cuff", "bool", "A blood-pressure cuff at home",
             "Does the patient have a home BP cuff?"),
    FactSpec("clinically_stable", "bool", "Clinically stable", "Is the patient clinically stable?"),
)
FACT_SPECS: dict[str, FactSpec] = {spec.name: spec for spec in FACTS}


@dataclass(frozen=True)
class Facts:
    """What is known about one patient on one day. None means not known (reported as missing).

    `medication_classes` is the set of interacting classes in the current, reviewed medication list
    (see `MEDICATION_CLASSES`); an empty set means "reviewed, none of them", None "not reviewed".
    """

    age_years: int | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    hypertension_uncontrolled: bool | None = None
    cardiovascular_disease_poorly_controlled: bool | None = None
    cardiovascular_risk: bool | None = None
    ecg_reviewed: bool | None = None
    aneurysmal_vascular_disease: bool | None = None
    arteriovenous_malformation: bool | None = None
    intracerebral_haemorrhage_history: bool | None = None
    ketamine_hypersensitivity: bool | None = None
    hepatic_impairment: str | None = None
    liver_tests_reviewed: bool | None = None
    raised_intracranial_pressure: bool | None = None
    raised_intraocular_pressure: bool | None = None
    active_psychosis: bool | None = None
    psychotic_disorder: bool | None = None
    bipolar_disorder: bool | None = None
    substance_misuse_active: bool | None = None
    alcohol_misuse_active: bool | None = None
    urine_drug_screen_reviewed: bool | None = None
    medication_classes: frozenset[str] | None = None
    unclassified_medications: bool | None = None
    suicidal_ideation_recent: bool | None = None
    home_monitor_present: bool | None = None
    home_bp_cuff: bool | None = None
    clinically_stable: bool | None = None

    def __post_init__(self) -> None:
        for spec in FACTS:
            value = getattr(self, spec.name)
            checked = check_fact(spec, value)
            if checked is not value:
                object.__setattr__(self, spec.name, checked)
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            raise FactError("diastolic_bp", "must be lower than the systolic pressure")

    def value(self, name: str) -> Any:
        """The fact by name; raises KeyError for a name that is not a fact."""
        if name not in FACT_SPECS:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: sets become sorted lists; None stays None."""
        result: dict[str, Any] = {}
        for spec in FACTS:
            value = getattr(self, spec.name)
            result[spec.name] = sorted(value) if isinstance(value, frozenset) else value
        return result

    def missing(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in FACTS if getattr(self, spec.name) is None)


def check_fact(spec: FactSpec, value: Any) -> Any:
    """The value, normalised (sets frozen), or FactError naming the fact."""
    if value is None:
        return None
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise FactError(spec.name, "must be true, false or null")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FactError(spec.name, "must be a whole number or null")
        if spec.minimum is not None and value < spec.minimum:
            raise FactError(spec.name, f"must be at least {spec.minimum}")
        if spec.maximum is not None and value > spec.maximum:
            raise FactError(spec.name, f"must be at most {spec.maximum}")
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise FactError(spec.name, f"must be one of {', '.join(spec.choices)} or null")
        return value
    if isinstance(value, str) or not isinstance(value, (set, frozenset, list, tuple)):
        raise FactError(spec.name, "must be a list of medication classes or null")
    unknown = sorted(str(item) for item in value if item not in spec.choices)
    if unknown:
        raise FactError(spec.name, f"unknown class {unknown[0]!r}; known: {', '.join(spec.choices)}")
    return frozenset(value)


def facts_from_mapping(raw: Mapping[str, Any]) -> Facts:
    """A `Facts` from JSON-like input (absent keys are unknown). Raises FactError for an unknown
    key or a bad value, naming the field."""
    if not isinstance(raw, Mapping):
        raise FactError("facts", "must be an object")
    known = {f.name for f in fields(Facts)}
    for key in raw:
        if key not in known:
            raise FactError(str(key), "is not a known fact")
    return Facts(**dict(raw))
