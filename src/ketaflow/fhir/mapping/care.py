"""FHIR mappers for treatment plans, consent and appointments, and the drug and route codes that the
session mappers share.

- CarePlan/<plan pk> and MedicationRequest/<plan pk>-rx from each plans.TreatmentPlan. Changing the
  dose writes a DoseChange row and saves the plan with the new dose (plans.changes.change_dose), so
  the request always carries the current dose.
- Consent/<consent pk> from each consent.Consent.
- Appointment/<appointment pk> from each scheduling.Appointment.

Codes: RxNorm ketamine 6130, esketamine nasal spray 2201623 and Spravato 2201625 (clinical reference
§7, each to verify); SNOMED CT route qualifiers; LOINC 59284-0 for the consent document. References to
rows other than the one mapped carry no display, so renaming one never leaves a stale name here.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.eligibility import ROUTE_LABELS, Route
from ketaflow.consent.models import Consent
from ketaflow.consent.text import document_text, text_hash
from ketaflow.fhir import values
from ketaflow.fhir.projection import projects
from ketaflow.plans.models import Phase, TreatmentPlan
from ketaflow.scheduling.models import Appointment

ROUTE_SYSTEM = f"{values.KETAFLOW}/CodeSystem/treatment-route"
CARE_PLAN_CATEGORY = f"{values.KETAFLOW}/CodeSystem/care-plan-category"
APPOINTMENT_TYPE_SYSTEM = f"{values.KETAFLOW}/CodeSystem/appointment-type"

KETAMINE = values.coding(values.RXNORM, "6130", "ketamine")
ESKETAMINE = (values.coding(values.RXNORM, "2201623"), values.coding(values.RXNORM, "2201625"))

# SNOMED CT route qualifiers for the plan routes and the rescue formulary's routes.
_ORAL = ("26643006", "Oral route")
_NASAL = ("46713006", "Nasal route")
SNOMED_ROUTES: dict[str, tuple[str, str]] = {
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "sublingual_home": ("37839007", "Sublingual route"),
    "esketamine": _NASAL,
    "in": _NASAL,
    "po": _ORAL,
    "odt": _ORAL,
}


def route_label(route: str) -> str:
    """The plan route's label ("IV infusion"), or the route itself when it is not a plan route."""
    try:
        return ROUTE_LABELS[Route(route)]
    except ValueError:
        return route


def route_concept(route: str, text: str) -> dict[str, Any]:
    """The SNOMED CT route of administration (text only for a route without a code)."""
    code, display = SNOMED_ROUTES.get(route, ("", ""))
    return values.concept(values.coding(values.SNOMED, code, display), text=text)


def medication_concept(route: str) -> dict[str, Any]:
    """The RxNorm drug a plan route gives: esketamine for the nasal spray, ketamine otherwise."""
    if route == Route.ESKETAMINE:
        return values.concept(*ESKETAMINE, text="Esketamine nasal spray (Spravato)")
    return values.concept(KETAMINE, text="Ketamine")


def _signed(plan: TreatmentPlan) -> bool:
    return plan.status == TreatmentPlan.Status.SIGNED


def _ended(plan: TreatmentPlan) -> bool:
    return plan.phase in (Phase.COMPLETED, Phase.DISCONTINUED)


def care_plan_status(plan: TreatmentPlan) -> str:
    """Draft until signed, active while open, completed; discontinued (or ended unsigned) is revoked."""
    if plan.phase == Phase.DISCONTINUED or (plan.phase == Phase.COMPLETED and not _signed(plan)):
        return "revoked"
    if plan.phase == Phase.COMPLETED:
        return "completed"
    return "active" if _signed(plan) else "draft"


def request_status(plan: TreatmentPlan) -> str:
    """A plan ended before it was signed cancels its request; a signed one stops or completes it."""
    if _ended(plan) and not _signed(plan):
        return "cancelled"
    if plan.phase == Phase.DISCONTINUED:
        return "stopped"
    if plan.phase == Phase.COMPLETED:
        return "completed"
    return "active" if _signed(plan) else "draft"


