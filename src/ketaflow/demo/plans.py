"""The demo practice's treatment plans, and the order the plan side of the demo loads in.

`load_plans` gives the practice staff working hours, the coming holidays and chairs (`resources.py`),
the default appointment types and price list; then a signed `TreatmentPlan` to every patient chosen
in `planned.py` (those past evaluation; bulk-written, shaped as `plans.services.create_plan` +
`sign_plan` and `plans.changes` write them, audit events included), their appointments
(`appointments.py`), review points (`plans.reviews`) and invoices (`invoices.py`). The showcase
patients approved and consented for IV get their plan through the real services instead, with an
induction series booked and an accepted estimate (`showcase.py`).

Most plans follow `iv-depression`; a few esketamine, IM and pain patients and one at-home sublingual
plan (with the prescriber's written justification) show the other routes. Doses come from
`plans.doses.calculate` (the clinical core's `prescribe`) on the chart's latest weight; a patient with
no weight on the chart is weighed first (a synthetic VitalSigns row). The last month's clinic visits
are then held through the session services (`sessions.py`) before anything is invoiced. Everything
is synthetic.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.services import actor_for
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.billing.defaults import ensure_price_list
from ketaflow.clinical.demographics import age_on
from ketaflow.clinical.prescribing import PatientMeasures
from ketaflow.clinical.vitals import body_mass_index
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.measurement.models import Stage
from ketaflow.measurement.schedule import refresh_due
from ketaflow.patients.models import VitalSigns
from ketaflow.plans.doses import calculate
from ketaflow.plans.models import DoseChange, Phase, PhaseChange, ReviewPoint, TreatmentPlan
from ketaflow.plans.reviews import refresh_review_points
from ketaflow.plans.services import dose_fields
from ketaflow.scheduling.defaults import ensure_appointment_types
from ketaflow.scheduling.models import Appointment

from .appointments import load_appointments
from .calendar_book import CalendarBook
from .invoices import load_invoices
from .measures import INFUSION
from .planned import ROUTE_LABELS, Planned, choose
from .regions import REGIONS
from .resources import load_resources
from .sessions import load_sessions
from .showcase import load_showcase, showcase_planned

CLINIC_PRESCRIBERS = ("np", "pa")
PAIN = {"fibromyalgia", "crps", "neuropathic_pain"}
HOME_JUSTIFICATION = (
    "Stable responder after a full clinic induction; lives two hours from the clinic. Partner present as "
    "treatment monitor at every dose, home BP cuff, daily check-ins; supply released one stage at a time "
    "after review. Discussed the APA consensus caution with the patient."
)
GOALS = {
    "depression": "Lift mood and energy enough to return to work full time; PHQ-9 at least halved.",
    "anxiety": "Fewer panic episodes and less avoidance; GAD-7 below 10.",
    "trauma": "Sleep through most nights and feel safe in crowds again; PCL-5 down by 10 points.",
    "pain": "Pain low enough to walk 30 minutes a day; PEG down by a third.",
}
ENDED: dict[str, str] = {
    Stage.DISCONTINUED: "Stopped: not responding after the induction (futility review).",
    Stage.COMPLETED: "Course completed: sustained response through maintenance.",
}


def load_plans(organization: Organization, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Plans, appointments and invoices for the demo practice, and the last month's sessions; row
    counts by kind, for each."""
    totals: Counter[str] = Counter()
    org_id = organization.pk
    system = Actor.system(org_id, via="demo")
    clinics = _clinics(org_id)
    members = StaffMember.objects.for_organization(org_id).select_related("user")
    staff = {m.user.username: m for m in members.prefetch_related("role_rows")}
    with transaction.atomic():
        totals.update(load_resources(system, clinics, staff, now))
    totals["appointment types"] = len(ensure_appointment_types(org_id))
    totals["price items"] = len(ensure_price_list(org_id))
    skip = showcase_planned(organization)
    rng = random.Random("ketaflow-demo-plans")
    chosen = choose(org_id, clinics, skip, rng)
    actors = {name: _actor(staff[name]) for name in ("owner", "np", "pa", "nurse", "nurse2", "frontdesk")}
    with transaction.atomic():
        _write_plans(chosen, staff, actors, clinics, now, rng, totals)
        book = CalendarBook(org_id, clinics, staff, now)
        totals.update(load_appointments(book, chosen, actors, rng))
        raised = ReviewPoint.objects.for_organization(org_id).count()
        sessions = load_sessions(org_id, clinics, chosen, actors, now)
        totals["review points"] += ReviewPoint.objects.for_organization(org_id).count() - raised
        _count_appointments(org_id, totals)
        totals.update(load_invoices(org_id, chosen, actors, now, rng))
        # Treatments moved into free slots, and new cancelled visits: the due lists follow them; the
        # review points are raised as completing and cancelling visits raise them.
        for item in chosen:
            refresh_due(item.patient)
            assert item.plan is not None
            totals["review points"] += len(refresh_review_points(item.plan))
    totals.update(load_showcase(organization, skip, actors))
    return {kind: count for kind, count in totals.items() if count}, sessions


