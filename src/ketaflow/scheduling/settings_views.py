"""Scheduling settings pages (MANAGE_CLINICS): appointment types, staff working hours, closed days."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import ROLE_LABELS, Permission, Role
from ketaflow.clinics.models import Clinic
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import setup
from .forms import ClosedDayForm, StaffHoursForm, TypeForm


def _type_initial(kind: Any) -> dict[str, Any]:
    return {
        "name": kind.name,
        "minutes": kind.minutes,
        "required_roles": list(kind.required_roles),
        "instructions": kind.instructions,
        "is_active": kind.is_active,
    }


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def types(request: HttpRequest) -> HttpResponse:
    """Every appointment type with its minutes, roles and instructions, one form each."""
    actor = request.actor  # type: ignore[attr-defined]
    kinds = setup.types_for(actor)
    posted = request.POST.get("type_id", "") if request.method == "POST" else ""
    rows = []
    for kind in kinds:
        if str(kind.pk) == posted:
            form = TypeForm(request.POST, prefix=kind.key)
            if form.is_valid():
                try:
                    setup.update_type(actor, kind.pk, **form.cleaned_data)
                except ValidationFailed as failure:
                    show_errors(form, failure)
                else:
                    messages.success(request, f"{form.cleaned_data['name']} is saved.")
                    return redirect(reverse("scheduling:types") + f"#type-{kind.key}")
        else:
            form = TypeForm(initial=_type_initial(kind), prefix=kind.key)
        roles = ", ".join(ROLE_LABELS[Role(r)] for r in kind.required_roles) or "none"
        rows.append((kind, form, roles))
    status = 422 if any(form.errors for _k, form, _r in rows) else 200
    return render(
        request, "scheduling/settings/types.html", {"rows": rows, "section": "settings"}, status=status
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def hours(request: HttpRequest) -> HttpResponse:
    """Staff working hours at one clinic (?clinic=), the clinic's own time; add or remove intervals."""
    actor = request.actor  # type: ignore[attr-defined]
    clinics = list(Clinic.objects.for_organization(actor.organization_id).filter(is_active=True))
    wanted = request.POST.get("clinic_id") or request.GET.get("clinic", "")
    clinic = next((c for c in clinics if str(c.pk) == wanted), clinics[0] if clinics else None)
    form = StaffHoursForm(
        initial={"clinic_id": str(clinic.pk) if clinic else ""}, organization_id=actor.organization_id
    )
    if request.method == "POST" and clinic is not None:
        target = reverse("scheduling:hours") + f"?clinic={clinic.pk}"
        try:
            if request.POST.get("remove"):
                setup.remove_staff_hours(actor, request.POST["remove"])
                messages.success(request, "Those hours are removed.")
                return redirect(target)
            form = StaffHoursForm(request.POST, organization_id=actor.organization_id)
            if form.is_valid():
                setup.add_staff_hours(actor, **form.cleaned_data)
                messages.success(request, "The hours are added.")
                return redirect(target)
        except ValidationFailed as failure:
            show_errors(form, failure)
    rows = setup.hours_of(actor, clinic) if clinic else []
    return render(
        request,
        "scheduling/settings/hours.html",
        {
            "clinics": clinics,
            "clinic": clinic,
            "rows": rows,
            "form": form,
            "section": "settings",
        },
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def closed_days(request: HttpRequest) -> HttpResponse:
    """Holidays and closures from today on, each with the count of appointments still booked then."""
    actor = request.actor  # type: ignore[attr-defined]
    form = ClosedDayForm(organization_id=actor.organization_id)
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                setup.remove_closed_day(actor, request.POST["remove"])
                messages.success(request, "The clinic is open that day again.")
                return redirect("scheduling:closed_days")
            form = ClosedDayForm(request.POST, organization_id=actor.organization_id)
            if form.is_valid():
                data = form.cleaned_data
                setup.add_closed_day(
                    actor, day=data["day"], reason=data["reason"], clinic_id=data["clinic_id"] or None
                )
                messages.success(request, "The closed day is added.")
                return redirect("scheduling:closed_days")
        except ValidationFailed as failure:
            show_errors(form, failure)
    rows = setup.closed_days_of(actor, since=timezone.localdate())
    return render(
        request,
        "scheduling/settings/closed_days.html",
        {
            "rows": rows,
            "form": form,
            "section": "settings",
        },
        status=422 if form.errors else 200,
    )
