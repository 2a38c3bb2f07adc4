"""Staff management pages: list, add (with a one-time password), edit, and account actions."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.clinics.services import clinics_for
from ketaflow.patients.services import organization_of
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .roles import Permission
from .services import (
    create_staff,
    get_staff,
    reset_password,
    reset_two_factor,
    set_staff_active,
    update_staff,
)
from .staff_forms import StaffForm, initial_for
from .staff_listing import staff_rows, two_factor_enrolled

SECTION = {"section": "staff"}


@require_GET
@staff_view(Permission.MANAGE_STAFF)
def staff_list(request: HttpRequest) -> HttpResponse:
    rows = staff_rows(request.actor)  # type: ignore[attr-defined]
    return render(request, "accounts/staff_list.html", {"rows": rows, **SECTION})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_STAFF)
def staff_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = StaffForm(request.POST or None, clinics=clinics_for(actor))
    if request.method == "POST" and form.is_valid():
        try:
            staff, password = create_staff(actor, form.service_data())
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return render(request, "accounts/staff_password.html", {
                "staff": staff, "password": password, "created": True, **SECTION,
            })
    return render(request, "accounts/staff_form.html", {"form": form, "creating": True, **SECTION})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_STAFF)
def staff_edit(request: HttpRequest, staff_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    staff = get_staff(actor, staff_id)
    region = organization_of(actor).country
    form = StaffForm(request.POST or None, initial=initial_for(staff, region), clinics=clinics_for(actor))
    if request.method == "POST" and form.is_valid():
        try:
            staff = update_staff(actor, staff.pk, form.service_data())
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"{staff.display_name}'s details are saved.")
            return redirect("staff:edit", staff_id=staff.pk)
    return render(request, "accounts/staff_form.html", {
        "form": form, "creating": False, "staff": staff, "is_self": staff.pk == actor.staff_id,
        "two_factor_enrolled": two_factor_enrolled(staff), **SECTION,
    })


def _set_active(request: HttpRequest, staff_id: uuid.UUID, active: bool) -> HttpResponse:
    try:
        staff = set_staff_active(request.actor, staff_id, active)  # type: ignore[attr-defined]
    except ValidationFailed as failure:
        for error in failure.errors:
            messages.error(request, error.message)
    else:
        if active:
            messages.success(request, f"{staff.display_name} can sign in again.")
        else:
            messages.success(request, f"{staff.display_name} is deactivated and can no longer sign in.")
    return redirect("staff:edit", staff_id=staff_id)


@require_POST
@staff_view(Permission.MANAGE_STAFF)
def staff_deactivate(request: HttpRequest, staff_id: uuid.UUID) -> HttpResponse:
    return _set_active(request, staff_id, False)


@require_POST
@staff_view(Permission.MANAGE_STAFF)
def staff_reactivate(request: HttpRequest, staff_id: uuid.UUID) -> HttpResponse:
    return _set_active(request, staff_id, True)


@require_POST
@staff_view(Permission.MANAGE_STAFF)
def staff_reset_password(request: HttpRequest, staff_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    staff = get_staff(actor, staff_id)
    password = reset_password(actor, staff.pk)
    return render(request, "accounts/staff_password.html", {
        "staff": staff, "password": password, "created": False, **SECTION,
    })


@require_POST
@staff_view(Permission.MANAGE_STAFF)
def staff_reset_two_factor(request: HttpRequest, staff_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    staff = get_staff(actor, staff_id)
    reset_two_factor(actor, staff.pk)
    messages.success(request, f"{staff.display_name}'s two-factor sign-in is reset. "
                              "They will set up a new authenticator app at their next sign-in.")
    return redirect("staff:edit", staff_id=staff.pk)
