"""Scheduling: the JSON API.

Appointment types; a clinic's appointments between two moments (paginated); free slots of a type on a
date; booking, cancelling, a no-show, rescheduling and completing an appointment; and a plan's series,
previewed or booked. Reads need VIEW_SCHEDULE and are audited; changes need EDIT_SCHEDULE.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic
from ketaflow.paging import paginate
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling import services
from ketaflow.scheduling.availability import free_slots
from ketaflow.scheduling.booking import _minutes
from ketaflow.scheduling.models import Appointment
from ketaflow.scheduling.series_booking import SeriesPreview, book_series, preview_series
from ketaflow.scheduling.setup import types_for
from ketaflow.validation import ValidationFailed

from .auth import actor_of
from .measure_schemas import IsoDateTime
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import ClinicId, Id, IsoDate, PatientId, QueryInput, StrictInput
from .schemas import responses as documented

router = Router(tags=["Scheduling"])

AppointmentId = Annotated[
    str,
    Path(..., description="The appointment's id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b"),
]
PlanId = Annotated[
    str,
    Path(
        ..., description="The treatment plan's id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b"
    ),
]
STATUSES = [value for value, _label in Appointment.Status.choices]


class TypeOut(Schema):
    key: str
    name: str
    minutes: int
    room_kind: str | None = Field(description="The room kind the visit needs; null for telehealth.")
    required_roles: list[str]
    route: str | None
    telehealth: bool
    instructions: str
    is_active: bool


class StaffOut(Schema):
    id: uuid.UUID
    name: str
    role: str | None


class AppointmentOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    type: str
    type_name: str
    starts_at: datetime
    ends_at: datetime
    room_id: uuid.UUID | None
    room: str | None
    staff: list[StaffOut]
    status: str = Field(json_schema_extra={"enum": list[Any](STATUSES)})
    status_reason: str | None
    plan_id: uuid.UUID | None
    phase: str | None
    series_number: int | None
    rescheduled_from: uuid.UUID | None
    notes: str | None


class AppointmentPage(PageOut):
    items: list[AppointmentOut]


class AppointmentQuery(PageQuery):
    clinic_id: uuid.UUID = Field(description="The clinic whose appointments to list.")
    start: datetime = Field(description="From this moment (ISO 8601 with a time zone).")
    end: datetime = Field(description="Up to (not including) this moment.")
    status: str | None = None


class SlotQuery(QueryInput):
    type: str = Field(description="The appointment type's key, e.g. iv.")
    date: IsoDate = Field(description="The clinic's date, YYYY-MM-DD.")
    plan_id: uuid.UUID | None = Field(None, description="Use this plan's protocol chair time.")


class SlotOut(Schema):
    starts_at: datetime
    room_id: uuid.UUID | None
    room: str | None
    staff: list[StaffOut]


class BookIn(StrictInput):
    clinic_id: Id
    type: str = Field(description="The appointment type's key.")
    starts_at: IsoDateTime
    room_id: Id | None = Field(None, description="Default: the first free room of the type's kind.")
    staff_ids: list[Id] = Field(
        default_factory=list, description="Default: free staff for each required role."
    )
    plan_id: Id | None = Field(None, description="Required for a treatment visit: the signed plan.")
    series_number: int | None = None
    phase: str = ""
    notes: str = ""


class ReasonIn(StrictInput):
    reason: str = Field(description="Required; kept with the appointment.")


class RescheduleIn(StrictInput):
    starts_at: IsoDateTime
    room_id: Id | None = None
    staff_ids: list[Id] | None = Field(None, description="Default: the same staff when free, else free ones.")
    reason: str


class SeriesIn(StrictInput):
    preview: bool = Field(True, description="true: only lay the series out; false: book it.")
    phase: str = "induction"
    start_date: IsoDate | None = None
    count: int | None = Field(None, description="Sessions to lay out (default: the phase; 3 if open-ended).")


class SessionOut(Schema):
    number: int
    block: str
    target_date: str
    week: int
    starts_at: datetime | None
    room: str | None
    staff: list[str]
    days_off_target: int | None
    appointment_id: uuid.UUID | None
    reason: str | None


class SeriesOut(Schema):
    plan_id: uuid.UUID
    phase: str
    booked: bool
    sessions: list[SessionOut]
    unplaced: list[SessionOut]


def _type_body(kind: Any) -> dict[str, Any]:
    return {
        "key": kind.key,
        "name": kind.name,
        "minutes": kind.minutes,
        "room_kind": kind.room_kind or None,
        "required_roles": list(kind.required_roles),
        "route": kind.route or None,
        "telehealth": kind.telehealth,
        "instructions": kind.instructions,
        "is_active": kind.is_active,
    }


def _body(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "patient_id": a.patient_id,
        "clinic_id": a.clinic_id,
        "type": a.appointment_type.key,
        "type_name": a.appointment_type.name,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "room_id": a.room_id,
        "room": a.room.name if a.room else None,
        "staff": [
            {"id": r.staff_id, "name": r.staff.display_name, "role": r.role or None}
            for r in a.staff_rows.all()
        ],
        "status": a.status,
        "status_reason": a.status_reason or None,
        "plan_id": a.plan_id,
        "phase": a.phase or None,
        "series_number": a.series_number,
        "rescheduled_from": a.rescheduled_from_id,
        "notes": a.notes or None,
    }


def _reloaded(request: HttpRequest, appointment_id: uuid.UUID, purpose: str) -> dict[str, Any]:
    return _body(services.open_appointment(actor_of(request), appointment_id, purpose=purpose))


@router.get("/appointment-types", response=documented(200, list[TypeOut]))
def list_appointment_types(request: HttpRequest) -> Any:
    """Every appointment type (the defaults are created on first use)."""
    return [_type_body(k) for k in types_for(actor_of(request))]


@router.get("/appointments", response=documented(200, AppointmentPage))
def list_appointments(request: HttpRequest, query: Query[AppointmentQuery]) -> Any:
    """A clinic's appointments starting in [start, end), earliest first; the read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_SCHEDULE)
    refuse_unknown_query(request, AppointmentQuery)
    if timezone.is_naive(query.start) or timezone.is_naive(query.end):
        raise ValidationFailed.single("start", "Give start and end with a time zone.")
    clinic = Clinic.objects.for_organization(actor.organization_id).one(query.clinic_id, "clinic")
    rows = (
        services.appointments_of(actor.organization_id)
        .filter(clinic=clinic, starts_at__gte=query.start, starts_at__lt=query.end)
        .select_related("appointment_type", "room")
        .prefetch_related("staff_rows__staff__user")
        .order_by("starts_at", "pk")
    )
    if query.status:
        rows = rows.filter(status=query.status)
    with transaction.atomic():
        page = paginate(rows, query.page, query.page_size)
        record(actor, Action.LIST, "Appointment", detail={"clinic": str(clinic.pk), "count": page.total})
    body = page_body(request, page)
    body["items"] = [_body(a) for a in page.items]
    return body


