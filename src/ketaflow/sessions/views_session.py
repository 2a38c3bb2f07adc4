"""The chairside page and its live chart.

`detail` renders the whole page; `chart` is polled by the page every 15 s and answers the chart
(an inline SVG) with the vitals timer and, when the open alerts changed, the alert banner swapped
out of band, so the page stays current without a reload. `?format=json` gives the chart's data.
`render_session` is shared with the actions: an HTMX request gets the page body only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .access import open_session
from .live_chart import chart_json
from .models import TreatmentSession
from .page import alert_forms, chart_readings, figure_of, page_context, timer_context, zone_of
from .view import session_view


def is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


def render_session(request: HttpRequest, session_id: uuid.UUID, **given: Any) -> HttpResponse:
    """The page (or, for HTMX, its body) with `given` forms in place of fresh ones."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session = open_session(actor, session_id, purpose="chairside page")
    context = page_context(actor, session, **given)
    with timezone.override(context["zone"]):
        template = "sessions/_body_htmx.html" if is_htmx(request) else "sessions/detail.html"
        return render(request, template, context)


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def detail(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    return render_session(request, session_id)


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def chart(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """The live chart (SVG fragment with the timer out of band) or, with ?format=json, its data."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    session: TreatmentSession = open_session(actor, session_id, purpose="live chart")
    view = session_view(session, timezone.now())
    if request.GET.get("format") == "json":
        data = chart_json(
            chart_readings(view),
            baseline=view.baseline,
            limits=session.monitoring.get("limits", {}),
            source=view.rules.source,
        )
        data["timer"] = {
            "due_at": view.timer.due_at.isoformat() if view.timer.due_at else None,
            "every_min": view.timer.every_min,
            "overdue": view.timer.overdue(view.now),
        }
        data["open_alerts"] = [{"id": str(a.pk), "message": a.message} for a in view.open_alerts]
        return JsonResponse(data)
    zone = zone_of(session)
    shown = sorted(filter(None, request.GET.get("alerts", "").split(",")))
    current = sorted(str(a.pk) for a in view.open_alerts)
    context = {
        "session": session,
        "view": view,
        "figure": figure_of(view, zone),
        "timer": timer_context(view),
        "open_alerts": view.open_alerts,
        "alert_forms": alert_forms(view, zone, {}),
        "alerts_changed": shown != current,
        "oob": True,
        "can_chart": actor.can(Permission.CHART_SESSIONS) and not session.is_locked,
    }
    with timezone.override(zone):
        return render(request, "sessions/_live.html", context)
