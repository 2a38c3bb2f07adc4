"""Count pages: a blind count sheet for one location, and an open count's reconciliation.

The count sheet lists the lots held in the location without their balances (the counter writes
what is on the shelf); choosing another location swaps the sheet in with HTMX.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.web.access import staff_view

from .balances import balances
from .counts import count_of, reconcile, record_count
from .forms import CountForm, ReconcileForm, location_choices
from .models import Count
from .setup import locations
from .views import actor_of, attempt, posted, user_id


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def count(request: HttpRequest) -> HttpResponse:
    """Choose a location, then enter what is found of each lot held there."""
    actor = actor_of(request)
    places = locations(actor.organization_id)
    chosen = next((p for p in places if str(p.pk) == (request.POST or request.GET).get("location")), None)
    rows = balances(actor.organization_id, timezone.localdate(), location_id=chosen.pk) if chosen else []
    form = CountForm(posted(request), actor=actor, rows=rows)
    if request.method == "POST" and chosen is not None:
        form.is_valid()
        counted = form.counted()
        done: Count | None = attempt(
            form,
            lambda: record_count(
                actor,
                location_id=chosen.pk,
                kind=form.cleaned_data.get("kind", ""),
                counted=counted,
                witness_id=user_id(form.cleaned_data.get("witness_id")),
            ),
            rename={f"counted.{row.lot.pk}": f"counted_{row.lot.pk}" for row in rows},
        )
        if done is not None:
            if done.status == Count.Status.OPEN:
                messages.warning(request, "The count differs from the ledger: reconcile each difference.")
            else:
                messages.success(request, f"Count of {chosen.name} recorded: it agrees with the ledger.")
            return redirect("ledger:count_detail", count_id=done.pk)
    elif request.method == "POST":
        form.is_valid()
        form.add_error(None, "Choose the storage location you counted.")
    context = {
        "section": "ledger",
        "form": form,
        "chosen": chosen,
        "place_choices": location_choices(places),
    }
    if request.headers.get("HX-Target") == "count-sheet":
        return render(request, "ledger/_count_sheet.html", context)
    return render(request, "ledger/count.html", context)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def count_detail(request: HttpRequest, count_id: uuid.UUID) -> HttpResponse:
    """A count's lines (expected, counted, difference); while it is open, a reason for each
    difference and a witness reconcile it with adjustment entries."""
    actor = actor_of(request)
    found = count_of(actor, count_id)
    lines = list(found.lines.all())
    differing = [line for line in lines if line.difference_mg != 0 and line.adjustment_id is None]
    form = None
    if found.status == Count.Status.OPEN:
        form = ReconcileForm(posted(request), actor=actor, lines=differing)
    if request.method == "POST" and form is not None:
        form.is_valid()
        resolutions = form.resolutions()
        adjustments = attempt(
            form,
            lambda: reconcile(
                actor,
                found.pk,
                resolutions=resolutions,
                witness_id=user_id(form.cleaned_data.get("witness_id")),
            ),
            rename={f"resolutions.{line_id}": f"reason_{line_id}" for line_id in resolutions},
        )
        if adjustments is not None:
            made = len(adjustments)
            messages.success(
                request, f"Count reconciled: {made} adjustment entr{'y' if made == 1 else 'ies'}."
            )
            return redirect("ledger:count_detail", count_id=found.pk)
    elif request.method == "POST":
        messages.error(request, "This count is already reconciled.")
        return redirect("ledger:count_detail", count_id=found.pk)
    return render(
        request,
        "ledger/count_detail.html",
        {"section": "ledger", "count": found, "lines": lines, "form": form},
    )
