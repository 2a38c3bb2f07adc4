"""The Evaluation chart tab, in the order a clinician works through an evaluation.

Diagnoses (the problem list), treatment-resistance staging, vital signs, medications, the
clinician's eligibility facts, labs and ECG, baseline questionnaires, notes, and completing the
evaluation. `evaluation_context` receives a patient already opened (and audited) by
`open_patient`, for an actor already checked against the tab's permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.clinical.treatment_resistance import ANTIDEPRESSANT_CLASSES, ANTIDEPRESSANTS, OUTCOMES
from ketaflow.measurement.library import instruments_for
from ketaflow.measurement.models import ScoreObservation, Stage
from ketaflow.measurement.schedule import plan_for
from ketaflow.measurement.tabs import default_instruments
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Medication, Patient, VitalSigns
from ketaflow.patients.record_forms import ConditionForm

from .facts import FACT_GROUPS
from .forms import (
    FactsForm,
    LabsForm,
    MedicationForm,
    NotesForm,
    StopMedicationForm,
    TrialsForm,
    VitalsForm,
    catalogue_options,
    lab_initial,
)
from .models import Evaluation
from .services import (
    active_diagnoses,
    completion_problems,
    current_evaluation,
    lab_indications,
    last_completed,
    staging_of,
    trials_of,
)

VITALS_SHOWN = 20


@dataclass(frozen=True)
class BaselineRow:
    instrument_id: str
    name: str
    value: float | None
    band: str
    at: datetime | None
    enterable: bool


def baseline_rows(patient: Patient) -> list[BaselineRow]:
    """The evaluation-stage questionnaires (and any the plan names): latest score, or none yet."""
    org = patient.organization_id
    library = instruments_for(org)
    wanted = list(default_instruments(patient, Stage.EVALUATION))
    plan = plan_for(patient)
    wanted += [i for i in (plan.instruments if plan else []) if i not in wanted and i in library]
    latest: dict[str, ScoreObservation] = {}
    observations = ScoreObservation.objects.for_organization(org).filter(
        patient=patient, kind=ScoreObservation.Kind.TOTAL, is_current=True, instrument_id__in=wanted
    )
    for observation in observations.order_by("-effective_at"):
        latest.setdefault(observation.instrument_id, observation)
    rows = []
    for instrument_id in wanted:
        instrument = library[instrument_id]
        found = latest.get(instrument_id)
        rows.append(BaselineRow(
            instrument_id, instrument.short_name, found.value if found else None,
            found.band if found else "", found.effective_at if found else None, instrument.ships_text,
        ))
    return rows


def _vital_rows(patient: Patient) -> list[VitalSigns]:
    return list(
        VitalSigns.objects.for_organization(patient.organization_id)
        .filter(patient=patient).select_related("recorded_by").order_by("-measured_at")[:VITALS_SHOWN]
    )


def _medications(patient: Patient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    labels = medication_catalogue().class_labels
    rows = Medication.objects.for_organization(patient.organization_id).filter(patient=patient)
    current: list[dict[str, Any]] = []
    stopped: list[dict[str, Any]] = []
    for medication in rows.order_by("name"):
        row = {"medication": medication, "classes": [labels.get(c, c) for c in medication.classes]}
        (current if medication.status == Medication.Status.ACTIVE else stopped).append(row)
    return current, stopped


def fact_rows(facts: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group label, [(fact label, answer)]) for reading the clinician's facts."""
    shown = {True: "Yes", False: "No", None: "Not assessed"}
    return [
        (group.label, [(spec.label, shown.get(facts.get(spec.name), str(facts.get(spec.name)).capitalize()))
                       for spec in group.specs])
        for group in FACT_GROUPS
    ]


def evaluation_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_CLINICAL)
    editable = actor.can(Permission.EDIT_CLINICAL)
    evaluation = current_evaluation(patient)
    facts = evaluation.facts if evaluation else {}
    diagnoses = active_diagnoses(patient)
    current_medications, stopped_medications = _medications(patient)
    vitals = _vital_rows(patient)
    # Only a draft has an earlier completed evaluation to show beside it (a completed one is the latest).
    drafting = evaluation is not None and evaluation.status == Evaluation.Status.DRAFT
    previous = last_completed(patient) if drafting else None
    trials = trials_of(evaluation)
    context: dict[str, Any] = {
        "evaluation": evaluation,
        "previous_evaluation": previous,
        "can_edit_clinical": editable,
        "can_complete": actor.can(Permission.SIGN_PLANS),
        "diagnoses": diagnoses,
        "staging": staging_of(evaluation),
        "trials": trials,
        "trial_classes": ANTIDEPRESSANT_CLASSES,
        "trial_outcomes": OUTCOMES,
        "antidepressant_names": [name.capitalize() for name in ANTIDEPRESSANTS],
        "latest_vitals": vitals[0] if vitals else None,
        "vital_history": vitals,
        "current_medications": current_medications,
        "stopped_medications": stopped_medications,
        "medication_options": catalogue_options(),
        "indications": lab_indications(patient, evaluation, diagnoses=diagnoses),
        "baselines": baseline_rows(patient),
        "completion_problems": completion_problems(patient, evaluation, diagnoses=diagnoses),
        "fact_rows": fact_rows(facts),
    }
    if editable:
        context |= {
            "facts_form": FactsForm(facts=facts),
            "labs_form": LabsForm(initial=lab_initial(evaluation)),
            "condition_form": ConditionForm(),
            "trials_form": TrialsForm(trials=trials,
                                      ect_failed=evaluation.ect_failed if evaluation else None),
            "vitals_form": VitalsForm(),
            "medication_form": MedicationForm(),
            "stop_form": StopMedicationForm(),
            "notes_form": NotesForm(initial={"notes": evaluation.notes if evaluation else ""}),
        }
    return context


register_tab("evaluation", "Evaluation", Permission.VIEW_CLINICAL, "evaluation/tab.html", evaluation_context)
