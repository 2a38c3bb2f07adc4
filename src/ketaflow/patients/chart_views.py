"""The patient chart: the header every tab shares, and the tabs from the registry in chart.py."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .chart import ChartTab, tab_for, tabs_for
from .forms import ArchiveForm
from .records import chart_header
from .services import open_patient
from .tabs import alert_rank
from .views import htmx_target


def chart_context(
    actor: Actor, patient_id: uuid.UUID, tab: ChartTab, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Open the patient (audited), then build the header and the tab's own context.

    `overrides` replaces parts of the tab's context, e.g. a submitted form with its errors.
    """
    patient = open_patient(actor, patient_id, purpose=f"chart:{tab.slug}")
    header = chart_header(actor, patient)
    context = tab.context(actor, patient) | (overrides or {})
    return context | {
        "patient": patient, "header": header, "header_alerts": sorted(header.alerts, key=alert_rank),
        "tabs": tabs_for(actor), "current_tab": tab,
        "archive_form": ArchiveForm(), "section": "patients",
    }


def render_chart(request: HttpRequest, context: dict[str, Any], *, fragment: bool) -> HttpResponse:
    """The whole chart page, or for HTMX the chart body with the header swapped out of band.

    Dates and times show in the patient's home clinic's time zone.
    """
    template = "patients/_chart_fragment.html" if fragment else "patients/chart.html"
    with timezone.override(context["patient"].home_clinic.timezone):
        return render(request, template, context)


@require_GET
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def chart(request: HttpRequest, patient_id: uuid.UUID, tab: str | None = None) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    current = tab_for(actor, tab)
    context = chart_context(actor, patient_id, current)
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")