@router.get("/clinics/{clinic_id}/free-slots", response=documented(200, list[SlotOut]))
def list_free_slots(request: HttpRequest, clinic_id: ClinicId, query: Query[SlotQuery]) -> Any:
    """Free starts (every 15 minutes) of a type on the clinic's date, each with a room and staff."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_SCHEDULE)
    refuse_unknown_query(request, SlotQuery)
    clinic = Clinic.objects.for_organization(actor.organization_id).one(clinic_id, "clinic")
    kind = services.type_for(actor.organization_id, query.type)
    if kind is None:
        raise ValidationFailed.single("type", "Choose an appointment type key.")
    plan = None
    if query.plan_id:
        plan = TreatmentPlan.objects.for_organization(actor.organization_id).one(query.plan_id, "plan")
    found = free_slots(
        actor.organization_id, clinic, kind, query.date, minutes=_minutes(kind, plan), after=timezone.now()
    )
    zone = ZoneInfo(clinic.timezone)
    return [
        {
            "starts_at": s.starts_at.astimezone(zone),
            "room_id": s.room.pk if s.room else None,
            "room": s.room.name if s.room else None,
            "staff": [{"id": m.pk, "name": m.display_name, "role": None} for m in s.staff],
        }
        for s in found
    ]


@router.post("/patients/{patient_id}/appointments", response=documented(201, AppointmentOut))
def book_appointment(request: HttpRequest, patient_id: PatientId, payload: BookIn) -> Any:
    """Book one appointment. 422 names the field at fault: outside opening hours, a closed day, staff
    not working or without the role, the wrong room, or a slot already taken."""
    created = services.book(
        actor_of(request),
        patient_id,
        clinic_id=payload.clinic_id,
        type_key=payload.type,
        starts_at=payload.starts_at,
        room_id=payload.room_id,
        staff_ids=payload.staff_ids,
        plan_id=payload.plan_id,
        series_number=payload.series_number,
        phase=payload.phase,
        notes=payload.notes,
    )
    return Status(201, _reloaded(request, created.pk, "booked"))


@router.get("/appointments/{appointment_id}", response=documented(200, AppointmentOut))
def get_appointment(request: HttpRequest, appointment_id: AppointmentId) -> Any:
    return _body(services.open_appointment(actor_of(request), appointment_id, purpose="api"))


@router.post("/appointments/{appointment_id}/cancel", response=documented(200, AppointmentOut))
def cancel_appointment(request: HttpRequest, appointment_id: AppointmentId, payload: ReasonIn) -> Any:
    """Cancel (reason required); the slot is free again."""
    done = services.cancel(actor_of(request), appointment_id, reason=payload.reason)
    return _reloaded(request, done.pk, "cancelled")


@router.post("/appointments/{appointment_id}/no-show", response=documented(200, AppointmentOut))
def no_show_appointment(request: HttpRequest, appointment_id: AppointmentId, payload: ReasonIn) -> Any:
    done = services.mark_no_show(actor_of(request), appointment_id, reason=payload.reason)
    return _reloaded(request, done.pk, "no-show")


@router.post("/appointments/{appointment_id}/reschedule", response=documented(200, AppointmentOut))
def reschedule_appointment(request: HttpRequest, appointment_id: AppointmentId, payload: RescheduleIn) -> Any:
    """Move it: returns the new appointment; the old one is cancelled. All or nothing."""
    moved = services.reschedule(
        actor_of(request),
        appointment_id,
        starts_at=payload.starts_at,
        room_id=payload.room_id,
        staff_ids=payload.staff_ids,
        reason=payload.reason,
    )
    return _reloaded(request, moved.pk, "rescheduled")


@router.post("/appointments/{appointment_id}/complete", response=documented(200, AppointmentOut))
def complete_appointment(request: HttpRequest, appointment_id: AppointmentId) -> Any:
    done = services.complete(actor_of(request), appointment_id)
    return _reloaded(request, done.pk, "completed")


def _session(p: Any) -> dict[str, Any]:
    return {
        "number": p.target.number,
        "block": p.target.block,
        "target_date": p.target.on.isoformat(),
        "week": p.target.week,
        "starts_at": p.slot.starts_at,
        "room": p.slot.room.name if p.slot.room else None,
        "staff": [m.display_name for m in p.slot.staff],
        "days_off_target": p.placed.days_off_target,
        "appointment_id": None,
        "reason": None,
    }


def _missing(u: Any) -> dict[str, Any]:
    return {
        "number": u.target.number,
        "block": u.target.block,
        "target_date": u.target.on.isoformat(),
        "week": u.target.week,
        "starts_at": None,
        "room": None,
        "staff": [],
        "days_off_target": None,
        "appointment_id": None,
        "reason": u.reason,
    }


@router.post("/plans/{plan_id}/series", response=documented(200, SeriesOut))
def plan_series(request: HttpRequest, plan_id: PlanId, payload: SeriesIn) -> Any:
    """Lay out (preview: true) or book (preview: false) the plan's sessions of a phase."""
    actor = actor_of(request)
    args: dict[str, Any] = {"phase": payload.phase, "start_date": payload.start_date, "count": payload.count}
    if payload.preview:
        preview: SeriesPreview = preview_series(actor, plan_id, **args)
        return {
            "plan_id": preview.plan.pk,
            "phase": preview.phase,
            "booked": False,
            "sessions": [_session(p) for p in preview.proposed],
            "unplaced": [_missing(u) for u in preview.unplaced],
        }
    result = book_series(actor, plan_id, **args)
    sessions: list[dict[str, Any]] = [
        {
            "number": a.series_number or 0,
            "block": "",
            "target_date": "",
            "week": 0,
            "starts_at": a.starts_at,
            "room": a.room.name if a.room else None,
            "staff": [],
            "days_off_target": None,
            "appointment_id": a.pk,
            "reason": None,
        }
        for a in result.booked
    ]
    return {
        "plan_id": plan_id,
        "phase": payload.phase,
        "booked": True,
        "sessions": sessions,
        "unplaced": [_missing(u) for u in result.unplaced],
    }
