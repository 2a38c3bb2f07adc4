"""The practice's public pages, signed out: its page, the self-screen, the result and leaving details.

They use the patient frame (crisis resources in every footer), are never cached and not indexed
(`patient_page`). The self-screen's answers travel from the result page to the contact form as
hidden fields and are judged again there, so what is stored is always what the rule decided. An
unknown practice is a 404; a filled-in trap field is answered as a success and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.clinical.self_screen import SelfScreenResult, triage
from ketaflow.clinics.models import Organization
from ketaflow.measurement.patient_views import patient_page
from ketaflow.validation import NotFound, ValidationFailed
from ketaflow.web.form_errors import show_errors

from .forms import ContactForm, answers_from, hidden_answers, screen_form
from .public import (
    NOT_WATCHED,
    public_clinics,
    public_crisis_resources,
    public_organization,
    screen,
    submit_lead,
)
from .throttle import TooManyRequests

TOO_MANY_STATUS = 429


def _organization(slug: str) -> Organization:
    try:
        return public_organization(slug)
    except NotFound as exc:
        raise Http404("No such practice") from exc


def _frame(organization: Organization, **extra: Any) -> dict[str, Any]:
    return {
        "organization": organization,
        "clinic_name": organization.name,
        "crisis_resources": public_crisis_resources(organization.pk),
        "not_watched": NOT_WATCHED,
        **extra,
    }


def _too_many(request: HttpRequest, organization: Organization, exc: TooManyRequests) -> HttpResponse:
    context = _frame(organization, message=str(exc), clinics=public_clinics(organization))
    return render(request, "enquiries/public/too_many.html", context, status=TOO_MANY_STATUS)


def _result_page(
    request: HttpRequest, organization: Organization, result: SelfScreenResult, form: ContactForm
) -> HttpResponse:
    return render(request, "enquiries/public/result.html", _frame(
        organization, result=result, form=form, hidden=hidden_answers(result.answers),
    ))


@patient_page
@require_GET
def practice_home(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    return render(request, "enquiries/public/home.html", _frame(
        organization, clinics=public_clinics(organization),
    ))


@patient_page
@require_http_methods(["GET", "POST"])
def self_screen(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    answers: dict[str, Any] = {}
    failure = None
    if request.method == "POST":
        answers = answers_from(request.POST)
        try:
            result = screen(answers, address=get_client_ip_address(request))
        except TooManyRequests as exc:
            return _too_many(request, organization, exc)
        except ValidationFailed as exc:
            failure = exc
        else:
            form = ContactForm(clinics=public_clinics(organization))
            return _result_page(request, organization, result, form)
    return render(request, "enquiries/public/self_screen.html", _frame(
        organization, form=screen_form(answers, failure),
    ))


@patient_page
@require_http_methods(["GET", "POST"])
def leave_details(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    if request.method == "GET":
        return redirect("public:self_screen", slug=organization.slug)
    form = ContactForm(request.POST, clinics=public_clinics(organization))
    if form.is_spam:
        return render(request, "enquiries/public/thanks.html", _frame(organization, risk_endorsed=False))
    answers = answers_from(request.POST)
    form.is_valid()
    try:
        _lead, result = submit_lead(
            organization, answers, form.service_data(), address=get_client_ip_address(request)
        )
    except TooManyRequests as exc:
        return _too_many(request, organization, exc)
    except ValidationFailed as failure:
        answer_problems = [e for e in failure.errors if (e.field or "").startswith("answers.")]
        if answer_problems:  # the hidden answers were altered: ask the questions again
            return render(request, "enquiries/public/self_screen.html", _frame(
                organization, form=screen_form(answers, ValidationFailed(answer_problems)),
            ))
        show_errors(form, failure)
        # The answers were valid (only the details were not): show the same result again.
        return _result_page(request, organization, triage(answers), form)
    return render(request, "enquiries/public/thanks.html", _frame(
        organization, risk_endorsed=result.risk_endorsed,
    ))
