"""Gathering the facts of one esketamine session for its REMS monitoring form.

Reads the session's rows (medications, preparations, dose events, vital signs, scores, side effects)
inside the caller's transaction and hands a plain `RemsFacts` to the pure builder
`ketaflow.clinical.rems.rems_answers`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ketaflow.clinical.dose_events import EventKind
from ketaflow.clinical.medications import medication_catalogue
from ketaflow.clinical.rems import MedicationFact, Reading, RemsFacts
from ketaflow.patients.models import Medication, SexAtBirth, VitalSigns

from .flow_common import rules_of
from .models import DoseEvent, DosePreparation, SessionScore, SessionVitals, SideEffect, TreatmentSession
from .recovery_common import person


def reading_of(vitals: VitalSigns) -> Reading:
    return Reading(
        at=vitals.measured_at,
        systolic_bp=vitals.systolic_bp,
        diastolic_bp=vitals.diastolic_bp,
        heart_rate=vitals.heart_rate,
        respiratory_rate=vitals.respiratory_rate,
        oxygen_saturation=vitals.oxygen_saturation,
    )


def _medications(session: TreatmentSession) -> tuple[MedicationFact, ...]:
    known = {m.id: m for m in medication_catalogue().medications}
    rows = Medication.objects.for_organization(session.organization_id).filter(
        patient_id=session.patient_id, status=Medication.Status.ACTIVE
    )
    facts = []
    for row in rows.order_by("name"):
        definition = known.get(row.catalogue_id) if row.catalogue_id else None
        if definition is None:
            facts.append(MedicationFact(row.name, frozenset(), classified=False))
        else:
            facts.append(MedicationFact(row.name, definition.classes))
    return tuple(facts)


def treatment_day(session: TreatmentSession, zone: ZoneInfo) -> date:
    """The treatment date at the clinic: the first device's day, else the check-in's."""
    at: datetime = session.dosing_started_at or session.checked_in_at
    return at.astimezone(zone).date()


def session_facts(session: TreatmentSession) -> RemsFacts:
    """The facts of `session` (patient, plan and clinic loaded or loadable) for the REMS form."""
    org = session.organization_id
    patient = session.patient
    clinic = session.clinic or session.plan.clinic
    zone = ZoneInfo(clinic.timezone)
    plan = session.plan
    prescriber = person(plan.prescriber.user) if plan.prescriber is not None else person(plan.signed_by)
    events = list(
        DoseEvent.objects.for_organization(org).filter(session=session).order_by("at", "recorded_at")
    )
    first_give = next((e.at for e in events if e.kind == EventKind.GIVE), None)
    lots = (
        DosePreparation.objects.for_organization(org)
        .filter(session=session)
        .order_by("prepared_at")
        .values_list("lot__lot_number", flat=True)
    )
    links = (
        SessionVitals.objects.for_organization(org)
        .filter(session=session)
        .select_related("vitals")
        .order_by("measured_at")
    )
    scores = (
        SessionScore.objects.for_organization(org)
        .filter(session=session)
        .values_list("instrument_id", "value")
    )
    effects = SideEffect.objects.for_organization(org).filter(session=session).values_list("kind", flat=True)
    readiness = session.readiness or None
    sex = patient.sex_at_birth if patient.sex_at_birth != SexAtBirth.UNKNOWN else ""
    return RemsFacts(
        patient_name=patient.legal_name,
        date_of_birth=patient.date_of_birth,
        sex=SexAtBirth(sex).label if sex else "",
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        prescriber_name=prescriber,
        setting="Certified healthcare setting (in clinic)"
        if session.setting == TreatmentSession.Setting.CLINIC
        else "At home",
        zone=clinic.timezone,
        treatment_date=treatment_day(session, zone),
        rules=rules_of(session),
        medications=_medications(session),
        delivered_mg=session.delivered_mg,
        lot_numbers=tuple(dict.fromkeys(lots)),
        first_device_at=first_give or session.dosing_started_at,
        monitoring_ended_at=session.discharged_at,
        ready_to_leave_at=session.ready_to_leave_at,
        ready_before_dosing=None if readiness is None else bool(readiness.get("ready")),
        override_reason=session.override_reason,
        pre_dose=reading_of(session.pre_dose_vitals) if session.pre_dose_vitals is not None else None,
        readings=tuple(
            reading_of(link.vitals) for link in links if link.phase != SessionVitals.Phase.PRE_DOSE
        ),
        moaas=tuple(value for key, value in scores if key == "moaas"),
        cadss6=tuple(value for key, value in scores if key == "cadss6"),
        side_effects=tuple(effects),
    )
