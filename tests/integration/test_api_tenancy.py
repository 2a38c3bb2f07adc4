"""Every operation in the OpenAPI schema, aimed at another organization's records, finds nothing.

The matrix is built from `api.get_openapi_schema()`, so a new endpoint is covered the day it is
added; a path parameter, required query parameter or request body the tables below do not know
fails the test until someone says which of the stranger's objects it takes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import ApiToken, StaffMember, StaffRole, User
from ketaflow.accounts.roles import Role
from ketaflow.api.app import api
from ketaflow.audit.models import AuditChainHead, AuditEvent, chain_key
from ketaflow.billing.models import (
    BillingSettings,
    Estimate,
    Invoice,
    InvoiceLine,
    Membership,
    Payment,
    PriceItem,
)
from ketaflow.clinical.discharge import ALDRETE_ITEMS
from ketaflow.clinical.protocols import builtin_protocols
from ketaflow.clinics.models import Clinic, OpeningHours, Organization, Room
from ketaflow.consent import services as consent_services
from ketaflow.consent import signing
from ketaflow.consent.models import Consent, ConsentTemplate
from ketaflow.consent.template_versions import current_template
from ketaflow.eligibility.models import EligibilityDecision, EligibilitySettings
from ketaflow.enquiries.models import Lead
from ketaflow.evaluation.models import Evaluation
from ketaflow.evaluation.services import save_notes
from ketaflow.intake.models import Intake
from ketaflow.ledger.models import Balance, Count, CountLine, Entry, Lot, Product, StorageLocation
from ketaflow.measurement import responses
from ketaflow.measurement.models import (
    ClinicInstrument,
    Invitation,
    MeasureDue,
    MeasurementPlan,
    MeasurementSettings,
    Notification,
    QuestionnaireResponse,
    Reminder,
    SafetyAlert,
    ScoreObservation,
    Treatment,
)
from ketaflow.patients.medications import add_medication
from ketaflow.patients.models import Allergy, Condition, Medication, Patient, PatientAlert, VitalSigns
from ketaflow.patients.vital_signs import record_vitals
from ketaflow.plans.models import ClinicProtocol, DoseChange, PhaseChange, ReviewPoint, TreatmentPlan
from ketaflow.scheduling.models import (
    Appointment,
    AppointmentStaff,
    AppointmentType,
    CalendarFeed,
    ClosedDay,
    Occupancy,
    SchedulingSettings,
    StaffHours,
    WaitlistEntry,
)
from ketaflow.sessions.models import (
    DoseEvent,
    DosePreparation,
    NoteAmendment,
    RemsEnrolment,
    RemsForm,
    RescueDose,
    SessionScore,
    SessionVitals,
    SideEffect,
    TreatmentSession,
    VitalAlert,
)
from tests.conftest import Practice
from tests.factories import (
    AlertFactory,
    AllergyFactory,
    ClinicFactory,
    ConditionFactory,
    PatientFactory,
    RoomFactory,
    StaffFactory,
)
from tests.integration.api_session_objects import SessionObjects
from tests.integration.api_treatment_objects import TreatmentObjects, treatment_objects
from tests.integration.consent_factories import DEVICE, signing_for
from tests.integration.enquiries_factories import CLEAR_ANSWERS, LeadFactory
from tests.integration.plans_factories import weigh
from tests.integration.sessions_factories import CHECKLIST, NORMAL_VITALS
from tests.integration.test_api_support import API_TEST_MARKS, Api, api_as

pytestmark = API_TEST_MARKS
NOT_FOUND = {"errors": [{"field": None, "message": "Not found."}]}
LICENSED_SCALE = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "examples" / "ybocs-template.json").read_text()
)
MEASUREMENT_MODELS = (
    ClinicInstrument,
    MeasurementPlan,
    Treatment,
    Invitation,
    QuestionnaireResponse,
    ScoreObservation,
    SafetyAlert,
    Notification,
    MeasureDue,
    Reminder,
)
EVALUATION_MODELS = (
    Lead,
    Intake,
    Evaluation,
    Medication,
    VitalSigns,
    EligibilityDecision,
    EligibilitySettings,
    Consent,
    ConsentTemplate,
)
TREATMENT_MODELS = (
    ClinicProtocol,
    TreatmentPlan,
    DoseChange,
    PhaseChange,
    ReviewPoint,
    AppointmentType,
    StaffHours,
    ClosedDay,
    Appointment,
    AppointmentStaff,
    Occupancy,
    WaitlistEntry,
    CalendarFeed,
    SchedulingSettings,
    BillingSettings,
    PriceItem,
    Estimate,
    Membership,
    Invoice,
    InvoiceLine,
    Payment,
)
SESSION_MODELS = (
    TreatmentSession, DosePreparation, DoseEvent, SessionVitals, VitalAlert, SideEffect, RescueDose,
    SessionScore, NoteAmendment, RemsEnrolment, RemsForm, Product, StorageLocation, Lot, Balance, Entry,
    Count, CountLine,
)
IV_DEFINITION = dict(next(p for p in builtin_protocols() if p.key == "iv-depression").definition)


@dataclass
class Objects:
    """One of each kind of record a path parameter can name, all in one organization."""

    org: Organization
    patient: Patient
    condition: Condition
    allergy: Allergy
    alert: PatientAlert
    staff: StaffMember
    clinic: Clinic
    room: Room
    instrument: ClinicInstrument
    response: QuestionnaireResponse
    safety_alert: SafetyAlert
    lead: Lead
    intake: Intake
    medication: Medication
    consent: Consent
    consent_template: ConsentTemplate
    practice: Practice
    label: str

    @cached_property
    def treatment(self) -> TreatmentObjects:
        """Plans, appointments and invoices (a signed plan, a second patient's): made on first use,
        so the control test builds them only for the operations that need them."""
        return treatment_objects(self.practice, self.clinic, self.label)

    @cached_property
    def sessions(self) -> SessionObjects:
        """A session at each stage, a REMS form and the ledger's stock: made on first use."""
        return SessionObjects(self.practice, self.clinic, self.label)


PATH_PARAMS: dict[str, Callable[[Objects], Any]] = {
    "session_id": lambda o: o.sessions.session.pk,
    "preparation_id": lambda o: o.sessions.preparation.pk,
    "vital_alert_id": lambda o: o.sessions.vital_alert.pk,
    "form_id": lambda o: o.sessions.form.pk,
    "lot_id": lambda o: o.sessions.lot.pk,
    "count_id": lambda o: o.sessions.count.pk,
    "patient_id": lambda o: o.patient.pk,
    "condition_id": lambda o: o.condition.pk,
    "allergy_id": lambda o: o.allergy.pk,
    "alert_id": lambda o: o.alert.pk,
    "staff_id": lambda o: o.staff.pk,
    "clinic_id": lambda o: o.clinic.pk,
    "room_id": lambda o: o.room.pk,
    "instrument_id": lambda o: o.instrument.instrument_id,
    "response_id": lambda o: o.response.pk,
    "safety_alert_id": lambda o: o.safety_alert.pk,
    "lead_id": lambda o: o.lead.pk,
    "intake_id": lambda o: o.intake.pk,
    "medication_id": lambda o: o.medication.pk,
    "consent_id": lambda o: o.consent.pk,
    "consent_template_id": lambda o: o.consent_template.pk,
    "route": lambda o: "iv",  # not an id: the patient in the path is what tenancy protects
    "key": lambda o: o.treatment.protocol_key,  # clinic-only: shipped keys are everyone's
    "plan_id": lambda o: o.treatment.plan.pk,
    "review_point_id": lambda o: o.treatment.review_point.pk,
    "appointment_id": lambda o: o.treatment.appointment.pk,
    "invoice_id": lambda o: o.treatment.invoice.pk,
}
QUERY_PARAMS: dict[str, Callable[[Objects], Any]] = {
    "q": lambda o: o.patient.legal_family_name,
    "name": lambda o: o.patient.legal_family_name,
    "legal_given_name": lambda o: o.patient.legal_given_name,
    "legal_family_name": lambda o: o.patient.legal_family_name,
    "date_of_birth": lambda o: o.patient.date_of_birth,
    "mrn": lambda o: o.patient.mrn,
    "phone": lambda o: o.patient.phone_mobile,
    "phone_mobile": lambda o: o.patient.phone_mobile,
    "clinic_id": lambda o: o.clinic.pk,
    "username": lambda o: o.staff.user.username,
    "include_archived": lambda o: "true",
    "include_inactive": lambda o: "true",
    "start": lambda o: (timezone.now() - timedelta(days=3)).isoformat(),
    "end": lambda o: (timezone.now() + timedelta(days=10)).isoformat(),
    "type": lambda o: "consultation",
    "date": lambda o: (timezone.localdate() + timedelta(days=4)).isoformat(),
    "plan_id": lambda o: o.treatment.plan.pk,
}
BODIES: dict[tuple[str, str], Callable[[Objects], dict[str, Any]]] = {
    ("post", "/patients"): lambda o: {
        "legal_given_name": "Matrix",
        "legal_family_name": "Person",
        "date_of_birth": "1980-02-03",
        "home_clinic_id": str(o.clinic.pk),
        "confirm_not_duplicate": True,
    },
    ("patch", "/patients/{patient_id}"): lambda o: {"preferred_name": "Hijacked", "city": "Nowhere"},
    ("post", "/patients/{patient_id}/archive"): lambda o: {"reason": "Hijacked"},
    ("post", "/patients/{patient_id}/conditions"): lambda o: {"catalogue_id": "mdd"},
    ("patch", "/conditions/{condition_id}"): lambda o: {"status": "resolved"},
    ("post", "/patients/{patient_id}/allergies"): lambda o: {"substance": "Hijacked"},
    ("post", "/patients/{patient_id}/alerts"): lambda o: {"category": "safety", "message": "Hijacked"},
    ("post", "/staff"): lambda o: {
        "username": f"matrix.{uuid.uuid4().hex[:8]}",
        "first_name": "Matrix",
        "last_name": "Member",
        "email": "matrix.member@example.test",
        "roles": ["nurse"],
        "clinic_ids": [str(o.clinic.pk)],
    },
    ("patch", "/staff/{staff_id}"): lambda o: {"first_name": "Hijacked", "roles": ["owner"]},
    ("post", "/clinics"): lambda o: {"name": f"Matrix clinic {uuid.uuid4().hex[:6]}"},
    ("patch", "/clinics/{clinic_id}"): lambda o: {"name": "Hijacked", "is_active": False},
    ("put", "/clinics/{clinic_id}/opening-hours"): lambda o: {
        "hours": [{"weekday": 0, "opens": "00:00", "closes": "00:01"}]
    },
    ("post", "/clinics/{clinic_id}/rooms"): lambda o: {"name": "Hijacked"},
    ("patch", "/clinics/{clinic_id}/rooms/{room_id}"): lambda o: {"name": "Hijacked", "is_active": False},
    ("post", "/patients/{patient_id}/responses"): lambda o: {
        "instrument_id": "phq9",
        "answers": [0, 1, 0, 1, 0, 0, 1, 0, 2],
    },
    ("post", "/responses/{response_id}/entered-in-error"): lambda o: {"reason": "Hijacked"},
    ("put", "/patients/{patient_id}/measurement-plan"): lambda o: {
        "stage": "induction",
        "instruments": ["phq9"],
    },
    ("post", "/patients/{patient_id}/treatments"): lambda o: {
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "description": "Hijacked",
    },
    ("post", "/patients/{patient_id}/questionnaire-links"): lambda o: {
        "instrument_ids": ["phq9"],
        "channel": "email",
    },
    ("post", "/safety-alerts/{safety_alert_id}/acknowledge"): lambda o: {
        "action": "known_reviewed",
        "note": "Hijacked",
    },
    ("patch", "/leads/{lead_id}"): lambda o: {"status": "closed", "closed_reason": "Hijacked", "notes": "x"},
    ("post", "/leads/{lead_id}/convert"): lambda o: {
        "legal_given_name": "Matrix",
        "legal_family_name": "Lead",
        "date_of_birth": "1980-02-03",
        "home_clinic_id": str(o.clinic.pk),
        "confirm_not_duplicate": True,
    },
    ("post", "/public/self-screen"): lambda o: {"organization": o.org.slug, "answers": CLEAR_ANSWERS},
    ("post", "/patients/{patient_id}/intakes"): lambda o: {"channel": "in_person"},
    ("put", "/patients/{patient_id}/evaluation"): lambda o: {"notes": "Hijacked"},
    ("post", "/patients/{patient_id}/vital-signs"): lambda o: {"systolic_bp": 120, "diastolic_bp": 80},
    ("post", "/patients/{patient_id}/medications"): lambda o: {"catalogue_id": "sertraline"},
    ("post", "/medications/{medication_id}/stop"): lambda o: {},
    ("post", "/eligibility/assess"): lambda o: {"facts": {"age_years": 40}},
    ("post", "/patients/{patient_id}/eligibility/{route}/decisions"): lambda o: {
        "decision": "decline",
        "override_reason": "Hijacked",
    },
    ("post", "/consent-templates"): lambda o: {
        "route": "im",
        "title": "Matrix IM consent",
        "body": f"Matrix wording {uuid.uuid4().hex}",
        "note": "Matrix",
    },
    ("post", "/patients/{patient_id}/consents"): lambda o: {"route": "esketamine"},
    ("post", "/consents/{consent_id}/withdraw"): lambda o: {"reason": "Hijacked"},
    ("post", "/protocols/{key}/versions"): lambda o: {
        "definition": IV_DEFINITION | {"key": o.treatment.protocol_key},
        "change_note": "Hijacked",
    },
    # The organization's own protocol key: another organization's is not in our library (422).
    ("post", "/dose-calculations"): lambda o: {"protocol_key": o.treatment.protocol_key, "weight_kg": 80},
    ("post", "/patients/{patient_id}/plans"): lambda o: {
        "protocol_key": "iv-depression",
        "clinic_id": str(o.clinic.pk),
        "condition": "trd",
        "start_date": "2026-01-05",
        "goals": "Hijacked",
    },
    ("post", "/plans/{plan_id}/dose"): lambda o: {
        "mg_per_kg": 0.5,
        "reason": "Hijacked",
        "effective_on": "2026-01-05",
    },
    ("post", "/plans/{plan_id}/phase"): lambda o: {"to_phase": "completed", "effective_on": "2026-01-05"},
    ("post", "/plans/{plan_id}/review-points/{review_point_id}/resolve"): lambda o: {
        "resolution": "Hijacked"
    },
    ("post", "/patients/{patient_id}/appointments"): lambda o: {
        "clinic_id": str(o.clinic.pk),
        "type": "consultation",
        "starts_at": o.treatment.at(4, 10).isoformat(),
    },
    ("post", "/appointments/{appointment_id}/cancel"): lambda o: {"reason": "Hijacked"},
    ("post", "/appointments/{appointment_id}/no-show"): lambda o: {"reason": "Hijacked"},
    ("post", "/appointments/{appointment_id}/reschedule"): lambda o: {
        "starts_at": o.treatment.at(3, 11).isoformat(),
        "reason": "Hijacked",
    },
    ("post", "/plans/{plan_id}/series"): lambda o: {"preview": True},
    ("post", "/plans/{plan_id}/estimates"): lambda o: {},
    ("post", "/patients/{patient_id}/invoices"): lambda o: {"lines": [{"price_code": "consultation"}]},
    ("post", "/invoices/{invoice_id}/void"): lambda o: {"reason": "Hijacked"},
    ("post", "/invoices/{invoice_id}/payments"): lambda o: {"method": "card", "amount_cents": 100},
    ("post", "/sessions"): lambda o: {"appointment_id": str(o.sessions.visit.pk)},
    ("post", "/sessions/{session_id}/checklist"): lambda o: {**CHECKLIST, "pre_dose": dict(NORMAL_VITALS)},
    ("post", "/sessions/{session_id}/override"): lambda o: {"reason": "Hijacked"},
    ("post", "/sessions/{session_id}/preparations"): lambda o: o.sessions.preparation_body(),
    ("post", "/sessions/{session_id}/events"): lambda o: {"kind": "pause", "note": "Hijacked"},
    ("post", "/sessions/{session_id}/vitals"): lambda o: dict(NORMAL_VITALS),
    ("post", "/sessions/{session_id}/vitals/batch"): lambda o: {"readings": [
        {**NORMAL_VITALS, "measured_at": (timezone.now() - timedelta(minutes=1)).isoformat()}]},
    ("post", "/sessions/{session_id}/alerts/{vital_alert_id}/response"): lambda o: {
        "response": "call_prescriber", "note": "Hijacked"},
    ("post", "/sessions/{session_id}/side-effects"): lambda o: {"kind": "nausea", "severity": "mild"},
    ("post", "/sessions/{session_id}/rescue-doses"): lambda o: {
        "drug_key": "ondansetron", "dose_mg": 4, "route": "iv", "reason": "Hijacked"},
    ("post", "/sessions/{session_id}/scores"): lambda o: {"instrument_id": "moaas", "answers": [5]},
    ("post", "/sessions/{session_id}/aldrete"): lambda o: dict.fromkeys(ALDRETE_ITEMS, 2),
    ("post", "/sessions/{session_id}/discharge"): lambda o: {
        "escort_handover_name": "Hijacked", "override_reason": "Hijacked"},
    ("post", "/sessions/{session_id}/note/sign"): lambda o: {},
    ("post", "/sessions/{session_id}/note/amendments"): lambda o: {"note": "Hijacked", "reason": "Hijacked"},
    ("post", "/rems/forms/{form_id}/submit"): lambda o: {"confirmation": "Hijacked"},
    ("post", "/patients/{patient_id}/rems-enrolment"): lambda o: {
        "enrolled_on": str(timezone.localdate() - timedelta(days=1))},  # past in every clinic's day
    ("post", "/ledger/receipts"): lambda o: {
        "product_id": str(o.sessions.stock[0].pk), "lot_number": f"{o.label}-MATRIX",
        "expires_on": str(timezone.localdate() + timedelta(days=365)), "supplier": "Hijacked",
        "invoice_number": "M-1", "quantity_mg": 100, "location_id": str(o.sessions.safe.pk)},
    ("post", "/ledger/waste"): lambda o: {
        "lot_id": str(o.sessions.lot.pk), "location_id": str(o.sessions.safe.pk), "quantity_mg": 1,
        "reason": "Hijacked", "witness_id": str(o.sessions.witness.pk)},
    ("post", "/ledger/transfers"): lambda o: {
        "lot_id": str(o.sessions.lot.pk), "from_location_id": str(o.sessions.safe.pk),
        "to_location_id": str(o.sessions.cart.pk), "quantity_mg": 1},
    ("post", "/ledger/counts"): lambda o: {
        "location_id": str(o.sessions.safe.pk), "counted": o.sessions.on_hand()},
    ("post", "/ledger/counts/{count_id}/reconcile"): lambda o: {
        "resolutions": {str(o.sessions.lot.pk): "Hijacked"}, "witness_id": str(o.sessions.witness.pk)},
}
# Operations whose control call needs the record in a particular state first.
PRECONDITIONS: dict[str, Callable[[Objects], None]] = {
    "record_session_checklist": lambda o: o.sessions.at("checked_in"),
    "override_session_readiness": lambda o: o.sessions.at("not_ready"),
    "prepare_session_dose": lambda o: o.sessions.at("ready"),
    "verify_session_preparation": lambda o: o.sessions.at("prepared"),
    "score_session_aldrete": lambda o: o.sessions.at("recovery"),
    "discharge_session": lambda o: o.sessions.at("recovery"),
    "sign_session_note": lambda o: o.sessions.at("discharged"),
    "amend_session_note": lambda o: o.sessions.at("signed"),
    "restore_patient": lambda o: Patient.objects.filter(pk=o.patient.pk).update(
        archived_at=timezone.now(), archived_reason="Registered twice"
    ),
    "mark_no_known_allergies": lambda o: Allergy.objects.filter(patient=o.patient).update(is_active=False),
    "complete_evaluation": lambda o: (
        save_notes(Actor.system(o.org.pk), o.patient.pk, "Ready"),
        record_vitals(Actor.system(o.org.pk), o.patient.pk, {"systolic_bp": 120, "diastolic_bp": 80}),
    ),
    "create_patient_plan": lambda o: weigh(o.patient),  # a dose needs a weight; no open plan yet
    "sign_plan": lambda o: TreatmentPlan.objects.filter(pk=o.treatment.plan.pk).update(
        status=TreatmentPlan.Status.DRAFT, signed_by=None, signed_at=None
    ),
    "issue_invoice": lambda o: setattr(o.treatment, "invoice", o.treatment.draft_invoice()),
}


def objects_in(
    practice: Practice, clinic: Clinic | None = None, patient: Patient | None = None, label: str = ""
) -> Objects:
    org = practice.org
    clinic = clinic or ClinicFactory(organization=org)
    patient = patient or PatientFactory(home_clinic=clinic)
    scale = {**LICENSED_SCALE, "id": f"scale_{uuid.uuid4().hex[:10]}", "name": f"{label} licensed scale"}
    instrument = ClinicInstrument.objects.create(
        organization=org, instrument_id=scale["id"], version=scale["version"], document=scale
    )
    recorded = responses.record_response(
        Actor.system(org.pk), patient.pk, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, 1]
    )
    assert recorded.alert is not None
    system = Actor.system(org.pk)
    requested = consent_services.request_consent(system, patient.pk, "iv")
    return Objects(
        org=org,
        patient=patient,
        clinic=clinic,
        condition=ConditionFactory(patient=patient),
        allergy=AllergyFactory(patient=patient, substance=f"{label}Latex"),
        alert=AlertFactory(patient=patient, category="safety", message=f"{label} falls risk"),
        staff=StaffFactory(organization=org, roles=[Role.NURSE]),
        room=RoomFactory(clinic=clinic, name=f"{label} chair"),
        instrument=instrument,
        response=recorded.response,
        safety_alert=recorded.alert,
        lead=LeadFactory(organization=org, name=f"{label} Leadperson"),
        intake=Intake.objects.create(
            organization=org, patient=patient, status="submitted", submitted_at=timezone.now(),
            channel="in_person", answers={"medical": {"glaucoma": "yes"}},
        ),
        medication=add_medication(system, patient.pk, catalogue_id="lithium"),
        consent=signing.sign_on_tablet(system, requested.pk, signing_for(requested), DEVICE),
        consent_template=current_template(org.pk, "iv", "clinic"),
        practice=practice,
        label=label,
    )


