"""Clinic settings pages: the organization's clinics, each clinic's hours, and its rooms."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.patients.services import organization_of
from ketaflow.phones import display_phone
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import ClinicForm, OpeningHoursForm, RoomForm
from .lookups import clinic_overview, clinic_overviews, get_room
from .services import create_clinic, save_room, set_opening_hours, update_clinic

SECTION = {"section": "settings"}


@require_GET
@staff_view(Permission.MANAGE_CLINICS)
def clinic_list(request: HttpRequest) -> HttpResponse:
    overviews = clinic_overviews(request.actor)  # type: ignore[attr-defined]
    return render(request, "clinics/clinic_list.html", {"overviews": overviews, **SECTION})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def clinic_create(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = ClinicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            clinic = create_clinic(actor, form.cleaned_data)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"{clinic.name} is added. Next, set its opening hours.")
            return redirect("clinics:hours", clinic_id=clinic.pk)
    return render(request, "clinics/clinic_form.html", {"form": form, "creating": True, **SECTION})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def clinic_edit(request: HttpRequest, clinic_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    overview = clinic_overview(actor, clinic_id)
    clinic = overview.clinic
    initial: dict[str, Any] = {name: getattr(clinic, name) for name in ClinicForm.base_fields}
    initial["phone"] = display_phone(clinic.phone, organization_of(actor).country)
    form = ClinicForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            clinic = update_clinic(actor, clinic.pk, form.cleaned_data)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"{clinic.name} is saved.")
            return redirect("clinics:list")
    return render(request, "clinics/clinic_form.html", {
        "form": form, "creating": False, "overview": overview, "clinic": clinic, **SECTION,
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def clinic_hours(request: HttpRequest, clinic_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    overview = clinic_overview(actor, clinic_id)
    form = OpeningHoursForm(request.POST or None, initial=OpeningHoursForm.initial_for(overview.hours))
    if request.method == "POST" and form.is_valid():
        try:
            set_opening_hours(actor, overview.clinic.pk, form.intervals())
        except ValidationFailed as failure:
            form.show_service_errors(failure)
        else:
            messages.success(request, f"Opening hours for {overview.clinic.name} are saved.")
            return redirect("clinics:list")
    return render(request, "clinics/hours_form.html", {
        "form": form, "clinic": overview.clinic, **SECTION,
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def room_list(request: HttpRequest, clinic_id: uuid.UUID) -> HttpResponse:
    """The clinic's rooms and chairs, with a form to add one."""
    actor = request.actor  # type: ignore[attr-defined]
    overview = clinic_overview(actor, clinic_id)
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = save_room(actor, overview.clinic.pk, form.cleaned_data)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"{room.name} is added to {overview.clinic.name}.")
            return redirect("clinics:rooms", clinic_id=overview.clinic.pk)
    return render(request, "clinics/room_list.html", {
        "form": form, "overview": overview, "clinic": overview.clinic, **SECTION,
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def room_edit(request: HttpRequest, clinic_id: uuid.UUID, room_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    room = get_room(actor, clinic_id, room_id)
    initial = {name: getattr(room, name) for name in RoomForm.base_fields}
    form = RoomForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            room = save_room(actor, room.clinic_id, form.cleaned_data, room_id=room.pk)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"{room.name} is saved.")
            return redirect("clinics:rooms", clinic_id=room.clinic_id)
    return render(request, "clinics/room_form.html", {
        "form": form, "room": room, "clinic": room.clinic, **SECTION,
    })
