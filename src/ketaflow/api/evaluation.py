"""The clinician's evaluation, vital signs and medications.

Reading needs the clinical permission and is audited through `open_patient` with the purpose
(evaluation, vital_signs, medications) before anything is returned. Drafting the evaluation
(`PUT`) needs EDIT_CLINICAL and completing it SIGN_PLANS (prescribers). `PUT` replaces each
section sent (facts, trials, ect_failed, each lab field, notes) and leaves the others as they
are; when the latest evaluation is completed it starts a re-evaluation carrying its answers
forward. Every refusal is a 422 naming the field (`facts.pregnant`, `trials[1].outcome`,
`ecg_date`, `systolic_bp`), and nothing is half-saved.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.clinical.treatment_resistance import ANTIDEPRESSANT_CLASSES, OUTCOMES
from ketaflow.evaluation import services
from ketaflow.evaluation.models import Evaluation
from ketaflow.patients import medications as medication_list
from ketaflow.patients import services as registry
from ketaflow.patients import vital_signs
from ketaflow.patients.models import Medication, Patient, VitalSigns

from .auth import actor_of
from .measure_schemas import IsoDateTime
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import IsoDate, NotNull, PatientId, StrictInput, responses

router = Router(tags=["evaluation"])

MedicationId = Annotated[str, Path(..., description="The medication's id (a UUID).",
                                   example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]
RESULTS = [value for value in Evaluation.Result.values if value]


def _enum(values: list[str]) -> Any:
    return {"enum": values}


# ---------- Schemas ----------

class TrialIn(StrictInput):
    drug: str = Field("", description="The antidepressant (ingredient or brand); its class follows from it.")
    drug_class: str = Field("", json_schema_extra=_enum(["", *ANTIDEPRESSANT_CLASSES]),
                            description="Needed only when the drug is not recognised, or not named.")
    adequate: bool = Field(description="Reached an adequate dose for an adequate duration.")
    outcome: str = Field(json_schema_extra=_enum(list(OUTCOMES)))


class EvaluationIn(StrictInput):
    facts: Annotated[dict[str, Any] | None, NotNull] = Field(
        None, description="The clinician's eligibility facts by name (true/false; hepatic_impairment a "
                          "level). A fact left out or null is not assessed. Replaces the stored facts.")
    trials: Annotated[list[TrialIn] | None, NotNull] = Field(
        None, description="Antidepressant trials of the current episode (replaces the stored list).")
    ect_failed: bool | None = Field(None, description="A course of bilateral ECT failed; null: not known.")
    ecg_date: IsoDate | None = None
    ecg_result: str | None = Field(None, json_schema_extra=_enum(["", *RESULTS]))
    ecg_note: str | None = None
    liver_tests_date: IsoDate | None = None
    liver_tests_result: str | None = Field(None, json_schema_extra=_enum(["", *RESULTS]))
    urine_drug_screen_date: IsoDate | None = None
    urine_drug_screen_result: str | None = Field(None, json_schema_extra=_enum(["", *RESULTS]))
    notes: str | None = None


class TrialOut(Schema):
    drug: str
    drug_class: str
    adequate: bool
    outcome: str
    failed: bool


class StagingOut(Schema):
    stage: int
    label: str
    reasons: list[str]
    failed_trials: int
    failed_classes: list[str]
    is_trd: bool
    trd_reason: str
    source: str
    trd_source: str


class IndicationOut(Schema):
    test: str
    indicated: bool | None
    reason: str
    source: str


class ProblemOut(Schema):
    field: str | None
    message: str


class EvaluationRecordOut(Schema):
    id: uuid.UUID
    status: str
    facts: dict[str, Any]
    trials: list[TrialOut]
    ect_failed: bool | None
    trd_stage: int | None
    ecg_date: date | None
    ecg_result: str
    ecg_note: str
    liver_tests_date: date | None
    liver_tests_result: str
    urine_drug_screen_date: date | None
    urine_drug_screen_result: str
    notes: str
    started_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class EvaluationOut(Schema):
    patient_id: uuid.UUID
    evaluation: EvaluationRecordOut | None
    staging: StagingOut
    indications: list[IndicationOut]
    completion_problems: list[ProblemOut] = Field(
        description="What stands in the way of completing (empty: ready to complete).")


class VitalsIn(StrictInput):
    systolic_bp: float | None = Field(None, description="mmHg, whole number")
    diastolic_bp: float | None = Field(None, description="mmHg, whole number")
    heart_rate: float | None = Field(None, description="/min, whole number")
    respiratory_rate: float | None = Field(None, description="/min, whole number")
    oxygen_saturation: float | None = Field(None, description="%, whole number")
    temperature_c: float | None = Field(None, description="°C")
    weight_kg: float | None = Field(None, description="kg")
    height_cm: float | None = Field(None, description="cm")
    measured_at: IsoDateTime | None = Field(None, description="When taken; default now. Not in the future.")
    context: str = Field("evaluation", json_schema_extra=_enum(VitalSigns.Context.values))


class VitalsOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    measured_at: datetime
    context: str
    systolic_bp: int | None
    diastolic_bp: int | None
    heart_rate: int | None
    respiratory_rate: int | None
    oxygen_saturation: int | None
    temperature_c: float | None
    weight_kg: float | None
    height_cm: float | None
    bmi: float | None = Field(description="kg/m², from weight and height in the same reading.")
    recorded_at: datetime


class VitalsPage(PageOut):
    items: list[VitalsOut]


class MedicationIn(StrictInput):
    catalogue_id: str = Field("", description="An id from GET /api/v1/medication-catalogue.")
    name: str = Field("", description="Free text when not picked from the catalogue (brand names match).")
    dose: str = ""
    source: str = Field(Medication.Source.CLINICIAN, json_schema_extra=_enum(Medication.Source.values))


class StopIn(StrictInput):
    stopped_on: IsoDate | None = Field(None, description="Default today; not in the future.")


class MedicationOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    catalogue_id: str
    name: str
    rxnorm_code: str
    classes: list[str]
    unclassified: bool = Field(description="Not in the catalogue: check its interactions by hand.")
    dose: str
    status: str
    source: str
    stopped_on: date | None
    recorded_at: datetime

    @staticmethod
    def resolve_unclassified(obj: Medication) -> bool:
        return not obj.catalogue_id


class MedicationQuery(PageQuery):
    include_inactive: bool = Field(False, description="Also list stopped medications.")


class MedicationPage(PageOut):
    items: list[MedicationOut]


class CatalogueMedicationOut(Schema):
    id: str
    display: str
    rxnorm: str
    classes: list[str]
    brands: list[str]


class MedicationCatalogueOut(Schema):
    version: str
    source: str
    classes: dict[str, str]
    items: list[CatalogueMedicationOut]


# ---------- Bodies ----------

def _record(evaluation: Evaluation) -> dict[str, Any]:
    completer = evaluation.clinician
    return {
        **{name: getattr(evaluation, name) for name in (
            "status", "facts", "ect_failed", "trd_stage", "ecg_date", "ecg_result", "ecg_note",
            "liver_tests_date", "liver_tests_result", "urine_drug_screen_date", "urine_drug_screen_result",
            "notes", "updated_at", "completed_at",
        )},
        "id": evaluation.pk,
        "trials": [{**t.as_dict(), "failed": t.failed} for t in services.trials_of(evaluation)],
        "started_at": evaluation.recorded_at,
        "completed_by": (completer.get_full_name() or completer.username) if completer else None,
    }


def _body(patient: Patient, evaluation: Evaluation | None) -> dict[str, Any]:
    staging = services.staging_of(evaluation)
    diagnoses = services.active_diagnoses(patient)
    return {
        "patient_id": patient.pk,
        "evaluation": _record(evaluation) if evaluation is not None else None,
        "staging": {**vars(staging), "reasons": list(staging.reasons),
                    "failed_classes": list(staging.failed_classes)},
        "indications": [
            {"test": item.test.key, "indicated": item.indicated, "reason": item.reason,
             "source": item.test.source}
            for item in services.lab_indications(patient, evaluation, diagnoses=diagnoses)
        ],
        "completion_problems": [
            {"field": p.field, "message": p.message}
            for p in services.completion_problems(patient, evaluation, diagnoses=diagnoses)
        ],
    }


def _reread(actor: Actor, patient_id: PatientId) -> dict[str, Any]:
    """The body after a write, read back within the actor's organization (the write was audited)."""
    patient = registry.patients_for(actor).get(pk=patient_id)
    return _body(patient, services.current_evaluation(patient))


