"""The protocol library pages: the list, one protocol in words, cloning into a new version,
retiring a version, and the nurse's dose calculator."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.prescribing import PatientMeasures, Prescription
from ketaflow.patients.views import htmx_target
from ketaflow.validation import FieldError, NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import library as lib
from .describe import dose_numbers, monitoring_numbers, phases_text
from .doses import calculate, dose_unit, number
from .editing import as_form_errors, definition_from, initial_from
from .forms import CalculatorForm, CloneForm

SECTION = "plans"


@require_http_methods(["GET"])
@staff_view(Permission.VIEW_CLINICAL)
def library_list(request: HttpRequest) -> HttpResponse:
    entries = lib.library(request.actor.organization_id)  # type: ignore[attr-defined]
    rows = [{"entry": e, "numbers": dose_numbers(e.protocol), "unit": dose_unit(e.protocol)} for e in entries]
    return render(request, "plans/library.html", {
        "rows": rows, "section": SECTION, "can_edit": request.actor.can(Permission.SIGN_PLANS),  # type: ignore[attr-defined]
    })


@require_http_methods(["GET"])
@staff_view(Permission.VIEW_CLINICAL)
def protocol_detail(request: HttpRequest, key: str) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    entry = lib.library_entry(actor.organization_id, key)
    shown = entry.named(request.GET.get("version"))
    today = timezone.localdate()
    return render(request, "plans/protocol.html", {
        "entry": entry, "shown": shown, "protocol": shown.protocol, "numbers": dose_numbers(shown.protocol),
        "monitoring": monitoring_numbers(shown.protocol.monitoring),
        "monitoring_source": shown.protocol.monitoring.source,
        "phases": phases_text(shown.protocol, today), "today": today, "section": SECTION,
        "can_edit": actor.can(Permission.SIGN_PLANS),
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.SIGN_PLANS)
def clone(request: HttpRequest, key: str) -> HttpResponse:
    """The structured form prefilled from the current (or ?version=) protocol; saving makes the next
    clinic version of the key."""
    actor = request.actor  # type: ignore[attr-defined]
    version = request.GET.get("version") or request.POST.get("source_version") or None
    source = lib.get_protocol(actor.organization_id, key, version)
    if request.method == "POST":
        form = CloneForm(request.POST, kind=source.dose.kind)
        if form.is_valid():
            try:
                definition = definition_from(source.definition, form.cleaned_data)
                row = lib.clone_protocol(actor, key, version=source.version, definition=definition,
                                         change_note=form.cleaned_data["change_note"])
            except ValidationFailed as failure:
                show_errors(form, as_form_errors(failure))
            else:
                messages.success(request, f"Version clinic-{row.number} of {row.name} is saved and is now "
                                          "the current protocol. Plans already made keep their own copy.")
                return redirect("plans:protocol", key=row.key)
    else:
        form = CloneForm(initial=initial_from(source.definition), kind=source.dose.kind)
    return render(request, "plans/clone.html", {
        "source": source, "form": form, "section": SECTION, "verify": set(source.dose.verify),
    })


@require_POST
@staff_view(Permission.SIGN_PLANS)
def retire(request: HttpRequest, key: str, number: int) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    lib.library_entry(actor.organization_id, key)  # NotFound (404) for a key this clinic does not have
    try:
        lib.retire_protocol(actor, key, number, request.POST.get("reason", ""))
    except ValidationFailed as failure:
        messages.error(request, " ".join(e.message for e in failure.errors))
    else:
        messages.success(request, f"Version clinic-{number} is retired; new plans use the current version.")
    try:
        lib.library_entry(actor.organization_id, key)
    except NotFound:
        return redirect("plans:library")
    return redirect("plans:protocol", key=key)


def _measures(data: dict[str, Any], errors: list[FieldError]) -> PatientMeasures:
    age = number(data.get("age"), "age", errors)
    return PatientMeasures(
        weight_kg=number(data.get("weight_kg"), "weight_kg", errors),
        height_cm=number(data.get("height_cm"), "height_cm", errors),
        sex=data.get("sex") or "",
        age=int(age) if age is not None and age == age.to_integral_value() else None,
    )


def calculate_from(organization_id: Any, data: dict[str, Any]) -> Prescription:
    """The calculator's dose from typed values; ValidationFailed naming the field."""
    errors: list[FieldError] = []
    measures = _measures(data, errors)
    if data.get("age") and measures.age is None and not errors:
        errors.append(FieldError("age", "Enter the age in whole years."))
    try:
        protocol = lib.get_protocol(organization_id, data.get("protocol") or "")
    except NotFound:
        errors.append(FieldError("protocol", "Choose a protocol."))
        raise ValidationFailed(errors) from None
    if errors:
        raise ValidationFailed(errors)
    return calculate(protocol, measures, mg_per_kg=data.get("mg_per_kg"), mg=data.get("mg"),
                     first_dose=not data.get("mg"))


@require_http_methods(["GET"])
@staff_view(Permission.VIEW_CLINICAL)
def calculator(request: HttpRequest) -> HttpResponse:
    """GET with values shows the dose and its arithmetic; an HTMX request answers the result only."""
    actor = request.actor  # type: ignore[attr-defined]
    entries = lib.library(actor.organization_id)
    choices = [(e.key, f"{e.protocol.name} (v{e.protocol.version})") for e in entries]
    submitted = "protocol" in request.GET
    form = CalculatorForm(request.GET if submitted else None, protocols=choices)
    prescription = None
    if submitted and form.is_valid():
        try:
            prescription = calculate_from(actor.organization_id, form.cleaned_data)
        except ValidationFailed as failure:
            show_errors(form, failure)
    context = {"form": form, "prescription": prescription, "section": SECTION, "submitted": submitted}
    if htmx_target(request) == "dose-result":
        return render(request, "plans/_calculator_result.html", context)
    return render(request, "plans/calculator.html", context)
