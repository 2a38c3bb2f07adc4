"""Settings → Session settings: pass marks, REMS window, formulary and discharge instructions."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from .recovery_common import session_settings
from .settings_service import NOTES, formulary_text, update_session_settings


class SessionSettingsForm(forms.Form):
    aldrete_minimum = forms.CharField(label="Aldrete pass mark", help_text=NOTES["aldrete_minimum"])
    aldrete_alternative = forms.CharField(
        label="Alternative pass mark", required=False, help_text=NOTES["aldrete_alternative"]
    )
    rems_due_days = forms.CharField(label="REMS form due within (days)", help_text=NOTES["rems_due_days"])
    discharge_instructions = forms.CharField(
        label="Discharge instructions", widget=forms.Textarea(attrs={"rows": 5})
    )
    formulary = forms.CharField(
        label="Rescue formulary (JSON)",
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=NOTES["formulary"] + '. Each drug: "key", "name", "doses_mg", "routes", "max_mg", '
        '"controlled", "for".',
    )


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def session_settings_page(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    config = session_settings(actor.organization_id)
    form = SessionSettingsForm(
        initial={
            "aldrete_minimum": config.aldrete_minimum,
            "aldrete_alternative": "" if config.aldrete_alternative is None else config.aldrete_alternative,
            "rems_due_days": config.rems_due_days,
            "discharge_instructions": config.discharge_instructions,
            "formulary": formulary_text(config),
        }
    )
    if request.method == "POST":
        form = SessionSettingsForm(request.POST)
        form.is_valid()
        data = form.cleaned_data
        try:
            update_session_settings(
                actor,
                aldrete_minimum=request.POST.get("aldrete_minimum"),
                aldrete_alternative=request.POST.get("aldrete_alternative"),
                rems_due_days=request.POST.get("rems_due_days"),
                discharge_instructions=data.get("discharge_instructions", ""),
                formulary_json=request.POST.get("formulary", ""),
            )
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "The session settings are saved.")
            return redirect("sessions:settings")
    return render(request, "sessions/settings.html", {"form": form, "section": "settings"})
