"""The patient registry: search, register (with the duplicate check), read, change, archive, restore."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from ketaflow.patients import services as registry
from ketaflow.patients.matching import DuplicateMatch
from ketaflow.patients.models import Patient
from ketaflow.patients.services import PatientFilters, PossibleDuplicates
from ketaflow.phones import normalise_phone
from ketaflow.validation import ValidationFailed

from .auth import actor_of
from .pagination import page_body, refuse_unknown_query
from .patient_schemas import (
    ArchiveIn,
    DuplicateCheck,
    DuplicateConflict,
    DuplicatesOut,
    PatientCreate,
    PatientOut,
    PatientPage,
    PatientPatch,
    PatientSearch,
)
from .schemas import PatientId, responses

router = Router(tags=["patients"])

DUPLICATE_MESSAGE = (
    "This may be a patient who is already registered. Check the candidates; to register anyway, "
    "send the same body with confirm_not_duplicate: true."
)


def _candidates(matches: list[tuple[Patient, DuplicateMatch]]) -> list[dict[str, Any]]:
    """The candidates as shown to the caller (the service has audited the disclosure)."""
    return [
        {
            "id": p.pk,
            "mrn": p.mrn,
            "name": p.legal_name,
            "date_of_birth": p.date_of_birth,
            "score": m.score,
            "reasons": list(m.reasons),
        }
        for p, m in matches
    ]


@router.get("/patients", response=responses(200, PatientPage))
def list_patients(request: HttpRequest, query: Query[PatientSearch]) -> Any:
    """Search this organization's patients; archived patients only with include_archived."""
    refuse_unknown_query(request, PatientSearch)
    filters = PatientFilters(
        text=query.q,
        name=query.name,
        date_of_birth=query.date_of_birth,
        mrn=query.mrn,
        phone=query.phone,
        clinic_id=query.clinic_id,
        include_archived=query.include_archived,
    )
    page = registry.search_patients(actor_of(request), filters, page=query.page, page_size=query.page_size)
    return page_body(request, page)


@router.get("/patients/duplicates", response=responses(200, DuplicatesOut))
def check_duplicates(request: HttpRequest, query: Query[DuplicateCheck]) -> Any:
    """Who this person may already be, without registering anyone."""
    refuse_unknown_query(request, DuplicateCheck)
    actor = actor_of(request)
    data = query.model_dump()
    try:
        data["phone_mobile"] = normalise_phone(query.phone_mobile, registry.organization_of(actor).country)
    except ValueError as exc:
        raise ValidationFailed.single("phone_mobile", str(exc)) from exc
    return {"items": _candidates(registry.find_possible_duplicates(actor, data))}


@router.post("/patients", response=responses(201, PatientOut, {409: DuplicateConflict}))
def register_patient(request: HttpRequest, payload: PatientCreate) -> Any:
    """Register a patient. 409 lists possible duplicates; resend with confirm_not_duplicate."""
    actor = actor_of(request)
    try:
        patient = registry.register_patient(
            actor, payload.fields(), confirm_not_duplicate=payload.confirm_not_duplicate
        )
    except PossibleDuplicates as exc:
        body = {
            "errors": [{"field": None, "message": DUPLICATE_MESSAGE}],
            "duplicates": _candidates(exc.matches),
        }
        return Status(409, body)
    return Status(201, patient)


@router.get("/patients/{patient_id}", response=responses(200, PatientOut))
def get_patient(request: HttpRequest, patient_id: PatientId) -> Any:
    """One patient's registry record (archived ones too); the read is audited."""
    return registry.open_patient(actor_of(request), patient_id, purpose="demographics")


@router.patch("/patients/{patient_id}", response=responses(200, PatientOut))
def update_patient(request: HttpRequest, patient_id: PatientId, payload: PatientPatch) -> Any:
    """Change the fields sent; the audit entry names the fields changed, never their values."""
    return registry.update_patient(actor_of(request), patient_id, payload.changes())


@router.post("/patients/{patient_id}/archive", response=responses(200, PatientOut))
def archive_patient(request: HttpRequest, patient_id: PatientId, payload: ArchiveIn) -> Any:
    """Archive (never delete): the patient leaves searches but stays readable."""
    return registry.archive_patient(actor_of(request), patient_id, payload.reason)


@router.post("/patients/{patient_id}/restore", response=responses(200, PatientOut))
def restore_patient(request: HttpRequest, patient_id: PatientId) -> Any:
    return registry.restore_patient(actor_of(request), patient_id)
