"""The patient's consent pages in the portal (under /consent/p/): the forms to sign and the signed
ones, reading and signing one, downloading a copy, withdrawing.

They share the portal's frame (clinic name, portal navigation, crisis resources) and its sign-in
rule (`portal.views.patient_view`); every read is audited with the patient as the actor.
"""

from __future__ import annotations

import uuid
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.views import patient_view
from ketaflow.validation import ValidationFailed
from ketaflow.web.form_errors import show_errors

from . import services, signing
from .forms import SIGN_RENAMES, PatientWithdrawForm, SignForm
from .models import Consent
from .pdf import patient_consent_pdf
from .text import blocks, text_hash
from .views import device_of, signing_from


def _frame(account: PortalAccount, **extra: Any) -> dict[str, Any]:
    return {
        "clinic_name": account.patient.home_clinic.name,
        "crisis_resources": crisis_resources(account.organization_id),
        "account": account,
        "section": "consent",
    } | extra


@require_GET
@patient_view
def consent_list(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    consents = services.account_consents(account, get_client_ip_address(request))
    return render(request, "consent/portal/list.html", _frame(
        account,
        to_sign=[c for c in consents if c.status == Consent.Status.REQUESTED],
        signed=[c for c in consents if c.signed_at is not None],
    ))


@require_http_methods(["GET", "POST"])
@patient_view
def sign(request: HttpRequest, account: PortalAccount, consent_id: uuid.UUID) -> HttpResponse:
    """Read a consent form; when it is waiting for a signature, sign it (or see it as signed)."""
    ip = get_client_ip_address(request)
    consent = services.account_consent(account, consent_id, ip, purpose="read")
    data = request.POST.copy() if request.method == "POST" else None
    form = SignForm(data, initial={"text_hash": text_hash(consent.template)})
    if request.method == "POST":
        if consent.status != Consent.Status.REQUESTED:
            messages.error(request, "This consent form is no longer waiting for your signature.")
            return redirect("consent:p:list")
        try:
            signing.sign_in_portal(account, consent.pk, signing_from(form), device_of(request))
        except ValidationFailed as exc:
            show_errors(form, exc, rename=SIGN_RENAMES)
            if data is not None:
                data["text_hash"] = text_hash(consent.template)  # the text shown again is the one to sign
        else:
            messages.success(request, "Thank you: your consent form is signed. Your clinic will countersign "
                                      "it and send you a copy.")
            return redirect("consent:p:list")
    return render(request, "consent/portal/sign.html", _frame(
        account, consent=consent, form=form, blocks=blocks(consent.template.body),
        form_action=reverse("consent:p:sign", kwargs={"consent_id": consent.pk}) + "#consent-sign",
    ))


@require_GET
@patient_view
def pdf(request: HttpRequest, account: PortalAccount, consent_id: uuid.UUID) -> HttpResponse:
    document = patient_consent_pdf(account, consent_id, get_client_ip_address(request))
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response


@require_http_methods(["GET", "POST"])
@patient_view
def withdraw(request: HttpRequest, account: PortalAccount, consent_id: uuid.UUID) -> HttpResponse:
    """Confirm, then withdraw consent (or decline a form not yet signed)."""
    ip = get_client_ip_address(request)
    consent = services.account_consent(account, consent_id, ip, purpose="withdraw")
    if consent.status == Consent.Status.WITHDRAWN:
        messages.info(request, "This consent is already withdrawn.")
        return redirect("consent:p:list")
    form = PatientWithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_in_portal(account, consent.pk, form.cleaned_data.get("reason", ""), ip)
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "Your withdrawal is recorded and your clinic can see it. "
                                      "Please talk to them about what happens next.")
            return redirect("consent:p:list")
    return render(request, "consent/portal/withdraw.html", _frame(account, consent=consent, form=form))
