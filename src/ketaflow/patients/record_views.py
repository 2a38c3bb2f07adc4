"""POST endpoints for the problem list, allergies and alerts.

Each calls one record service. For HTMX the response is the refreshed chart body (with the header
out of band, since allergies and alerts show there); otherwise a redirect back to the tab, or the
full chart with the form's errors. Messages carry no clinical detail (they may sit in a cookie).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.validation import Forbidden, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .chart import ChartTab, tabs_for
from .chart_views import chart_context, render_chart
from .models import PatientChild
from .record_forms import AlertForm, AllergyForm, ConditionForm, ConditionStatusForm, alert_categories
from .records import (
    add_alert,
    add_allergy,
    add_condition,
    deactivate_allergy,
    resolve_alert,
    set_condition_status,
)
from .services import mark_no_known_allergies
from .views import htmx_target


def _return_tab(actor: Actor, slug: str | None) -> ChartTab:
    """The tab the form was on, if the actor may see it; else Problems, else the first tab."""
    visible = {tab.slug: tab for tab in tabs_for(actor)}
    if not visible:
        raise Forbidden("Your role cannot open patient charts.")
    return visible.get(slug or "") or visible.get("problems") or next(iter(visible.values()))


def _respond(
    request: HttpRequest, patient_id: uuid.UUID, *, done: str = "",
    overrides: dict[str, Any] | None = None,
) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    tab = _return_tab(actor, request.POST.get("tab"))
    fragment = htmx_target(request) == "chart-body"
    if done:
        messages.success(request, done)
        if not fragment:
            return redirect("patients:tab", patient_id=patient_id, tab=tab.slug)
    return render_chart(request, chart_context(actor, patient_id, tab, overrides), fragment=fragment)


def _failed(request: HttpRequest, failure: ValidationFailed) -> None:
    for error in failure.errors:
        messages.error(request, error.message)


def _add(
    request: HttpRequest, patient_id: uuid.UUID, form: forms.Form,
    save: Callable[[dict[str, Any]], PatientChild], *, done: str, open_form: str,
) -> HttpResponse:
    """Save a valid form through its service (`save(cleaned_data)`); on a refusal, the chart again with
    the form open (as `<open_form>_form`) and each error next to its field."""
    if form.is_valid():
        try:
            row = save(form.cleaned_data)
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            return _respond(request, row.patient_id, done=done)
    return _respond(request, patient_id, overrides={f"{open_form}_form": form, "open_form": open_form})


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def condition_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _add(request, patient_id, ConditionForm(request.POST), lambda data: add_condition(
        actor, patient_id, data["catalogue_id"], onset_date=data["onset_date"], note=data["note"]
    ), done="Problem added.", open_form="condition")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def condition_status(request: HttpRequest, patient_id: uuid.UUID, condition_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = ConditionStatusForm(request.POST)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    try:
        condition = set_condition_status(actor, condition_id, status)
    except ValidationFailed as failure:
        _failed(request, failure)
        return _respond(request, patient_id)
    return _respond(request, condition.patient_id, done="Problem status updated.")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def allergy_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    return _add(request, patient_id, AllergyForm(request.POST),
                lambda data: add_allergy(actor, patient_id, **data),
                done="Allergy recorded.", open_form="allergy")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def allergy_deactivate(request: HttpRequest, patient_id: uuid.UUID, allergy_id: uuid.UUID) -> HttpResponse:
    allergy = deactivate_allergy(request.actor, allergy_id)  # type: ignore[attr-defined]
    return _respond(request, allergy.patient_id, done="Allergy marked inactive.")


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def no_known_allergies(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    try:
        patient = mark_no_known_allergies(request.actor, patient_id)  # type: ignore[attr-defined]
    except ValidationFailed as failure:
        _failed(request, failure)
        return _respond(request, patient_id)
    return _respond(request, patient.pk, done="Recorded: no known allergies.")


@require_POST
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def alert_add(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    categories = alert_categories(actor)
    if not categories:
        raise Forbidden("Your role cannot add alerts.")
    return _add(request, patient_id, AlertForm(request.POST, categories=categories),
                lambda data: add_alert(actor, patient_id, **data), done="Alert added.", open_form="alert")


@require_POST
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def alert_resolve(request: HttpRequest, patient_id: uuid.UUID, alert_id: uuid.UUID) -> HttpResponse:
    alert = resolve_alert(request.actor, alert_id)  # type: ignore[attr-defined]
    return _respond(request, alert.patient_id, done="Alert resolved.")
