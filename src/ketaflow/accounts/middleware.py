"""Per-request access rules for staff pages: build the Actor, force a new password and two-factor.

A patient's portal login (a user of an organization with no staff record) is not staff: it gets no
Actor, is not sent through staff two-factor, and is kept to the patient pages (the portal and the
questionnaire links); any other page sends it to the portal.
"""

from __future__ import annotations

from collections.abc import Callable

from axes.helpers import get_client_ip_address
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .models import StaffMember, User
from .services import actor_for
from .two_factor import confirmed_device, two_factor_required

EXEMPT_PREFIXES = ("/static/", "/api/", "/healthz", "/fhir/")
PATIENT_PREFIXES = ("/portal/", "/q/", "/intake/", "/c/", "/consent/p/", "/schedule/p/", "/sessions/p/")
PATIENT_HOME = "/portal/"


def is_patient_login(user: User) -> bool:
    """A login of an organization that has no staff record and no back-office rights: a patient."""
    return (
        user.organization_id is not None
        and not user.is_staff
        and not user.is_superuser
        and not StaffMember.objects.filter(user=user).exists()
    )


class StaffAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        user = request.user
        if request.path.startswith(EXEMPT_PREFIXES) or not user.is_authenticated:
            return self.get_response(request)
        if is_patient_login(user):
            if request.path.startswith(PATIENT_PREFIXES):
                return self.get_response(request)
            return redirect(PATIENT_HOME)
        allowed = {
            reverse("accounts:logout"),
            reverse("accounts:two_factor_setup"),
            reverse("accounts:two_factor_verify"),
            reverse("accounts:password_change"),
        }
        if request.path not in allowed:
            if two_factor_required(user) and not user.is_verified():  # type: ignore[attr-defined]
                target = (
                    "accounts:two_factor_verify" if confirmed_device(user) else "accounts:two_factor_setup"
                )
                return redirect(target)
            if user.must_change_password:
                return redirect("accounts:password_change")
        request.actor = actor_for(user, ip_address=get_client_ip_address(request))  # type: ignore[attr-defined]
        return self.get_response(request)
