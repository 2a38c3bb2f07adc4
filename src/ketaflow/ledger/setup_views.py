"""The ledger set-up page: settings (registrant, expiry warning, session tolerance), the products
stocked and the storage locations of each clinic. Products and settings are a prescriber's to change;
locations anyone's who handles the stock (the services check)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.clinics.models import Clinic
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view

from . import setup
from .forms import LocationForm, ProductForm, SettingsForm
from .views import actor_of, attempt


def _settings_initial(config: Any) -> dict[str, Any]:
    return {
        "registrant": config.registrant,
        "registration_number": config.registration_number,
        "expiry_warn_days": config.expiry_warn_days,
        "session_tolerance_mg": config.session_tolerance_mg,
    }


@require_http_methods(["GET", "POST"])
@staff_view(Permission.HANDLE_CONTROLLED)
def ledger_setup(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    setup.ensure_products(actor.organization_id)
    config = setup.ledger_settings(actor.organization_id)
    clinics = list(Clinic.objects.for_organization(actor.organization_id).filter(is_active=True))
    action = request.POST.get("action", "")
    settings_form = SettingsForm(
        request.POST if action == "settings" else None, initial=_settings_initial(config)
    )
    product_form = ProductForm(request.POST if action == "product" else None)
    location_form = LocationForm(request.POST if action == "location" else None, clinics=clinics)
    if action in ("settings", "product", "location"):
        form = {"settings": settings_form, "product": product_form, "location": location_form}[action]
        form.is_valid()
        data = dict(form.cleaned_data)
        write = {
            "settings": lambda: setup.update_settings(actor, **data),
            "product": lambda: setup.add_product(actor, **data),
            "location": lambda: setup.add_location(actor, **data),
        }[action]
        if attempt(form, write, rename={}, not_found={}) is not None:
            messages.success(request, "Saved.")
            return redirect("ledger:setup")
    elif action in ("product_active", "location_active"):
        active = request.POST.get("active") == "1"
        try:
            if action == "product_active":
                setup.set_product_active(actor, request.POST.get("product_id"), active=active)
            else:
                setup.set_location_active(actor, request.POST.get("location_id"), active=active)
        except ValidationFailed as exc:
            messages.error(request, " ".join(e.message for e in exc.errors))
        else:
            messages.success(request, "Saved.")
        return redirect("ledger:setup")
    return render(
        request,
        "ledger/setup.html",
        {
            "section": "ledger",
            "settings_form": settings_form,
            "product_form": product_form,
            "location_form": location_form,
            "products": setup.products(actor.organization_id, active_only=False),
            "locations": setup.locations(actor.organization_id, active_only=False),
            "can_change_products": actor.can(Permission.SIGN_DOSES),
            "defaults_source": setup.DEFAULTS_SOURCE,
        },
    )
