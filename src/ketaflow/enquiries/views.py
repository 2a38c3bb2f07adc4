"""The front desk's lead pages: the worklist, one lead (status, notes), and registering it as a patient.

Flash messages name nobody: between a redirect and the next page they travel in a cookie.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.self_screen import Outcome
from ketaflow.clinics.models import Clinic
from ketaflow.clinics.services import clinics_for
from ketaflow.patients.forms import PatientForm
from ketaflow.patients.services import organization_of
from ketaflow.patients.views import htmx_target, page_number, registration_attempt
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import LeadUpdateForm
from .leads import (
    STATUS_FILTERS,
    answered_questions,
    assignable_staff,
    convert_lead,
    lead_counts,
    lead_worklist,
    open_lead,
    registration_initial,
    update_lead,
)
from .models import Lead, LeadStatus

PAGE_SIZE = 25
FALLBACK_TIMEZONE: str = Clinic._meta.get_field("timezone").default  # for a practice with no clinic yet
FILTER_LABELS = {"open": "Open", "all": "All", **dict(LeadStatus.choices)}


def _practice_timezone(actor: Any) -> str:
    """The time zone leads without a preferred clinic are shown in: the practice's first open clinic's."""
    clinic = clinics_for(actor).filter(is_active=True).order_by("name").first()
    return clinic.timezone if clinic else FALLBACK_TIMEZONE


def _shown_in(lead: Lead, practice_timezone: str) -> str:
    return lead.preferred_clinic.timezone if lead.preferred_clinic else practice_timezone


@require_GET
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def lead_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    status = request.GET.get("status") or "open"
    if status not in STATUS_FILTERS:
        status = "open"
    counts = lead_counts(actor)
    page = lead_worklist(actor, status=status, page=page_number(request), page_size=PAGE_SIZE)
    practice_timezone = _practice_timezone(actor)
    for lead in page.items:
        lead.shown_timezone = _shown_in(lead, practice_timezone)  # type: ignore[attr-defined]
    tabs = [
        (value, FILTER_LABELS[value], counts.open if value == "open" else counts.all if value == "all"
         else counts.by_status.get(value, 0))
        for value in STATUS_FILTERS
    ]
    context = {"page": page, "status": status, "tabs": tabs, "counts": counts, "section": "leads",
               "talk_to_doctor": Outcome.TALK_TO_DOCTOR.value}
    if htmx_target(request) == "lead-results":
        return render(request, "enquiries/_results.html", context)
    return render(request, "enquiries/list.html", context)


def _detail_context(actor: Any, lead: Lead, form: LeadUpdateForm | None = None) -> dict[str, Any]:
    staff = assignable_staff(actor)
    converted = lead.status == LeadStatus.CONVERTED
    if form is None and actor.can(Permission.EDIT_DEMOGRAPHICS):
        form = LeadUpdateForm(initial={
            "status": lead.status, "assigned_to_id": str(lead.assigned_to_id or ""),
            "closed_reason": lead.closed_reason, "notes": lead.notes,
        }, staff=staff, converted=converted)
    return {
        "lead": lead, "form": form, "answers": answered_questions(lead), "section": "leads",
        "outcome_label": Outcome(lead.outcome).label,
        "shown_timezone": _shown_in(lead, _practice_timezone(actor)),
    }


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def lead_detail(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if request.method == "POST":
        actor.require(Permission.EDIT_DEMOGRAPHICS)
        lead = open_lead(actor, lead_id, purpose="edit")
        form = LeadUpdateForm(request.POST, staff=assignable_staff(actor),
                              converted=lead.status == LeadStatus.CONVERTED)
        if form.is_valid():
            try:
                update_lead(actor, lead.pk, form.service_data())
            except ValidationFailed as failure:
                show_errors(form, failure)
            else:
                messages.success(request, "The lead is saved.")
                return redirect("enquiries:detail", lead_id=lead.pk)
        return render(request, "enquiries/detail.html", _detail_context(actor, lead, form))
    lead = open_lead(actor, lead_id)
    return render(request, "enquiries/detail.html", _detail_context(actor, lead))


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_DEMOGRAPHICS)
def lead_register(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    lead = open_lead(actor, lead_id, purpose="register")
    if lead.patient_id:
        messages.info(request, "This lead is already registered as a patient.")
        return redirect("enquiries:detail", lead_id=lead.pk)
    region = organization_of(actor).country
    form = PatientForm(request.POST or None, initial=registration_initial(lead, region),
                       clinics=clinics_for(actor).filter(is_active=True))
    patient, matches = registration_attempt(
        request, form,
        lambda data, confirmed: convert_lead(actor, lead.pk, data, confirm_not_duplicate=confirmed),
    )
    if patient is not None:
        messages.success(request, "The patient is registered and the lead is marked as registered.")
        return redirect("patients:chart", patient_id=patient.pk)
    return render(request, "enquiries/register.html", {
        "form": form, "matches": matches, "lead": lead, "section": "leads",
    })