@pytest.fixture
def theirs(stranger) -> Objects:
    """The stranger's records, with recognisable text and some audit history of their own."""
    Clinic.objects.filter(pk=stranger.clinic.pk).update(name="Elsewhere Clinic")
    stranger.clinic.refresh_from_db()
    objects = objects_in(stranger, stranger.clinic, stranger.patient, label="Elsewhere")
    assert objects.treatment.plan.status == TreatmentPlan.Status.SIGNED  # opening hours, plan, invoice...
    objects.staff = stranger.staff[Role.OWNER]
    TOTPDevice.objects.create(user=objects.staff.user, name="phone", confirmed=True)
    their_owner = api_as(objects.staff)
    assert their_owner.get(f"/patients/{stranger.patient.pk}").status_code == 200
    assert their_owner.get("/patients").status_code == 200
    return objects


@pytest.fixture
def us(practice) -> Api:
    """Our owner who is also a prescriber: every permission, so only tenancy can say no."""
    return api_as(StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER]))


def snapshot(org: Organization) -> dict[str, list[dict[str, Any]]]:
    """Every row the stranger owns, as plain values, to compare before and after."""
    users = User.objects.filter(organization=org)
    tables: dict[str, Any] = {
        "organization": Organization.objects.filter(pk=org.pk),
        "users": users,
        "devices": TOTPDevice.objects.filter(user__in=users),
        "tokens": ApiToken.objects.filter(organization=org).defer("last_used_at"),
        "audit": AuditEvent.objects.filter(organization=org),
        "audit_head": AuditChainHead.objects.filter(chain=chain_key(org.pk)),
    }
    for model in (
        Patient,
        Condition,
        Allergy,
        PatientAlert,
        StaffMember,
        StaffRole,
        Clinic,
        OpeningHours,
        Room,
        MeasurementSettings,
        *MEASUREMENT_MODELS,
        *EVALUATION_MODELS,
        *TREATMENT_MODELS,
        *SESSION_MODELS,
    ):
        tables[model.__name__] = model.objects.filter(organization=org)
    rows = {name: list(qs.order_by("pk").values()) for name, qs in tables.items()}
    rows["staff_clinics"] = list(
        StaffMember.clinics.through.objects.filter(staffmember__organization=org).order_by("pk").values()
    )
    for token in rows["tokens"]:
        token.pop("last_used_at", None)
    return rows


