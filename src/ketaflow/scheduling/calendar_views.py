"""The calendar pages (day, week), the calendar-feed pages, and the public .ics feed.

Pages stay thin: read the query string, call `calendar.py` or `feeds.py`, render in the clinic's
time zone. A feed URL is shown once, on the page that issued it, and never stored.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from ketaflow.accounts.roles import Permission
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.patients.chart import tab_for
from ketaflow.patients.chart_views import chart_context, render_chart
from ketaflow.patients.services import open_patient
from ketaflow.patients.views import htmx_target
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.views import patient_view
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view

from . import calendar, calendar_cells, calendar_week, feeds

TAB = "appointments"


def webcal(url: str) -> str:
    """The same feed as a webcal:// link, which phones open straight in their calendar app."""
    return url.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1)


def _day_asked(request: HttpRequest, clinic: Any) -> date:
    """?date=YYYY-MM-DD, or today in the clinic's zone (with a message when the date is unreadable)."""
    text = request.GET.get("date", "").strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            messages.error(request, "The date must look like 2025-03-14; showing today instead.")
    return calendar.today_in(clinic)


def _frame(request: HttpRequest, view: str) -> dict[str, Any] | None:
    """The clinic, day and staff member asked for (None when the organization has no clinic)."""
    actor = request.actor  # type: ignore[attr-defined]
    clinic = calendar.choose_clinic(actor, request.GET.get("clinic"))
    if clinic is None:
        return None
    return {
        "clinic": clinic, "day": _day_asked(request, clinic),
        "staff": calendar.choose_staff(actor, request.GET.get("staff")),
        "clinics": calendar.clinics_of(actor), "staff_choices": calendar.staff_choices(actor, clinic),
        "view": view, "section": "schedule", "can_book": actor.can(Permission.EDIT_SCHEDULE),
    }


def _link(name: str, frame: dict[str, Any], day: date) -> str:
    params = {"clinic": str(frame["clinic"].pk), "date": day.isoformat()}
    if frame["staff"] is not None:
        params["staff"] = str(frame["staff"].pk)
    return f"{reverse(name)}?{urlencode(params)}"


def _nav(frame: dict[str, Any], name: str, previous: date, following: date, today: date) -> dict[str, str]:
    """Previous / today / next in this view, and the same day in the other view."""
    return {
        "previous": _link(name, frame, previous), "next": _link(name, frame, following),
        "today": _link(name, frame, today),
        "day": _link("scheduling:day", frame, frame["day"]),
        "week": _link("scheduling:week", frame, frame["day"]),
    }


def _no_clinic(request: HttpRequest) -> HttpResponse:
    return render(request, "scheduling/calendar/no_clinic.html", {"section": "schedule"})


@require_GET
@staff_view(Permission.VIEW_SCHEDULE)
def day(request: HttpRequest) -> HttpResponse:
    """One clinic's day: rooms across, time down, appointments as blocks."""
    frame = _frame(request, "day")
    if frame is None:
        return _no_clinic(request)
    found = calendar.day_calendar(request.actor, frame["clinic"], frame["day"],  # type: ignore[attr-defined]
                                  staff=frame["staff"])
    nav = _nav(frame, "scheduling:day", found.previous, found.next, found.today)
    rows = calendar_cells.day_rows(found, can_book=frame["can_book"])
    with timezone.override(calendar.zone_of(frame["clinic"])):
        context = frame | {"cal": found, "nav": nav, "day_rows": rows}
        return render(request, "scheduling/calendar/day.html", context)


@require_GET
@staff_view(Permission.VIEW_SCHEDULE)
def week(request: HttpRequest) -> HttpResponse:
    """Monday to Sunday: per room and day, the count and the appointments."""
    frame = _frame(request, "week")
    if frame is None:
        return _no_clinic(request)
    found = calendar_week.week_calendar(request.actor, frame["clinic"], frame["day"],  # type: ignore[attr-defined]
                                   staff=frame["staff"])
    nav = _nav(frame, "scheduling:week", found.previous, found.next, found.today)
    days = [{"info": d, "url": _link("scheduling:day", frame, d.day)} for d in found.days]
    with timezone.override(calendar.zone_of(frame["clinic"])):
        rows = calendar_cells.week_rows(found)
        context = frame | {"cal": found, "nav": nav, "days": days, "week_rows": rows}
        return render(request, "scheduling/calendar/week.html", context)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_SCHEDULE)
def my_feed(request: HttpRequest) -> HttpResponse:
    """A staff member's own calendar feed: issue (the URL is shown once here) or revoke."""
    actor = request.actor  # type: ignore[attr-defined]
    if actor.staff_id is None:
        return render(request, "scheduling/feeds/my_feed.html", {"section": "schedule", "no_staff": True})
    issued_url = ""
    action = request.POST.get("action")
    if request.method == "POST" and action == "issue":
        _feed, issued_url = feeds.issue_feed(actor, staff_id=actor.staff_id)
    elif request.method == "POST":
        if action == "revoke" and feeds.revoke_feed(actor, staff_id=actor.staff_id):
            messages.success(request, "Your calendar link is stopped. Calendars that follow it "
                                      "get no more updates.")
        return redirect("scheduling:my_feed")
    return render(request, "scheduling/feeds/my_feed.html", {
        "section": "schedule", "issued_url": issued_url, "webcal_url": webcal(issued_url),
        "feed": feeds.active_feed(actor.organization_id, staff_id=actor.staff_id),
    })


@require_POST
@staff_view(Permission.EDIT_SCHEDULE)
def patient_feed(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """From the chart's Appointments tab: issue the patient's calendar link (shown once) or revoke it."""
    actor = request.actor  # type: ignore[attr-defined]
    action = request.POST.get("action")
    if action != "issue":
        if action == "revoke" and feeds.revoke_feed(actor, patient_id=patient_id):
            messages.success(request, "The patient's calendar link is stopped.")
        else:
            open_patient(actor, patient_id, purpose="calendar-feed")  # NotFound for another's patient
        return redirect("patients:tab", patient_id=patient_id, tab=TAB)
    try:
        _feed, url = feeds.issue_feed(actor, patient_id=patient_id)
    except ValidationFailed as exc:
        for error in exc.errors:
            messages.error(request, error.message)
        return redirect("patients:tab", patient_id=patient_id, tab=TAB)
    context = chart_context(actor, patient_id, tab_for(actor, TAB), {"issued_feed_url": url})
    return render_chart(request, context, fragment=htmx_target(request) == "chart-body")


@require_safe
@never_cache
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The public .ics feed; 404 for an unknown or revoked token (which one is not said)."""
    try:
        body = feeds.feed_document(token)
    except feeds.FeedUnavailable as exc:
        raise Http404("Not found") from exc
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
@patient_view
def portal_feed(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    """The patient's "Add to my calendar" page in the portal: get a link (shown once) or stop it."""
    ip = get_client_ip_address(request)
    issued_url = ""
    action = request.POST.get("action")
    if request.method == "POST" and action == "issue":
        _feed, issued_url = feeds.issue_portal_feed(account, ip)
    elif request.method == "POST":
        if action == "revoke" and feeds.revoke_portal_feed(account, ip):
            messages.success(request, "Your calendar link is stopped.")
        return redirect("portal:home")
    return render(request, "scheduling/feeds/portal_feed.html", {
        "clinic_name": account.patient.home_clinic.name,
        "crisis_resources": crisis_resources(account.organization_id),
        "account": account, "section": "home", "issued_url": issued_url,
        "webcal_url": webcal(issued_url),
        "feed": feeds.active_feed(account.organization_id, patient_id=account.patient_id),
    })
