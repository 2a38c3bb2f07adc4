"""The front desk's leads: the worklist, one lead, changing its status and notes, registering it.

Reading needs VIEW_DEMOGRAPHICS and changing EDIT_DEMOGRAPHICS. Every query starts from the actor's
organization; another organization's lead is not found. Every read is audited (a list names the
ids shown), every change names the fields changed, never their values or the person's name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.self_screen import SelfScreen, load_self_screen
from ketaflow.paging import DEFAULT_PAGE_SIZE, Page, paginate
from ketaflow.patients.fields import clean_patient_fields
from ketaflow.patients.models import Patient
from ketaflow.patients.services import (
    PossibleDuplicates,
    find_possible_duplicates,
    organization_of,
    register_patient,
)
from ketaflow.phones import display_phone
from ketaflow.validation import FieldError, ValidationFailed

from .models import OPEN_STATUSES, Lead, LeadStatus

STATUS_FILTERS = ("open", "all", *LeadStatus.values)
EDITABLE = ("status", "notes", "assigned_to_id", "closed_reason")
NOTES_MAX = 5000


def leads_for(actor: Actor) -> QuerySet[Lead]:
    """The one starting point for lead queries: this actor's organization only."""
    return Lead.objects.for_organization(actor.organization_id)


def _load(actor: Actor, lead_id: uuid.UUID | str, *, for_update: bool = False) -> Lead:
    queryset = leads_for(actor).select_related("preferred_clinic", "assigned_to__user", "patient")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.one(lead_id, "lead")  # type: ignore[attr-defined]


def _filtered(actor: Actor, status: str) -> QuerySet[Lead]:
    if status not in STATUS_FILTERS:
        raise ValidationFailed.single("status", f"Choose one of: {', '.join(STATUS_FILTERS)}.")
    queryset = leads_for(actor)
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status != "all":
        queryset = queryset.filter(status=status)
    urgent = Case(
        When(risk_endorsed=True, status=LeadStatus.NEW, then=Value(1)), default=Value(0),
        output_field=IntegerField(),
    )
    return (
        queryset.select_related("preferred_clinic", "assigned_to__user")
        .annotate(urgent=urgent)
        .order_by("-urgent", "-created_at", "-id")
    )