def markers(objects: Objects, org: Organization) -> tuple[set[str], set[str]]:
    """(substrings, exact values) that only the stranger's data contains."""
    substrings = {"Elsewhere", objects.patient.mrn, str(org.pk)}
    for model in (
        Patient, Condition, Allergy, PatientAlert, StaffMember, Clinic, Room, *MEASUREMENT_MODELS,
        *EVALUATION_MODELS, *TREATMENT_MODELS, *SESSION_MODELS,
    ):
        if isinstance(model._meta.pk, models.UUIDField):  # small-int keys would match anything
            substrings |= {
                str(pk) for pk in model.objects.filter(organization=org).values_list("pk", flat=True)
            }
    exact = set(User.objects.filter(organization=org).values_list("username", flat=True))
    exact |= set(ClinicProtocol.objects.filter(organization=org).values_list("key", flat=True))
    return substrings, exact


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif value is not None:
        yield str(value)


def assert_no_stranger_data(response: Any, found: tuple[set[str], set[str]], what: str) -> None:
    substrings, exact = found
    if response["Content-Type"] == "application/pdf":  # our own consent's PDF, in the control test
        return
    for text in strings_in(response.json()):
        assert not any(marker in text for marker in substrings), f"{what} leaked {text!r}"
        assert text not in exact, f"{what} leaked {text!r}"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema(path_prefix="/api/")
    return [
        (method, path.removeprefix("/api/v1"), op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    ]


def call(
    client: Api, method: str, template: str, op: dict[str, Any], objects: Objects, *, filtered: bool
) -> Any:
    """Call one operation with `objects` in its path (and its filters, when `filtered`)."""
    what = f"{method.upper()} {template}"
    params = {p["name"]: p for p in op.get("parameters", [])}
    path = template
    for name, param in params.items():
        if param["in"] == "path":
            assert name in PATH_PARAMS, f"{what}: add path parameter {name!r} to PATH_PARAMS"
            path = path.replace("{" + name + "}", str(PATH_PARAMS[name](objects)))
        elif param["in"] == "query" and param.get("required"):
            assert name in QUERY_PARAMS, f"{what}: add query parameter {name!r} to QUERY_PARAMS"
    query = {
        name: QUERY_PARAMS[name](objects)
        for name, p in params.items()
        if p["in"] == "query" and (p.get("required") or (filtered and name in QUERY_PARAMS))
    }
    if method == "get":
        return client.get(path, query)
    if "requestBody" in op:
        assert (method, template) in BODIES, f"{what}: add a valid-looking body to BODIES"
    body = BODIES[(method, template)](objects) if "requestBody" in op else None
    return client.send(method, path, body)


def names_a_record(param: dict[str, Any]) -> bool:
    """A path parameter, or a required query parameter naming one record (`GET /appointments?clinic_id=`)."""
    return param["in"] == "path" or (
        param["in"] == "query" and bool(param.get("required")) and param["name"].endswith("_id")
    )


def test_every_operation_answers_another_organizations_ids_with_404_and_changes_nothing(
    practice, stranger, theirs, us
):
    theirs.sessions.everything()
    before = snapshot(stranger.org)
    found = markers(theirs, stranger.org)
    ops = operations()
    assert len(ops) >= 35
    tried_with_ids = 0
    for method, path, op in ops:
        what = f"{method.upper()} {path}"
        has_ids = any(names_a_record(p) for p in op.get("parameters", []))
        response = call(us, method, path, op, theirs, filtered=True)
        if has_ids:
            tried_with_ids += 1
            assert response.status_code == 404, f"{what}: {response.status_code} {response.content[:300]!r}"
            assert response.json() == NOT_FOUND, what
        else:
            assert response.status_code in {200, 201, 422}, f"{what}: {response.status_code}"
            if method == "get":
                assert response.status_code == 200, f"{what}: {response.content[:300]!r}"
                assert_no_stranger_data(call(us, method, path, op, theirs, filtered=False), found, what)
        assert_no_stranger_data(response, found, what)
        assert snapshot(stranger.org) == before, f"{what} changed the stranger's data"
    assert tried_with_ids >= 25


def test_the_same_calls_with_our_own_ids_succeed_so_the_404s_are_about_tenancy(
    practice, stranger, theirs, us
):
    """The control: every body above is valid, so a missing tenancy check would have written."""
    found = markers(theirs, stranger.org)
    for method, path, op in operations():
        ours = objects_in(practice, label="Our")
        if op["operationId"] in PRECONDITIONS:
            PRECONDITIONS[op["operationId"]](ours)
        response = call(us, method, path, op, ours, filtered=True)
        assert response.status_code in {200, 201}, f"{method.upper()} {path}: {response.content[:300]!r}"
        assert_no_stranger_data(response, found, f"{method.upper()} {path}")


def test_a_room_of_another_clinic_is_not_found_under_ours(practice, stranger, theirs, us):
    room = RoomFactory(clinic=practice.clinic)
    assert us.get(f"/clinics/{practice.clinic.pk}/rooms/{theirs.room.pk}").status_code == 404
    assert us.get(f"/clinics/{theirs.clinic.pk}/rooms/{room.pk}").status_code == 404
    assert (
        us.patch(f"/clinics/{practice.clinic.pk}/rooms/{theirs.room.pk}", {"name": "Mine"}).status_code == 404
    )
    assert Room.objects.get(pk=theirs.room.pk).name == "Elsewhere chair"


def test_our_clinic_ids_in_a_body_cannot_point_at_another_organization(practice, stranger, theirs, us):
    response = us.patch(f"/patients/{practice.patient.pk}", {"home_clinic_id": str(theirs.clinic.pk)})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "home_clinic_id"
    practice.patient.refresh_from_db()
    assert practice.patient.home_clinic_id == practice.clinic.pk


def test_their_ids_in_a_body_are_refused_on_the_field_and_nothing_is_written(
    practice, stranger, theirs, us
):
    ours = objects_in(practice, label="Our")
    weigh(ours.patient)
    mine, their = ours.treatment, theirs.treatment
    plan_patient = mine.plan.patient_id
    soon = mine.at(4, 10).isoformat()
    visit = {"clinic_id": str(ours.clinic.pk), "type": "consultation", "starts_at": soon}
    cases = [
        (f"/patients/{ours.patient.pk}/plans", BODIES[("post", "/patients/{patient_id}/plans")](theirs),
         "clinic_id"),
        (f"/patients/{plan_patient}/appointments", visit | {"clinic_id": str(theirs.clinic.pk)}, "clinic_id"),
        (f"/patients/{plan_patient}/appointments", visit | {"type": "iv", "plan_id": str(their.plan.pk)},
         "plan_id"),
        (f"/patients/{plan_patient}/appointments", visit | {"room_id": str(theirs.room.pk)}, "room_id"),
        (f"/patients/{plan_patient}/appointments", visit | {"staff_ids": [str(their.prescriber.pk)]},
         "staff_ids"),
        (f"/appointments/{mine.appointment.pk}/reschedule",
         {"starts_at": visit["starts_at"], "room_id": str(theirs.room.pk), "reason": "Moved"}, "room_id"),
        (f"/patients/{plan_patient}/invoices", {"appointment_ids": [str(their.appointment.pk)]},
         "appointment_ids"),
        (f"/patients/{plan_patient}/invoices",
         {"lines": [{"price_code": "consultation"}], "plan_id": str(their.plan.pk)}, "plan_id"),
    ]
    before, found = snapshot(stranger.org), markers(theirs, stranger.org)
    counted = (TreatmentPlan, Appointment, Invoice)
    counts = {m: m.objects.filter(organization=practice.org).count() for m in counted}
    for path, body, field in cases:
        response = us.post(path, body)
        assert response.status_code == 422, f"{path} {field}: {response.content[:300]!r}"
        assert field in {e["field"] for e in response.json()["errors"]}, f"{path}: {response.json()}"
        assert_no_stranger_data(response, found, path)
    slots = us.get(f"/clinics/{ours.clinic.pk}/free-slots",
                   {"type": "consultation", "date": visit["starts_at"][:10], "plan_id": str(their.plan.pk)})
    assert slots.status_code == 404 and slots.json() == NOT_FOUND
    assert snapshot(stranger.org) == before
    assert {m: m.objects.filter(organization=practice.org).count() for m in counts} == counts
    assert Appointment.objects.get(pk=mine.appointment.pk).status == Appointment.Status.BOOKED
