"""Settings → Session settings: pass marks, REMS window, formulary and discharge instructions."""

from __future__ import annotations

from typing import Any

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
    """Carries the text typed; `update_session_settings` validates it and names the field at fault."""

    aldrete_minimum = forms.CharField(
        label="Aldrete pass mark", required=False, help_text=NOTES["aldrete_minimum"]
    )
    aldrete_alternative = forms.CharField(
        label="Alternative pass mark", required=False, help_text=NOTES["aldrete_alternative"]
    )
    rems_due_days = forms.CharField(
        label="REMS form due within (days)", required=False, help_text=NOTES["rems_due_days"]
    )
    discharge_instructions = forms.CharField(
        label="Discharge instructions", required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    formulary = forms.CharField(
        label="Rescue formulary (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=NOTES["formulary"] + '. Each drug: "key", "name", "doses_mg", "routes", "max_mg", '
        '"controlled", "for".',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("aldrete_minimum", "rems_due_days", "discharge_instructions", "formulary"):
            self.fields[name].shown_required = True  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CLINICS)
def session_settings_page(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if request.method == "POST":
        form = SessionSettingsForm(request.POST)
        form.is_valid()  # every field is optional text: the service says what is wrong
        data = form.cleaned_data
        try:
            update_session_settings(
                actor,
                aldrete_minimum=data["aldrete_minimum"],
                aldrete_alternative=data["aldrete_alternative"],
                rems_due_days=data["rems_due_days"],
                discharge_instructions=data["discharge_instructions"],
                formulary_json=data["formulary"],
            )
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "The session settings are saved.")
            return redirect("sessions:settings")
    else:
        config = session_settings(actor.organization_id)
        alternative = config.aldrete_alternative
        form = SessionSettingsForm(
            initial={
                "aldrete_minimum": config.aldrete_minimum,
                "aldrete_alternative": "" if alternative is None else alternative,
                "rems_due_days": config.rems_due_days,
                "discharge_instructions": config.discharge_instructions,
                "formulary": formulary_text(config),
            }
        )
    return render(
        request,
        "sessions/settings.html",
        {"form": form, "section": "settings"},
        status=422 if form.errors else 200,
    )
