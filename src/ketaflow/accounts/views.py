"""Log in, two-factor set-up and verification, password change, log out."""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.validation import ValidationFailed

from .forms import LoginForm, PasswordChangeForm, TokenForm
from .services import actor_for, change_own_password
from .two_factor import confirmed_device, pending_device, qr_svg, readable_secret


class StaffLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    reason = request.POST.get("reason", "")
    logout(request)
    if reason == "idle":
        messages.info(request, "You were signed out after a period of inactivity.")
    else:
        messages.success(request, "You are signed out.")
    return redirect("accounts:login")


def _audit_two_factor(request: HttpRequest, event: str) -> None:
    actor = actor_for(request.user, ip_address=get_client_ip_address(request))  # type: ignore[arg-type]
    if actor is not None:
        with transaction.atomic():
            record(actor, Action.TWO_FACTOR, "User", request.user.pk, detail={"event": event})


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: show the QR code and secret, confirm with a first code."""
    user = request.user
    if confirmed_device(user):  # type: ignore[arg-type]
        return redirect("accounts:two_factor_verify")
    device = pending_device(user)  # type: ignore[arg-type]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            _audit_two_factor(request, "enrolled")
            messages.success(request, "Two-factor authentication is on for your account.")
            return redirect("web:home")
        form.add_error("code", "That code did not match. Check the time on your phone and try the next code.")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr_svg(device),
            "secret": readable_secret(device),
        },
    )


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    device = confirmed_device(request.user)  # type: ignore[arg-type]
    if device is None:
        return redirect("accounts:two_factor_setup")
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect("web:home")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verified, _ = device.verify_is_allowed()
        if verified and device.verify_token(form.cleaned_data["code"]):
            otp_login(request, device)
            return redirect(request.GET.get("next") or "web:home")
        form.add_error("code", "That code did not match, or too many tries were made; wait and try again.")
    return render(request, "accounts/two_factor_verify.html", {"form": form})


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        actor = actor_for(user, ip_address=get_client_ip_address(request))  # type: ignore[arg-type]
        try:
            if actor is None:
                raise ValidationFailed.single(None, "Your account is not active staff.")
            change_own_password(user, actor, form.cleaned_data["new_password"])  # type: ignore[arg-type]
        except ValidationFailed as exc:
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            update_session_auth_hash(request, user)  # type: ignore[arg-type]
            messages.success(request, "Your password is changed.")
            return redirect("web:home")
    return render(
        request,
        "accounts/password_change.html",
        {
            "form": form,
            "forced": user.must_change_password,  # type: ignore[union-attr]
        },
    )