def _plan_note(plan: TreatmentPlan) -> str:
    note = (
        f"Phase: {plan.get_phase_display().lower()} since {values.date(plan.phase_started_on)}. "
        f"Protocol {plan.protocol_key} version {plan.protocol_version}."
    )
    if plan.phase == Phase.DISCONTINUED:
        note += f" Discontinued: {plan.ended_reason}"
    return note


@projects(TreatmentPlan)
def care_plan(plan: TreatmentPlan) -> list[dict[str, Any]]:
    label = route_label(plan.route)
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.pk),
        "status": care_plan_status(plan),
        "intent": "plan",
        "category": [
            values.concept(
                values.coding(CARE_PLAN_CATEGORY, "ketamine-treatment", "Ketamine treatment plan"),
                text="Ketamine treatment plan",
            ),
            values.concept(values.coding(ROUTE_SYSTEM, plan.route, label), text=label),
        ],
        "title": plan.protocol_name,
        "description": f"For {plan.condition_display}. Goals: {plan.goals}",
        "subject": values.ref("Patient", plan.patient_id),
        "period": {
            "start": values.date(plan.start_date),
            "end": values.date(plan.phase_started_on) if _ended(plan) else None,
        },
        "created": values.instant(plan.recorded_at),
        "author": values.ref("Practitioner", plan.prescriber_id) if plan.prescriber_id else None,
        "supportingInfo": [values.ref("Consent", plan.consent_id)] if plan.consent_id else [],
        "activity": [{"reference": values.ref("MedicationRequest", f"{plan.pk}-rx")}],
        "note": [{"text": _plan_note(plan)}],
    }
    return [values.compact(resource)]


def _reason(plan: TreatmentPlan) -> dict[str, Any]:
    """The plan's condition from the catalogue, coded in SNOMED CT and ICD-10-CM."""
    try:
        found = catalogue().get(plan.condition)
    except KeyError:
        return values.concept(text=plan.condition)
    return values.concept(
        values.coding(values.SNOMED, found.snomed),
        values.coding(values.ICD10, found.icd10),
        text=found.display,
    )


def _blocks(phase: Any) -> list[str]:
    blocks = phase.get("blocks", []) if isinstance(phase, dict) else []
    return [str(b["label"]) for b in blocks if isinstance(b, dict) and b.get("label")]


def schedule_text(plan: TreatmentPlan) -> str:
    """The plan's session schedule from its protocol copy: induction, then maintenance."""
    phases = plan.protocol.get("phases", {}) if isinstance(plan.protocol, dict) else {}
    parts = []
    if induction := _blocks(phases.get("induction")):
        parts.append(f"Induction: {', then '.join(induction)}")
    if plan.maintenance_every_days:
        parts.append(f"maintenance every {plan.maintenance_every_days} days")
    elif maintenance := _blocks(phases.get("maintenance")):
        parts.append(f"maintenance: {', then '.join(maintenance)}")
    text = "; then ".join(parts)
    return text[:1].upper() + text[1:]


@projects(TreatmentPlan)
def medication_request(plan: TreatmentPlan) -> list[dict[str, Any]]:
    ended_early = plan.phase == Phase.DISCONTINUED
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"{plan.pk}-rx",
        "status": request_status(plan),
        "statusReason": values.concept(text=plan.ended_reason) if ended_early else None,
        "intent": "order",
        "medicationCodeableConcept": medication_concept(plan.route),
        "subject": values.ref("Patient", plan.patient_id),
        "authoredOn": values.instant(plan.signed_at or plan.recorded_at),
        "requester": values.ref("Practitioner", plan.prescriber_id) if plan.prescriber_id else None,
        "reasonCode": [_reason(plan)],
        "note": [{"text": "The dose is a prescriber's override of the protocol."}]
        if plan.dose_overridden
        else [],
        "dosageInstruction": [
            {
                "text": plan.dose_summary,
                "timing": {"code": {"text": schedule_text(plan)}},
                "route": route_concept(plan.route, route_label(plan.route)),
                "doseAndRate": [{"doseQuantity": values.quantity(plan.dose_mg, "mg")}],
            }
        ],
    }
    return [values.compact(resource)]


CONSENT_STATUS = {
    Consent.Status.REQUESTED: "proposed",
    Consent.Status.SIGNED: "active",
    Consent.Status.WITHDRAWN: "inactive",
}


