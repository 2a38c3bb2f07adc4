"""The reports page: a periodic or biennial inventory of one location, shown on the page (HTMX
refreshes the preview as the form changes) and downloaded as CSV or PDF."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .forms import ReportForm
from .reports import COLUMNS, FORMATS, InventoryReport, export_report, inventory_report
from .setup import locations
from .views import actor_of, attempt


def _report(request: HttpRequest) -> tuple[ReportForm, InventoryReport | None]:
    actor = actor_of(request)
    places = locations(actor.organization_id, active_only=False)
    params = request.GET.copy()
    if not params.get("location") and places:
        params["location"] = str(places[0].pk)
    params.setdefault("kind", "periodic")
    params.setdefault("end", timezone.localdate().isoformat())
    form = ReportForm(params, places=places)
    form.is_valid()
    data = form.cleaned_data
    if not data.get("location"):
        form.add_error("location", "Add a storage location first." if not places else "Choose a location.")
        return form, None
    if data.get("end") is None:
        return form, None
    report: InventoryReport | None = attempt(
        form,
        lambda: inventory_report(
            actor,
            kind=data.get("kind") or "periodic",
            location_id=data["location"],
            end=data["end"],
            start=data.get("start"),
        ),
        rename={"location_id": "location"},
        not_found={"storage location": "location"},
    )
    return form, report


@require_GET
@staff_view(Permission.HANDLE_CONTROLLED)
def reports(request: HttpRequest) -> HttpResponse:
    form, report = _report(request)
    context: dict[str, Any] = {
        "section": "ledger",
        "form": form,
        "report": report,
        "columns": [label for _name, label in COLUMNS],
        "query": request.GET.copy().urlencode() if report else "",
        "formats": FORMATS,
    }
    if request.headers.get("HX-Target") == "report-preview":
        return render(request, "ledger/_report.html", context)
    return render(request, "ledger/reports.html", context)


@require_GET
@staff_view(Permission.HANDLE_CONTROLLED)
def report_file(request: HttpRequest) -> HttpResponse:
    """The report as a download (?format=csv or pdf with the report's parameters)."""
    form, report = _report(request)
    if report is None or request.GET.get("format") not in FORMATS:
        if report is not None:
            form.add_error(None, "Choose CSV or PDF.")
        return render(
            request,
            "ledger/reports.html",
            {"section": "ledger", "form": form, "report": None, "formats": FORMATS},
            status=400,
        )
    document = export_report(actor_of(request), report, request.GET["format"])
    response = HttpResponse(document.content, content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response
