from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from .access import staff_view
from .dashboard import dashboard_for


@require_GET
@staff_view()
def home(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    user = request.user
    return render(request, "web/home.html", {
        "dashboard": dashboard_for(actor),
        "first_name": user.first_name or user.username,  # type: ignore[union-attr]
    })


@require_POST
@staff_view()
def keepalive(request: HttpRequest) -> HttpResponse:
    """Activity in the page without a request (typing a long note) keeps the session alive."""
    return HttpResponse(status=204)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers; carries no data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "web/csrf_failure.html", status=403)
