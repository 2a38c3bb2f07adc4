"""Ledger pages: the overview, a lot's running balance, and the receive, waste and transfer forms.

Every page needs HANDLE_CONTROLLED (prescribers and nurses); others get the 403 page. Views parse,
call one service and render; each service error is shown beside its field.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.sessions.access import open_session
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import stock
from .balances import BalanceRow, balances, lot_history
from .counts import open_counts
from .expiry import alerts_in
from .forms import RENAMES, ReceiveForm, TransferForm, WasteForm, split_stock
from .models import Entry
from .reconciliation import flagged_sessions, ledger_check
from .reports import mg_text
from .setup import ensure_products, ledger_settings, locations, products

CHECK_DAYS = 90  # the overview walks the last 90 days of entries; balances are always compared in full
NOT_FOUND_FIELDS = {"product": "product_id", "storage location": "location_id", "lot": "stock"}


def actor_of(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


def posted(request: HttpRequest) -> Any:
    """The POST data for a bound form (even when empty), or None on GET."""
    return request.POST if request.method == "POST" else None


def user_id(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def attempt(
    form: forms.Form,
    write: Callable[[], Any],
    *,
    rename: Mapping[str, str] = RENAMES,
    not_found: Mapping[str, str] = NOT_FOUND_FIELDS,
) -> Any:
    """Run a service call for a form: its result, or None with the errors shown on the form."""
    try:
        return write()
    except ValidationFailed as exc:
        show_errors(form, exc, rename=rename)
    except NotFound as exc:
        field = not_found.get(str(exc))
        form.add_error(field if field in form.fields else None, "Choose one from the list.")
    return None


@require_GET
@staff_view(Permission.HANDLE_CONTROLLED)
def overview(request: HttpRequest) -> HttpResponse:
    """Balances per location, expiry alerts, open discrepancies and flagged session doses."""
    actor = actor_of(request)
    ensure_products(actor.organization_id)
    today = timezone.localdate()
    rows = balances(actor.organization_id, today)
    places: dict[Any, list[BalanceRow]] = {}
    for row in rows:
        places.setdefault(row.location, []).append(row)
    check = ledger_check(actor.organization_id, start=timezone.now() - timedelta(days=CHECK_DAYS))
    flagged = flagged_sessions(actor)
    return render(
        request,
        "ledger/overview.html",
        {
            "section": "ledger",
            "places": places,
            "locations": locations(actor.organization_id),
            "alerts": alerts_in(rows, today),
            "warn_days": ledger_settings(actor.organization_id).expiry_warn_days,
            "counts": open_counts(actor.organization_id),
            "check": check,
            "check_days": CHECK_DAYS,
            "flagged": flagged,
        },
    )


@require_GET
@staff_view(Permission.HANDLE_CONTROLLED)
def lot_detail(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    """One lot: its balance in each location and every entry with the balance after it."""
    actor = actor_of(request)
    history = lot_history(actor, lot_id, timezone.localdate())
    return render(request, "ledger/lot.html", {"section": "ledger", "history": history})


def _done(request: HttpRequest, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("ledger:overview")


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def receive(request: HttpRequest) -> HttpResponse:
    """A delivery from a supplier: product, lot, expiry, invoice and quantity, into a location."""
    actor = actor_of(request)
    form = ReceiveForm(
        posted(request),
        products=products(actor.organization_id),
        places=locations(actor.organization_id),
    )
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        entry: Entry | None = attempt(
            form,
            lambda: stock.receive(
                actor,
                product_id=data.get("product_id"),
                lot_number=data.get("lot_number", ""),
                expires_on=data.get("expires_on"),  # type: ignore[arg-type]
                supplier=data.get("supplier", ""),
                invoice_number=data.get("invoice_number", ""),
                quantity_mg=data.get("quantity_mg"),
                units=data.get("units"),
                location_id=data.get("location_id"),
            ),
            rename={},
        )
        if entry is not None:
            return _done(
                request,
                f"Received {mg_text(entry.change_mg)} mg of lot {entry.lot.lot_number} into "
                f"{entry.location.name}; the balance there is {mg_text(entry.balance_after_mg)} mg.",
            )
    return render(request, "ledger/receive.html", {"section": "ledger", "form": form})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def waste(request: HttpRequest) -> HttpResponse:
    """Drug discarded before a named colleague as witness, with the reason. With `?session=<id>`
    (from a flagged session on the overview) it is that session's waste, which re-reconciles it."""
    actor = actor_of(request)
    rows = balances(actor.organization_id, timezone.localdate())
    session_key = request.POST.get("session") or request.GET.get("session")
    session = open_session(actor, session_key, purpose="ledger-waste") if session_key else None
    form = WasteForm(posted(request), actor=actor, rows=rows, initial=_waste_initial(session))
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        lot_id, location_id = split_stock(request.POST.get("stock", ""))
        entry: Entry | None = None
        if lot_id is None:
            form.add_error("stock", "Choose the lot and location the drug came from.")
        else:
            entry = attempt(
                form,
                lambda: stock.waste(
                    actor,
                    lot_id=lot_id,
                    location_id=location_id,
                    quantity_mg=data.get("quantity_mg"),
                    witness_id=user_id(data.get("witness_id")),
                    reason=data.get("reason", ""),
                    session_id=session.pk if session else None,
                ),
            )
        if entry is not None:
            return _done(
                request,
                f"Recorded {mg_text(-entry.change_mg)} mg of lot {entry.lot.lot_number} wasted; "
                f"{mg_text(entry.balance_after_mg)} mg left in {entry.location.name}.",
            )
    unaccounted = (session.reconciliation or {}).get("unaccounted_mg") if session else None
    return render(
        request,
        "ledger/waste.html",
        {"section": "ledger", "form": form, "session": session, "unaccounted": unaccounted},
    )


def _waste_initial(session: Any) -> dict[str, Any]:
    """For a session's waste: the lot and place its dose was drawn from, and what is unaccounted."""
    if session is None:
        return {}
    preparation = session.preparations.order_by("prepared_at").first()
    initial: dict[str, Any] = {"reason": "Left over from the session's dose"}
    if preparation is not None:
        initial["stock"] = f"{preparation.lot_id}|{preparation.location_id}"
    unaccounted = (session.reconciliation or {}).get("unaccounted_mg")
    if unaccounted and Decimal(str(unaccounted)) > 0:
        initial["quantity_mg"] = mg_text(Decimal(str(unaccounted)))
    return initial


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def transfer(request: HttpRequest) -> HttpResponse:
    """Stock moved from one location to another: an out and an in entry."""
    actor = actor_of(request)
    rows = balances(actor.organization_id, timezone.localdate())
    form = TransferForm(posted(request), rows=rows, places=locations(actor.organization_id))
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        lot_id, location_id = split_stock(request.POST.get("stock", ""))
        moved: tuple[Entry, Entry] | None = None
        if lot_id is None:
            form.add_error("stock", "Choose the lot and location to move stock from.")
        else:
            moved = attempt(
                form,
                lambda: stock.transfer(
                    actor,
                    lot_id=lot_id,
                    from_location_id=location_id,
                    to_location_id=data.get("to_location_id"),
                    quantity_mg=data.get("quantity_mg"),
                    reason=data.get("reason", ""),
                ),
            )
        if moved is not None:
            out, into = moved
            return _done(
                request,
                f"Moved {mg_text(into.change_mg)} mg of lot {out.lot.lot_number} from {out.location.name} "
                f"to {into.location.name}.",
            )
    return render(request, "ledger/transfer.html", {"section": "ledger", "form": form})