def _count_appointments(org_id: uuid.UUID, totals: Counter[str]) -> None:
    """Appointments by status once the sessions have completed (or started) the last month's."""
    statuses = Appointment.objects.for_organization(org_id).values_list("status", flat=True)
    totals.update(f"appointments {status}" for status in statuses)


def _actor(member: StaffMember) -> Actor:
    actor = actor_for(member.user)
    if actor is None:
        raise RuntimeError(f"the demo account {member.user.username!r} has no staff access")
    return actor


def _clinics(org_id: uuid.UUID) -> list[Clinic]:
    """The demo clinics in region order (Portland, Denver)."""
    found = {c.name: c for c in Clinic.objects.for_organization(org_id)}
    return [found[region.clinic_name] for region in REGIONS]


# -- plans --------------------------------------------------------------------------------------------


def _measures(
    planned: list[Planned], actors: dict[str, Actor], now: datetime, rng: random.Random
) -> tuple[dict[uuid.UUID, PatientMeasures], int]:
    """Each patient's latest weight and height; those never weighed are weighed first (as a nurse would)."""
    ids = [p.patient.pk for p in planned]
    latest: dict[uuid.UUID, VitalSigns] = {}
    charted = VitalSigns.objects.for_organization(actors["nurse"].organization_id)
    for row in charted.filter(patient_id__in=ids, weight_kg__isnull=False).order_by("measured_at"):
        latest[row.patient_id] = row
    new: list[VitalSigns] = []
    for item in planned:
        patient = item.patient
        if patient.pk in latest:
            continue
        male = patient.sex_at_birth == "male"
        height = Decimal(rng.randint(168, 192) if male else rng.randint(152, 178))
        weight = Decimal(str(round(rng.uniform(62, 110) if male else rng.uniform(50, 95), 1)))
        nurse = actors[("nurse", "nurse2")[item.clinic_index]]
        row = VitalSigns(
            id=uuid.uuid4(),
            organization_id=patient.organization_id,
            patient=patient,
            recorded_by_id=nurse.user_id,
            measured_at=item.treatments[0].occurred_at - timedelta(days=3),
            context=VitalSigns.Context.EVALUATION,
            weight_kg=weight,
            height_cm=height,
            bmi=body_mass_index(weight, height),
        )
        new.append(row)
        latest[patient.pk] = row
    VitalSigns.objects.bulk_create(new)
    for nurse_name in ("nurse", "nurse2"):
        entries = [
            Entry(Action.CREATE, "VitalSigns", str(r.pk), r.patient_id)
            for r in new
            if r.recorded_by_id == actors[nurse_name].user_id
        ]
        record_many(actors[nurse_name], entries)
    measures = {}
    for item in planned:
        patient, row = item.patient, latest[item.patient.pk]
        sex = patient.sex_at_birth if patient.sex_at_birth in ("female", "male") else ""
        zone = ZoneInfo(patient.home_clinic.timezone)
        age = age_on(patient.date_of_birth, now.astimezone(zone).date())
        measures[patient.pk] = PatientMeasures(row.weight_kg, row.height_cm, sex, age)
    return measures, len(new)


def _phases(item: Planned, zone: ZoneInfo) -> list[tuple[str, str, date]]:
    """(from, to, effective on) for every phase the plan has passed."""
    stage = item.measurement.stage
    boosters = [t for t in item.treatments if "maintenance" in t.description]
    induction = [t for t in item.treatments if "induction" in t.description]
    last_induction = (induction or item.treatments)[-1].occurred_at.astimezone(zone).date()
    maintenance_on = (
        boosters[0].occurred_at.astimezone(zone).date() if boosters else last_induction + timedelta(1)
    )
    ended_on = item.measurement.stage_started_at.astimezone(zone).date()
    moves: list[tuple[str, str, date]] = []
    if stage in (Stage.MAINTENANCE, Stage.COMPLETED) or (
        stage == Stage.DISCONTINUED and boosters
    ):
        moves.append(
            (
                Phase.INDUCTION,
                Phase.MAINTENANCE,
                min(maintenance_on, ended_on) if stage != Stage.MAINTENANCE else maintenance_on,
            )
        )
    if stage in (Stage.COMPLETED, Stage.DISCONTINUED):
        moves.append((moves[-1][1] if moves else Phase.INDUCTION, stage, max(ended_on, last_induction)))
    return moves


