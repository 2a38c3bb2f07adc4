"""The measures worklist (Due, Overdue, Safety alerts) and the safety alert page."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinics.services import clinics_for
from ketaflow.patients.views import htmx_target, page_number
from ketaflow.validation import Forbidden, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import AcknowledgeForm, WorklistForm
from .library import instruments_for
from .models import QuestionnaireResponse, SafetyAlert
from .safety import acknowledge_alert, open_alert
from .schedule import due_window
from .tabs import response_row
from .worklists import alert_recipients, alerts_page, due_page, mark_alert_read, unread_notices

PAGE_SIZE = 25


@require_GET
@staff_view(Permission.VIEW_SCHEDULE)
def worklist(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    clinics = list(clinics_for(actor).order_by("name"))
    form = WorklistForm(request.GET, clinics=clinics)
    form.is_valid()
    data = form.cleaned_data
    tab = data.get("tab") or "due"
    if tab == "alerts" and not actor.can(Permission.VIEW_CLINICAL):
        raise Forbidden("Your role cannot see safety alerts.")
    number = page_number(request)
    context: dict[str, Any] = {"form": form, "tab": tab, "section": "measures", "clinics": clinics,
                               "show_clinic_filter": len(clinics) > 1}
    if tab == "alerts":
        context["page"] = alerts_page(actor, mine=bool(data.get("mine")), page=number, page_size=PAGE_SIZE)
        context["notices"] = unread_notices(actor)
    else:
        clinic_id = uuid.UUID(data["clinic"]) if data.get("clinic") else None
        page = due_page(actor, overdue=tab == "overdue", clinic_id=clinic_id, page=number,
                        page_size=PAGE_SIZE)
        library = instruments_for(actor.organization_id)
        now = timezone.now()
        context |= {
            "page": page,
            "rows": [(row, library[row.instrument_id].short_name if row.instrument_id in library
                      else row.instrument_id, (now - row.due_at).days) for row in page.items],
            "window": due_window(actor.organization_id, now),
        }
    if htmx_target(request) == "worklist-results":
        return render(request, "measurement/_worklist_results.html", context)
    return render(request, "measurement/worklist.html", context)


def _alert_context(actor: Actor, alert: SafetyAlert, form: AcknowledgeForm | None = None) -> dict[str, Any]:
    library = instruments_for(actor.organization_id)
    response = QuestionnaireResponse.objects.for_organization(actor.organization_id).prefetch_related(
        "observations").get(pk=alert.response_id)
    instrument = library.get(alert.instrument_id)
    can_ack = actor.can(Permission.EDIT_CLINICAL) and alert.status == SafetyAlert.Status.OPEN
    return {
        "alert": alert, "patient": alert.patient, "section": "measures",
        "instrument_name": instrument.short_name if instrument else alert.instrument_id,
        "response_row": response_row(response, library),
        "recipients": alert_recipients(actor, alert),
        "ack_form": (form or AcknowledgeForm()) if can_ack else None,
    }


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def alert_detail(request: HttpRequest, safety_alert_id: uuid.UUID) -> HttpResponse:
    """The alert, its reading audited; the viewer's own notification of it is marked read."""
    actor = request.actor  # type: ignore[attr-defined]
    alert = open_alert(actor, safety_alert_id)
    mark_alert_read(actor, alert)
    with timezone.override(alert.patient.home_clinic.timezone):
        return render(request, "measurement/alert.html", _alert_context(actor, alert))


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def alert_acknowledge(request: HttpRequest, safety_alert_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = AcknowledgeForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    try:
        alert = acknowledge_alert(actor, safety_alert_id, action=data.get("action") or "",
                                  note=data.get("note") or "")
    except ValidationFailed as failure:
        show_errors(form, failure)
        alert = open_alert(actor, safety_alert_id)
        with timezone.override(alert.patient.home_clinic.timezone):
            return render(request, "measurement/alert.html", _alert_context(actor, alert, form))
    messages.success(request, "The alert is acknowledged.")
    return redirect("measures:alert", safety_alert_id=alert.pk)
