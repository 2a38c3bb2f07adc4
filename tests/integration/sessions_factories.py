"""Treatment-session test data: stock on the shelf, a second nurse, a treatment booked for today and
sessions at each step of the chairside flow (checked in, ready, dosing, stopped). All synthetic.
(This module holds no tests.)

Each step builds on the one before through the real services (check-in, checklist, preparation,
verification, dose events), so a session made here is exactly what the chairside pages would make.
Times: dosing starts 45 minutes ago, so a test can record later events and readings up to now. The
services stamp a check-in with the moment it is made and refuse a first dose before it, so a session
charted with its dose in the past has its check-in moved back to before that dose (`arrived`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.ledger.models import Lot, Product, StorageLocation
from ketaflow.ledger.stock import receive
from ketaflow.measurement.models import Treatment
from ketaflow.plans.models import OPEN_PHASES, TreatmentPlan
from ketaflow.scheduling.calendar import today_in
from ketaflow.scheduling.defaults import ensure_appointment_types
from ketaflow.scheduling.models import Appointment, AppointmentType
from ketaflow.sessions.checkin import check_in, record_checklist
from ketaflow.sessions.doses import prepare_dose, record_event, verify_preparation
from ketaflow.sessions.models import DosePreparation, RemsEnrolment, TreatmentSession
from tests.factories import StaffFactory, actor_of
from tests.integration.plans_factories import signed_plan

PRODUCTS: dict[str, dict[str, Any]] = {
    "ketamine": {
        "name": "Ketamine 500 mg/10 mL vial",
        "schedule": "III",
        "form": "vial",
        "mg_per_unit": Decimal("500"),
        "ml_per_unit": Decimal("10"),
        "received_mg": Decimal("5000"),
    },
    "esketamine": {
        "name": "Esketamine 28 mg nasal device",
        "schedule": "III",
        "form": "device",
        "mg_per_unit": Decimal("28"),
        "ml_per_unit": None,
        "received_mg": Decimal("840"),
    },
    "midazolam": {
        "name": "Midazolam 5 mg/mL, 2 mL vial",
        "schedule": "IV",
        "form": "vial",
        "mg_per_unit": Decimal("10"),
        "ml_per_unit": Decimal("2"),
        "received_mg": Decimal("100"),
    },
}
NORMAL_VITALS = {
    "systolic_bp": 124,
    "diastolic_bp": 78,
    "heart_rate": 72,
    "respiratory_rate": 14,
    "oxygen_saturation": 98,
}
DOSING_STARTED_AGO = timedelta(minutes=45)
CHECKED_IN_BEFORE_DOSING = timedelta(minutes=15)


def nurse(practice: Any) -> Any:
    return actor_of(practice.staff[Role.NURSE])


def prescriber(practice: Any) -> Any:
    return actor_of(practice.staff[Role.PRESCRIBER])


def stock(
    practice: Any, drug: str = "ketamine", *, expires_in_days: int = 365
) -> tuple[Product, StorageLocation, Lot]:
    """A product of `drug` with one lot received into the clinic's safe (synthetic supplier and
    invoice). Calling it again for the same drug tops up the same lot."""
    spec = PRODUCTS[drug]
    product, _ = Product.objects.get_or_create(
        organization=practice.org,
        name=spec["name"],
        defaults={
            "drug": drug,
            "schedule": spec["schedule"],
            "form": spec["form"],
            "mg_per_unit": spec["mg_per_unit"],
            "ml_per_unit": spec["ml_per_unit"],
        },
    )
    location, _ = StorageLocation.objects.get_or_create(
        organization=practice.org, clinic=practice.clinic, name="Main safe"
    )
    expires = today_in(practice.clinic) + timedelta(days=expires_in_days)
    entry = receive(
        nurse(practice),
        product_id=product.pk,
        lot_number=f"{drug[:3].upper()}-{expires:%Y%m%d}",
        expires_on=expires,
        supplier="Synthetic Pharma Supply",
        invoice_number="INV-0001",
        quantity_mg=spec["received_mg"],
        location_id=location.pk,
    )
    return product, location, entry.lot


def expired_lot(practice: Any, drug: str = "ketamine") -> tuple[Product, StorageLocation, Lot]:
    """A lot of `drug` received earlier and now past its expiry date."""
    product, location, lot = stock(practice, drug, expires_in_days=30)
    Lot.objects.filter(pk=lot.pk).update(expires_on=today_in(practice.clinic) - timedelta(days=1))
    lot.refresh_from_db()
    return product, location, lot


def second_nurse(practice: Any) -> StaffMember:
    """Another nurse of the practice (verifies preparations, witnesses waste)."""
    found = (
        StaffMember.objects.for_organization(practice.org.pk)
        .filter(role_rows__role=Role.NURSE.value)
        .exclude(pk=practice.staff[Role.NURSE].pk)
        .first()
    )
    return found or StaffFactory(organization=practice.org, roles=[Role.NURSE])


def booked_treatment(practice: Any, route: str = "iv", *, today: bool = True) -> Appointment:
    """A booked treatment visit on the patient's signed plan of `route` (made on first use, reused
    after), starting on the hour (today, or a week ahead), with its scheduled Treatment as the
    booking service makes it."""
    plan = (
        TreatmentPlan.objects.for_organization(practice.org.pk)
        .filter(
            patient=practice.patient, route=route, status=TreatmentPlan.Status.SIGNED, phase__in=OPEN_PHASES
        )
        .first()
    ) or signed_plan(practice, route)
    ensure_appointment_types(practice.org.pk)
    kind = AppointmentType.objects.for_organization(practice.org.pk).get(key=route)
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    if not today:
        start += timedelta(days=7)
    treatment = Treatment.objects.create(
        organization=practice.org,
        patient=plan.patient,
        occurred_at=start,
        status=Treatment.Status.SCHEDULED,
        description=kind.name,
    )
    return Appointment.objects.create(
        organization=practice.org,
        patient=plan.patient,
        clinic=plan.clinic,
        appointment_type=kind,
        plan=plan,
        phase=plan.phase,
        series_number=1,
        starts_at=start,
        ends_at=start + timedelta(minutes=kind.minutes),
        treatment=treatment,
    )


def enrol_rems(practice: Any) -> RemsEnrolment:
    found, _ = RemsEnrolment.objects.get_or_create(
        organization=practice.org,
        patient=practice.patient,
        defaults={"enrolled_on": today_in(practice.clinic), "rems_patient_id": "REMS-SYN-001"},
    )
    return found


def checked_in(practice: Any, route: str = "iv") -> TreatmentSession:
    """The patient checked in for today's treatment (esketamine: enrolled in the REMS first)."""
    if route == "esketamine":
        enrol_rems(practice)
    return check_in(nurse(practice), booked_treatment(practice, route).pk)