def lead_worklist(
    actor: Actor, *, status: str = "open", page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> Page[Lead]:
    """A page of leads, those to call today first, then newest first; audited as a LIST of ids."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        result = paginate(_filtered(actor, status), page, page_size)
        record(
            actor,
            Action.LIST,
            "Lead",
            detail={"shown": [str(lead.pk) for lead in result.items], "page": page, "total": result.total},
        )
    return result


@dataclass(frozen=True)
class LeadCounts:
    by_status: dict[str, int]
    call_today: int

    @property
    def open(self) -> int:
        return sum(self.by_status.get(s, 0) for s in OPEN_STATUSES)

    @property
    def all(self) -> int:
        return sum(self.by_status.values())


def lead_counts(actor: Actor) -> LeadCounts:
    """How many leads per status, and how many to call today (counts only: nothing to audit)."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    rows = leads_for(actor).values("status").annotate(n=Count("id")).order_by()
    by_status = dict.fromkeys(LeadStatus.values, 0) | {row["status"]: row["n"] for row in rows}
    call_today = leads_for(actor).filter(risk_endorsed=True, status=LeadStatus.NEW).count()
    return LeadCounts(by_status, call_today)


def open_lead(actor: Actor, lead_id: uuid.UUID | str, *, purpose: str = "detail") -> Lead:
    """Read one lead, recording the read."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        lead = _load(actor, lead_id)
        record(actor, Action.READ, "Lead", lead.pk, patient_id=lead.patient_id, detail={"purpose": purpose})
    return lead


def assignable_staff(actor: Actor) -> QuerySet[StaffMember]:
    """Active staff of the organization a lead can be given to."""
    return (
        StaffMember.objects.for_organization(actor.organization_id)
        .filter(user__is_active=True)
        .select_related("user")
    )


def _clean_changes(actor: Actor, lead: Lead, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(EDITABLE))
    errors = [FieldError(name, "This field cannot be changed here.") for name in unknown]
    clean: dict[str, Any] = {}
    if "status" in changes:
        status = changes["status"]
        if status == LeadStatus.CONVERTED:
            errors.append(FieldError("status", "Use “Register as patient” to convert a lead."))
        elif status not in LeadStatus.values:
            errors.append(FieldError("status", "Choose new, contacted, booked or closed."))
        elif lead.status == LeadStatus.CONVERTED and status != lead.status:
            errors.append(FieldError("status", "This lead is registered as a patient; its status stays."))
        else:
            clean["status"] = status
    for name, limit in (("notes", NOTES_MAX), ("closed_reason", 300)):
        if name in changes:
            value = changes[name]
            if value is not None and not isinstance(value, str):
                errors.append(FieldError(name, "Enter text."))
            elif len((value or "").strip()) > limit:
                errors.append(FieldError(name, f"Use at most {limit} characters."))
            else:
                clean[name] = (value or "").strip()
    if "assigned_to_id" in changes:
        value = changes["assigned_to_id"]
        if value in (None, ""):
            clean["assigned_to_id"] = None
        else:
            key = _uuid_or_none(value)
            staff = assignable_staff(actor).filter(pk=key).first() if key else None
            if staff is None:
                errors.append(FieldError("assigned_to_id", "Choose an active member of your staff."))
            else:
                clean["assigned_to_id"] = staff.pk
    status = clean.get("status", lead.status)
    if status == LeadStatus.CLOSED and not clean.get("closed_reason", lead.closed_reason):
        errors.append(FieldError("closed_reason", "Say why the lead is closed."))
    if errors:
        raise ValidationFailed(errors)
    if status != LeadStatus.CLOSED and "status" in clean:
        clean["closed_reason"] = ""
    return clean


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def update_lead(actor: Actor, lead_id: uuid.UUID | str, changes: Mapping[str, Any]) -> Lead:
    """Change status, notes, assignee or closing reason; the audit names the fields changed."""
    actor.require(Permission.EDIT_DEMOGRAPHICS)
    with transaction.atomic():
        lead = _load(actor, lead_id, for_update=True)
        clean = _clean_changes(actor, lead, changes)
        changed = sorted(name for name, value in clean.items() if getattr(lead, name) != value)
        if clean.get("status") in (LeadStatus.CONTACTED, LeadStatus.BOOKED) and lead.contacted_at is None:
            lead.contacted_at = timezone.now()
            changed.append("contacted_at")
        for name in changed:
            if name != "contacted_at":
                setattr(lead, name, clean[name])
        if changed:
            lead.save()
            record(
                actor, Action.UPDATE, "Lead", lead.pk, patient_id=lead.patient_id,
                detail={"fields": sorted(changed)},
            )
    return _load(actor, lead.pk)


def registration_initial(lead: Lead, region: str) -> dict[str, Any]:
    """What the patient registration form starts with for this lead (the person checks and completes it)."""
    given, _, family = lead.name.strip().rpartition(" ")
    if not given:
        given, family = family, ""
    return {
        "legal_given_name": given,
        "legal_family_name": family,
        "phone_mobile": display_phone(lead.phone, region),
        "email": lead.email,
        "preferred_contact": lead.preferred_contact,
        "home_clinic_id": str(lead.preferred_clinic_id) if lead.preferred_clinic_id else "",
    }


def convert_lead(
    actor: Actor, lead_id: uuid.UUID | str, data: Mapping[str, Any], *, confirm_not_duplicate: bool = False
) -> Patient:
    """Register the lead's person as a patient and link the lead to them, in one transaction.

    Raises ValidationFailed (a field of the registration, or a lead already registered), or
    PossibleDuplicates unless confirmed. The duplicate check runs, and audits what it disclosed,
    before the registering transaction, so the disclosure is recorded even though nothing is written.
    """
    actor.require(Permission.EDIT_DEMOGRAPHICS)
    lead = _load(actor, lead_id)
    if lead.patient_id is not None:
        raise ValidationFailed.single(None, "This lead is already registered as a patient.")
    if not confirm_not_duplicate:
        org = organization_of(actor)
        clean = clean_patient_fields(data, region=org.country, today=timezone.localdate())
        matches = find_possible_duplicates(actor, clean)
        if matches:
            raise PossibleDuplicates(matches)
    with transaction.atomic():
        lead = _load(actor, lead_id, for_update=True)
        if lead.patient_id is not None:
            raise ValidationFailed.single(None, "This lead is already registered as a patient.")
        patient = register_patient(actor, data, confirm_not_duplicate=True)
        lead.patient = patient
        lead.status = LeadStatus.CONVERTED
        lead.converted_at = timezone.now()
        lead.closed_reason = ""
        lead.save()
        record(
            actor, Action.UPDATE, "Lead", lead.pk, patient_id=patient.pk,
            detail={"fields": ["converted_at", "patient", "status"]},
        )
    return patient


@dataclass(frozen=True)
class AnsweredQuestion:
    question: str
    answers: tuple[str, ...]


def answered_questions(lead: Lead, screen: SelfScreen | None = None) -> list[AnsweredQuestion]:
    """The lead's answers as question -> answer labels, in the self-screen's order.

    Answers given to another version of the self-screen are shown by their stored values.
    """
    screen = screen or load_self_screen()
    stored = lead.answers if isinstance(lead.answers, dict) else {}
    rows = []
    if lead.screen_version == screen.version:
        for question in screen.questions:
            if question.id in stored:
                value = stored[question.id]
                values = value if isinstance(value, list) else [value]
                labels = tuple(question.label_for(str(v)) for v in values)
                rows.append(AnsweredQuestion(question.text, labels))
        return rows
    for key, value in stored.items():
        values = value if isinstance(value, list) else [value]
        rows.append(AnsweredQuestion(str(key), tuple(str(v) for v in values)))
    return rows
