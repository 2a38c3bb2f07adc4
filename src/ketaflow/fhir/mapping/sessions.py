"""FHIR mappers for treatment sessions: the visit, the ketamine or esketamine dose, and rescue medications.

- Encounter/<session pk> from each sessions.TreatmentSession.
- MedicationAdministration/<session pk>-dose once dosing has started. Every dose event saves its
  session (sessions.flow_events.append_event), so status, period, delivered dose and the last pump
  rate follow each event. The drug's lot goes in a note: medication stays a CodeableConcept so the
  administration is found by its RxNorm code.
- MedicationAdministration/<rescue pk> from each sessions.RescueDose, coded in RxNorm when the
  medication catalogue knows the drug.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ketaflow.clinical.dose_events import EventKind
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.fhir import values
from ketaflow.fhir.projection import projects
from ketaflow.sessions.flow_common import INFUSION_ROUTES
from ketaflow.sessions.models import DoseEvent, DosePreparation, RescueDose, TreatmentSession

from .care import ROUTE_SYSTEM, medication_concept, route_concept, route_label

Status = TreatmentSession.Status
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PERFORM_FUNCTION = "http://terminology.hl7.org/CodeSystem/med-admin-perform-function"
REASON_CANCELLED = "http://hl7.org/fhir/StructureDefinition/encounter-reasonCancelled"

ENCOUNTER_STATUS = {
    Status.CHECKED_IN: "arrived",
    Status.DOSING: "in-progress",
    Status.RECOVERY: "in-progress",
    Status.DISCHARGED: "finished",
    Status.SIGNED: "finished",
    Status.CANCELLED: "cancelled",
    Status.BLOCKED: "cancelled",
}
RESCUE_ROUTE_LABELS = {
    "iv": "Intravenous",
    "im": "Intramuscular",
    "po": "By mouth",
    "odt": "Orally disintegrating tablet",
    "in": "Intranasal",
}


def _mg(amount: Decimal) -> str:
    return f"{Decimal(amount).normalize():f}"


def _staff_id(user: Any) -> Any:
    """The StaffMember pk of a user (None for a patient's portal account or no user)."""
    staff = getattr(user, "staff", None) if user is not None else None
    return staff.pk if staff is not None else None


def _participant(staff_id: Any, concept: dict[str, Any]) -> dict[str, Any]:
    return {"type": [concept], "individual": values.ref("Practitioner", staff_id)}


def _encounter_participants(session: TreatmentSession) -> list[dict[str, Any]]:
    """The appointment's booked staff, who checked the patient in, and who discharged them."""
    found = []
    if session.appointment is not None:
        rows = sorted(session.appointment.staff_rows.all(), key=lambda s: (s.role, str(s.staff_id)))
        found += [_participant(s.staff_id, values.concept(text=s.role)) for s in rows]
    admitter = _staff_id(session.checked_in_by)
    if admitter is not None:
        found.append(_participant(admitter, values.concept(values.coding(PARTICIPATION, "ADM", "admitter"))))
    discharger = _staff_id(session.discharged_by)
    if discharger is not None:
        found.append(
            _participant(discharger, values.concept(values.coding(PARTICIPATION, "DIS", "discharger")))
        )
    return found


def _cancelled_because(session: TreatmentSession) -> list[dict[str, Any]]:
    if ENCOUNTER_STATUS[Status(session.status)] != "cancelled" or not session.status_reason:
        return []
    return [{"url": REASON_CANCELLED, "valueCodeableConcept": values.concept(text=session.status_reason)}]


@projects(
    TreatmentSession,
    select_related=("appointment", "checked_in_by__staff", "discharged_by__staff"),
    prefetch_related=("appointment__staff_rows",),
)
def encounter(session: TreatmentSession) -> list[dict[str, Any]]:
    at_home = session.setting == TreatmentSession.Setting.HOME
    route = route_label(session.route)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(session.pk),
        "extension": _cancelled_because(session),
        "status": ENCOUNTER_STATUS[Status(session.status)],
        "class": values.coding(values.ACT_CODE, "HH", "home health")
        if at_home
        else values.coding(values.ACT_CODE, "AMB", "ambulatory"),
        "type": [
            values.concept(values.coding(ROUTE_SYSTEM, session.route, route), text=session.protocol_label)
        ],
        "subject": values.ref("Patient", session.patient_id),
        "participant": _encounter_participants(session),
        "appointment": [values.ref("Appointment", session.appointment_id)] if session.appointment_id else [],
        "period": values.period(session.checked_in_at, session.discharged_at),
        "location": [{"location": values.ref("Location", session.clinic_id)}]
        if session.clinic_id and not at_home
        else [],
        "serviceProvider": values.ref("Organization", session.organization_id),
    }
    return [values.compact(resource)]


def _dose_status(session: TreatmentSession, events: list[DoseEvent]) -> str:
    if session.dosing_ended_at is not None:
        return "completed"
    if session.status in (Status.CANCELLED, Status.BLOCKED):
        return "stopped"
    if events and events[-1].kind == EventKind.PAUSE:
        return "on-hold"
    return "in-progress"


