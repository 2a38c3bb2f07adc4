"""Eligibility pages: signing a route's decision from the chart tab, and the settings page.

Each view calls one service and answers with the chart's Eligibility tab (a fragment for HTMX, the
whole chart otherwise) or the settings page, errors next to their fields.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.eligibility import Status
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.patients.views import htmx_target
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .decisions import parse_route, sign_decision
from .forms import SettingsForm, SignForm
from .settings_service import WINDOW_NOTES, WINDOWS, parameter_rows, settings_for, update_settings

TAB = "eligibility"


def _render(
    request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any] | None = None
) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    context = chart_context(actor, patient_id, tab_for(actor, TAB), overrides)
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")


@require_POST
@staff_view(Permission.SIGN_PLANS)
def sign(request: HttpRequest, patient_id: uuid.UUID, route: str) -> HttpResponse:
    """Sign approve / decline for one route; a missing override reason comes back beside the field."""
    actor = request.actor  # type: ignore[attr-defined]
    wanted = parse_route(route)
    seen = request.POST.get(f"{wanted.value}-assessed_status", "")
    status = Status(seen) if seen in {s.value for s in Status} else Status.NEEDS_REVIEW
    form = SignForm(request.POST, route=wanted, status=status)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sign_decision(actor, patient_id, wanted, decision=data["decision"],
                          override_reason=data["override_reason"],
                          expected_status=data["assessed_status"] or None)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"Your decision for {wanted.label} is signed.")
            if htmx_target(request) == "chart-body":
                return _render(request, patient_id)
            return redirect("patients:tab", patient_id=patient_id, tab=TAB)
    return _render(request, patient_id, {"submitted_route": wanted.value, "submitted_form": form})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.SIGN_PLANS)
def eligibility_settings(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    config = settings_for(actor.organization_id)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            parameters = {
                name.removeprefix("param_"): data[name] for name in form.fields if name.startswith("param_")
            }
            try:
                update_settings(actor, parameters=parameters, **{name: data[name] for name in WINDOWS})
            except ValidationFailed as failure:
                rename = {f"parameters.{name}": f"param_{name}" for name in parameters}
                show_errors(form, failure, rename=rename)
            else:
                messages.success(request, "The eligibility settings are saved.")
                return redirect("eligibility:settings")
    else:
        initial: dict[str, Any] = {name: getattr(config, name) for name in WINDOWS}
        initial |= {f"param_{name}": value for name, value in (config.parameters or {}).items()}
        form = SettingsForm(initial=initial)
    rows = {row.name: row for row in parameter_rows(config)}
    parameter_fields = [(field, rows[field.name.removeprefix("param_")]) for field in form.parameter_fields()]
    window_fields = [(form[name], WINDOW_NOTES[name]) for name in WINDOWS]
    return render(request, "eligibility/settings.html", {
        "form": form, "parameter_fields": parameter_fields, "window_fields": window_fields,
        "section": "settings",
    })
