"""The chart's foundation under a patient: problem list, allergies and alerts.

Reading problems or allergies needs the clinical permission (front desk gets 403); alerts are
readable by everyone, but front desk sees administrative alerts only. Every read goes through
`open_patient`, which records a READ on the patient with the purpose, before anything is returned.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.conditions import catalogue
from ketaflow.patients import records as chart
from ketaflow.patients import services as registry
from ketaflow.patients.models import Allergy, Condition, Patient, PatientAlert

from .auth import actor_of
from .pagination import PageOut, PageQuery, paged, refuse_unknown_query
from .schemas import AlertId, AllergyId, ConditionId, IsoDate, PatientId, StrictInput, responses

router = Router(tags=["records"])


def _enum(values: list[str]) -> Any:
    return {"enum": values}


class ConditionIn(StrictInput):
    catalogue_id: str = Field(description="An id from GET /api/v1/condition-catalogue.")
    onset_date: IsoDate | None = None
    note: str = ""


class ConditionStatusIn(StrictInput):
    status: str = Field(json_schema_extra=_enum(Condition.Status.values))


class ConditionOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    catalogue_id: str
    display: str
    snomed_code: str
    icd10_code: str
    status: str
    onset_date: date | None
    note: str
    recorded_at: datetime


class AllergyIn(StrictInput):
    substance: str
    category: str = Field("medication", json_schema_extra=_enum(Allergy.Category.values))
    reaction: str = ""
    severity: str = Field("unknown", json_schema_extra=_enum(Allergy.Severity.values))


class AllergyOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    substance: str
    category: str
    reaction: str
    severity: str
    is_active: bool
    recorded_at: datetime


class AllergyStatusOut(Schema):
    patient_id: uuid.UUID
    allergy_status: str


class AlertIn(StrictInput):
    category: str = Field(json_schema_extra=_enum(PatientAlert.Category.values))
    message: str


class AlertOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    category: str
    message: str
    is_active: bool
    recorded_at: datetime
    resolved_at: datetime | None


class RecordQuery(PageQuery):
    include_inactive: bool = Field(False, description="Also list inactive or resolved entries.")


class ConditionPage(PageOut):
    items: list[ConditionOut]


class AllergyPage(PageOut):
    items: list[AllergyOut]


class AlertPage(PageOut):
    items: list[AlertOut]


class CatalogueEntryOut(Schema):
    id: str
    display: str
    snomed: str
    icd10: str
    group: str


class CatalogueOut(Schema):
    version: str
    items: list[CatalogueEntryOut]


def _chart(
    request: HttpRequest, patient_id: PatientId, purpose: str, need: Permission
) -> tuple[Actor, Patient]:
    """Check the permission first (no audit row for a refused read), then open and audit."""
    actor = actor_of(request)
    actor.require(need)
    refuse_unknown_query(request, RecordQuery)
    return actor, registry.open_patient(actor, patient_id, purpose=purpose)


def _of(model: Any, actor: Actor, patient: Patient) -> QuerySet[Any]:
    return model.objects.for_organization(actor.organization_id).filter(patient=patient)


@router.get("/patients/{patient_id}/conditions", response=responses(200, ConditionPage))
def list_conditions(request: HttpRequest, patient_id: PatientId, query: Query[RecordQuery]) -> Any:
    actor, patient = _chart(request, patient_id, "conditions", Permission.VIEW_CLINICAL)
    rows = _of(Condition, actor, patient)
    if not query.include_inactive:
        rows = rows.exclude(status=Condition.Status.RESOLVED)
    return paged(request, rows.order_by("status", "display", "id"), query)


@router.post("/patients/{patient_id}/conditions", response=responses(201, ConditionOut))
def add_condition(request: HttpRequest, patient_id: PatientId, payload: ConditionIn) -> Any:
    return Status(
        201,
        chart.add_condition(
            actor_of(request),
            patient_id,
            payload.catalogue_id,
            onset_date=payload.onset_date,
            note=payload.note,
        ),
    )


@router.patch("/conditions/{condition_id}", response=responses(200, ConditionOut))
def set_condition_status(request: HttpRequest, condition_id: ConditionId, payload: ConditionStatusIn) -> Any:
    return chart.set_condition_status(actor_of(request), condition_id, payload.status)


@router.get("/condition-catalogue", response=responses(200, CatalogueOut))
def condition_catalogue(request: HttpRequest) -> Any:
    """The coded conditions a problem-list entry can name (SNOMED CT and ICD-10-CM)."""
    book = catalogue()
    return {"version": book.version, "items": list(book.conditions)}


@router.get("/patients/{patient_id}/allergies", response=responses(200, AllergyPage))
def list_allergies(request: HttpRequest, patient_id: PatientId, query: Query[RecordQuery]) -> Any:
    actor, patient = _chart(request, patient_id, "allergies", Permission.VIEW_CLINICAL)
    rows = _of(Allergy, actor, patient)
    if not query.include_inactive:
        rows = rows.filter(is_active=True)
    return paged(request, rows.order_by("substance", "id"), query)


@router.post("/patients/{patient_id}/allergies", response=responses(201, AllergyOut))
def add_allergy(request: HttpRequest, patient_id: PatientId, payload: AllergyIn) -> Any:
    return Status(201, chart.add_allergy(actor_of(request), patient_id, **payload.model_dump()))


@router.post("/allergies/{allergy_id}/deactivate", response=responses(200, AllergyOut))
def deactivate_allergy(request: HttpRequest, allergy_id: AllergyId) -> Any:
    return chart.deactivate_allergy(actor_of(request), allergy_id)


@router.post("/patients/{patient_id}/no-known-allergies", response=responses(200, AllergyStatusOut))
def mark_no_known_allergies(request: HttpRequest, patient_id: PatientId) -> Any:
    """Record that the patient has no known allergies (refused while any allergy is active)."""
    patient = registry.mark_no_known_allergies(actor_of(request), patient_id)
    return {"patient_id": patient.pk, "allergy_status": patient.allergy_status}


@router.get("/patients/{patient_id}/alerts", response=responses(200, AlertPage))
def list_alerts(request: HttpRequest, patient_id: PatientId, query: Query[RecordQuery]) -> Any:
    """Alerts on the chart header; without the clinical permission, administrative ones only."""
    actor, patient = _chart(request, patient_id, "alerts", Permission.VIEW_DEMOGRAPHICS)
    rows = _of(PatientAlert, actor, patient)
    if not actor.can(Permission.VIEW_CLINICAL):
        rows = rows.filter(category=PatientAlert.Category.ADMINISTRATIVE)
    if not query.include_inactive:
        rows = rows.filter(is_active=True)
    return paged(request, rows.order_by("category", "-recorded_at", "id"), query)


@router.post("/patients/{patient_id}/alerts", response=responses(201, AlertOut))
def add_alert(request: HttpRequest, patient_id: PatientId, payload: AlertIn) -> Any:
    return Status(
        201,
        chart.add_alert(actor_of(request), patient_id, category=payload.category, message=payload.message),
    )


@router.post("/alerts/{alert_id}/resolve", response=responses(200, AlertOut))
def resolve_alert(request: HttpRequest, alert_id: AlertId) -> Any:
    return chart.resolve_alert(actor_of(request), alert_id)