def _write_plans(
    planned: list[Planned],
    staff: dict[str, StaffMember],
    actors: dict[str, Actor],
    clinics: list[Clinic],
    now: datetime,
    rng: random.Random,
    totals: Counter[str],
) -> None:
    """One signed plan per patient with its first DoseChange and PhaseChanges, and the events the
    services write for them (created, signed, each phase change)."""
    measures, weighed = _measures(planned, actors, now, rng)
    plans, doses, phases = [], [], []
    entries: dict[str, list[Entry]] = {}
    for item in planned:
        patient, protocol = item.patient, item.protocol
        zone = ZoneInfo(clinics[item.clinic_index].timezone)
        name = CLINIC_PRESCRIBERS[item.clinic_index] if rng.random() < 0.8 else "owner"
        prescriber, actor = staff[name], actors[name]
        prescription = calculate(protocol, measures[patient.pk], first_dose=True)
        dose = dose_fields(prescription)
        start = item.treatments[0].occurred_at.astimezone(zone).date()
        moves = _phases(item, zone)
        phase = moves[-1][1] if moves else Phase.INDUCTION
        group = _group(item.condition)
        plan = TreatmentPlan(
            id=uuid.uuid4(),
            organization_id=patient.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            clinic=clinics[item.clinic_index],
            protocol_key=protocol.key,
            protocol_version=protocol.version,
            protocol_name=protocol.name,
            protocol=dict(protocol.definition),
            route=protocol.route.value,
            setting=protocol.setting,
            condition=item.condition,
            goals=GOALS[group],
            start_date=start,
            status=TreatmentPlan.Status.SIGNED,
            phase=phase,
            phase_started_on=moves[-1][2] if moves else start,
            ended_reason=ENDED.get(phase, ""),
            prescriber=prescriber,
            dose_mg_per_kg=dose["mg_per_kg"],
            dose_mg=dose["mg"],
            dose_summary=dose["summary"],
            dose_arithmetic=dose["arithmetic"],
            dose_overridden=dose["overridden"],
            weight_kg=measures[patient.pk].weight_kg,
            home_justification=HOME_JUSTIFICATION if protocol.setting == "home" else "",
            signed_by_id=actor.user_id,
            signed_at=datetime.combine(start - timedelta(days=rng.randint(2, 6)), time(16), zone),
        )
        item.plan = plan
        plans.append(plan)
        doses.append(
            DoseChange(
                organization_id=plan.organization_id,
                patient=patient,
                recorded_by_id=actor.user_id,
                plan=plan,
                reason="plan created",
                effective_on=start,
                **dose,
            )
        )
        log = entries.setdefault(name, [])
        log.append(
            Entry(
                Action.CREATE,
                "TreatmentPlan",
                str(plan.pk),
                patient.pk,
                {
                    "protocol": f"{protocol.key}@{protocol.version}",
                    "route": plan.route,
                    "setting": plan.setting,
                    "mg": str(plan.dose_mg),
                    "overridden": plan.dose_overridden,
                },
            )
        )
        log.append(
            Entry(
                Action.UPDATE,
                "TreatmentPlan",
                str(plan.pk),
                patient.pk,
                {"event": "signed", "eligibility_decision": "None", "consent": "None"},
            )
        )
        for from_phase, to_phase, on in moves:
            phases.append(
                PhaseChange(
                    organization_id=plan.organization_id,
                    patient=patient,
                    recorded_by_id=actor.user_id,
                    plan=plan,
                    from_phase=from_phase,
                    to_phase=to_phase,
                    effective_on=on,
                    reason=ENDED.get(to_phase) or f"moved to {Phase(to_phase).label.lower()}",
                )
            )
            log.append(
                Entry(
                    Action.UPDATE,
                    "TreatmentPlan",
                    str(plan.pk),
                    patient.pk,
                    {"event": "phase changed", "from": from_phase, "to": to_phase},
                )
            )
        _relabel(item)
    TreatmentPlan.objects.bulk_create(plans)
    DoseChange.objects.bulk_create(doses)
    PhaseChange.objects.bulk_create(phases)
    for name, found in entries.items():
        record_many(actors[name], found)
    totals.update(
        {
            "plans": len(plans),
            "dose changes": len(doses),
            "phase changes": len(phases),
            "weights recorded": weighed,
        }
    )


def _group(condition: str) -> str:
    if condition in PAIN:
        return "pain"
    if condition in ("gad", "ocd"):
        return "anxiety"
    return "trauma" if condition == "ptsd" else "depression"


def _relabel(item: Planned) -> None:
    """The measurement treatments of a non-IV-depression plan name its route, not an IV infusion."""
    label = ROUTE_LABELS.get(item.protocol.key)
    if label is None:
        return
    for treatment in item.treatments:
        treatment.description = treatment.description.replace(INFUSION, label)[:120]