def arrived(session: TreatmentSession, at: datetime) -> TreatmentSession:
    """The session with its check-in moved back to `at` (the check-in service stamps it now), as if
    the patient had arrived then: a test charting a dose in the past needs the check-in before it."""
    TreatmentSession.objects.filter(pk=session.pk).update(checked_in_at=at)
    session.refresh_from_db()
    return session


CHECKLIST: dict[str, Any] = {
    "fasting_confirmed": True,
    "escort_name": "Sam Synthetic",
    "escort_phone": "+15035550199",
    "medications_taken": "sertraline 100 mg this morning",
    "pregnancy_test": "not_applicable",
    "intention": "Notice what comes up without judging it",
    "mood": 4,
    "playlist": "Calm piano",
    "room_preferences": "Lights low",
}


def ready_session(practice: Any, route: str = "iv", **checklist: Any) -> TreatmentSession:
    """Checked in, the checklist complete and normal pre-dose vital signs: ready to dose."""
    session = checked_in(practice, route)
    values = {**CHECKLIST, "pre_dose": dict(NORMAL_VITALS), **checklist}
    record_checklist(nurse(practice), session.pk, **values)
    session.refresh_from_db()
    return session


def prepared(practice: Any, session: TreatmentSession, *, verify: bool = True) -> DosePreparation:
    """The plan's dose drawn up from stock (IV: into a 100 mL bag at 150 mL/h, i.e. 40 min;
    esketamine: whole devices), verified by a second nurse unless `verify` is False."""
    drug = "esketamine" if session.route == "esketamine" else "ketamine"
    product, location, lot = stock(practice, drug)
    options: dict[str, Any] = {}
    if session.route == "esketamine":
        options["units"] = int(session.planned_mg / product.mg_per_unit)
    else:
        options["volume_drawn_ml"] = (session.planned_mg / product.concentration_mg_per_ml).quantize(
            Decimal("0.01")
        )
        if session.route == "iv":
            options |= {"bag_ml": Decimal("100"), "pump_rate_ml_per_h": Decimal("150")}
    preparation = prepare_dose(nurse(practice), session.pk, lot_id=lot.pk, location_id=location.pk, **options)
    if verify:
        preparation = verify_preparation(actor_of(second_nurse(practice)), preparation.pk)
    return preparation


def dosing_session(practice: Any, route: str = "iv", *, started: datetime | None = None) -> TreatmentSession:
    """Ready, the dose prepared and verified, and dosing begun `DOSING_STARTED_AGO` (IV: the pump
    started at 150 mL/h; esketamine: the first device given; IM: the injection given), the patient
    checked in `CHECKED_IN_BEFORE_DOSING` before that."""
    session = ready_session(practice, route)
    preparation = prepared(practice, session)
    at = started or timezone.now() - DOSING_STARTED_AGO
    arrived(session, at - CHECKED_IN_BEFORE_DOSING)
    if route == "iv":
        record_event(
            nurse(practice), session.pk, kind="start", at=at, rate_ml_per_h=preparation.pump_rate_ml_per_h
        )
    elif route == "esketamine":
        record_event(nurse(practice), session.pk, kind="give", at=at, amount_mg=Decimal("28"))
    else:
        record_event(nurse(practice), session.pk, kind="give", at=at, amount_mg=preparation.drawn_mg)
    session.refresh_from_db()
    return session


def stopped_session(practice: Any, route: str = "iv") -> TreatmentSession:
    """Dosing finished (IV: 40 minutes at 150 mL/h; esketamine: the remaining devices 5 min
    apart), so the session is in recovery with its delivered dose computed."""
    session = dosing_session(practice, route)
    start = timezone.now() - DOSING_STARTED_AGO
    if route == "esketamine":
        given = Decimal("28")
        minute = 5
        while given < session.planned_mg:
            record_event(
                nurse(practice),
                session.pk,
                kind="give",
                at=start + timedelta(minutes=minute),
                amount_mg=Decimal("28"),
            )
            given += 28
            minute += 5
        record_event(nurse(practice), session.pk, kind="stop", at=start + timedelta(minutes=minute))
    else:
        record_event(nurse(practice), session.pk, kind="stop", at=start + timedelta(minutes=40))
    session.refresh_from_db()
    return session
