"""Request and response bodies for the patient registry.

Input fields are exactly `patients.fields.EDITABLE`; the registry's rules (phones, choices, dates in
the past, clinic of this organization, unique MRN) are applied by the service. Clinical fields are
never part of the patient body.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from ketaflow.patients.fields import CHOICE_FIELDS, EDITABLE
from ketaflow.patients.models import Patient

from .pagination import PageOut, PageQuery
from .schemas import FieldErrorOut, Id, IsoDate, QueryDate, QueryId, QueryInput, Ref, StrictInput


def _choice(name: str) -> Any:
    return Field(None, json_schema_extra={"enum": list(CHOICE_FIELDS[name])})


class PatientPatch(StrictInput):
    """Change some fields; absent fields are left alone."""

    legal_given_name: str | None = None
    legal_middle_name: str | None = None
    legal_family_name: str | None = None
    preferred_name: str | None = None
    date_of_birth: IsoDate | None = None
    home_clinic_id: Id | None = None
    mrn: str | None = Field(None, description="Leave out to have the next number assigned.")
    sex_at_birth: str | None = _choice("sex_at_birth")
    gender_identity: str | None = _choice("gender_identity")
    gender_identity_text: str | None = None
    pronouns: str | None = None
    phone_mobile: str | None = Field(None, description="Any common format; stored and returned as E.164.")
    phone_home: str | None = None
    email: str | None = None
    preferred_contact: str | None = _choice("preferred_contact")
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    emergency_contact_name: str | None = None
    emergency_contact_relationship: str | None = None
    emergency_contact_phone: str | None = None
    pharmacy_name: str | None = None
    pharmacy_phone: str | None = None
    pharmacy_address: str | None = None
    primary_care_name: str | None = None
    primary_care_practice: str | None = None
    primary_care_phone: str | None = None
    referrer_name: str | None = None
    referrer_practice: str | None = None
    referrer_phone: str | None = None


class PatientCreate(PatientPatch):
    legal_given_name: str
    legal_family_name: str
    date_of_birth: IsoDate
    home_clinic_id: Id
    confirm_not_duplicate: bool = Field(
        False, description="Register even though possible duplicates were reported (409)."
    )

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"confirm_not_duplicate"})


class ArchiveIn(StrictInput):
    reason: str


class PatientOut(Schema):
    id: uuid.UUID
    mrn: str
    display_name: str
    legal_given_name: str
    legal_middle_name: str
    legal_family_name: str
    preferred_name: str
    date_of_birth: date
    sex_at_birth: str
    gender_identity: str
    gender_identity_text: str
    pronouns: str
    phone_mobile: str
    phone_home: str
    email: str
    preferred_contact: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    emergency_contact_name: str
    emergency_contact_relationship: str
    emergency_contact_phone: str
    pharmacy_name: str
    pharmacy_phone: str
    pharmacy_address: str
    primary_care_name: str
    primary_care_practice: str
    primary_care_phone: str
    referrer_name: str
    referrer_practice: str
    referrer_phone: str
    home_clinic: Ref
    archived: bool
    archived_at: datetime | None
    archived_reason: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_archived(obj: Patient) -> bool:
        return obj.is_archived


class PatientPage(PageOut):
    items: list[PatientOut]


class PatientSearch(PageQuery):
    q: str = Field("", description="Free text: name words, a date of birth, an MRN or a phone.")
    name: str = ""
    date_of_birth: QueryDate = None
    mrn: str = ""
    phone: str = ""
    clinic_id: QueryId = None
    include_archived: bool = False


class DuplicateCheck(QueryInput):
    legal_given_name: str
    legal_family_name: str
    date_of_birth: QueryDate = None
    phone_mobile: str = ""
    email: str = ""


class DuplicateOut(Schema):
    id: uuid.UUID
    mrn: str
    name: str
    date_of_birth: date
    score: float
    reasons: list[str]


class DuplicatesOut(Schema):
    items: list[DuplicateOut]


class DuplicateConflict(Schema):
    """409: registration paused; `duplicates` lists who this may already be."""

    errors: list[FieldErrorOut]
    duplicates: list[DuplicateOut]


if set(PatientPatch.model_fields) != set(EDITABLE):
    raise RuntimeError("PatientPatch must list exactly the registry's writable fields (EDITABLE)")
