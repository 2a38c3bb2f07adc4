"""The Measures tab's actions: enter a questionnaire, withdraw one, set the plan, record a treatment,
send a questionnaire link, and show one response.

Each calls one service and answers with the chart's Measures tab (a fragment for HTMX, the whole
chart otherwise), errors next to their fields. Flash messages carry no clinical detail: a safety
banner is drawn from the saved response itself, on the response's own page.
"""

from __future__ import annotations

import uuid
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.instruments import AnswerError, Instrument, score_instrument
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.patients.models import Patient
from ketaflow.patients.views import htmx_target
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import (
    EnteredInErrorForm,
    InstrumentChoiceForm,
    LinkForm,
    PlanForm,
    ResponseEntryForm,
    TreatmentForm,
)
from .library import instruments_for, settings_for
from .links import IssuedLink, issue_link
from .models import Invitation, QuestionnaireResponse, SafetyAlert
from .reminders import message_for
from .responses import mark_entered_in_error, open_response, record_response
from .schedule import clinicians_for, record_treatment, set_plan
from .sms import send_to_patient, sms_backend
from .tabs import response_row

TAB = "measures"


def _render(
    request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any] | None = None
) -> HttpResponse:
    """The chart on the Measures tab (opening the patient, audited), with `overrides` in its context."""
    actor = request.actor  # type: ignore[attr-defined]
    context = chart_context(actor, patient_id, tab_for(actor, TAB), overrides)
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")


def _done(request: HttpRequest, patient_id: uuid.UUID, message: str) -> HttpResponse:
    messages.success(request, message)
    if htmx_target(request) == "chart-body":
        return _render(request, patient_id)
    return redirect("patients:tab", patient_id=patient_id, tab=TAB)


def _clinic_zone(actor: Actor, patient_id: uuid.UUID) -> ZoneInfo:
    """The patient's home clinic's time zone, for reading a local date-time; NotFound for another org."""
    zone = (
        Patient.objects.for_organization(actor.organization_id)
        .filter(pk=patient_id)
        .values_list("home_clinic__timezone", flat=True)
        .first()
    )
    if zone is None:
        raise NotFound("patient")
    return ZoneInfo(zone)


# ---------- Entering a questionnaire ----------

