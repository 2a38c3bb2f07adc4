"""MedicationStatement in: a current or past medication on the patient's list, written by
`patients.medications.add_medication` and `stop_medication`, so catalogue matching (the classes
eligibility reads) and audit apply as in the app.

An RxNorm code the catalogue lists names the medication; otherwise the text (or a coding's display)
is kept as free text, which the catalogue matches by name where it can. `stopped`/`completed`
statements are added, then stopped on effectivePeriod.end (today when absent). An update (PUT) may
only stop an active medication: the domain has no service to rename, re-dose or restart one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from ketaflow.clinical.medications import medication_catalogue
from ketaflow.fhir import values
from ketaflow.fhir.models import StoredResource
from ketaflow.patients.medications import add_medication, stop_medication
from ketaflow.patients.models import Medication, Patient

from .context import Context
from .parse import codes, fhir_moment, first_text
from .refusals import NotStored, invalid, malformed, translated

WHOLE = "MedicationStatement"
ACTIVE = ("active", "intended", "on-hold", "unknown")
STOPPED = ("stopped", "completed")
PATHS = {
    "catalogue_id": f"{WHOLE}.medicationCodeableConcept",
    "name": f"{WHOLE}.medicationCodeableConcept",
    "dose": f"{WHOLE}.dosage[0].text",
    "source": f"{WHOLE}.informationSource",
    "stopped_on": f"{WHOLE}.effectivePeriod.end",
}


@dataclass(frozen=True)
class Statement:
    patient: Patient
    catalogue_id: str
    name: str  # the text as sent; a coded medication takes the catalogue's name
    dose: str
    source: str
    stopped: bool
    stopped_on: date | None


def create(ctx: Context, body: dict[str, Any]) -> StoredResource:
    statement = read(ctx, body)
    with transaction.atomic(), translated(PATHS, WHOLE):
        row = add_medication(
            ctx.actor,
            statement.patient.pk,
            name=statement.name,
            catalogue_id=statement.catalogue_id,
            dose=statement.dose,
            source=statement.source,
        )
        if statement.stopped:
            stop_medication(ctx.actor, row.pk, stopped_on=statement.stopped_on)
    return ctx.stored(WHOLE, row.pk)


def update(ctx: Context, medication_id: str, body: dict[str, Any]) -> StoredResource:
    row = ctx.own(Medication, medication_id, WHOLE)
    statement = read(ctx, body)
    unchanged = {
        f"{WHOLE}.subject": statement.patient.pk == row.patient_id,
        f"{WHOLE}.medicationCodeableConcept": statement.catalogue_id == row.catalogue_id
        if statement.catalogue_id
        else statement.name == row.name,
        f"{WHOLE}.dosage": statement.dose == row.dose,
        f"{WHOLE}.informationSource": statement.source == row.source,
    }
    was_stopped = row.status == Medication.Status.STOPPED
    if was_stopped:
        unchanged[f"{WHOLE}.status"] = statement.stopped
        unchanged[f"{WHOLE}.effectivePeriod.end"] = statement.stopped_on in (None, row.stopped_on)
    changed = [path for path, same in unchanged.items() if not same]
    if changed:
        raise invalid(
            "Only stopping an active medication can be sent as an update; record a new "
            "MedicationStatement for anything else.",
            *changed,
        )
    if statement.stopped and not was_stopped:
        with translated(PATHS, WHOLE):
            stop_medication(ctx.actor, row.pk, stopped_on=statement.stopped_on)
    return ctx.stored(WHOLE, row.pk)


def read(ctx: Context, body: dict[str, Any]) -> Statement:
    status = body.get("status")
    if status in ("not-taken", "entered-in-error"):
        raise NotStored.because(
            f"A MedicationStatement with status {status} is not a medication taken.", f"{WHOLE}.status"
        )
    if status not in (*ACTIVE, *STOPPED):
        raise malformed(f"{status} is not a MedicationStatement status.", f"{WHOLE}.status")
    if "medicationCodeableConcept" not in body:
        raise invalid(
            "Name the medication with medicationCodeableConcept (an RxNorm code or text); "
            "references to Medication resources are not supported.",
            f"{WHOLE}.medication[x]",
        )
    patient = ctx.references.patient(body.get("subject"), f"{WHOLE}.subject")
    concept = body["medicationCodeableConcept"]
    rxnorm = next(iter(codes(concept, values.RXNORM)), "")
    listed = next((m for m in medication_catalogue().medications if rxnorm and m.rxnorm == rxnorm), None)
    text = str(concept.get("text") or "").strip()
    if listed is None and not (text or first_text(concept)):
        raise invalid(
            "Name the medication: an RxNorm code ketaflow's catalogue lists, or its text.",
            f"{WHOLE}.medicationCodeableConcept",
        )
    return Statement(
        patient=patient,
        catalogue_id=listed.id if listed else "",
        name=text if listed else (text or first_text(concept)),
        dose=_dose(body),
        source=_source(body),
        stopped=status in STOPPED,
        stopped_on=_stopped_on(body, patient) if status in STOPPED else None,
    )


def _source(body: dict[str, Any]) -> str:
    reference = str((body.get("informationSource") or {}).get("reference", ""))
    return Medication.Source.PATIENT if reference.startswith("Patient/") else Medication.Source.CLINICIAN


def _dose(body: dict[str, Any]) -> str:
    dosage = (body.get("dosage") or [{}])[0]
    if dosage.get("text"):
        return str(dosage["text"]).strip()
    quantity = ((dosage.get("doseAndRate") or [{}])[0]).get("doseQuantity") or {}
    if quantity.get("value") is None:
        return ""
    return f"{quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}".strip()


def _stopped_on(body: dict[str, Any], patient: Patient) -> date | None:
    end = (body.get("effectivePeriod") or {}).get("end")
    if not end:
        return None
    zone = ZoneInfo(patient.home_clinic.timezone)
    return fhir_moment(end, f"{WHOLE}.effectivePeriod.end", zone.key).astimezone(zone).date()
