"""Clinics, their weekly opening hours and their rooms. Any staff member may read them; changing them
needs the clinic-management permission."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.clinics import services as clinic_services
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.validation import NotFound

from .auth import actor_of
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import ClinicId, IsoTime, NotNull, RoomId, StrictInput, responses

router = Router(tags=["clinics"])


class ClinicPatch(StrictInput):
    name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    timezone: str | None = Field(None, description="An IANA time zone, for example America/Denver.")
    is_active: Annotated[bool | None, NotNull] = None


class ClinicCreate(ClinicPatch):
    name: str


class ClinicOut(Schema):
    id: uuid.UUID
    name: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    phone: str
    timezone: str
    is_active: bool


class ClinicPage(PageOut):
    items: list[ClinicOut]


class ListQuery(PageQuery):
    include_inactive: bool = False


class IntervalIn(StrictInput):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    opens: IsoTime
    closes: IsoTime


class OpeningHoursIn(StrictInput):
    hours: list[IntervalIn] = Field(description="The whole week; it replaces the current one.")


class IntervalOut(Schema):
    weekday: int
    opens: time
    closes: time


class OpeningHoursOut(Schema):
    """The clinic's week, in the clinic's own time zone (the same shape PUT takes)."""

    clinic_id: uuid.UUID
    timezone: str
    hours: list[IntervalOut]


class RoomPatch(StrictInput):
    name: str | None = None
    kind: Annotated[str | None, NotNull] = Field(None, json_schema_extra={"enum": list(Room.Kind.values)})
    is_active: Annotated[bool | None, NotNull] = None
    notes: str | None = None


class RoomCreate(RoomPatch):
    name: str


class RoomOut(Schema):
    id: uuid.UUID
    clinic_id: uuid.UUID
    name: str
    kind: str
    is_active: bool
    notes: str


class RoomPage(PageOut):
    items: list[RoomOut]


@router.get("/clinics", response=responses(200, ClinicPage))
def list_clinics(request: HttpRequest, query: Query[ListQuery]) -> Any:
    refuse_unknown_query(request, ListQuery)
    rows = clinic_services.clinics_for(actor_of(request))
    if not query.include_inactive:
        rows = rows.filter(is_active=True)
    return paged(request, rows.order_by("name", "id"), query)


@router.post("/clinics", response=responses(201, ClinicOut))
def create_clinic(request: HttpRequest, payload: ClinicCreate) -> Any:
    return Status(201, clinic_services.create_clinic(actor_of(request), payload.changes()))


@router.get("/clinics/{clinic_id}", response=responses(200, ClinicOut))
def get_clinic(request: HttpRequest, clinic_id: ClinicId) -> Any:
    return clinic_services.get_clinic(actor_of(request), clinic_id)


@router.patch("/clinics/{clinic_id}", response=responses(200, ClinicOut))
def update_clinic(request: HttpRequest, clinic_id: ClinicId, payload: ClinicPatch) -> Any:
    return clinic_services.update_clinic(actor_of(request), clinic_id, payload.changes())


def _week(clinic: Clinic, rows: list[OpeningHours]) -> dict[str, Any]:
    return {"clinic_id": clinic.pk, "timezone": clinic.timezone, "hours": rows}


@router.get("/clinics/{clinic_id}/opening-hours", response=responses(200, OpeningHoursOut))
def get_opening_hours(request: HttpRequest, clinic_id: ClinicId) -> Any:
    found = clinic_services.get_clinic(actor_of(request), clinic_id)
    return _week(found, list(found.opening_hours.order_by("weekday", "opens")))


@router.put("/clinics/{clinic_id}/opening-hours", response=responses(200, OpeningHoursOut))
def set_opening_hours(request: HttpRequest, clinic_id: ClinicId, payload: OpeningHoursIn) -> Any:
    actor = actor_of(request)
    rows = clinic_services.set_opening_hours(
        actor, clinic_id, [(h.weekday, h.opens, h.closes) for h in payload.hours]
    )
    return _week(clinic_services.get_clinic(actor, clinic_id), rows)


@router.get("/clinics/{clinic_id}/rooms", response=responses(200, RoomPage))
def list_rooms(request: HttpRequest, clinic_id: ClinicId, query: Query[ListQuery]) -> Any:
    refuse_unknown_query(request, ListQuery)
    found = clinic_services.get_clinic(actor_of(request), clinic_id)
    rows = Room.objects.for_organization(found.organization_id).filter(clinic=found)
    if not query.include_inactive:
        rows = rows.filter(is_active=True)
    return paged(request, rows.order_by("name", "id"), query)


@router.post("/clinics/{clinic_id}/rooms", response=responses(201, RoomOut))
def create_room(request: HttpRequest, clinic_id: ClinicId, payload: RoomCreate) -> Any:
    return Status(201, clinic_services.save_room(actor_of(request), clinic_id, payload.changes()))


@router.get("/clinics/{clinic_id}/rooms/{room_id}", response=responses(200, RoomOut))
def get_room(request: HttpRequest, clinic_id: ClinicId, room_id: RoomId) -> Any:
    found = clinic_services.get_clinic(actor_of(request), clinic_id)
    try:
        return Room.objects.for_organization(found.organization_id).get(clinic=found, pk=uuid.UUID(room_id))
    except (ValueError, Room.DoesNotExist) as exc:
        raise NotFound("room") from exc


@router.patch("/clinics/{clinic_id}/rooms/{room_id}", response=responses(200, RoomOut))
def update_room(request: HttpRequest, clinic_id: ClinicId, room_id: RoomId, payload: RoomPatch) -> Any:
    return clinic_services.save_room(actor_of(request), clinic_id, payload.changes(), room_id=room_id)