def _effective(session: TreatmentSession) -> dict[str, Any]:
    """A moment for a dose taken at once (at home), else the period from first dose to stop."""
    start, end = session.dosing_started_at, session.dosing_ended_at
    if start is not None and start == end:
        return {"effectiveDateTime": values.instant(start)}
    return {"effectivePeriod": values.period(start, end)}


def _performer(staff_id: Any, function: str) -> dict[str, Any]:
    return {
        "function": values.concept(values.coding(PERFORM_FUNCTION, function, function.capitalize())),
        "actor": values.ref("Practitioner", staff_id),
    }


def _dose_performers(
    session: TreatmentSession, events: list[DoseEvent], preparations: list[DosePreparation]
) -> list[dict[str, Any]]:
    """At home the patient; in the clinic, who recorded the dose events and who checked the preparation."""
    if session.setting == TreatmentSession.Setting.HOME:
        return [{"actor": values.ref("Patient", session.patient_id)}]
    given = _unique(_staff_id(e.recorded_by) for e in events)
    checked = _unique(_staff_id(p.verified_by) for p in preparations)
    return [_performer(s, "performer") for s in given] + [_performer(s, "verifier") for s in checked]


def _unique(ids: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(i for i in ids if i is not None))


def _last_rate(session: TreatmentSession, events: list[DoseEvent]) -> Decimal | None:
    if session.route not in INFUSION_ROUTES:
        return None
    rates = [e.rate_ml_per_h for e in events if e.rate_ml_per_h is not None]
    return rates[-1] if rates else None


def _lots(preparations: list[DosePreparation]) -> str:
    lots = dict.fromkeys(
        f"Lot {p.lot.lot_number} (expires {values.date(p.lot.expires_on)})" for p in preparations
    )
    return "; ".join(lots)


@projects(
    TreatmentSession,
    prefetch_related=(
        "dose_events__recorded_by__staff",
        "preparations__lot",
        "preparations__verified_by__staff",
    ),
)
def session_dose(session: TreatmentSession) -> list[dict[str, Any]]:
    if session.dosing_started_at is None:
        return []
    events = list(session.dose_events.all())
    preparations = list(session.preparations.all())
    delivered = session.delivered_mg
    text = (
        f"{_mg(delivered)} mg given (planned {session.dose_summary})"
        if delivered is not None
        else f"Planned {session.dose_summary}"
    )
    rate = _last_rate(session, events)
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"{session.pk}-dose",
        "status": _dose_status(session, events),
        "medicationCodeableConcept": medication_concept(session.route),
        "subject": values.ref("Patient", session.patient_id),
        "context": values.ref("Encounter", session.pk),
        **_effective(session),
        "performer": _dose_performers(session, events, preparations),
        "request": values.ref("MedicationRequest", f"{session.plan_id}-rx"),
        "note": [{"text": _lots(preparations)}],
        "dosage": {
            "text": text,
            "route": route_concept(session.route, route_label(session.route)),
            "dose": values.quantity(delivered if delivered is not None else session.planned_mg, "mg"),
            "rateQuantity": values.quantity(rate, "mL/h") if rate is not None else None,
        },
    }
    return [values.compact(resource)]


def _rescue_drug(row: RescueDose) -> dict[str, Any]:
    try:
        code = medication_catalogue().get(row.drug_key).rxnorm
    except KeyError:
        code = ""
    return values.concept(values.coding(values.RXNORM, code), text=row.drug_name)


def _rescue_notes(row: RescueDose) -> list[dict[str, str]]:
    notes = []
    if row.lot is not None:
        notes.append({"text": f"Lot {row.lot.lot_number} (expires {values.date(row.lot.expires_on)})"})
    if row.override_reason:
        notes.append({"text": f"Above the formulary's session maximum: {row.override_reason}"})
    return notes


@projects(RescueDose, select_related=("recorded_by__staff", "lot"))
def rescue_dose(row: RescueDose) -> list[dict[str, Any]]:
    route = RESCUE_ROUTE_LABELS.get(row.route, row.route)
    giver = _staff_id(row.recorded_by)
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": str(row.pk),
        "status": "completed",
        "medicationCodeableConcept": _rescue_drug(row),
        "subject": values.ref("Patient", row.patient_id),
        "context": values.ref("Encounter", row.session_id),
        "effectiveDateTime": values.instant(row.given_at),
        "performer": [_performer(giver, "performer")] if giver is not None else [],
        "reasonCode": [values.concept(text=row.reason)],
        "note": _rescue_notes(row),
        "dosage": {
            "text": f"{row.drug_name} {_mg(row.dose_mg)} mg {route.lower()}",
            "route": route_concept(row.route, route),
            "dose": values.quantity(row.dose_mg, "mg"),
        },
    }
    return [values.compact(resource)]
