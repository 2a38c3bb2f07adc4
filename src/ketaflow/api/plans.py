"""Treatment plans and the protocol library, as JSON.

The library (shipped protocols plus your clinic's numbered versions) is read with clinical view and
written with SIGN_PLANS: every edit is a new version (`POST /protocols/{key}/versions`), validated,
a bad value answered 422 naming its dotted field (`dose.cap_mg`). `POST /dose-calculations` works out
a dose and its arithmetic from measures you send; nothing is stored. A patient's plans are read
through audited reads; drafting needs clinical edit, signing, dose changes and phase moves need
SIGN_PLANS. Numbers are sent as JSON numbers; doses come back as decimal strings ("37.5").
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.prescribing import PatientMeasures, Prescription
from ketaflow.patients import services as registry
from ketaflow.plans import changes, reviews, services
from ketaflow.plans import library as lib
from ketaflow.plans.describe import dose_numbers
from ketaflow.plans.doses import calculate
from ketaflow.plans.models import ReviewPoint, TreatmentPlan
from ketaflow.validation import NotFound, ValidationFailed

from .auth import actor_of
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import Id, IsoDate, PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Treatment plans"])

ProtocolKey = Annotated[str, Path(..., description="The protocol's key.", example="iv-depression")]
PlanId = Annotated[str, Path(..., description="The plan's id (a UUID).",
                             example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]
ReviewPointId = Annotated[str, Path(..., description="The review point's id (a UUID).",
                                    example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")]
Amount = Annotated[float | None, Field(gt=0)]


# Schemas ---------------------------------------------------------------------------------------------


class NumberOut(Schema):
    label: str
    value: str
    verify: bool = Field(description="A conservative default to confirm, not a published standard.")


class ProtocolSummaryOut(Schema):
    key: str
    version: str
    name: str
    route: str
    setting: str
    conditions: list[str]
    source: str = Field(description="shipped, or clinic for your own version.")
    citation: str = Field(description="Where the protocol's numbers come from.")
    dose_kind: str
    dose: list[NumberOut]


class VersionOut(Schema):
    version: str
    source: str
    number: int | None
    based_on: str
    change_note: str
    created_by: str
    created_at: datetime | None
    retired_at: datetime | None
    retired_reason: str


class ProtocolOut(ProtocolSummaryOut):
    definition: dict[str, Any]
    current_version: str
    history: list[VersionOut]


class ProtocolList(Schema):
    items: list[ProtocolSummaryOut]


class CloneIn(StrictInput):
    definition: dict[str, Any] = Field(description="The whole edited definition (the shape of GET's).")
    change_note: str = Field(description="What changed and why (shown in the version history).")
    based_on_version: str | None = Field(None, description="The version you edited; default the current one.")


class DoseCalculationIn(StrictInput):
    protocol_key: str
    protocol_version: str | None = None
    weight_kg: Amount = None
    height_cm: Amount = None
    sex: Literal["female", "male"] | None = None
    age: int | None = Field(None, ge=0, le=130)
    mg_per_kg: Amount = Field(None, description="One of the protocol's steps; default its starting dose.")
    mg: Amount = Field(None, description="For fixed (esketamine) and troche protocols.")
    first_dose: bool = Field(False, description="Esketamine: the first dose (older-adult start from 65).")


class DoseOut(Schema):
    protocol_key: str
    protocol_version: str
    mg: str
    volume_ml: str | None
    calculated_mg: str
    cap_mg: str | None
    capped: bool = Field(description="Held at the protocol's cap.")
    overridden: bool
    mg_per_kg: str | None
    summary: str
    arithmetic: list[str]


class DoseIn(StrictInput):
    mg_per_kg: Amount = None
    mg: Amount = None
    override_mg: Amount = Field(None, description="A dose outside the protocol; needs override_reason.")
    override_reason: str = Field("", max_length=300)


class PlanIn(DoseIn):
    protocol_key: str
    protocol_version: str | None = None
    clinic_id: Id
    condition: str = Field(description="A condition id of the catalogue the protocol treats (e.g. trd).")
    start_date: IsoDate
    goals: str
    home_justification: str = Field("", description="Required for a home protocol.")
    maintenance_every_days: int | None = None
    prescriber_id: Id | None = None


class DoseChangeIn(DoseIn):
    reason: str
    effective_on: IsoDate


class PhaseIn(StrictInput):
    to_phase: Literal["induction", "maintenance", "taper", "completed", "discontinued"]
    reason: str = Field("", max_length=300, description="Required when discontinuing.")
    effective_on: IsoDate


class ResolveIn(StrictInput):
    resolution: str


class DoseChangeOut(Schema):
    id: uuid.UUID
    mg_per_kg: str | None
    mg: str
    summary: str
    arithmetic: list[str]
    overridden: bool
    reason: str
    effective_on: date
    recorded_at: datetime


class PhaseChangeOut(Schema):
    id: uuid.UUID
    from_phase: str
    to_phase: str
    effective_on: date
    reason: str
    recorded_at: datetime


class ReviewPointOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    reason: str
    source: str
    status: str
    sessions_given: int
    resolution: str
    resolved_at: datetime | None


class PlanOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    protocol_key: str
    protocol_version: str
    protocol_name: str
    route: str
    setting: str
    condition: str
    goals: str
    start_date: date
    status: str = Field(description="draft or signed.")
    phase: str
    phase_started_on: date
    ended_reason: str
    prescriber_id: uuid.UUID | None
    dose_mg_per_kg: str | None
    dose_mg: str
    dose_summary: str
    dose_arithmetic: list[str]
    dose_overridden: bool
    weight_kg: str | None
    maintenance_every_days: int | None
    home_justification: str
    eligibility_decision_id: uuid.UUID | None
    consent_id: uuid.UUID | None
    signed_at: datetime | None
    dose_changes: list[DoseChangeOut]
    phase_changes: list[PhaseChangeOut]
    review_points: list[ReviewPointOut]


class PlanPage(PageOut):
    items: list[PlanOut]


# Bodies ----------------------------------------------------------------------------------------------


HISTORIES = ("dose_changes", "phase_changes", "review_points")
_recorded = attrgetter("recorded_at")


def _s(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _summary(version: lib.Version, source: str) -> dict[str, Any]:
    p = version.protocol
    return {
        "key": p.key, "version": p.version, "name": p.name, "route": p.route.value, "setting": p.setting,
        "conditions": list(p.conditions), "source": source, "citation": p.source, "dose_kind": p.dose.kind,
        "dose": [{"label": n.label, "value": n.value, "verify": n.verify} for n in dose_numbers(p)],
    }


def _protocol_body(entry: lib.LibraryEntry, shown: lib.Version) -> dict[str, Any]:
    return _summary(shown, shown.source) | {
        "definition": dict(shown.protocol.definition), "current_version": entry.current.version,
        "history": [
            {"version": v.version, "source": v.source, "number": v.number, "based_on": v.based_on,
             "change_note": v.change_note, "created_by": v.created_by, "created_at": v.created_at,
             "retired_at": v.retired_at, "retired_reason": v.retired_reason}
            for v in entry.history
        ],
    }


def _dose_body(prescription: Prescription) -> dict[str, Any]:
    dose = prescription.dose
    return {
        "protocol_key": prescription.protocol_key, "protocol_version": prescription.protocol_version,
        "mg": _s(dose.mg), "volume_ml": _s(dose.volume_ml), "calculated_mg": _s(dose.calculated_mg),
        "cap_mg": _s(dose.cap_mg), "capped": dose.capped, "overridden": dose.overridden,
        "mg_per_kg": _s(prescription.mg_per_kg), "summary": prescription.summary,
        "arithmetic": list(prescription.arithmetic),
    }


def plan_body(plan: TreatmentPlan) -> dict[str, Any]:
    """The plan with its histories, oldest first (read through the plan's relations, so a list can
    prefetch them: see HISTORIES)."""
    return {
        "id": plan.pk, "patient_id": plan.patient_id, "clinic_id": plan.clinic_id,
        "protocol_key": plan.protocol_key, "protocol_version": plan.protocol_version,
        "protocol_name": plan.protocol_name, "route": plan.route, "setting": plan.setting,
        "condition": plan.condition, "goals": plan.goals, "start_date": plan.start_date,
        "status": plan.status,
        "phase": plan.phase, "phase_started_on": plan.phase_started_on, "ended_reason": plan.ended_reason,
        "prescriber_id": plan.prescriber_id, "dose_mg_per_kg": _s(plan.dose_mg_per_kg),
        "dose_mg": _s(plan.dose_mg), "dose_summary": plan.dose_summary,
        "dose_arithmetic": plan.dose_arithmetic,
        "dose_overridden": plan.dose_overridden, "weight_kg": _s(plan.weight_kg),
        "maintenance_every_days": plan.maintenance_every_days, "home_justification": plan.home_justification,
        "eligibility_decision_id": plan.eligibility_decision_id, "consent_id": plan.consent_id,
        "signed_at": plan.signed_at,
        "dose_changes": [
            {"id": c.pk, "mg_per_kg": _s(c.mg_per_kg), "mg": _s(c.mg), "summary": c.summary,
             "arithmetic": c.arithmetic, "overridden": c.overridden, "reason": c.reason,
             "effective_on": c.effective_on, "recorded_at": c.recorded_at}
            for c in sorted(plan.dose_changes.all(), key=_recorded)
        ],
        "phase_changes": [
            {"id": c.pk, "from_phase": c.from_phase, "to_phase": c.to_phase, "effective_on": c.effective_on,
             "reason": c.reason, "recorded_at": c.recorded_at}
            for c in sorted(plan.phase_changes.all(), key=_recorded)
        ],
        "review_points": [
            {"id": p.pk, "kind": p.kind, "title": p.title, "reason": p.reason, "source": p.source,
             "status": p.status, "sessions_given": p.sessions_given, "resolution": p.resolution,
             "resolved_at": p.resolved_at}
            for p in sorted(plan.review_points.all(), key=_recorded)
        ],
    }


def _num(value: float | None) -> str | None:
    return None if value is None else str(value)


def _reloaded(request: HttpRequest, plan_id: Any, purpose: str) -> dict[str, Any]:
    return plan_body(services.open_plan(actor_of(request), plan_id, purpose=purpose))


# Protocols -------------------------------------------------------------------------------------------


@router.get("/protocols", response=documented(200, ProtocolList))
def list_protocols(request: HttpRequest) -> Any:
    """The library: per key the current version (your clinic's newest unretired, else the shipped)."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    return {"items": [_summary(e.current, e.source) for e in lib.library(actor.organization_id)]}


@router.get("/protocols/{key}", response=documented(200, ProtocolOut))
def get_protocol(request: HttpRequest, key: ProtocolKey, version: str | None = None) -> Any:
    """One protocol with its definition and version history; `?version=clinic-2` for an older one."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    entry = lib.library_entry(actor.organization_id, key)
    return _protocol_body(entry, entry.named(version))


@router.post("/protocols/{key}/versions", response=documented(201, ProtocolOut))
def create_protocol_version(request: HttpRequest, key: ProtocolKey, payload: CloneIn) -> Any:
    """Save an edited definition as your clinic's next version (SIGN_PLANS). 422 names the dotted
    field of a bad value (`dose.cap_mg`)."""
    actor = actor_of(request)
    row = lib.clone_protocol(actor, key, version=payload.based_on_version, definition=payload.definition,
                             change_note=payload.change_note)
    entry = lib.library_entry(actor.organization_id, row.key)
    return Status(201, _protocol_body(entry, entry.named(row.version)))


@router.post("/dose-calculations", response=documented(200, DoseOut))
def calculate_dose(request: HttpRequest, payload: DoseCalculationIn) -> Any:
    """A protocol's dose and arithmetic for the measures you send; nothing is stored."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    try:
        protocol = lib.get_protocol(actor.organization_id, payload.protocol_key, payload.protocol_version)
    except NotFound as exc:
        message = "No such protocol (or version) in your library."
        raise ValidationFailed.single("protocol_key", message) from exc
    measures = PatientMeasures(
        Decimal(str(payload.weight_kg)) if payload.weight_kg is not None else None,
        Decimal(str(payload.height_cm)) if payload.height_cm is not None else None,
        payload.sex or "", payload.age,
    )
    prescription = calculate(protocol, measures, mg_per_kg=_num(payload.mg_per_kg), mg=_num(payload.mg),
                             first_dose=payload.first_dose)
    return _dose_body(prescription)


# Plans -----------------------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/plans", response=documented(200, PlanPage))
def list_patient_plans(request: HttpRequest, patient_id: PatientId, query: Query[PageQuery]) -> Any:
    """The patient's plans, newest first; the read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, PageQuery)
    patient = registry.open_patient(actor, patient_id, purpose="plans")
    rows = (
        services.plans_of(actor.organization_id).filter(patient=patient).order_by("-recorded_at")
        .prefetch_related(*HISTORIES)
    )
    body = paged(request, rows, query)
    body["items"] = [plan_body(p) for p in body["items"]]
    return body


@router.post("/patients/{patient_id}/plans", response=documented(201, PlanOut))
def create_patient_plan(request: HttpRequest, patient_id: PatientId, payload: PlanIn) -> Any:
    """Draft a plan; the dose is computed from the chart's latest weight and height."""
    actor = actor_of(request)
    plan = services.create_plan(
        actor, patient_id, protocol_key=payload.protocol_key, protocol_version=payload.protocol_version,
        clinic_id=payload.clinic_id, condition=payload.condition, start_date=payload.start_date,
        goals=payload.goals, mg_per_kg=_num(payload.mg_per_kg), mg=_num(payload.mg),
        override_mg=_num(payload.override_mg), override_reason=payload.override_reason,
        home_justification=payload.home_justification, maintenance_every_days=payload.maintenance_every_days,
        prescriber_id=payload.prescriber_id,
    )
    return Status(201, _reloaded(request, plan.pk, "created"))


@router.get("/plans/{plan_id}", response=documented(200, PlanOut))
def get_plan(request: HttpRequest, plan_id: PlanId) -> Any:
    """One plan with its dose history, phase history and review points (refreshed first)."""
    actor = actor_of(request)
    plan = services.open_plan(actor, plan_id, purpose="api")
    reviews.refresh_review_points(plan)
    return plan_body(plan)


@router.post("/plans/{plan_id}/sign", response=documented(200, PlanOut))
def sign_plan(request: HttpRequest, plan_id: PlanId) -> Any:
    """Sign (SIGN_PLANS): 422 on `eligibility` or `consent` when the route lacks a signed approval or
    a current consent."""
    plan = services.sign_plan(actor_of(request), plan_id)
    return _reloaded(request, plan.pk, "signed")


@router.post("/plans/{plan_id}/dose", response=documented(200, PlanOut))
def change_plan_dose(request: HttpRequest, plan_id: PlanId, payload: DoseChangeIn) -> Any:
    """A new dose from the latest weight, with its reason (SIGN_PLANS)."""
    change = changes.change_dose(
        actor_of(request), plan_id, mg_per_kg=_num(payload.mg_per_kg), mg=_num(payload.mg),
        override_mg=_num(payload.override_mg), override_reason=payload.override_reason,
        reason=payload.reason, effective_on=payload.effective_on,
    )
    return _reloaded(request, change.plan_id, "dose changed")


@router.post("/plans/{plan_id}/phase", response=documented(200, PlanOut))
def move_plan_phase(request: HttpRequest, plan_id: PlanId, payload: PhaseIn) -> Any:
    """Move the plan's phase (SIGN_PLANS); 422 `to_phase` for a move the rules do not allow."""
    change = changes.move_phase(actor_of(request), plan_id, to_phase=payload.to_phase, reason=payload.reason,
                                effective_on=payload.effective_on)
    return _reloaded(request, change.plan_id, "phase changed")


@router.post("/plans/{plan_id}/review-points/{review_point_id}/resolve", response=documented(200, PlanOut))
def resolve_plan_review_point(
    request: HttpRequest, plan_id: PlanId, review_point_id: ReviewPointId, payload: ResolveIn
) -> Any:
    """Resolve an open review point with the decision taken (SIGN_PLANS)."""
    actor = actor_of(request)
    plan = services.plans_of(actor.organization_id).one(plan_id, "plan")
    point = ReviewPoint.objects.for_organization(actor.organization_id).filter(plan=plan)
    found = point.one(review_point_id, "review point")
    reviews.resolve_review_point(actor, found.pk, resolution=payload.resolution)
    return _reloaded(request, plan.pk, "review resolved")
