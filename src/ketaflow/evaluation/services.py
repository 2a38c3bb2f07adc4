"""The clinician's evaluation: start or continue the draft, save its sections, complete it.

Permissions: drafting (eligibility facts, antidepressant trials, labs and ECG, notes) needs
EDIT_CLINICAL, so a nurse or therapist can record what they assess; completing the evaluation is
the clinical sign-off and needs SIGN_PLANS (prescribers, including nurse practitioners who hold the
prescriber role). Reading needs VIEW_CLINICAL and is audited through `open_patient`.

A completed evaluation never changes. Saving a section when the latest evaluation is completed
starts a re-evaluation: a new draft that carries the completed one's answers forward (facts,
trials, labs), so eligibility does not lose what is known while the clinician reviews it.

Every write is one transaction with its audit event, taken with the patient row locked so two
clinicians saving at once cannot start two drafts. Nothing is half-saved: every field of a
request is checked before anything is written, and each error names its field.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.conditions import catalogue as condition_catalogue
from ketaflow.clinical.treatment_resistance import (
    TreatmentResistance,
    Trial,
    TrialsInvalid,
    parse_trials,
    stage_treatment_resistance,
)
from ketaflow.patients.models import Condition, Patient, VitalSigns
from ketaflow.patients.services import _load, open_patient
from ketaflow.validation import FieldError, ValidationFailed

from .facts import clean_facts
from .labs import LAB_FIELDS, Indication, clean_labs, indications
from .models import Evaluation

NOTES_LIMIT = 10_000
SECTIONS: tuple[str, ...] = ("facts", "trials", "ect_failed", *LAB_FIELDS, "notes")
CARRIED_FORWARD: tuple[str, ...] = ("facts", "antidepressant_trials", "ect_failed", "trd_stage", *LAB_FIELDS)


def current_evaluation(patient: Patient) -> Evaluation | None:
    """The patient's latest evaluation, draft or completed, or None. Not audited: the caller reads
    it as part of something it audits (the chart, eligibility)."""
    return (
        Evaluation.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .select_related("recorded_by", "clinician")
        .order_by("-recorded_at")
        .first()
    )


def last_completed(patient: Patient) -> Evaluation | None:
    return (
        Evaluation.objects.for_organization(patient.organization_id)
        .filter(patient=patient, status=Evaluation.Status.COMPLETED)
        .order_by("-completed_at")
        .first()
    )


def open_evaluation(
    actor: Actor, patient_id: uuid.UUID | str, *, purpose: str = "evaluation"
) -> tuple[Patient, Evaluation | None]:
    """Read the patient and their current evaluation, audited as a READ with the purpose."""
    actor.require(Permission.VIEW_CLINICAL)
    patient = open_patient(actor, patient_id, purpose=purpose)
    return patient, current_evaluation(patient)


def trials_of(evaluation: Evaluation | None) -> tuple[Trial, ...]:
    """The stored trials (checked when saved)."""
    if evaluation is None:
        return ()
    return tuple(Trial(**row) for row in evaluation.antidepressant_trials)


def staging_of(evaluation: Evaluation | None) -> TreatmentResistance:
    """The Thase-Rush stage and TRD reasoning for the stored trials and ECT answer."""
    ect = evaluation.ect_failed if evaluation is not None else None
    return stage_treatment_resistance(trials_of(evaluation), ect_failed=ect)


def active_diagnoses(patient: Patient) -> list[Condition]:
    """The problem list without resolved entries, by name. Not audited: the caller's read is."""
    return list(
        Condition.objects.for_organization(patient.organization_id).filter(patient=patient)
        .exclude(status=Condition.Status.RESOLVED).order_by("display")
    )


def lab_indications(
    patient: Patient, evaluation: Evaluation | None, *, diagnoses: Sequence[Condition] | None = None
) -> list[Indication]:
    """Whether an ECG, liver tests and a drug screen are indicated by the facts and problem list
    (`diagnoses`: the `active_diagnoses` a caller already holds)."""
    groups = {c.id: c.group for c in condition_catalogue().conditions}
    active = active_diagnoses(patient) if diagnoses is None else diagnoses
    listed = [(groups.get(c.catalogue_id, ""), c.display, c.icd10_code) for c in active]
    return indications(evaluation.facts if evaluation is not None else {}, listed)


