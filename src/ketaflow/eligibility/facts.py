"""Gathering one patient's eligibility facts from the chart, each with where it came from.

`gather_facts(patient, today=, now=)` reads the record and returns `GatheredFacts`: the core's `Facts`
and, per fact, a source a clinician can check ("problem list: Schizophrenia (F20.9)", "BP 142/88 on
2026-11-20 10:14"). A fact nothing answers stays None (the engine reports it as missing); nothing is
ever read as "no" for want of an answer.

Where several places answer one fact, the first that has an answer wins:

1. the problem list, when an active diagnosis says yes (a diagnosis never says "no");
2. the record itself: age from the date of birth; the latest blood pressure within the vitals window
   (a baseline: readings taken during a treatment session, when ketamine raises it, do not count);
   the active medication list once it has been reviewed; an ECG, liver tests or drug screen result
   within the tests window; a suicide-risk screen that endorses ideation within the screen window;
3. the clinician's answer in the current evaluation;
4. the patient's answer in the latest submitted intake (so a patient's "yes" the clinician has not
   answered counts as yes);
5. what the record says only for want of anything better: no recent test result once an evaluation
   exists (not reviewed), and a clear risk screen within the window (no recent ideation).

Suicidal ideation is conservative on purpose: any screen in the window that endorses it wins over a
later clear one, over the clinician's and over the patient's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.clinical.conditions import catalogue as condition_catalogue
from ketaflow.clinical.demographics import age_on
from ketaflow.clinical.eligibility import FACT_SPECS, FACTS, FactError, Facts
from ketaflow.clinical.eligibility.facts import check_fact
from ketaflow.clinical.instruments import builtin_instruments
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.evaluation.models import Evaluation
from ketaflow.evaluation.services import current_evaluation
from ketaflow.intake.facts import intake_facts, medications_answered
from ketaflow.intake.models import Intake
from ketaflow.intake.services import latest_submitted_intake
from ketaflow.measurement.models import QuestionnaireResponse
from ketaflow.patients.models import Condition, Medication, Patient, VitalSigns

from .models import EligibilitySettings
from .settings_service import settings_for

# Problem-list entries that answer a fact "yes": by catalogue group, then by catalogue id.
DIAGNOSIS_GROUPS = {"psychotic": "psychotic_disorder", "bipolar": "bipolar_disorder"}
DIAGNOSIS_IDS = {
    "aortic_aneurysm": "aneurysmal_vascular_disease",
    "intracranial_aneurysm": "aneurysmal_vascular_disease",
    "glaucoma": "raised_intraocular_pressure",
    "alcohol_use_disorder": "alcohol_misuse_active",
    "hypertension": "cardiovascular_risk",
}
TESTS = (
    ("ecg_reviewed", "ECG", "ecg_date", "ecg_result"),
    ("liver_tests_reviewed", "Liver tests", "liver_tests_date", "liver_tests_result"),
    ("urine_drug_screen_reviewed", "Urine drug screen", "urine_drug_screen_date", "urine_drug_screen_result"),
)
SCREENS = ("cssrs_screener", "phq9")
PHQ9_SELF_HARM_ITEM = "9"  # LOINC 44260-8, "thoughts that you would be better off dead..."


@dataclass(frozen=True)
class MedicationEntry:
    name: str
    classes: tuple[str, ...]  # interacting classes (catalogue ids); empty for none
    classified: bool  # False for free text the catalogue could not match

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes), "classified": self.classified}

    @property
    def label(self) -> str:
        if not self.classified:
            return f"{self.name} (not in the catalogue)"
        labels = medication_catalogue().class_labels
        named = ", ".join(_short_class(labels.get(c, c)) for c in self.classes)
        return f"{self.name} ({named})" if named else self.name


def _short_class(label: str) -> str:
    """"Monoamine oxidase inhibitor (MAOI)" -> "MAOI": the abbreviation where the label has one."""
    if label.endswith(")") and "(" in label:
        return label[label.rindex("(") + 1 : -1]
    return label


@dataclass(frozen=True)
class GatheredFacts:
    facts: Facts
    sources: dict[str, str]  # fact name -> where its value came from (or why it is not known)
    medications: tuple[MedicationEntry, ...] = ()  # the active list behind medication_classes
    medications_reviewed: bool = False
    problems: tuple[str, ...] = field(default=())  # answers that could not be used, said plainly

    def evidence(self) -> dict[str, Any]:
        """What a decision keeps beside the facts, to explain a later change (JSON-ready)."""
        return {
            "medications": [m.as_dict() for m in self.medications],
            "medications_reviewed": self.medications_reviewed,
        }


class _Layers:
    """The answers for each fact by precedence; the first layer with a non-None answer wins."""

    ORDER = ("diagnosis", "record", "clinician", "patient", "fallback")

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, tuple[Any, str]]] = {layer: {} for layer in self.ORDER}
        self.notes: dict[str, str] = {}  # why a fact is unknown, when the record can say
        self.problems: list[str] = []

    def put(self, layer: str, fact: str, value: Any, source: str) -> None:
        if value is None or fact in self.answers[layer]:
            return
        self.answers[layer][fact] = (value, source)

    def resolve(self) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for spec in FACTS:
            for layer in self.ORDER:
                if spec.name in self.answers[layer]:
                    values[spec.name], sources[spec.name] = self.answers[layer][spec.name]
                    break
            else:
                values[spec.name] = None
                sources[spec.name] = self.notes.get(spec.name, "not known yet")
        return values, sources


def clinic_zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.home_clinic.timezone)


def gather_facts(
    patient: Patient, *, today: date, now: datetime, config: EligibilitySettings | None = None
) -> GatheredFacts:
    """Every eligibility fact the chart can answer for `patient` on `today`, with its source.

    `now` bounds the windows (vitals, tests, risk screens); `config` defaults to the organization's
    settings. Reads only; the caller audits the read with the page or decision that shows it.
    """
    config = config or settings_for(patient.organization_id)
    zone = clinic_zone(patient)
    layers = _Layers()
    evaluation = current_evaluation(patient)
    intake = latest_submitted_intake(patient)

    _diagnoses(patient, layers)
    _age(patient, today, layers)
    _blood_pressure(patient, now - timedelta(days=config.vitals_window_days), zone, layers,
                    config.vitals_window_days)
    medications, reviewed = _medications(patient, evaluation, intake, zone, layers)
    _tests(evaluation, today - timedelta(days=config.tests_window_days), zone, layers,
           config.tests_window_days)
    _risk_screens(patient, now - timedelta(days=config.screen_window_days), now, zone, layers,
                  config.screen_window_days)
    if evaluation is not None:
        said = f"clinician, evaluation {_evaluation_day(evaluation, zone)}"
        _answers(evaluation.facts or {}, "clinician", said, layers)
    if intake is not None:
        reported = f"patient intake {_local_day(intake.submitted_at, zone)}"
        _answers(dict(intake_facts(intake)), "patient", reported, layers)
    values, sources = layers.resolve()
    facts = _facts(values, sources, layers)
    return GatheredFacts(facts, sources, tuple(medications), reviewed, tuple(layers.problems))


# Each source ------------------------------------------------------------------------------------


def _local_day(moment: datetime | None, zone: ZoneInfo) -> str:
    return timezone.localtime(moment, zone).strftime("%Y-%m-%d") if moment else "undated"


def _evaluation_day(evaluation: Evaluation, zone: ZoneInfo) -> str:
    return _local_day(evaluation.completed_at or evaluation.updated_at or evaluation.recorded_at, zone)


def _diagnoses(patient: Patient, layers: _Layers) -> None:
    conditions = Condition.objects.for_organization(patient.organization_id).filter(
        patient=patient, status=Condition.Status.ACTIVE
    ).order_by("display")
    known = {c.id: c for c in condition_catalogue().conditions}
    for condition in conditions:
        definition = known.get(condition.catalogue_id)
        fact = DIAGNOSIS_IDS.get(condition.catalogue_id)
        if fact is None and definition is not None:
            fact = DIAGNOSIS_GROUPS.get(definition.group)
        if fact is None:
            continue
        code = condition.icd10_code or condition.snomed_code
        shown = f"problem list: {condition.display}" + (f" ({code})" if code else "")
        layers.put("diagnosis", fact, True, shown)


def _age(patient: Patient, today: date, layers: _Layers) -> None:
    try:
        age = age_on(patient.date_of_birth, today)
    except ValueError:
        layers.problems.append("The date of birth is after today; correct it in the patient's details.")
        return
    layers.put("record", "age_years", age, f"date of birth {patient.date_of_birth:%Y-%m-%d}")


def _blood_pressure(patient: Patient, since: datetime, zone: ZoneInfo, layers: _Layers, days: int) -> None:
    readings = VitalSigns.objects.for_organization(patient.organization_id).filter(
        patient=patient, systolic_bp__isnull=False, diastolic_bp__isnull=False
    ).exclude(context=VitalSigns.Context.SESSION).order_by("-measured_at")
    latest = readings.first()
    if latest is None:
        layers.notes["systolic_bp"] = layers.notes["diastolic_bp"] = "no blood-pressure reading recorded"
        return
    when = timezone.localtime(latest.measured_at, zone).strftime("%Y-%m-%d %H:%M")
    shown = f"BP {latest.systolic_bp}/{latest.diastolic_bp} on {when}"
    if latest.measured_at < since:
        note = f"no reading in the last {days} days (latest: {shown})"
        layers.notes["systolic_bp"] = layers.notes["diastolic_bp"] = note
        return
    try:
        check_fact(FACT_SPECS["systolic_bp"], latest.systolic_bp)
        check_fact(FACT_SPECS["diastolic_bp"], latest.diastolic_bp)
        if latest.diastolic_bp >= latest.systolic_bp:
            raise FactError("diastolic_bp", "must be lower than the systolic pressure")
    except FactError:
        layers.problems.append(f"The latest blood pressure ({shown}) cannot be right; record a new reading.")
        return
    layers.put("record", "systolic_bp", latest.systolic_bp, shown)
    layers.put("record", "diastolic_bp", latest.diastolic_bp, shown)


def _medications(
    patient: Patient, evaluation: Evaluation | None, intake: Intake | None, zone: ZoneInfo, layers: _Layers
) -> tuple[list[MedicationEntry], bool]:
    rows = Medication.objects.for_organization(patient.organization_id).filter(
        patient=patient, status=Medication.Status.ACTIVE
    ).order_by("name")
    catalogue = {m.id: m for m in medication_catalogue().medications}
    entries = []
    for row in rows:
        definition = catalogue.get(row.catalogue_id) if row.catalogue_id else None
        if definition is None:
            entries.append(MedicationEntry(row.name, (), False))
        else:
            entries.append(MedicationEntry(row.name, tuple(sorted(definition.classes)), True))
    reviewed_by = ""
    if evaluation is not None:
        reviewed_by = f"reviewed in the evaluation {_evaluation_day(evaluation, zone)}"
    elif intake is not None and medications_answered(intake):
        reviewed_by = f"reported in the patient intake {_local_day(intake.submitted_at, zone)}"
    listed = "; ".join(entry.label for entry in entries) or "none"
    unclassified = [entry.name for entry in entries if not entry.classified]
    if unclassified:
        layers.put("record", "unclassified_medications", True,
                   f"not in the catalogue: {', '.join(unclassified)}")
    if not reviewed_by:
        note = f"medication list not yet reviewed (no evaluation or submitted intake); listed: {listed}"
        layers.notes["medication_classes"] = layers.notes["unclassified_medications"] = note
        return entries, False
    classes = sorted({c for entry in entries for c in entry.classes})
    layers.put("record", "medication_classes", classes, f"medication list ({reviewed_by}): {listed}")
    layers.put("record", "unclassified_medications", False, f"medication list ({reviewed_by}): {listed}")
    return entries, True


def _tests(evaluation: Evaluation | None, since: date, zone: ZoneInfo, layers: _Layers, days: int) -> None:
    for fact, label, date_field, result_field in TESTS:
        if evaluation is None:
            layers.notes[fact] = "no evaluation yet"
            continue
        on = getattr(evaluation, date_field)
        result = getattr(evaluation, result_field)
        if on is not None and result and on >= since:
            shown = Evaluation.Result(result).label.lower()
            layers.put("record", fact, True, f"{label} {shown} on {on:%Y-%m-%d} (evaluation)")
            continue
        if on is not None and result:
            why = f"{label} result on {on:%Y-%m-%d} is older than {days} days"
        else:
            why = f"no {label} result recorded"
        layers.put("fallback", fact, False, f"{why} (evaluation {_evaluation_day(evaluation, zone)})")


def _risk_screens(
    patient: Patient, since: datetime, now: datetime, zone: ZoneInfo, layers: _Layers, days: int
) -> None:
    responses = QuestionnaireResponse.objects.for_organization(patient.organization_id).filter(
        patient=patient,
        instrument_id__in=SCREENS,
        authored_at__gte=since,
        authored_at__lte=now,
        status__in=(QuestionnaireResponse.Status.COMPLETED, QuestionnaireResponse.Status.IN_PROGRESS),
    ).order_by("-authored_at")
    clear = None
    for response in responses:
        endorsed, shown = _screen(response, zone)
        if endorsed:
            layers.put("record", "suicidal_ideation_recent", True, shown)
            return
        if clear is None and response.status == QuestionnaireResponse.Status.COMPLETED:
            clear = shown
    if clear is not None:
        layers.put("fallback", "suicidal_ideation_recent", False, clear)
    else:
        layers.notes["suicidal_ideation_recent"] = (
            f"no C-SSRS screener or PHQ-9 in the last {days} days"
        )


def _screen(response: QuestionnaireResponse, zone: ZoneInfo) -> tuple[bool, str]:
    """(endorses suicidal ideation, how to say so) for one C-SSRS screener or PHQ-9 response."""
    values = {str(row.get("item")): row.get("value") for row in response.answers or []}
    day = timezone.localtime(response.authored_at, zone).strftime("%Y-%m-%d")
    if response.instrument_id == "phq9":
        item9 = values.get(PHQ9_SELF_HARM_ITEM)
        if item9 is None:
            return False, f"PHQ-9 on {day} without item 9"
        return bool(item9 > 0), f"PHQ-9 item 9 = {item9} on {day}"
    instrument = builtin_instruments()["cssrs_screener"]
    reached = [lv for lv in instrument.scoring.levels if any(values.get(i) == 1 for i in lv.any_of)]
    if not reached:
        return False, f"C-SSRS screener on {day}: no risk"
    level = max(reached, key=lambda lv: lv.value)
    return True, f"C-SSRS screener on {day}: {level.label} risk"


def _answers(answers: dict[str, Any], layer: str, source: str, layers: _Layers) -> None:
    """A clinician's or patient's answers, each checked against the fact's type; a bad one is skipped
    and said (it never becomes an answer)."""
    for name, value in answers.items():
        spec = FACT_SPECS.get(name)
        if spec is None or value is None:
            continue
        try:
            checked = check_fact(spec, value)
        except FactError:
            layers.problems.append(f"The {source} gives an unusable answer for {spec.label.lower()}.")
            continue
        if isinstance(checked, frozenset):
            checked = sorted(checked)
        layers.put(layer, name, checked, source)


def _facts(values: dict[str, Any], sources: dict[str, str], layers: _Layers) -> Facts:
    """`Facts` from the resolved values; a combination the core refuses leaves those facts unknown."""
    try:
        return Facts(**values)
    except FactError as exc:
        layers.problems.append(f"{FACT_SPECS[exc.field].label}: {exc.message}; left unknown.")
        values = values | {exc.field: None}
        sources[exc.field] = "left unknown: " + exc.message
        return _facts(values, sources, layers)

