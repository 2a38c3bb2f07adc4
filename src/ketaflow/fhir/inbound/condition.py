"""Condition in: a problem-list entry from ketaflow's condition catalogue, written by
`patients.records.add_condition` and `set_condition_status`.

The code must name a catalogue condition by SNOMED CT and/or ICD-10-CM (both, when a SNOMED code is
shared: major depression and treatment-resistant depression). An update (PUT) may change only the
clinical status; the domain has no service to re-code a problem, re-date it or edit its note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from ketaflow.clinical.conditions import ConditionDefinition, catalogue
from ketaflow.fhir import values
from ketaflow.fhir.models import StoredResource
from ketaflow.patients.models import Condition, Patient
from ketaflow.patients.records import add_condition, set_condition_status

from .context import Context
from .parse import codes, fhir_moment, notes
from .refusals import NotStored, invalid, malformed, translated

CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
STATUS = {
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "remission": "remission",
    "inactive": "resolved",
    "resolved": "resolved",
}
PATHS = {
    "catalogue_id": "Condition.code",
    "onset_date": "Condition.onsetDateTime",
    "note": "Condition.note",
    "status": "Condition.clinicalStatus",
}


@dataclass(frozen=True)
class Problem:
    patient: Patient
    definition: ConditionDefinition
    status: str
    onset: date | None
    note: str


def create(ctx: Context, body: dict[str, Any]) -> StoredResource:
    problem = read(ctx, body)
    with transaction.atomic(), translated(PATHS, "Condition"):
        row = add_condition(
            ctx.actor, problem.patient.pk, problem.definition.id, onset_date=problem.onset, note=problem.note
        )
        if problem.status != row.status:
            set_condition_status(ctx.actor, row.pk, problem.status)
    return ctx.stored("Condition", row.pk)


def update(ctx: Context, condition_id: str, body: dict[str, Any]) -> StoredResource:
    row = ctx.own(Condition, condition_id, "Condition")
    problem = read(ctx, body)
    unchanged = {
        "Condition.subject": problem.patient.pk == row.patient_id,
        "Condition.code": problem.definition.id == row.catalogue_id,
        "Condition.onsetDateTime": problem.onset == row.onset_date,
        "Condition.note": problem.note == row.note,
    }
    changed = [path for path, same in unchanged.items() if not same]
    if changed:
        raise invalid(
            "Only clinicalStatus can be changed on a recorded Condition; record a new Condition "
            "for anything else.",
            *changed,
        )
    if problem.status != row.status:
        with translated(PATHS, "Condition"):
            set_condition_status(ctx.actor, row.pk, problem.status)
    return ctx.stored("Condition", row.pk)


def read(ctx: Context, body: dict[str, Any]) -> Problem:
    verification = codes(body.get("verificationStatus"), CONDITION_VERIFICATION)
    if {"refuted", "entered-in-error"} & set(verification):
        raise NotStored.because(
            "A refuted or entered-in-error Condition is not a problem to record.",
            "Condition.verificationStatus",
        )
    patient = ctx.references.patient(body.get("subject"), "Condition.subject")
    clinical = codes(body.get("clinicalStatus"), values.CONDITION_CLINICAL)
    if clinical and clinical[0] not in STATUS:
        raise malformed(f"{clinical[0]} is not a Condition clinical status.", "Condition.clinicalStatus")
    onset = _onset(body, patient)
    return Problem(
        patient, definition_for(body), STATUS[clinical[0]] if clinical else "active", onset, notes(body)
    )


def definition_for(body: dict[str, Any]) -> ConditionDefinition:
    """The catalogue condition the code names; 422 naming Condition.code when there is none."""
    snomed = set(codes(body.get("code"), values.SNOMED))
    icd10 = {code.upper() for code in codes(body.get("code"), values.ICD10)}
    entries = catalogue().conditions
    for matches in (
        lambda c: c.snomed in snomed and c.icd10 in icd10,
        lambda c: c.snomed in snomed,
        lambda c: c.icd10 in icd10,
    ):
        found = next((c for c in entries if matches(c)), None)
        if found is not None:
            return found
    raise NotStored.because(
        "ketaflow's problem list takes conditions from its catalogue; code this one "
        "with a SNOMED CT or ICD-10-CM code the catalogue lists.",
        "Condition.code",
    )


def _onset(body: dict[str, Any], patient: Patient) -> date | None:
    zone = ZoneInfo(patient.home_clinic.timezone)
    if body.get("onsetDateTime"):
        return fhir_moment(body["onsetDateTime"], "Condition.onsetDateTime", zone.key).astimezone(zone).date()
    start = (body.get("onsetPeriod") or {}).get("start")
    if start:
        return fhir_moment(start, "Condition.onsetPeriod.start", zone.key).astimezone(zone).date()
    return None
