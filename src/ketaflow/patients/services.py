"""Patient registry services. Each owns its transaction and writes its audit entry inside it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.paging import DEFAULT_PAGE_SIZE, Page, paginate
from ketaflow.validation import ValidationFailed

from .fields import clean_patient_fields, search_text_for
from .matching import DuplicateMatch, Identity, compare
from .models import AllergyStatus, Patient
from .search import parse_query


class PossibleDuplicates(Exception):
    """Registration paused: these patients may be the same person. Confirm to register anyway."""

    def __init__(self, matches: list[tuple[Patient, DuplicateMatch]]) -> None:
        self.matches = matches
        super().__init__(f"{len(matches)} possible duplicate(s)")


def organization_of(actor: Actor) -> Organization:
    return Organization.objects.get(pk=actor.organization_id)


def patients_for(actor: Actor) -> QuerySet[Patient]:
    """The one starting point for patient queries: this actor's organization only."""
    return Patient.objects.for_organization(actor.organization_id)


def _load(actor: Actor, patient_id: uuid.UUID | str, *, for_update: bool = False) -> Patient:
    queryset = patients_for(actor).select_related("home_clinic")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.one(patient_id, "patient")  # type: ignore[attr-defined]


def _check_clinic(actor: Actor, clinic_id: Any) -> uuid.UUID:
    try:
        pk = uuid.UUID(str(clinic_id))
    except ValueError:
        pk = None
    if pk is None or not Clinic.objects.for_organization(actor.organization_id).filter(pk=pk).exists():
        raise ValidationFailed.single("home_clinic_id", "Choose one of your organization's clinics.")
    return pk


def find_possible_duplicates(
    actor: Actor, data: Mapping[str, Any], *, exclude: uuid.UUID | None = None, limit: int = 5
) -> list[tuple[Patient, DuplicateMatch]]:
    """Existing patients (archived included) who may be the person described by `data`.

    Showing candidates discloses them, so a non-empty result is recorded in the audit trail.
    """
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    new = Identity(
        given=data.get("legal_given_name") or "",
        family=data.get("legal_family_name") or "",
        date_of_birth=data.get("date_of_birth"),
        phone=data.get("phone_mobile") or "",
        email=data.get("email") or "",
    )
    conditions = Q()
    if new.date_of_birth:
        conditions |= Q(date_of_birth=new.date_of_birth)
    if new.phone:
        conditions |= Q(phone_mobile=new.phone) | Q(phone_home=new.phone)
    if new.email:
        conditions |= Q(email__iexact=new.email)
    if not conditions:
        return []
    candidates = patients_for(actor).filter(conditions)
    if exclude:
        candidates = candidates.exclude(pk=exclude)
    matches = []
    for patient in candidates[:200]:
        found = compare(
            new,
            Identity(
                patient.legal_given_name,
                patient.legal_family_name,
                patient.date_of_birth,
                patient.phone_mobile,
                patient.email,
            ),
        )
        if found is None and patient.preferred_name:
            found = compare(
                new,
                Identity(
                    patient.preferred_name,
                    patient.legal_family_name,
                    patient.date_of_birth,
                    patient.phone_mobile,
                    patient.email,
                ),
            )
        if found:
            matches.append((patient, found))
    matches.sort(key=lambda pair: -pair[1].score)
    matches = matches[:limit]
    if matches:
        with transaction.atomic():
            shown = [str(patient.pk) for patient, _ in matches]
            record(actor, Action.LIST, "Patient", detail={"shown": shown, "purpose": "duplicate_check"})
    return matches


def _next_mrn(organization_id: uuid.UUID) -> str:
    org = Organization.objects.select_for_update().get(pk=organization_id)
    number = org.next_mrn
    Organization.objects.filter(pk=org.pk).update(next_mrn=number + 1)
    return f"{org.mrn_prefix}-{number:06d}"


