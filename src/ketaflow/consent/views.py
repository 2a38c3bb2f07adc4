"""Staff consent pages: the Consent tab's actions, reviewing one consent, its PDF, and signing on a
clinic tablet.

The tab's actions each call one service and come back to the chart's Consent tab, errors beside
their fields. The tablet pages are the patient-facing frame (no staff navigation, large text) shown
on a device a staff member is signed in to; that staff member is recorded as the witness.
"""

from __future__ import annotations

import uuid
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import services, signing
from .forms import SIGN_RENAMES, RequestForm, SignForm, WithdrawForm
from .models import Consent
from .pdf import consent_pdf
from .tabs import TAB, shown_consent
from .text import blocks, text_hash


def _chart(
    request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any] | None = None
) -> HttpResponse:
    """The chart on the Consent tab (opening the patient, audited), with `overrides` in its context."""
    actor = request.actor  # type: ignore[attr-defined]
    context = chart_context(actor, patient_id, tab_for(actor, TAB), overrides)
    return render_chart(request, context, fragment=False)


def _back_to_tab(
    request: HttpRequest, patient_id: uuid.UUID, message: str, *, error: bool = False
) -> HttpResponse:
    (messages.error if error else messages.success)(request, message)
    return redirect("patients:tab", patient_id=patient_id, tab=TAB)


def device_of(request: HttpRequest) -> signing.Device:
    return signing.Device(get_client_ip_address(request), request.headers.get("User-Agent", ""))


def signing_from(form: SignForm) -> signing.Signing:
    data = form.cleaned_data if form.is_valid() else {}
    return signing.Signing(
        typed_name=str(data.get("typed_name") or ""),
        signature=str(data.get("signature") or ""),
        agreed=bool(data.get("agree")),
        text_hash=str(data.get("text_hash") or ""),
    )


# ---------- the tab's actions ----------


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def request_consent(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = RequestForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    route = str(data.get("route") or request.POST.get("route", ""))
    try:
        consent = services.request_consent(actor, patient_id, route, data.get("setting") or None)
    except ValidationFailed as exc:
        services_errors = " ".join(error.message for error in exc.errors)
        return _back_to_tab(request, patient_id, f"No consent was requested: {services_errors}", error=True)
    return _back_to_tab(request, patient_id, (
        f"{consent.route_label} consent requested (version {consent.template.version}). The patient can sign "
        "it in the portal, or on this tablet."
    ))


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def detail(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """One consent in the Consent tab: the text signed, the signature, and countersigning."""
    consent = services.open_consent(request.actor, consent_id, purpose="review")  # type: ignore[attr-defined]
    return _chart(request, consent.patient_id, shown_consent(consent))


def _patient_of(request: HttpRequest, consent_id: uuid.UUID) -> uuid.UUID:
    """The consent's patient id, to come back to their chart (NotFound for another organization's)."""
    scope = services.consents_of(request.actor.organization_id)  # type: ignore[attr-defined]
    patient_id = scope.filter(pk=consent_id).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound("consent")
    return patient_id


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def countersign(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient_id = _patient_of(request, consent_id)
    try:
        consent = services.countersign(actor, consent_id)
    except ValidationFailed as exc:
        messages.error(request, " ".join(error.message for error in exc.errors))
        shown = services.open_consent(actor, consent_id, purpose="review")
        return _chart(request, patient_id, shown_consent(shown))
    message = "The consent is countersigned and now current."
    if consent.patient.email:
        message += " A PDF copy is being emailed to the patient."
    return _back_to_tab(request, patient_id, message)


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def withdraw(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient_id = _patient_of(request, consent_id)
    form = WithdrawForm(request.POST)
    form.is_valid()
    try:
        consent = services.withdraw_by_staff(actor, consent_id, form.cleaned_data.get("reason", ""))
    except ValidationFailed as exc:
        show_errors(form, exc)
        return _chart(request, patient_id, {"withdraw_form": form, "withdraw_for": consent_id})
    if consent.signed_at is None:
        return _back_to_tab(request, patient_id, "The consent request is withdrawn.")
    return _back_to_tab(
        request, patient_id,
        f"The withdrawal is recorded: {consent.route_label} cannot start without a new consent.",
    )


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def pdf(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    document = consent_pdf(request.actor, consent_id)  # type: ignore[attr-defined]
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response


# ---------- signing on a clinic tablet ----------


def _patient_frame(of: Consent, **extra: Any) -> dict[str, Any]:
    """The patient frame's context for the consent `of`'s patient: their clinic and crisis resources."""
    return {
        "clinic_name": of.patient.home_clinic.name,
        "crisis_resources": crisis_resources(of.organization_id),
    } | extra


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def tablet(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """The full-screen signing page to hand to the patient: the text, typed name, drawing, Sign."""
    actor = request.actor  # type: ignore[attr-defined]
    consent = signing.open_for_tablet(actor, consent_id)
    if consent.status != Consent.Status.REQUESTED:
        messages.error(request, "This consent is no longer waiting for a signature.")
        return redirect("patients:tab", patient_id=consent.patient_id, tab=TAB)
    data = request.POST.copy() if request.method == "POST" else None
    form = SignForm(data, initial={"text_hash": text_hash(consent.template)})
    if request.method == "POST":
        try:
            signing.sign_on_tablet(actor, consent.pk, signing_from(form), device_of(request))
        except ValidationFailed as exc:
            show_errors(form, exc, rename=SIGN_RENAMES)
            if data is not None:
                data["text_hash"] = text_hash(consent.template)  # the text shown again is the one to sign
        else:
            return redirect("consent:tablet_done", consent_id=consent.pk)
    with timezone.override(consent.patient.home_clinic.timezone):
        return render(request, "consent/tablet_sign.html", _patient_frame(
            consent, consent=consent, form=form, blocks=blocks(consent.template.body),
            form_action=reverse("consent:tablet", kwargs={"consent_id": consent.pk}) + "#consent-sign",
            keepalive_url=reverse("web:keepalive"),
        ))


@require_GET
@staff_view(Permission.EDIT_CLINICAL)
def tablet_done(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """"Thank you, please hand the device back", then a way back to the chart for staff."""
    consent = services.open_consent(request.actor, consent_id, purpose="tablet")  # type: ignore[attr-defined]
    if consent.signed_at is None:
        return redirect("consent:tablet", consent_id=consent.pk)
    return render(request, "consent/tablet_done.html", _patient_frame(consent, consent=consent))
