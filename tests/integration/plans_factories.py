"""Plan test data: a patient ready for a plan on a route (weighed, approved, consented) and a signed
plan. All synthetic. (This module holds no tests.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.protocols import builtin_protocols
from ketaflow.eligibility.decisions import sign_decision
from ketaflow.measurement.models import Treatment
from ketaflow.patients.models import Patient, VitalSigns
from ketaflow.plans.library import clone_protocol
from ketaflow.plans.models import ReviewPoint, TreatmentPlan
from ketaflow.plans.reviews import refresh_review_points
from ketaflow.plans.services import create_plan, sign_plan
from ketaflow.scheduling.models import Appointment, AppointmentType
from tests.factories import actor_of
from tests.integration.consent_factories import signed
from tests.integration.eligibility_factories import chart_all_clear

CONDITIONS = {"iv": "trd", "im": "trd", "esketamine": "trd", "sublingual_home": "trd"}
PROTOCOLS = {
    "iv": "iv-depression",
    "im": "im-depression",
    "esketamine": "esketamine-trd",
    "sublingual_home": "sublingual-home",
}


def weigh(
    patient: Patient, weight_kg: str = "82", height_cm: str = "170", *, ago: timedelta = timedelta(hours=1)
) -> VitalSigns:
    return VitalSigns.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        measured_at=timezone.now() - ago,
        weight_kg=Decimal(weight_kg),
        height_cm=Decimal(height_cm),
    )


def approve(practice: Any, route: str = "iv", patient: Patient | None = None) -> Any:
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    return sign_decision(
        prescriber,
        (patient or practice.patient).pk,
        route,
        decision="approve",
        override_reason="Synthetic test: approved by the prescriber after review.",
    )


def ready_patient(practice: Any, route: str = "iv", *, weight_kg: str = "82") -> Patient:
    """The practice's patient with a clear chart, weighed, the route approved and a countersigned
    consent for it."""
    patient = chart_all_clear(practice)
    weigh(patient, weight_kg)
    approve(practice, route)
    signed(practice, route, countersigned=True)
    return patient


def draft_plan(practice: Any, route: str = "iv", **overrides: Any) -> TreatmentPlan:
    """A draft plan for the practice's patient, made by the prescriber (weigh the patient first)."""
    values: dict[str, Any] = {
        "protocol_key": PROTOCOLS[route],
        "clinic_id": practice.clinic.pk,
        "condition": CONDITIONS[route],
        "start_date": timezone.localdate(),
        "goals": "Feel able to return to work; PHQ-9 below 10.",
    }
    if route == "sublingual_home":
        values["home_justification"] = "Synthetic: lives far from the clinic; partner trained as monitor."
    values.update(overrides)
    return create_plan(actor_of(practice.staff[Role.PRESCRIBER]), practice.patient.pk, **values)


def signed_plan(practice: Any, route: str = "iv", **overrides: Any) -> TreatmentPlan:
    """A ready patient's plan, signed by the prescriber."""
    ready_patient(practice, route)
    plan = draft_plan(practice, route, **overrides)
    return sign_plan(actor_of(practice.staff[Role.PRESCRIBER]), plan.pk)


def appointment_type(practice: Any, key: str = "iv") -> AppointmentType:
    found, _ = AppointmentType.objects.get_or_create(
        organization=practice.org,
        key=key,
        defaults={"name": "IV infusion", "minutes": 120, "room_kind": "chair", "route": "iv"},
    )
    return found


def completed_session(practice: Any, plan: TreatmentPlan, at: datetime, number: int) -> Appointment:
    """A completed appointment of the plan at `at` with its given Treatment (as scheduling records it)."""
    treatment = Treatment.objects.create(
        organization=practice.org,
        patient=plan.patient,
        occurred_at=at,
        status=Treatment.Status.GIVEN,
    )
    return Appointment.objects.create(
        organization=practice.org,
        patient=plan.patient,
        clinic=plan.clinic,
        appointment_type=appointment_type(practice),
        plan=plan,
        phase=plan.phase,
        series_number=number,
        starts_at=at,
        ends_at=at + timedelta(hours=2),
        status=Appointment.Status.COMPLETED,
        treatment=treatment,
    )


def days_ago(days: int, hour: int = 10) -> datetime:
    moment = timezone.now() - timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def start_of(days_back: int) -> date:
    return timezone.localdate() - timedelta(days=days_back)


def plan_records(practice: Any, label: str = "Our") -> dict[str, list[str]]:
    """For the cross-tenant matrices: a signed plan with an open review point, and a clinic-only
    protocol version, of `practice`. Keys are the URL kwargs of the plans pages."""
    plan = signed_plan(practice, start_date=start_of(20))
    for number, days in enumerate((19, 16, 12, 9, 5, 2), start=1):
        completed_session(practice, plan, days_ago(days), number)
    refresh_review_points(plan)
    point = ReviewPoint.objects.get(plan=plan, kind="end_of_induction")
    key = f"{label.lower()}-iv"
    definition = dict(next(p for p in builtin_protocols() if p.key == "iv-depression").definition)
    version = clone_protocol(
        actor_of(practice.staff[Role.PRESCRIBER]),
        "iv-depression",
        definition=definition | {"key": key, "name": f"{label} IV"},
        change_note="Own",
    )
    return {
        "plan_id": [str(plan.pk)],
        "review_point_id": [str(point.pk)],
        "key": [version.key],
        "number": [str(version.number)],
    }
