"""The measurement settings page: every number with its default and its source."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.forms import BaseFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.instruments import Instrument
from ketaflow.validation import FieldError, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .forms import CrisisResourceFormSet, SettingsForm
from .library import instruments_for, settings_for
from .models import MeasurementSettings
from .settings_service import RANGES, SETTING_NOTES, update_settings


def _remission_labels(library: dict[str, Instrument]) -> dict[str, str]:
    labels = {}
    for instrument in library.values():
        if instrument.scoring.method == "risk_level":
            continue
        own = "none defined"
        if instrument.remission:
            own = f"its definition: at most {instrument.remission.at_most:g}"
        labels[instrument.id] = f"{instrument.short_name} remission at most (default: {own})"
    return labels


def _initial(config: MeasurementSettings) -> dict[str, Any]:
    initial: dict[str, Any] = {name: getattr(config, name) for name in RANGES}
    for instrument_id, value in (config.remission_overrides or {}).items():
        initial[f"remission_{instrument_id}"] = value
    return initial


def _crisis_errors(formset: BaseFormSet, failure: ValidationFailed, kept: list[int]) -> list[FieldError]:
    """Put `crisis_resources.<n>.<field>` errors on the formset row they came from; return the rest."""
    rest = []
    for error in failure.errors:
        parts = (error.field or "").split(".")
        row = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else len(kept)
        if parts[0] == "crisis_resources" and row < len(kept):
            formset.forms[kept[row]].add_error(parts[2] if len(parts) == 3 else None, error.message)
        else:
            rest.append(error)
    return rest


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def measurement_settings(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    library = instruments_for(actor.organization_id)
    config = settings_for(actor.organization_id)
    labels = _remission_labels(library)
    if request.method == "POST":
        form = SettingsForm(request.POST, remission=labels)
        formset = CrisisResourceFormSet(request.POST, prefix="crisis")
    else:
        form = SettingsForm(initial=_initial(config), remission=labels)
        formset = CrisisResourceFormSet(initial=config.crisis_resources, prefix="crisis")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        kept = [i for i, row in enumerate(formset.cleaned_data)
                if any((row.get(k) or "").strip() for k in ("label", "contact", "href"))]
        fields: dict[str, Any] = {name: data[name] for name in RANGES}
        fields["crisis_resources"] = [formset.cleaned_data[i] for i in kept]
        fields["remission_overrides"] = {
            instrument_id: data[f"remission_{instrument_id}"] for instrument_id in labels
            if data.get(f"remission_{instrument_id}") is not None
        }
        try:
            update_settings(actor, **fields)
        except ValidationFailed as failure:
            rest = _crisis_errors(formset, failure, kept)
            rename = {f"remission_overrides.{i}": f"remission_{i}" for i in labels}
            show_errors(form, ValidationFailed(rest), rename=rename)
        else:
            messages.success(request, "The measurement settings are saved.")
            return redirect("measures:settings")
    return render(request, "measurement/settings.html", {
        "form": form, "formset": formset, "notes": SETTING_NOTES, "section": "settings",
    })
