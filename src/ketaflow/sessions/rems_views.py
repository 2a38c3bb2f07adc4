"""Staff REMS pages: the board, one form (answers, PDF, submit), and a patient's enrolment.

Thin: parse, call a service in `rems.py`, render. The chairside page and the chart link here with
plain links; the board is the place to see what is due.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.patients.services import open_patient
from ketaflow.plans.measures import clinic_today
from ketaflow.scheduling.calendar import today_in, zone_of
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import rems
from .flow_vitals import session_link
from .rems_pdf import missing_labels, rems_form_pdf, sections


class EnrolForm(forms.Form):
    enrolled_on = forms.DateField(
        label="Enrolled on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The date the REMS confirmed the patient's enrolment.",
    )
    rems_patient_id = forms.CharField(
        label="REMS patient ID",
        required=False,
        max_length=rems.REMS_ID_MAX,
        help_text="As given by the REMS, if it gave one.",
    )


class SubmitForm(forms.Form):
    confirmation = forms.CharField(
        label="REMS confirmation",
        required=False,
        max_length=rems.CONFIRMATION_MAX,
        help_text="The confirmation number the REMS gave when the form was filed, if any.",
    )


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def rems_board(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    board = rems.rems_board(actor, timezone.localdate())
    context = {"board": board, "days": rems.BOARD_DAYS, "due_days": rems.rems_due_days(actor.organization_id)}
    return render(request, "sessions/rems_board.html", context)


def _form_page(request: HttpRequest, form_id: uuid.UUID, submit: SubmitForm | None = None) -> HttpResponse:
    """The form, its dates and times in the treating clinic's zone (the due date was set in it)."""
    actor = request.actor  # type: ignore[attr-defined]
    found = rems.open_form(actor, form_id)
    clinic = found.session.clinic or found.patient.home_clinic
    context: dict[str, Any] = {
        "form": found,
        "sections": sections(found),
        "missing": missing_labels(found),
        "session_url": session_link(found.session),
        "submit_form": submit or SubmitForm(),
        "can_submit": actor.can(Permission.CHART_SESSIONS) and found.status == found.Status.DUE,
        "overdue": found.status == found.Status.DUE and found.due_on < today_in(clinic),
    }
    status = 422 if submit is not None and submit.errors else 200
    with timezone.override(zone_of(clinic)):
        return render(request, "sessions/rems_form.html", context, status=status)


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def rems_form(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    return _form_page(request, form_id)


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def rems_pdf(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    document = rems_form_pdf(request.actor, form_id)  # type: ignore[attr-defined]
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response


@require_POST
@staff_view(Permission.CHART_SESSIONS)
def rems_submit(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    submit = SubmitForm(request.POST)
    confirmation = submit.cleaned_data.get("confirmation", "") if submit.is_valid() else ""
    if not submit.errors:
        try:
            rems.submit_form(request.actor, form_id, confirmation=confirmation)  # type: ignore[attr-defined]
        except ValidationFailed as exc:
            show_errors(submit, exc)
        else:
            messages.success(request, "The REMS form is marked submitted.")
            return redirect("sessions:rems_form", form_id=form_id)
    return _form_page(request, form_id, submit)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.CHART_SESSIONS)
def rems_enrol(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="rems-enrolment")
    enrolment = rems.enrolment_of(actor.organization_id, patient.pk)
    form = EnrolForm(request.POST or None, initial={"enrolled_on": clinic_today(patient)})
    if request.method == "POST" and form.is_valid():
        try:
            rems.enrol(
                actor,
                patient.pk,
                enrolled_on=form.cleaned_data["enrolled_on"],
                rems_patient_id=form.cleaned_data.get("rems_patient_id", ""),
            )
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "The REMS enrolment is recorded.")
            return redirect("sessions:rems_enrol", patient_id=patient.pk)
    return render(
        request,
        "sessions/rems_enrol.html",
        {"patient": patient, "enrolment": enrolment, "form": form},
        status=422 if form.errors else 200,
    )