def _consent_status(row: Consent) -> str:
    """A request declined before signing is rejected; a signed consent withdrawn is inactive."""
    if row.status == Consent.Status.WITHDRAWN and row.signed_at is None:
        return "rejected"
    return CONSENT_STATUS[Consent.Status(row.status)]


def signed_document(row: Consent) -> dict[str, Any]:
    """The text signed as an Attachment: its title and, when the stored SHA-256 shows the patient signed
    exactly the template's text, the SHA-1 (base64) and size R4 defines for Attachment.hash."""
    template = row.template
    attachment: dict[str, Any] = {"title": f"{template.title} (version {template.version})"}
    if row.text_hash and row.text_hash == text_hash(template):
        data = document_text(template).encode("utf-8")
        digest = hashlib.sha1(data, usedforsecurity=False).digest()
        attachment |= {
            "contentType": "text/plain; charset=utf-8",
            "size": len(data),
            "hash": base64.b64encode(digest).decode("ascii"),
        }
    return attachment


@projects(Consent, select_related=("template",))
def consent(row: Consent) -> list[dict[str, Any]]:
    template = row.template
    signed = row.signed_at is not None
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": str(row.pk),
        "status": _consent_status(row),
        "scope": values.concept(values.coding(values.CONSENT_SCOPE, "treatment", "Treatment")),
        "category": [
            values.concept(
                values.coding(values.CONSENT_CATEGORY, "59284-0", "Patient Consent"),
                text=f"Consent to {route_label(row.route)}",
            )
        ],
        "patient": values.ref("Patient", row.patient_id),
        "dateTime": values.instant(row.signed_at or row.requested_at),
        "performer": [values.ref("Patient", row.patient_id)],
        "organization": [values.ref("Organization", row.organization_id)],
        "sourceAttachment": signed_document(row) if signed else None,
        "policyRule": values.concept(text=f"{template.title}, version {template.version}"),
        "verification": [{"verified": True, "verificationDate": values.instant(row.countersigned_at)}]
        if row.countersigned_at
        else [],
        "provision": {"type": "permit", "period": values.period(row.signed_at, row.withdrawn_at)}
        if signed
        else None,
    }
    return [values.compact(resource)]


APPOINTMENT_STATUS = {
    Appointment.Status.BOOKED: "booked",
    Appointment.Status.ARRIVED: "arrived",
    Appointment.Status.COMPLETED: "fulfilled",
    Appointment.Status.CANCELLED: "cancelled",
    Appointment.Status.NO_SHOW: "noshow",
}


def _participants(row: Appointment) -> list[dict[str, Any]]:
    """The patient, the booked staff (by role, then id: a stable order) and the clinic."""
    staff = sorted(row.staff_rows.all(), key=lambda s: (s.role, str(s.staff_id)))
    return [
        {"actor": values.ref("Patient", row.patient_id), "required": "required", "status": "accepted"},
        *(
            {
                "type": [values.concept(text=s.role)],
                "actor": values.ref("Practitioner", s.staff_id),
                "required": "required",
                "status": "accepted",
            }
            for s in staff
        ),
        {"actor": values.ref("Location", row.clinic_id), "required": "required", "status": "accepted"},
    ]


@projects(Appointment, select_related=("appointment_type",), prefetch_related=("staff_rows",))
def appointment(row: Appointment) -> list[dict[str, Any]]:
    kind = row.appointment_type
    called_off = row.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(row.pk),
        "status": APPOINTMENT_STATUS[Appointment.Status(row.status)],
        "cancelationReason": values.concept(text=row.status_reason) if called_off else None,
        "serviceType": [
            values.concept(values.coding(APPOINTMENT_TYPE_SYSTEM, kind.key, kind.name), text=kind.name)
        ],
        "start": values.instant(row.starts_at),
        "end": values.instant(row.ends_at),
        "minutesDuration": int((row.ends_at - row.starts_at).total_seconds() // 60),
        "created": values.instant(row.recorded_at),
        "comment": row.notes,
        "patientInstruction": kind.instructions,
        "supportingInformation": [values.ref("CarePlan", row.plan_id)] if row.plan_id else [],
        "participant": _participants(row),
    }
    return [values.compact(resource)]