def _draft(actor: Actor, patient: Patient, latest: Evaluation | None) -> Evaluation:
    """The draft to write to: the latest if it is one, else a new one (continuing a completed one)."""
    if latest is not None and latest.status == Evaluation.Status.DRAFT:
        return latest
    evaluation = Evaluation(organization_id=patient.organization_id, patient=patient,
                            recorded_by_id=actor.user_id)
    detail: dict[str, Any] = {}
    if latest is not None:
        for name in CARRIED_FORWARD:
            setattr(evaluation, name, copy.deepcopy(getattr(latest, name)))
        detail = {"continues": str(latest.pk)}
    evaluation.save(force_insert=True)
    record(actor, Action.CREATE, "Evaluation", evaluation.pk, patient_id=patient.pk, detail=detail)
    return evaluation


def start_evaluation(actor: Actor, patient_id: uuid.UUID | str) -> Evaluation:
    """The draft evaluation, started now if there is none (or the latest is completed)."""
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        return _draft(actor, patient, current_evaluation(patient))


def _clean(changes: Mapping[str, Any], patient: Patient, latest: Evaluation | None) -> dict[str, Any]:
    """Model field values for the sections sent, or ValidationFailed with every section's errors."""
    errors: list[FieldError] = [
        FieldError(name, "This is not part of the evaluation.") for name in changes if name not in SECTIONS
    ]
    values: dict[str, Any] = {}
    sections: list[Callable[[], dict[str, Any]]] = []
    if "facts" in changes:
        sections.append(lambda: {"facts": clean_facts(changes["facts"])})
    if "trials" in changes:
        sections.append(lambda: {"antidepressant_trials": [
            trial.as_dict() for trial in _parsed_trials(changes["trials"])
        ]})
    if "ect_failed" in changes:
        sections.append(lambda: {"ect_failed": _yes_no_unknown(changes["ect_failed"])})
    labs = {name: value for name, value in changes.items() if name in LAB_FIELDS}
    if labs:
        today = timezone.localdate(timezone=ZoneInfo(patient.home_clinic.timezone))
        sections.append(lambda: clean_labs(labs, current=latest, today=today, born=patient.date_of_birth))
    if "notes" in changes:
        sections.append(lambda: {"notes": _notes(changes["notes"])})
    for clean in sections:
        try:
            values.update(clean())
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    if errors:
        raise ValidationFailed(errors)
    return values


def _parsed_trials(raw: Any) -> tuple[Trial, ...]:
    try:
        return parse_trials(raw)
    except TrialsInvalid as exc:
        raise ValidationFailed(FieldError(p.field, p.message) for p in exc.problems) from exc