def _partial_flags(instrument: Instrument, answers: dict[str | int, int | None]) -> list[str]:
    """Safety messages raised by the answers given so far (nothing is saved until the set is complete)."""
    try:
        result = score_instrument(instrument, answers)
    except AnswerError:
        return []
    return [flag.message for flag in result.safety_details]


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def enter_response(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """GET: the chosen instrument's form in the tab. POST: record it, then show the saved response."""
    actor = request.actor  # type: ignore[attr-defined]
    library = instruments_for(actor.organization_id)
    data = request.POST if request.method == "POST" else request.GET
    chooser = InstrumentChoiceForm(data, instruments=library.values())
    if not chooser.is_valid():
        return _render(request, patient_id, {"chooser_form": chooser, "open_form": "enter"})
    instrument = library[chooser.cleaned_data["instrument"]]
    if request.method == "GET":
        form = ResponseEntryForm(instrument=instrument)
        return _render(request, patient_id,
                       {"chooser_form": chooser, "entry_form": form, "open_form": "enter"})
    form = ResponseEntryForm(request.POST, instrument=instrument)
    warnings: list[str] = []
    with timezone.override(_clinic_zone(actor, patient_id)):  # a local date-time means the clinic's
        valid = form.is_valid()
    if valid:
        try:
            when = form.cleaned_data["authored_at"]
            recorded = record_response(actor, patient_id, instrument.id, form.answers(), authored_at=when)
        except ValidationFailed as failure:
            show_errors(form, failure, rename=form.error_names())
            warnings = _partial_flags(instrument, form.answers())
        else:
            url = reverse("measures:response", kwargs={"response_id": recorded.response.pk})
            return redirect(f"{url}?saved=1")
    return _render(request, patient_id, {
        "chooser_form": chooser, "entry_form": form, "open_form": "enter", "entry_warnings": warnings,
    })


def _response_for(actor: Actor, response_id: uuid.UUID) -> QuestionnaireResponse:
    scope = QuestionnaireResponse.objects.for_organization(actor.organization_id)
    scope = scope.prefetch_related("observations")
    found: QuestionnaireResponse = scope.one(response_id, "questionnaire response")
    return found


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def response_detail(request: HttpRequest, response_id: uuid.UUID) -> HttpResponse:
    """One response in the Measures tab: its answers and, when flagged, the safety banner."""
    actor = request.actor  # type: ignore[attr-defined]
    response = open_response(actor, response_id)
    alert = SafetyAlert.objects.for_organization(actor.organization_id).filter(response=response).first()
    row = response_row(response, instruments_for(actor.organization_id))
    return _render(request, response.patient_id, {
        "shown_response": row, "shown_alert": alert, "just_saved": request.GET.get("saved") == "1",
    })


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def entered_in_error(request: HttpRequest, response_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    response = _response_for(actor, response_id)
    form = EnteredInErrorForm(request.POST)
    form.is_valid()
    try:
        mark_entered_in_error(actor, response.pk, form.cleaned_data.get("reason", ""))
    except ValidationFailed as failure:
        show_errors(form, failure)
        return _render(request, response.patient_id, {"in_error_form": form, "in_error_for": response.pk})
    return _done(request, response.patient_id, "The response is marked as entered in error.")


# ---------- Plan and treatments ----------

@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def plan_update(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    library = instruments_for(actor.organization_id)
    form = PlanForm(request.POST, clinicians=clinicians_for(actor.organization_id),
                    instruments=library.values())
    if form.is_valid():
        data = form.cleaned_data
        try:
            set_plan(actor, patient_id, stage=data["stage"],
                     responsible_clinician_id=data["responsible_clinician_id"] or None,
                     instruments=data["instruments"])
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "The measurement plan is saved.")
    return _render(request, patient_id, {"plan_form": form, "open_form": "plan"})


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def treatment_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = TreatmentForm(request.POST)
    with timezone.override(_clinic_zone(actor, patient_id)):  # a local date-time means the clinic's
        valid = form.is_valid()
    if valid:
        data = form.cleaned_data
        try:
            record_treatment(actor, patient_id, occurred_at=data["occurred_at"], status=data["status"],
                             description=data["description"])
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _done(request, patient_id, "The treatment date is recorded.")
    return _render(request, patient_id, {"treatment_form": form, "open_form": "treatment"})


# ---------- Questionnaire links ----------

def qr_svg(text: str) -> SafeString:
    """An inline SVG QR code (paths and attributes only, so it passes the page's CSP)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return mark_safe(svg[svg.index("<svg"):])  # generated by qrcode from our own URL


def deliver_link(patient: Patient, issued: IssuedLink, channel: str) -> bool:
    """Send the link by email or text message; True when the carrier or mail server accepted it.

    The message names the clinic only (reminders.message_for); nothing about the patient is logged.
    """
    subject, body = message_for(patient, issued, settings_for(patient.organization_id).link_ttl_hours)
    return send_to_patient(patient.phone_mobile, patient.email, by_sms=channel == Invitation.Channel.SMS,
                           subject=subject, body=body, what="questionnaire link")


def _check_contact(patient: Patient, channel: str) -> None:
    if channel == Invitation.Channel.EMAIL and not patient.email:
        raise ValidationFailed.single("channel", "There is no email address on file; give the link in person "
                                                 "or add an email address first.")
    if channel == Invitation.Channel.SMS and not patient.phone_mobile:
        raise ValidationFailed.single("channel", "There is no mobile number on file; give the link in person "
                                                 "or add a mobile number first.")


@require_POST
@staff_view(Permission.VIEW_CLINICAL)
def link_send(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Issue a single-use link; in person, show it (and its QR code) on this response only."""
    actor = request.actor  # type: ignore[attr-defined]
    library = instruments_for(actor.organization_id)
    form = LinkForm(request.POST, instruments=library.values(), sms_ready=sms_backend() is not None)
    if form.is_valid():
        data = form.cleaned_data
        channel = data["channel"]
        try:
            contact = Patient.objects.for_organization(actor.organization_id).filter(pk=patient_id).first()
            if contact is None:
                raise NotFound("patient")
            _check_contact(contact, channel)
            issued = issue_link(actor, patient_id, data["instruments"], channel=channel)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            patient = issued.invitation.patient
            overrides: dict[str, Any] = {"issued": issued.invitation, "issued_channel": channel}
            if channel == Invitation.Channel.IN_PERSON:
                url = f"{settings.KETAFLOW_BASE_URL}{issued.path}"
                overrides |= {"issued_url": url, "issued_qr": qr_svg(url)}
            else:
                overrides["issued_sent"] = deliver_link(patient, issued, channel)
            return _render(request, patient_id, overrides)
    return _render(request, patient_id, {"link_form": form, "open_form": "link"})
