"""Billing pages: the price list, the settings, and a plan's estimate. Views parse, call one service
and render; each service error is shown beside its field."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.pricing import money
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import estimates, prices
from .amounts import cents_as_text, parse_amount
from .codes import SOURCE as CODES_SOURCE
from .codes import codes_text
from .defaults import SOURCE as PRICES_SOURCE
from .forms import EstimateForm, PriceForm, SettingsForm
from .models import PriceItem

RENAMES = {"amount_cents": "amount", "deposit_cents": "deposit"}


def _price_initial(price: PriceItem) -> dict[str, Any]:
    return {
        "code": price.code,
        "label": price.label,
        "kind": price.kind,
        "amount": cents_as_text(price.amount_cents),
        "appointment_type_key": price.appointment_type_key,
        "covers": price.covers,
        "sessions": price.sessions,
        "billing_codes": codes_text(price.billing_codes),
    }


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def price_list(request: HttpRequest) -> HttpResponse:
    """The price list; owners and administrators add, change and take prices off it here."""
    actor = request.actor  # type: ignore[attr-defined]
    rows = prices.price_list(actor, include_inactive=True)
    editing = next((p for p in rows if str(p.pk) == request.GET.get("edit", "")), None)
    form = PriceForm(initial=_price_initial(editing) if editing else {"kind": PriceItem.Kind.SESSION})
    if request.method == "POST":
        actor.require(Permission.MANAGE_CLINICS)
        price_id = request.POST.get("price_id") or None
        if request.POST.get("action") == "deactivate" and price_id:
            try:
                gone = prices.deactivate_price(actor, price_id)
            except ValidationFailed as exc:
                messages.error(request, " ".join(e.message for e in exc.errors))
            else:
                messages.success(request, f"{gone.label} is off the price list.")
            return redirect("billing:prices")
        form = PriceForm(request.POST)
        form.is_valid()
        data = dict(form.cleaned_data)
        try:
            data["amount_cents"] = parse_amount(data.pop("amount", ""), "amount", allow_zero=True)
            data["billing_codes"] = prices.parse_codes_text(data.get("billing_codes") or "")
            saved = prices.save_price(actor, data, price_id=price_id)
        except ValidationFailed as exc:
            show_errors(form, exc, rename=RENAMES)
            editing = next((p for p in rows if str(p.pk) == price_id), None)
        else:
            messages.success(request, f"{saved.label} saved at {money(saved.amount_cents)}.")
            return redirect("billing:prices")
    return render(
        request,
        "billing/prices.html",
        {
            "section": "settings",
            "rows": rows,
            "form": form,
            "editing": editing,
            "can_edit": actor.can(Permission.MANAGE_CLINICS),
            "prices_source": PRICES_SOURCE,
            "codes_source": CODES_SOURCE,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def billing_settings(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    config = prices.billing_settings(actor)
    initial = {name: getattr(config, name) for name in prices.SETTING_FIELDS if name != "deposit_cents"}
    initial["deposit"] = cents_as_text(config.deposit_cents)
    form = SettingsForm(initial=initial)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        form.is_valid()
        data = {k: v for k, v in form.cleaned_data.items() if k != "deposit"}
        if data.get("payment_terms_days") is None:
            data["payment_terms_days"] = config.payment_terms_days
        try:
            data["deposit_cents"] = parse_amount(
                form.cleaned_data.get("deposit") or "0", "deposit", allow_zero=True
            )
            prices.update_billing_settings(actor, data)
        except ValidationFailed as exc:
            show_errors(form, exc, rename=RENAMES)
        else:
            messages.success(request, "Billing settings saved.")
            return redirect("billing:settings")
    return render(request, "billing/settings.html", {"section": "settings", "form": form, "config": config})


@require_http_methods(["GET", "POST"])
@staff_view(Permission.VIEW_DEMOGRAPHICS)
def estimate(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    """A plan's estimate: what it would cost now, the estimates made, making and accepting one."""
    actor = request.actor  # type: ignore[attr-defined]
    form = EstimateForm(request.GET or None)
    problem = ""
    if request.method == "POST":
        actor.require(Permission.EDIT_SCHEDULE)
        if request.POST.get("action") == "accept":
            try:
                estimates.accept_estimate(actor, request.POST.get("estimate_id", ""))
            except ValidationFailed as exc:
                messages.error(request, " ".join(e.message for e in exc.errors))
            else:
                messages.success(request, "The estimate is marked accepted.")
            return redirect("billing:estimate", plan_id=plan_id)
        form = EstimateForm(request.POST)
        form.is_valid()
        extras = [("integration-therapy", form.cleaned_data.get("integration") or 0)]
        if form.cleaned_data.get("consultation"):
            extras.append(("consultation", 1))
        try:
            estimates.estimate_for_plan(actor, plan_id, extras=[(c, q) for c, q in extras if q])
        except ValidationFailed as exc:
            show_errors(
                form,
                exc,
                rename={"extras.integration-therapy": "integration", "extras.consultation": "consultation"},
            )
        else:
            messages.success(request, "Estimate saved.")
            return redirect("billing:estimate", plan_id=plan_id)
    plan = estimates.open_plan_for_estimate(actor, plan_id)
    draft = None
    try:
        draft = estimates.draft_for_plan(actor, plan)
    except ValidationFailed as exc:
        problem = " ".join(e.message for e in exc.errors)
    currency = prices.billing_settings(actor).currency
    return render(
        request,
        "billing/estimate.html",
        {
            "section": "patients",
            "plan": plan,
            "patient": plan.patient,
            "draft": draft,
            "problem": problem,
            "form": form,
            "saved": estimates.plan_estimates(actor, plan),
            "currency": currency,
            "can_edit": actor.can(Permission.EDIT_SCHEDULE),
            "prices_source": PRICES_SOURCE,
        },
    )
