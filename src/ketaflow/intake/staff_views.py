"""Staff actions on the intake: send the link (front desk too) and mark a submitted intake reviewed.

Sending answers with the chart's Intake tab (everyone who may send it can open the tab): the link
and its QR code in person, shown on this response only, or whether the email or text message was
accepted.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.patients.views import htmx_target
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view

from .delivery import deliver, link_url, qr_svg
from .models import Intake
from .services import issue_intake, mark_reviewed

TAB = "intake"


def _respond(request: HttpRequest, patient_id: uuid.UUID, overrides: dict[str, Any]) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    context = chart_context(actor, patient_id, tab_for(actor, TAB), overrides)
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")


@require_POST
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def issue(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Open (or renew) the patient's intake and send or show its link."""
    actor = request.actor  # type: ignore[attr-defined]
    channel = request.POST.get("channel", "")
    try:
        issued = issue_intake(actor, patient_id, channel=channel)
    except ValidationFailed as exc:
        return _respond(request, patient_id, {"intake_issue_errors": [e.message for e in exc.errors],
                                              "intake_issue_channel": channel})
    overrides: dict[str, Any] = {"intake_issued": issued.intake, "intake_issued_channel": channel}
    if channel == Intake.Channel.IN_PERSON:
        url = link_url(issued)
        overrides |= {"intake_issued_url": url, "intake_issued_qr": qr_svg(url)}
    else:
        overrides["intake_issued_sent"] = deliver(issued.intake.patient, issued)
    return _respond(request, patient_id, overrides)


@require_POST
@staff_view(Permission.EDIT_CLINICAL)
def reviewed(request: HttpRequest, intake_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    intake: Intake = Intake.objects.for_organization(actor.organization_id).one(intake_id, "intake")
    try:
        mark_reviewed(actor, intake.pk)
    except ValidationFailed as exc:
        for error in exc.errors:
            messages.error(request, error.message)
    else:
        messages.success(request, "The intake is marked reviewed.")
    return redirect("patients:tab", patient_id=intake.patient_id, tab=TAB)
