"""Patient registry pages: search, register, edit, archive and restore.

Flash messages name no patient and no clinical detail: between a redirect and the next page they
travel in a cookie.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.clinics.services import clinics_for
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import ArchiveForm, PatientForm, PatientSearchForm, initial_for
from .models import Patient
from .services import (
    PatientFilters,
    PossibleDuplicates,
    archive_patient,
    open_patient,
    organization_of,
    register_patient,
    restore_patient,
    search_patients,
    update_patient,
)

PAGE_SIZE = 25


def htmx_target(request: HttpRequest) -> str:
    """The element id an HTMX request will swap into, or "" for a full page load."""
    return request.headers.get("HX-Target", "") if request.headers.get("HX-Request") else ""


def page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@require_GET
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def patient_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = PatientSearchForm(request.GET, clinics=clinics_for(actor))
    form.is_valid()
    data = form.cleaned_data
    clinic_id = uuid.UUID(data["clinic"]) if data.get("clinic") else None
    filters = PatientFilters(text=data.get("q", ""), clinic_id=clinic_id,
                             include_archived=bool(data.get("archived")))
    page = search_patients(actor, filters, page=page_number(request), page_size=PAGE_SIZE)
    context = {"form": form, "page": page, "query": filters.text, "section": "patients"}
    if htmx_target(request) == "patient-results":
        return render(request, "patients/_results.html", context | {"oob_status": True})
    return render(request, "patients/list.html", context)


def registration_attempt(
    request: HttpRequest, form: PatientForm, register: Callable[[dict[str, Any], bool], Patient]
) -> tuple[Patient | None, list[Any]]:
    """Run `register(data, confirmed)` on a posted, valid form: (the patient, []) when registered, or
    (None, possible duplicates to show); refusals land on the form's fields."""
    if request.method != "POST" or not form.is_valid():
        return None, []
    try:
        return register(form.service_data(), form.cleaned_data["confirm_not_duplicate"]), []
    except PossibleDuplicates as found:
        if "register_anyway" in request.POST:
            form.add_error("confirm_not_duplicate",
                           "Tick “None of these is the same person” to register anyway.")
        return None, list(found.matches)
    except ValidationFailed as failure:
        show_errors(form, failure)
        return None, []


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_DEMOGRAPHICS)
def patient_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = PatientForm(request.POST or None, clinics=clinics_for(actor).filter(is_active=True))
    patient, matches = registration_attempt(
        request, form, lambda data, confirmed: register_patient(actor, data, confirm_not_duplicate=confirmed)
    )
    if patient is not None:
        messages.success(request, "The patient is registered; their MRN is at the top of the chart.")
        return redirect("patients:chart", patient_id=patient.pk)
    return render(request, "patients/form.html", {
        "form": form, "matches": matches, "creating": True, "section": "patients",
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_DEMOGRAPHICS)
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="edit")
    if patient.is_archived:
        messages.info(request, "Restore this patient before changing the record.")
        return redirect("patients:chart", patient_id=patient.pk)
    region = organization_of(actor).country
    form = PatientForm(request.POST or None, initial=initial_for(patient, region),
                       clinics=clinics_for(actor))
    if request.method == "POST" and form.is_valid():
        try:
            patient = update_patient(actor, patient.pk, form.service_data())
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, "The patient's details are saved.")
            return redirect("patients:chart", patient_id=patient.pk)
    return render(request, "patients/form.html", {
        "form": form, "patient": patient, "creating": False, "section": "patients",
        "archive_form": ArchiveForm(),
    })


@require_POST
@staff_view(Permission.ARCHIVE_PATIENTS)
def patient_archive(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = ArchiveForm(request.POST)
    form.is_valid()
    try:
        patient = archive_patient(actor, patient_id, form.cleaned_data.get("reason", ""))
    except ValidationFailed as failure:
        patient = open_patient(actor, patient_id, purpose="edit")
        show_errors(form, failure)
        if patient.is_archived:
            messages.info(request, "This patient is already archived.")
            return redirect("patients:chart", patient_id=patient.pk)
        region = organization_of(actor).country
        edit_form = PatientForm(initial=initial_for(patient, region), clinics=clinics_for(actor))
        return render(request, "patients/form.html", {
            "form": edit_form, "patient": patient, "creating": False, "section": "patients",
            "archive_form": form, "archive_open": True,
        })
    messages.success(request, "The patient is archived. The record stays readable.")
    return redirect("patients:chart", patient_id=patient.pk)


@require_POST
@staff_view(Permission.ARCHIVE_PATIENTS)
def patient_restore(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    try:
        patient = restore_patient(actor, patient_id)
    except ValidationFailed as failure:
        messages.info(request, " ".join(e.message for e in failure.errors))
        return redirect("patients:chart", patient_id=patient_id)
    messages.success(request, "The patient is restored.")
    return redirect("patients:chart", patient_id=patient.pk)
