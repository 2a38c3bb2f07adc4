"""The consent template settings pages (MANAGE_CONSENT_FORMS): the current form per route, each
version, the history of who changed what and when, and writing a new version."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Permission
from ketaflow.validation import ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import template_versions as versions
from .forms import TemplateVersionForm
from .models import ConsentTemplate, Setting, route_label
from .text import blocks
from .wording import SAMPLE_MARK


def _pair_or_404(route: str, setting: str) -> None:
    if versions.pair_errors(route, setting):
        raise Http404("No such consent form")


def _labels(route: str, setting: str) -> dict[str, str]:
    return {"route": route, "setting": setting, "route_label": route_label(route),
            "setting_label": Setting(setting).label}


@require_GET
@staff_view(Permission.MANAGE_CONSENT_FORMS)
def template_list(request: HttpRequest) -> HttpResponse:
    current = versions.current_templates(request.actor)  # type: ignore[attr-defined]
    return render(request, "consent/settings/list.html", {
        "current": current, "sample_mark": SAMPLE_MARK, "section": "settings",
    })


@require_GET
@staff_view(Permission.MANAGE_CONSENT_FORMS)
def history(request: HttpRequest, route: str, setting: str) -> HttpResponse:
    _pair_or_404(route, setting)
    history_rows = versions.version_history(request.actor, route, setting)  # type: ignore[attr-defined]
    current = history_rows[0]
    return render(request, "consent/settings/history.html", _labels(route, setting) | {
        "versions": history_rows, "current": current, "blocks": blocks(current.body), "section": "settings",
    })


@require_GET
@staff_view(Permission.MANAGE_CONSENT_FORMS)
def version_detail(request: HttpRequest, consent_template_id: uuid.UUID) -> HttpResponse:
    version: ConsentTemplate = versions.open_template(request.actor, consent_template_id)  # type: ignore[attr-defined]
    latest = versions.current_template(version.organization_id, version.route, version.setting)
    return render(request, "consent/settings/version.html", _labels(version.route, version.setting) | {
        "version": version, "blocks": blocks(version.body), "is_current": latest.pk == version.pk,
        "latest": latest, "section": "settings",
    })


@require_http_methods(["GET", "POST"])
@staff_view(Permission.MANAGE_CONSENT_FORMS)
def new_version(request: HttpRequest, route: str, setting: str) -> HttpResponse:
    """The form prefilled with the current text; saving writes version n+1."""
    actor = request.actor  # type: ignore[attr-defined]
    _pair_or_404(route, setting)
    current = versions.current_template(actor.organization_id, route, setting)
    if request.method == "POST":
        form = TemplateVersionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = versions.create_version(
                    actor, route, setting, title=data["title"], body=data["body"], note=data["note"],
                    based_on=data.get("based_on"),
                )
            except ValidationFailed as exc:
                show_errors(form, exc)
            else:
                messages.success(request, f"Version {created.version} is saved and is now the current form. "
                                          "Consents already requested or signed keep their own version.")
                return redirect("consent:template_history", route=route, setting=setting)
    else:
        form = TemplateVersionForm(initial={
            "title": current.title, "body": current.body, "based_on": current.version,
        })
    return render(request, "consent/settings/new_version.html", _labels(route, setting) | {
        "form": form, "current": current, "section": "settings",
    })