def _save_unique(patient: Patient, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            patient.save(**kwargs)
    except IntegrityError as exc:
        if "mrn" in str(exc).lower():  # the only unique constraint a registry write can break
            raise ValidationFailed.single("mrn", "This MRN is already used by another patient.") from exc
        raise


def register_patient(
    actor: Actor, data: Mapping[str, Any], *, confirm_not_duplicate: bool = False
) -> Patient:
    """Create a patient. Raises ValidationFailed, or PossibleDuplicates unless confirmed."""
    actor.require(Permission.EDIT_DEMOGRAPHICS)
    org = organization_of(actor)
    clean = clean_patient_fields(data, region=org.country, today=timezone.localdate())
    clean["home_clinic_id"] = _check_clinic(actor, clean["home_clinic_id"])
    if not confirm_not_duplicate:
        matches = find_possible_duplicates(actor, clean)
        if matches:
            raise PossibleDuplicates(matches)
    with transaction.atomic():
        mrn = clean.pop("mrn", "") or ""
        if mrn and patients_for(actor).filter(mrn=mrn).exists():
            raise ValidationFailed.single("mrn", "This MRN is already used by another patient.")
        patient = Patient(organization_id=org.pk, mrn=mrn or _next_mrn(org.pk), **clean)
        patient.search_text = search_text_for({**clean, "mrn": patient.mrn})
        _save_unique(patient, force_insert=True)
        record(
            actor,
            Action.CREATE,
            "Patient",
            patient.pk,
            patient_id=patient.pk,
            detail={"fields": sorted(clean)},
        )
    return patient


def update_patient(actor: Actor, patient_id: uuid.UUID | str, changes: Mapping[str, Any]) -> Patient:
    """Apply a partial change; the audit entry names the fields changed, never their values."""
    actor.require(Permission.EDIT_DEMOGRAPHICS)
    org = organization_of(actor)
    clean = clean_patient_fields(changes, region=org.country, today=timezone.localdate(), partial=True)
    if "home_clinic_id" in clean:
        clean["home_clinic_id"] = _check_clinic(actor, clean["home_clinic_id"])
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        if patient.is_archived:
            raise ValidationFailed.single(None, "Restore this patient before changing the record.")
        if "mrn" in clean and not clean["mrn"]:
            del clean["mrn"]
        if "mrn" in clean and patients_for(actor).filter(mrn=clean["mrn"]).exclude(pk=patient.pk).exists():
            raise ValidationFailed.single("mrn", "This MRN is already used by another patient.")
        changed = sorted(name for name, value in clean.items() if getattr(patient, name) != value)
        if (
            "gender_identity" in clean
            and clean["gender_identity"] == "self_described"
            and not (clean.get("gender_identity_text") or patient.gender_identity_text)
        ):
            raise ValidationFailed.single(
                "gender_identity_text", "Describe the gender identity, or choose another option."
            )
        for name in changed:
            setattr(patient, name, clean[name])
        if changed:
            patient.search_text = search_text_for(vars(patient))
            _save_unique(patient)
            record(
                actor, Action.UPDATE, "Patient", patient.pk, patient_id=patient.pk, detail={"fields": changed}
            )
    return patient


def open_patient(actor: Actor, patient_id: uuid.UUID | str, *, purpose: str = "chart") -> Patient:
    """Read one patient's record, recording the read."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        patient = _load(actor, patient_id)
        record(actor, Action.READ, "Patient", patient.pk, patient_id=patient.pk, detail={"purpose": purpose})
    return patient


@dataclass(frozen=True)
class PatientFilters:
    text: str = ""
    name: str = ""
    date_of_birth: date | None = None
    mrn: str = ""
    phone: str = ""
    clinic_id: uuid.UUID | None = None
    include_archived: bool = False


def _filtered(actor: Actor, filters: PatientFilters) -> QuerySet[Patient]:
    queryset = patients_for(actor)
    if not filters.include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    query = parse_query(" ".join(filter(None, [filters.text, filters.name])))
    for word in query.names:
        queryset = queryset.filter(search_text__contains=word)
    dob = filters.date_of_birth or query.date_of_birth
    if dob:
        queryset = queryset.filter(date_of_birth=dob)
    mrn = (filters.mrn or query.mrn).strip().upper()
    if mrn:
        queryset = queryset.filter(mrn=mrn)
    digits = "".join(ch for ch in filters.phone if ch.isdigit())[-10:] or query.phone_digits
    if digits:
        queryset = queryset.filter(Q(phone_mobile__endswith=digits) | Q(phone_home__endswith=digits))
    if filters.clinic_id:
        queryset = queryset.filter(home_clinic_id=filters.clinic_id)
    return queryset.select_related("home_clinic").order_by("legal_family_name", "legal_given_name", "id")


def search_patients(
    actor: Actor, filters: PatientFilters, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> Page[Patient]:
    """A page of matching patients; the audit entry lists the ids shown (not the search text)."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        result = paginate(_filtered(actor, filters), page, page_size)
        record(
            actor,
            Action.LIST,
            "Patient",
            detail={
                "shown": [str(p.pk) for p in result.items],
                "page": page,
                "total": result.total,
            },
        )
    return result


def archive_patient(actor: Actor, patient_id: uuid.UUID | str, reason: str) -> Patient:
    """Archive (never delete): the record leaves lists and searches but stays readable."""
    actor.require(Permission.ARCHIVE_PATIENTS)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.single("reason", "Say why this patient is being archived.")
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        if patient.is_archived:
            raise ValidationFailed.single(None, "This patient is already archived.")
        patient.archived_at = timezone.now()
        patient.archived_reason = reason[:300]
        patient.save(update_fields=["archived_at", "archived_reason", "updated_at"])
        record(actor, Action.ARCHIVE, "Patient", patient.pk, patient_id=patient.pk)
    return patient


def restore_patient(actor: Actor, patient_id: uuid.UUID | str) -> Patient:
    actor.require(Permission.ARCHIVE_PATIENTS)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        if not patient.is_archived:
            raise ValidationFailed.single(None, "This patient is not archived.")
        patient.archived_at = None
        patient.archived_reason = ""
        patient.save(update_fields=["archived_at", "archived_reason", "updated_at"])
        record(actor, Action.RESTORE, "Patient", patient.pk, patient_id=patient.pk)
    return patient


def mark_no_known_allergies(actor: Actor, patient_id: uuid.UUID | str) -> Patient:
    from .models import Allergy

    actor.require(Permission.EDIT_CLINICAL)
    with transaction.atomic():
        patient = _load(actor, patient_id, for_update=True)
        if (
            Allergy.objects.for_organization(actor.organization_id)
            .filter(patient=patient, is_active=True)
            .exists()
        ):
            raise ValidationFailed.single(
                "allergy_status", "This patient has active allergies; mark them inactive first."
            )
        patient.allergy_status = AllergyStatus.NONE_KNOWN
        patient.save(update_fields=["allergy_status", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "Patient",
            patient.pk,
            patient_id=patient.pk,
            detail={"fields": ["allergy_status"]},
        )
    return patient
