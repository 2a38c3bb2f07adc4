"""The Evaluation tab's pages and actions, under /evaluation/patients/<patient_id>/.

GET on a section's address opens the chart on the Evaluation tab at that section (a link other
tabs can give: "record a blood pressure"); POST saves it through one service. A saved form
redirects back to the section (or, for HTMX, returns the refreshed chart body); a refused one
shows the tab again with each message beside its field. Flash messages name no clinical detail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
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
from .forms import (
    FactsForm,
    LabsForm,
    MedicationForm,
    NotesForm,
    SectionForm,
    StopMedicationForm,
    TrialsForm,
    VitalsForm,
)

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


def _section(
    request: HttpRequest, patient_id: uuid.UUID, section: str, make_form: Callable[[Any], SectionForm],
    save: Callable[[Actor, Any], object], message: str, *, shown_as: str,
    overrides: dict[str, Any] | None = None,
) -> HttpResponse:
    """One section's address. GET opens the tab at the section; POST parses the form, calls
    `save(actor, form)` and returns to the section, or shows the tab again with the form under
    `shown_as` and each error beside its field (200, so HTMX swaps it in)."""
    if request.method == "GET":
        return _render(request, patient_id, {"open_form": section})
    form = make_form(request.POST)
    if form.is_valid():
        try:
            save(request.actor, form)  # type: ignore[attr-defined]
        except ValidationFailed as failure:
            show_errors(form, failure, rename=form.error_names())
        else:
            return _done(request, patient_id, message, section)
    return _render(request, patient_id, {shown_as: form, "open_form": section, **(overrides or {})})


def _clinic_zone(actor: Actor, patient_id: uuid.UUID) -> ZoneInfo:
    zone = (
        Patient.objects.for_organization(actor.organization_id).filter(pk=patient_id)
        .values_list("home_clinic__timezone", flat=True).first()
    )
    if zone is None:
        raise NotFound("patient")
    return ZoneInfo(zone)


# ---------- Vital signs and medications (services in the patients app) ----------

@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def vitals_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _section(
        request, patient_id, "vitals",
        lambda data: VitalsForm(data, zone=_clinic_zone(request.actor, patient_id)),  # type: ignore[attr-defined]
        lambda actor, form: record_vitals(actor, patient_id, form.readings(),
                                          measured_at=form.cleaned_data["measured_at"]),
        "Vital signs saved.", shown_as="vitals_form",
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def medication_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    def save(actor: Actor, form: MedicationForm) -> object:
        catalogue_id, name = form.choice()
        return add_medication(actor, patient_id, name=name, catalogue_id=catalogue_id,
                              dose=form.cleaned_data["dose"], source=form.cleaned_data["source"])

    return _section(request, patient_id, "medications", MedicationForm, save, "Medication added.",
                    shown_as="medication_form")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def medication_stop(request: HttpRequest, patient_id: uuid.UUID, medication_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    scope = Medication.objects.for_organization(actor.organization_id)
    if not scope.filter(pk=medication_id, patient_id=patient_id).exists():
        raise NotFound("medication")
    return _section(
        request, patient_id, "medications", StopMedicationForm,
        lambda actor, form: stop_medication(actor, medication_id, stopped_on=form.cleaned_data["stopped_on"]),
        "Medication marked as stopped.", shown_as="stop_form", overrides={"stop_for": medication_id},
    )


# ---------- The evaluation record ----------

@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def start(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    services.start_evaluation(request.actor, patient_id)  # type: ignore[attr-defined]
    return _done(request, patient_id, "Evaluation started.", "evaluation-status")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def facts_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _section(request, patient_id, "facts", FactsForm,
                    lambda actor, form: services.save_facts(actor, patient_id, form.facts()),
                    "Eligibility facts saved.", shown_as="facts_form")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def trials_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _section(request, patient_id, "staging", TrialsForm,
                    lambda actor, form: services.save_trials(actor, patient_id, form.trials()[0],
                                                             ect_failed=form.ect()),
                    "Antidepressant trials saved.", shown_as="trials_form")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def labs_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _section(request, patient_id, "labs", LabsForm,
                    lambda actor, form: services.save_labs(actor, patient_id, form.labs()),
                    "Labs and ECG saved.", shown_as="labs_form")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def notes_save(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    return _section(request, patient_id, "notes", NotesForm,
                    lambda actor, form: services.save_notes(actor, patient_id, form.cleaned_data["notes"]),
                    "Notes saved.", shown_as="notes_form")


@require_POST
@staff_view(Permission.SIGN_PLANS)
def complete(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        services.complete_evaluation(request.actor, patient_id)  # type: ignore[attr-defined]
    except ValidationFailed as failure:  # the tab again, saying what is missing
        return _render(request, patient_id, {"complete_errors": failure.errors, "open_form": "complete"})
    return _done(request, patient_id, "Evaluation completed.", "evaluation-status")