def _yes_no_unknown(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed.single("ect_failed", "Answer yes, no, or leave it not known.")
    return value


def _notes(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed.single("notes", "Enter text.")
    text = (value or "").strip()
    if len(text) > NOTES_LIMIT:
        raise ValidationFailed.single("notes", f"Keep the notes to {NOTES_LIMIT:,} characters.")
    return text


def update_evaluation(actor: Actor, patient_id: uuid.UUID | str, changes: Mapping[str, Any]) -> Evaluation:
    """Save the sections sent (`facts`, `trials`, `ect_failed`, the lab fields, `notes`) to the draft.

    Each section sent replaces what was stored for it; sections not sent stay as they are. The
    trials and ECT answer re-stage treatment resistance (`trd_stage`). Raises ValidationFailed
    naming every bad field (nothing is saved), NotFound or Forbidden. The audit event names the
    fields (and facts) changed, never their values."""
    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        latest = current_evaluation(patient)
        values = _clean(changes, patient, latest)
        evaluation = _draft(actor, patient, latest)
        if "antidepressant_trials" in values or "ect_failed" in values:
            trials = [Trial(**row) for row in values.get("antidepressant_trials",
                                                           evaluation.antidepressant_trials)]
            ect = values.get("ect_failed", evaluation.ect_failed)
            values["trd_stage"] = stage_treatment_resistance(trials, ect_failed=ect).stage
        changed = sorted(name for name, value in values.items() if getattr(evaluation, name) != value)
        if changed:
            detail: dict[str, Any] = {"fields": changed}
            if "facts" in changed:
                before, after = evaluation.facts, values["facts"]
                detail["facts"] = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
            for name in changed:
                setattr(evaluation, name, values[name])
            evaluation.save(update_fields=[*changed, "updated_at"])
            record(actor, Action.UPDATE, "Evaluation", evaluation.pk, patient_id=patient.pk, detail=detail)
    return evaluation


def save_facts(actor: Actor, patient_id: uuid.UUID | str, facts: Mapping[str, Any]) -> Evaluation:
    """Replace the clinician's eligibility facts (unassessed ones left out or None)."""
    return update_evaluation(actor, patient_id, {"facts": dict(facts)})


def save_trials(
    actor: Actor, patient_id: uuid.UUID | str, trials: list[Any], *, ect_failed: bool | None
) -> Evaluation:
    """Replace the antidepressant trials and the ECT answer; re-stages treatment resistance."""
    return update_evaluation(actor, patient_id, {"trials": trials, "ect_failed": ect_failed})


def save_labs(actor: Actor, patient_id: uuid.UUID | str, labs: Mapping[str, Any]) -> Evaluation:
    return update_evaluation(actor, patient_id, dict(labs))


def save_notes(actor: Actor, patient_id: uuid.UUID | str, notes: str) -> Evaluation:
    return update_evaluation(actor, patient_id, {"notes": notes})


def completion_problems(
    patient: Patient, evaluation: Evaluation | None, *, diagnoses: Sequence[Condition] | None = None
) -> list[FieldError]:
    """What stands in the way of completing: a draft to complete, an active diagnosis on the problem
    list (`diagnoses`: the `active_diagnoses` a caller already holds), and a blood-pressure reading
    since the last completed evaluation (the APA consensus asks for a baseline blood pressure)."""
    if evaluation is not None and evaluation.status != Evaluation.Status.DRAFT:
        return [FieldError(None, "There is no evaluation in progress to complete.")]
    problems: list[FieldError] = []
    if evaluation is None:
        problems.append(FieldError(
            None, "There is no evaluation in progress: save any section to start one."
        ))
    if not (active_diagnoses(patient) if diagnoses is None else diagnoses):
        problems.append(FieldError("diagnoses", "Add the diagnosis to the problem list first."))
    readings = VitalSigns.objects.for_organization(patient.organization_id).filter(
        patient=patient, systolic_bp__isnull=False)
    previous = last_completed(patient)
    if previous is not None and previous.completed_at is not None:
        readings = readings.filter(measured_at__gt=previous.completed_at)
    if not readings.exists():
        since = " since the last evaluation" if previous is not None else ""
        problems.append(FieldError("vital_signs", f"Record a baseline blood pressure{since} first."))
    return problems


def complete_evaluation(actor: Actor, patient_id: uuid.UUID | str) -> Evaluation:
    """Sign off the draft evaluation (SIGN_PLANS). Raises ValidationFailed naming what is missing
    (`diagnoses`, `vital_signs`, or no draft), NotFound or Forbidden."""
    actor.require(Permission.SIGN_PLANS)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        evaluation = current_evaluation(patient)
        problems = completion_problems(patient, evaluation)
        if problems or evaluation is None:
            raise ValidationFailed(problems)
        evaluation.status = Evaluation.Status.COMPLETED
        evaluation.completed_at = timezone.now()
        evaluation.clinician_id = actor.user_id
        evaluation.save(update_fields=["status", "completed_at", "clinician", "updated_at"])
        record(actor, Action.UPDATE, "Evaluation", evaluation.pk, patient_id=patient.pk,
               detail={"fields": ["clinician", "completed_at", "status"]})
    return evaluation
