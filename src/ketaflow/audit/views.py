"""The audit log page: who did what to which record, when and from where."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .forms import AuditSearchForm
from .search import display_zone, object_types, rows_for, search_audit

PAGE_SIZE = 50


@require_GET
@staff_view(Permission.VIEW_AUDIT)
def audit_search(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    form = AuditSearchForm(request.GET or None, object_types=object_types(actor))
    if form.is_bound:
        form.is_valid()
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    zone = display_zone(actor)
    page = search_audit(actor, form.filters(), page=number, page_size=PAGE_SIZE, zone=zone)
    return render(request, "audit/search.html", {
        "form": form, "page": page, "rows": rows_for(actor, page.items, zone),
        "zone_name": str(zone), "section": "audit",
    })
