"""Re-opening signed decisions when a fact they relied on changes, in the same transaction.

Every place a fact comes from (medications, vital signs, the problem list, the evaluation, the date
of birth, a submitted intake, a questionnaire response) calls `recheck_decisions` after a save or a
delete, through the receivers `connect()` wires up in `EligibilityConfig.ready()`. A change that
cannot move a fact costs nothing (a GAD-7, a reading without a blood pressure or taken during a
session, a patient save that leaves the date of birth and home clinic alone, an intake marked
reviewed); a patient with no signed decision costs one indexed EXISTS query. A decision whose
relied-on facts all still hold is left alone; otherwise it becomes "re-opened" with the changes
listed, the software's audit entry is written, and the prescriber who signed it gets an in-app
notification (the bell).

A service that writes several fact sources at once (a submitted intake: contact details,
medications, a risk screen) wraps them in `rechecks_deferred()`, so each patient is rechecked once,
against the final state, still inside its transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.eligibility import Route
from ketaflow.evaluation.models import Evaluation
from ketaflow.intake.models import Intake
from ketaflow.measurement.models import Notification, QuestionnaireResponse
from ketaflow.patients.models import Condition, Medication, Patient, VitalSigns

from .decisions import assess_patient, eligibility_link
from .facts import SCREENS, MedicationEntry
from .models import EligibilityDecision

# The software re-opens decisions as `system:recheck` (AuditEvent.via holds at most 10 characters).
VIA = "recheck"


def recheck_decisions(patient: Patient) -> list[EligibilityDecision]:
    """Re-open each signed decision of `patient` whose relied-on facts changed; returns those re-opened."""
    signed = EligibilityDecision.objects.for_organization(patient.organization_id).filter(
        patient_id=patient.pk, status=EligibilityDecision.State.SIGNED
    )
    reopened: list[EligibilityDecision] = []
    with transaction.atomic():
        decisions = list(signed.select_for_update())
        if not decisions:
            return []
        now = timezone.now()
        found = assess_patient(patient, now=now)
        current = found.gathered.facts.as_dict()
        evidence = found.gathered.evidence()
        actor = Actor.system(patient.organization_id, VIA)
        for decision in decisions:
            changes = [
                change_entry(name, decision.facts[name], current.get(name), decision.evidence, evidence)
                for name in sorted(decision.facts)
                if decision.facts[name] != current.get(name)
            ]
            if not changes:
                continue
            decision.status = EligibilityDecision.State.REOPENED
            decision.reopened_at = now
            decision.reopen_changes = changes
            decision.save(update_fields=["status", "reopened_at", "reopen_changes"])
            record(actor, Action.UPDATE, "EligibilityDecision", decision.pk, patient_id=patient.pk, detail={
                "status": "reopened", "facts": [c["fact"] for c in changes],
            })
            _notify(decision, patient)
            reopened.append(decision)
    return reopened


def change_entry(
    name: str, before: Any, after: Any, old_evidence: dict[str, Any], new_evidence: dict[str, Any]
) -> dict[str, Any]:
    """One change as stored: the fact, its values before and after, and for the medication facts the
    medicines added or stopped ("+ phenelzine (MAOI)")."""
    entry: dict[str, Any] = {"fact": name, "before": before, "after": after, "note": ""}
    if name in ("medication_classes", "unclassified_medications"):
        entry["note"] = medication_note(
            old_evidence.get("medications", []), new_evidence.get("medications", [])
        )
    return entry


def medication_note(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    def entries(rows: list[dict[str, Any]]) -> dict[str, MedicationEntry]:
        return {
            row["name"]: MedicationEntry(
                row["name"], tuple(row.get("classes", [])), bool(row.get("classified"))
            )
            for row in rows
        }

    old, new = entries(before), entries(after)
    added = [f"+ {new[name].label}" for name in sorted(set(new) - set(old))]
    stopped = [f"\u2212 {old[name].label}" for name in sorted(set(old) - set(new))]
    return ", ".join(added + stopped)


def _notify(decision: EligibilityDecision, patient: Patient) -> None:
    """An in-app notice for the prescriber who signed (titled by MRN, like safety alerts)."""
    Notification.objects.create(
        organization_id=patient.organization_id,
        recipient_id=decision.signed_by_id,
        patient=patient,
        title=f"Eligibility re-opened: {Route(decision.route).label} for {patient.mrn}",
        link=eligibility_link(patient),
    )


# Receivers --------------------------------------------------------------------------------------

# The patients whose recheck waits for the end of a `rechecks_deferred()` block (None: not deferring).
_deferred: ContextVar[dict[uuid.UUID, uuid.UUID] | None] = ContextVar("eligibility_deferred", default=None)

# The fields of a patient and of an intake that facts.py reads; a save naming none of them changes no fact.
PATIENT_FIELDS = frozenset({"date_of_birth", "home_clinic", "home_clinic_id"})
INTAKE_FIELDS = frozenset({"status", "answers", "submitted_at"})


@contextmanager
def rechecks_deferred() -> Iterator[None]:
    """Collect the patients whose fact sources change inside the block and recheck each once on the
    way out (call it inside the caller's transaction). Nothing is rechecked when the block raises:
    the transaction rolls back. A nested block leaves the work to the outer one."""
    if _deferred.get() is not None:
        yield
        return
    pending: dict[uuid.UUID, uuid.UUID] = {}
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    for patient_id, organization_id in pending.items():
        _recheck_patient_id(organization_id, patient_id)


def _recheck_patient_id(organization_id: uuid.UUID, patient_id: uuid.UUID | None) -> None:
    if patient_id is None:
        return
    pending = _deferred.get()
    if pending is not None:
        pending[patient_id] = organization_id
        return
    has_signed = EligibilityDecision.objects.for_organization(organization_id).filter(
        patient_id=patient_id, status=EligibilityDecision.State.SIGNED
    ).exists()
    if not has_signed:
        return
    scope = Patient.objects.for_organization(organization_id).select_related("home_clinic")
    recheck_decisions(scope.get(pk=patient_id))


def _answers_no_fact(instance: Any, *, whole_row: bool) -> bool:
    """True when this row cannot answer a fact (see facts.py): a questionnaire other than the risk
    screens; and, created or deleted whole (`whole_row`), a reading without both blood pressures or
    taken during a treatment session. An edited reading is always rechecked (its old values are gone)."""
    if isinstance(instance, QuestionnaireResponse):
        return instance.instrument_id not in SCREENS
    if isinstance(instance, VitalSigns) and whole_row:
        return (
            instance.context == VitalSigns.Context.SESSION
            or instance.systolic_bp is None
            or instance.diastolic_bp is None
        )
    return False


def _chart_record_saved(
    sender: type[Model], instance: Any, raw: bool = False, created: bool = False, **kwargs: Any
) -> None:
    if raw or _answers_no_fact(instance, whole_row=created):
        return
    _recheck_patient_id(instance.organization_id, instance.patient_id)


def _chart_record_deleted(sender: type[Model], instance: Any, **kwargs: Any) -> None:
    if _answers_no_fact(instance, whole_row=True):
        return
    _recheck_patient_id(instance.organization_id, instance.patient_id)


def _only_other_fields(update_fields: Any, read: frozenset[str]) -> bool:
    return update_fields is not None and not read & set(update_fields)


def _intake_changed(
    sender: type[Model], instance: Intake, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if raw or instance.status != Intake.Status.SUBMITTED or _only_other_fields(update_fields, INTAKE_FIELDS):
        return
    _recheck_patient_id(instance.organization_id, instance.patient_id)


def _patient_changed(
    sender: type[Model], instance: Patient, raw: bool = False, created: bool = False,
    update_fields: Any = None, **kwargs: Any,
) -> None:
    if raw or created or _only_other_fields(update_fields, PATIENT_FIELDS):
        return
    _recheck_patient_id(instance.organization_id, instance.pk)


CHART_SOURCES: tuple[type[Model], ...] = (
    Medication, VitalSigns, Condition, Evaluation, QuestionnaireResponse,
)


def connect() -> None:
    """Wire the receivers (called once from EligibilityConfig.ready())."""
    for model in CHART_SOURCES:
        post_save.connect(
            _chart_record_saved, sender=model, dispatch_uid=f"eligibility-save-{model.__name__}"
        )
        post_delete.connect(
            _chart_record_deleted, sender=model, dispatch_uid=f"eligibility-delete-{model.__name__}"
        )
    post_save.connect(_intake_changed, sender=Intake, dispatch_uid="eligibility-save-Intake")
    post_delete.connect(_intake_changed, sender=Intake, dispatch_uid="eligibility-delete-Intake")
    post_save.connect(_patient_changed, sender=Patient, dispatch_uid="eligibility-save-Patient")