def _open(request: HttpRequest, patient_id: PatientId, purpose: str, *models: type) -> tuple[Actor, Patient]:
    """Check the permission first (no audit row for a refused read), then open and audit."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, *models)
    return actor, registry.open_patient(actor, patient_id, purpose=purpose)


# ---------- The evaluation ----------

@router.get("/patients/{patient_id}/evaluation", response=responses(200, EvaluationOut))
def get_evaluation(request: HttpRequest, patient_id: PatientId) -> Any:
    """The current evaluation (draft or completed; null before one is started), its Thase-Rush stage
    with the reasons, which tests are indicated, and what completing it still needs."""
    _actor, patient = _open(request, patient_id, "evaluation")
    return _body(patient, services.current_evaluation(patient))


@router.put("/patients/{patient_id}/evaluation", response=responses(200, EvaluationOut))
def put_evaluation(request: HttpRequest, patient_id: PatientId, payload: EvaluationIn) -> Any:
    """Save sections of the draft evaluation (starting one if needed)."""
    actor = actor_of(request)
    services.update_evaluation(actor, patient_id, payload.changes())
    return _reread(actor, patient_id)


@router.post("/patients/{patient_id}/evaluation/complete", response=responses(200, EvaluationOut))
def complete_evaluation(request: HttpRequest, patient_id: PatientId) -> Any:
    """Complete (sign off) the draft evaluation: prescribers only. 422 names what is missing
    (`diagnoses`, `vital_signs`)."""
    actor = actor_of(request)
    services.complete_evaluation(actor, patient_id)
    return _reread(actor, patient_id)


# ---------- Vital signs ----------

@router.get("/patients/{patient_id}/vital-signs", response=responses(200, VitalsPage))
def list_vital_signs(request: HttpRequest, patient_id: PatientId, query: Query[PageQuery]) -> Any:
    """Readings, newest first (units as when recording them)."""
    actor, patient = _open(request, patient_id, "vital_signs", PageQuery)
    rows = VitalSigns.objects.for_organization(actor.organization_id).filter(patient=patient)
    return paged(request, rows.order_by("-measured_at", "id"), query)


@router.post("/patients/{patient_id}/vital-signs", response=responses(201, VitalsOut))
def record_vital_signs(request: HttpRequest, patient_id: PatientId, payload: VitalsIn) -> Any:
    """Record one set of readings, all or nothing: an impossible value (a systolic of 20 or 400, a
    weight of 0), half a blood pressure or a time in the future is refused naming the field.
    Units: blood pressure mmHg, heart and respiratory rate /min, oxygen saturation %, temperature
    °C, weight kg, height cm; BMI is derived when weight and height are given together."""
    readings = payload.changes()
    measured_at = readings.pop("measured_at", None)
    context = readings.pop("context", VitalSigns.Context.EVALUATION)
    return Status(201, vital_signs.record_vitals(
        actor_of(request), patient_id, readings, measured_at=measured_at, context=context,
    ))


# ---------- Medications ----------

@router.get("/patients/{patient_id}/medications", response=responses(200, MedicationPage))
def list_medications(request: HttpRequest, patient_id: PatientId, query: Query[MedicationQuery]) -> Any:
    actor, patient = _open(request, patient_id, "medications", MedicationQuery)
    rows = Medication.objects.for_organization(actor.organization_id).filter(patient=patient)
    if not query.include_inactive:
        rows = rows.filter(status=Medication.Status.ACTIVE)
    return paged(request, rows.order_by("status", "name", "id"), query)


@router.post("/patients/{patient_id}/medications", response=responses(201, MedicationOut))
def add_medication(request: HttpRequest, patient_id: PatientId, payload: MedicationIn) -> Any:
    """Add a current medication from the catalogue (by id) or as text; text naming a catalogue entry
    or brand ("Xanax 0.5 mg") is matched, and anything else is kept unclassified."""
    return Status(201, medication_list.add_medication(actor_of(request), patient_id, **payload.model_dump()))


@router.post("/medications/{medication_id}/stop", response=responses(200, MedicationOut))
def stop_medication(request: HttpRequest, medication_id: MedicationId, payload: StopIn) -> Any:
    return medication_list.stop_medication(actor_of(request), medication_id, stopped_on=payload.stopped_on)


@router.get("/medication-catalogue", response=responses(200, MedicationCatalogueOut))
def medication_catalogue_list(request: HttpRequest) -> Any:
    """The medications ketaflow recognises: RxNorm codes [verify], brand names, interacting classes."""
    actor_of(request)
    book = medication_catalogue()
    return {
        "version": book.version, "source": book.source, "classes": book.class_labels,
        "items": [{"id": m.id, "display": m.display, "rxnorm": m.rxnorm, "classes": sorted(m.classes),
                   "brands": list(m.aliases)} for m in book.medications],
    }

