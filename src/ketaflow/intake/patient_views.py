"""The intake pages the patient uses: through the link (`/intake/<token>/`) or signed in to the portal
(`/intake/portal/`). One section per page, saved as the patient goes, then a review and one submit.

Through the link the patient first confirms their date of birth (remembered by the browser session,
which ends after the idle timeout, when the browser closes, or on submitting), so whoever else picks
up the phone or finds the email sees nothing of the record or the answers. An
unknown, expired, locked or spent link is one neutral page (410). Pages are never cached; link pages
send no referrer. When the C-SSRS answers endorse thoughts of death or suicide, every following page
shows the crisis resources and says plainly that the form is not watched in real time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaflow.measurement.patient_views import crisis_resources, token_page, unavailable
from ketaflow.phones import display_phone
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.views import patient_view
from ketaflow.validation import NotFound, ValidationFailed

from . import form
from .patient_forms import MAX_EXTRA_ROWS, raw_from_post, section_page
from .services import (
    LINK_LIFETIME_DAYS,
    RECORD_SECTION,
    IntakeUnavailable,
    Respondent,
    applicable,
    check_identity,
    endorses_ideation,
    record_patient_read,
    respondent_for_portal,
    respondent_for_token,
    save_section,
)
from .submission import submit_intake
from .summary import summarise

VERIFIED = "intake_verified"  # session key: the intakes whose date of birth this browser confirmed


@dataclass
class Surface:
    """Where the patient answers: the link or the portal (URLs, frame and context differ)."""

    respondent: Respondent
    base: str  # the URL the intake's pages hang from
    frame: dict[str, Any] = field(default_factory=dict)

    def url(self, section_id: str | None = None) -> str:
        return f"{self.base}s/{section_id}/" if section_id else self.base

    @property
    def review_url(self) -> str:
        return f"{self.base}review/"


def _show_crisis(surface: Surface, raw: dict[str, Any] | None = None) -> bool:
    given = (surface.respondent.intake.answers or {}).get(form.SAFETY_SECTION) or {}
    if endorses_ideation(given.get(form.SAFETY_QUESTION) or {}):
        return True
    return raw is not None and endorses_ideation(raw.get(form.SAFETY_QUESTION) or {})


def _context(surface: Surface, **extra: Any) -> dict[str, Any]:
    respondent = surface.respondent
    sections = form.sections_for(respondent.patient.sex_at_birth)
    saved = set(respondent.intake.answers or {})
    steps = [{"section": s, "done": s.id in saved, "url": surface.url(s.id)} for s in sections]
    return surface.frame | {
        "intake": respondent.intake,
        "link_days": LINK_LIFETIME_DAYS,
        "steps": steps,
        "done_count": sum(1 for s in steps if s["done"]),
        "surface": surface,
        "show_crisis": _show_crisis(surface),
    } | extra


# ---------- the pages, whichever way the patient came ----------


def overview(request: HttpRequest, surface: Surface) -> HttpResponse:
    record_patient_read(surface.respondent, "intake:overview")
    context = _context(surface)
    context["next_step"] = next((s for s in context["steps"] if not s["done"]), None)
    return render(request, "intake/patient/overview.html", context)


def _initial(surface: Surface, section: form.Section) -> dict[str, Any]:
    saved = (surface.respondent.intake.answers or {}).get(section.id)
    if section.id == RECORD_SECTION:  # the record as it is now, with the patient's changes
        patient = surface.respondent.patient  # loaded with the intake, for this request
        values = {q.id: getattr(patient, q.id) for q in section.questions if q.record_field} | (saved or {})
        region = patient.organization.country
        for question in section.questions:  # phone numbers as people write them, not E.164
            if question.kind == "phone" and values.get(question.id):
                values[question.id] = display_phone(values[question.id], region)
        return values
    return dict(saved or {})


def _extra_rows(request: HttpRequest) -> int:
    try:
        return max(0, min(int(request.GET.get("more", "0")), MAX_EXTRA_ROWS))
    except ValueError:
        return 0


def _adequate_trials(surface: Surface, section: form.Section) -> int | None:
    """For the treatments page once saved: the adequate trials its answers add up to."""
    saved = (surface.respondent.intake.answers or {}).get(section.id)
    return form.adequate_trials(saved) if section.id == "treatments" and saved is not None else None


def section_view(request: HttpRequest, surface: Surface, section_id: str) -> HttpResponse:
    respondent = surface.respondent
    section = applicable(respondent, section_id)
    sections = form.sections_for(respondent.patient.sex_at_birth)
    index = [s.id for s in sections].index(section.id)
    extra_rows = _extra_rows(request)
    failure = None
    values = _initial(surface, section)
    raw: dict[str, Any] | None = None
    if request.method == "POST":
        raw = raw_from_post(section, request.POST)
        action = request.POST.get("action", "next")
        try:
            save_section(respondent, section.id, raw)
        except ValidationFailed as exc:
            failure, values = exc, raw
            if action == "more":
                extra_rows += 3
        else:
            if action == "more":
                return redirect(f"{surface.url(section.id)}?more={extra_rows + 3}")
            if action == "stop":
                messages.success(request, "Saved. You can come back and carry on later.")
                return redirect(surface.url())
            following = sections[index + 1].id if index + 1 < len(sections) else None
            return redirect(surface.url(following) if following else surface.review_url)
    record_patient_read(respondent, f"intake:{section.id}")  # the page shows the record and the answers
    context = _context(
        surface,
        page=section_page(section, values, failure, extra_rows=extra_rows),
        section=section,
        position=index + 1,
        previous_url=surface.url(sections[index - 1].id) if index else surface.url(),
        is_last=index + 1 == len(sections),
        adequate_trials=_adequate_trials(surface, section),
        adequate_trial_weeks=form.ADEQUATE_TRIAL_WEEKS,
        patient=respondent.patient if section.id == "about" else None,
    )
    context["show_crisis"] = _show_crisis(surface, raw)
    return render(request, "intake/patient/section.html", context)


def review_view(request: HttpRequest, surface: Surface) -> HttpResponse:
    respondent = surface.respondent
    failure = None
    if request.method == "POST":
        try:
            intake = submit_intake(respondent)
        except ValidationFailed as exc:
            failure = exc
        else:
            verified = request.session.get(VERIFIED, [])
            if str(intake.pk) in verified:  # a shared tablet: the next person starts from the check
                request.session[VERIFIED] = [pk for pk in verified if pk != str(intake.pk)]
            return render(request, "intake/patient/submitted.html", _context(surface))
    record_patient_read(respondent, "intake:review")  # the summary of the answers, refused or not
    respondent.intake.patient = respondent.patient
    summary = summarise(respondent.intake)
    problems = []
    for error in failure.errors if failure else ():
        section_id = (error.field or "").split(".")[0]
        known = section_id in form.SECTION_IDS
        problems.append({"url": surface.url(section_id) if known else "", "text": error.message,
                         "section": form.section(section_id).title if known else ""})
    context = _context(surface, summary=summary, problems=problems)
    context["ready"] = context["done_count"] == len(context["steps"])
    return render(request, "intake/patient/review.html", context)


# ---------- through the link ----------


def _token_surface(request: HttpRequest, token: str) -> Surface:
    respondent = respondent_for_token(token)
    frame = {"clinic_name": respondent.patient.home_clinic.name, "no_referrer": True,
             "crisis_resources": crisis_resources(respondent.intake.organization_id),
             "base_template": "measurement/patient/base.html", "link_expires": respondent.intake.expires_at,
             "clinic_timezone": respondent.patient.home_clinic.timezone}
    return Surface(respondent, f"/intake/{token}/", frame)


def _verified(request: HttpRequest, surface: Surface) -> bool:
    return str(surface.respondent.intake.pk) in request.session.get(VERIFIED, [])


def _birth_date(data: Any) -> date | None:
    try:
        return date(int(data.get("year", "")), int(data.get("month", "")), int(data.get("day", "")))
    except (TypeError, ValueError):
        return None


def _identity(request: HttpRequest, surface: Surface) -> HttpResponse:
    """Ask for the date of birth before showing anything of the record or the answers."""
    error = ""
    if request.method == "POST" and request.POST.get("step") == "identity":
        if check_identity(surface.respondent, _birth_date(request.POST)):
            request.session[VERIFIED] = [*request.session.get(VERIFIED, [])[-9:],
                                         str(surface.respondent.intake.pk)]
            return redirect(surface.url())
        try:
            surface = _token_surface(request, surface.respondent.token or "")
        except IntakeUnavailable:
            return unavailable(request)
        error = "That date of birth does not match your clinic's record. Check it and try again."
    return render(request, "intake/patient/identity.html", surface.frame | {
        "error": error, "values": request.POST if error else {},
    }, status=200)


def _link_page(request: HttpRequest, token: str, page: Any, *args: Any) -> HttpResponse:
    try:
        surface = _token_surface(request, token)
        if not _verified(request, surface):
            return _identity(request, surface)
        return page(request, surface, *args)
    except IntakeUnavailable:
        return unavailable(request)
    except NotFound as exc:
        raise Http404("Not found") from exc


@token_page
@require_http_methods(["GET", "POST"])
def link_start(request: HttpRequest, token: str) -> HttpResponse:
    return _link_page(request, token, lambda req, surface: (
        redirect(surface.url()) if req.method == "POST" else overview(req, surface)))


@token_page
@require_http_methods(["GET", "POST"])
def link_section(request: HttpRequest, token: str, section_id: str) -> HttpResponse:
    return _link_page(request, token, section_view, section_id)


@token_page
@require_http_methods(["GET", "POST"])
def link_review(request: HttpRequest, token: str) -> HttpResponse:
    return _link_page(request, token, review_view)


# ---------- in the portal ----------


def _portal_surface(request: HttpRequest, account: PortalAccount) -> Surface:
    respondent = respondent_for_portal(account, get_client_ip_address(request))
    return Surface(respondent, "/intake/portal/", _portal_frame(account))


def _portal_frame(account: PortalAccount) -> dict[str, Any]:
    return {"clinic_name": account.patient.home_clinic.name, "account": account,
            "crisis_resources": crisis_resources(account.organization_id),
            "base_template": "portal/_frame.html"}


def _portal_page(request: HttpRequest, account: PortalAccount, page: Any, *args: Any) -> HttpResponse:
    try:
        return page(request, _portal_surface(request, account), *args)
    except IntakeUnavailable as exc:
        raise Http404("Not found") from exc


@require_http_methods(["GET"])
@patient_view
def portal_start(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    try:
        surface = _portal_surface(request, account)
    except NotFound:
        return render(request, "intake/patient/nothing_open.html", _portal_frame(account))
    return overview(request, surface)


@require_http_methods(["GET", "POST"])
@patient_view
def portal_section(request: HttpRequest, account: PortalAccount, section_id: str) -> HttpResponse:
    return _portal_page(request, account, section_view, section_id)


@require_http_methods(["GET", "POST"])
@patient_view
def portal_review(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    return _portal_page(request, account, review_view)
