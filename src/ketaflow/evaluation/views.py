"""The Evaluation tab's pages and actions, under /evaluation/patients/<patient_id>/.

GET on a section's address opens the chart on the Evaluation tab at that section (a link other
tabs can give: "record a blood pressure"); POST saves it through one service. A saved form
redirects back to the section (or, for HTMX, returns the refreshed chart body); a refused one
shows the tab again with each message beside its field. Flash messages name no clinical detail.
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.patients.medications import add_medication, stop_medication
from ketaflow.patients.models import Medication, Patient
from ketaflow.patients.views import htmx_target
from ketaflow.patients.vital_signs import record_vitals
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import services
from .forms import FactsForm, LabsForm, MedicationForm, NotesForm, StopMedicationForm, TrialsForm, VitalsForm

TAB = "evaluation"


def _render(request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any] | None = None
            ) -> HttpResponse:
    """The chart on the Evaluation tab (opening the patient, audited), with `overrides` in its context."""
    actor = request.actor  # type: ignore[attr-defined]
    context = chart_context(actor, patient_id, tab_for(actor, TAB), overrides)
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")


def _done(request: HttpRequest, patient_id: uuid.UUID, message: str, section: str) -> HttpResponse:
    messages.success(request, message)
    if htmx_target(request) == "chart-body":
        return _render(request, patient_id)
    url = reverse("patients:tab", kwargs={"patient_id": patient_id, "tab": TAB})
    return redirect(f"{url}#{section}")


def _refused(request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any]) -> HttpResponse:
    """The tab again with the form's errors beside their fields (200, so HTMX swaps it in)."""
    return _render(request, patient_id, overrides)


def _clinic_zone(actor: Actor, patient_id: uuid.UUID) -> ZoneInfo:
    zone = (
        Patient.objects.for_organization(actor.organization_id).filter(pk=patient_id)
        .values_list("home_clinic__timezone", flat=True).first()
    )
    if zone is None:
        raise NotFound("patient")
    return ZoneInfo(zone)


def _open(request: HttpRequest, patient_id: uuid.UUID, section: str) -> HttpResponse:
    return _render(request, patient_id, {"open_form": section})


# ---------- Vital signs and medications (services in the patients app) ----------

@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def vitals_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return _open(request, patient_id, "vitals")
    actor = request.actor  # type: ignore[attr-defined]
    form = VitalsForm(request.POST)
    with timezone.override(_clinic_zone(actor, patient_id)):  # a local time means the clinic's
        valid = form.is_valid()
    if valid:
        try:
            record_vitals(actor, patient_id, form.readings(), measured_at=form.cleaned_data["measured_at"])
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "Vital signs saved.", "vitals")
    return _refused(request, patient_id, {"vitals_form": form, "open_form": "vitals"})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def medication_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return _open(request, patient_id, "medications")
    actor = request.actor  # type: ignore[attr-defined]
    form = MedicationForm(request.POST)
    if form.is_valid():
        catalogue_id, name = form.choice()
        try:
            add_medication(actor, patient_id, name=name, catalogue_id=catalogue_id,
                           dose=form.cleaned_data["dose"], source=form.cleaned_data["source"])
        except ValidationFailed as failure:
            show_errors(form, failure, rename={"name": "medication", "catalogue_id": "medication"})
        else:
            return _done(request, patient_id, "Medication added.", "medications")
    return _refused(request, patient_id, {"medication_form": form, "open_form": "medications"})


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def medication_stop(request: HttpRequest, patient_id: uuid.UUID, medication_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    scope = Medication.objects.for_organization(actor.organization_id)
    if not scope.filter(pk=medication_id, patient_id=patient_id).exists():
        raise NotFound("medication")
    form = StopMedicationForm(request.POST)
    if form.is_valid():
        try:
            stop_medication(actor, medication_id, stopped_on=form.cleaned_data["stopped_on"])
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "Medication marked as stopped.", "medications")
    return _refused(request, patient_id, {"stop_form": form, "stop_for": medication_id,
                                          "open_form": "medications"})


# ---------- The evaluation record ----------

@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def start(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    services.start_evaluation(request.actor, patient_id)  # type: ignore[attr-defined]
    return _done(request, patient_id, "Evaluation started.", "evaluation-status")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def facts_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return _open(request, patient_id, "facts")
    form = FactsForm(request.POST)
    if form.is_valid():
        try:
            services.save_facts(request.actor, patient_id, form.facts())  # type: ignore[attr-defined]
        except ValidationFailed as failure:
            show_errors(form, failure, rename=form.error_names())
        else:
            return _done(request, patient_id, "Eligibility facts saved.", "facts")
    return _refused(request, patient_id, {"facts_form": form, "open_form": "facts"})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def trials_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return _open(request, patient_id, "staging")
    form = TrialsForm(request.POST)
    if form.is_valid():
        trials, rename = form.trials()
        try:
            services.save_trials(request.actor, patient_id, trials,  # type: ignore[attr-defined]
                                 ect_failed=form.ect())
        except ValidationFailed as failure:
            show_errors(form, failure, rename=rename)
        else:
            return _done(request, patient_id, "Antidepressant trials saved.", "staging")
    return _refused(request, patient_id, {"trials_form": form, "open_form": "staging"})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def labs_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        return _open(request, patient_id, "labs")
    form = LabsForm(request.POST)
    if form.is_valid():
        try:
            services.save_labs(request.actor, patient_id, form.labs())  # type: ignore[attr-defined]
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "Labs and ECG saved.", "labs")
    return _refused(request, patient_id, {"labs_form": form, "open_form": "labs"})


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def notes_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = NotesForm(request.POST)
    if form.is_valid():
        try:
            services.save_notes(request.actor, patient_id, form.cleaned_data["notes"])  # type: ignore[attr-defined]
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "Notes saved.", "notes")
    return _refused(request, patient_id, {"notes_form": form, "open_form": "notes"})


@require_POST
@staff_view(Permission.SIGN_PLANS)
def complete(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        services.complete_evaluation(request.actor, patient_id)  # type: ignore[attr-defined]
    except ValidationFailed as failure:
        return _refused(request, patient_id, {"complete_errors": failure.errors, "open_form": "complete"})
    return _done(request, patient_id, "Evaluation completed.", "evaluation-status")
