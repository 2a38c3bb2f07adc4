"""Patient portal pages: activation, sign-in and out, questionnaires due, answering, progress.

The pages share the patient frame of the questionnaire links (crisis resources in every footer, no
staff navigation, never cached). One staff page lives here too: the invitation button's POST.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.helpers import get_client_ip_address
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.clinical.instruments import Answers
from ketaflow.measurement.patient_views import (
    answers_from,
    crisis_resources,
    patient_page,
    questionnaire_form,
    token_page,
)
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import services
from .cards import cards_for
from .models import PortalAccount

View = Callable[..., HttpResponse]
SIGN_IN_REFUSED = "That email address and password do not match a portal account."


def _ip(request: HttpRequest) -> str | None:
    return get_client_ip_address(request)


def _frame(account: PortalAccount | None, *, signed_in: bool = True, **extra: Any) -> dict[str, Any]:
    """What the patient frame needs: the clinic's name and crisis resources (generic without an
    account), and for a signed-in patient the portal navigation."""
    if account is None:
        return {"clinic_name": "Patient portal", "crisis_resources": crisis_resources(None)} | extra
    return {
        "clinic_name": account.patient.home_clinic.name,
        "crisis_resources": crisis_resources(account.organization_id),
        "account": account if signed_in else None,
    } | extra


def patient_view(view: View) -> View:
    """Require a signed-in patient with an active portal account; pass the account to the view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        account = services.account_for(request.user)
        if account is None:
            return render(request, "portal/not_patient.html", _frame(None), status=403)
        try:
            with timezone.override(account.patient.home_clinic.timezone):
                return view(request, account, *args, **kwargs)
        except NotFound as exc:
            raise Http404("Not found") from exc

    return patient_page(wrapper)


# ---------- activation and sign-in ----------


class ActivationForm(forms.Form):
    password = forms.CharField(label="Choose a password", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters. A short sentence you will remember works well.")
    confirm = forms.CharField(label="Type it again", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))


@token_page
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    try:
        account = services.account_for_invitation(token)
    except services.InvitationUnavailable:
        return render(request, "portal/activation_unavailable.html", _frame(None, no_referrer=True),
                      status=410)
    form = ActivationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.activate_account(token, form.cleaned_data["password"], form.cleaned_data["confirm"],
                                      ip_address=_ip(request))
        except services.InvitationUnavailable:
            return render(request, "portal/activation_unavailable.html", _frame(None, no_referrer=True),
                          status=410)
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "Your password is set. Sign in with your email address.")
            return redirect("portal:login")
    return render(request, "portal/activate.html",
                  _frame(account, signed_in=False, form=form, email=account.user.email, no_referrer=True))


class PortalLoginForm(AuthenticationForm):
    """Django's sign-in (with the axes lockout) that admits only active portal accounts."""

    error_messages = {
        "invalid_login": SIGN_IN_REFUSED,
        "inactive": SIGN_IN_REFUSED,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email address"
        self.fields["username"].widget.attrs.update({"autocomplete": "email", "inputmode": "email"})

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username") or "").strip().lower()

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if services.account_for(user) is None:
            raise forms.ValidationError(SIGN_IN_REFUSED, code="invalid_login")


class PortalLoginView(LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = False

    def get_success_url(self) -> str:
        return self.get_redirect_url() or reverse("portal:home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        account = services.account_for(form.get_user())
        if account is not None:
            services.record_sign_in(account, Action.LOGIN, _ip(self.request))
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | _frame(None)


portal_login = patient_page(never_cache(PortalLoginView.as_view()))  # type: ignore[arg-type]


@require_POST
def portal_logout(request: HttpRequest) -> HttpResponse:
    account = services.account_for(request.user)
    if account is not None:
        services.record_sign_in(account, Action.LOGOUT, _ip(request))
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("portal:login")


# ---------- the signed-in patient ----------


@require_GET
@patient_view
def home(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    due = services.due_questionnaires(account, _ip(request))
    return render(request, "portal/home.html", _frame(
        account, section="home",
        due_now=[d for d in due if d.is_due], coming_up=[d for d in due if not d.is_due],
        cards=cards_for(account, _ip(request)),
        first_name=account.patient.preferred_name or account.patient.legal_given_name,
    ))


@require_GET
@patient_view
def progress(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    return render(request, "portal/progress.html", _frame(
        account, section="progress", progress=services.my_progress(account, _ip(request))
    ))


@require_http_methods(["GET", "POST"])
@patient_view
def answer(request: HttpRequest, account: PortalAccount, instrument_id: str) -> HttpResponse:
    instrument = services.questionnaire_due(account, instrument_id, _ip(request))
    answers: dict[str, Answers] = {}
    failure = None
    if request.method == "POST":
        answers = answers_from(request.POST, [instrument])
        try:
            services.answer_questionnaire(account, instrument.id, answers[instrument.id], _ip(request))
        except ValidationFailed as exc:
            failure = exc
        else:
            return render(request, "measurement/patient/thanks.html",
                          _frame(account, portal_home=reverse("portal:home"),
                                 base_template="portal/_frame.html"))
    form = questionnaire_form([instrument], answers, failure)
    return render(request, "portal/answer.html", _frame(account, form=form, instrument=instrument))


# ---------- staff: invite a patient ----------


@require_POST
@staff_view(Permission.EDIT_DEMOGRAPHICS)
def invite(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Email the patient a portal invitation, then back to the chart (messages name no patient)."""
    try:
        services.invite_to_portal(request.actor, patient_id)  # type: ignore[attr-defined]
    except ValidationFailed as exc:
        for error in exc.errors:
            messages.error(request, f"No invitation was sent: {error.message}")
    else:
        messages.success(request, "Portal invitation emailed. "
                         f"The link works once, for {services.INVITE_HOURS} hours.")
    return redirect("patients:chart", patient_id=patient_id)
