"""The patient's at-home session pages (under /sessions/p/, which portal logins may open).

Phone-first, in the portal's frame (crisis resources in every footer). One page per step: the
pre-dose blood pressure, then (blocked) what to do instead, or the monitor's confirmation, the dose
taken, and the check-in afterwards. Each form posts to its own address and comes back to the
session page; errors show beside their fields.
"""

from __future__ import annotations

import uuid
from typing import Any

from axes.helpers import get_client_ip_address
from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.monitoring import MonitoringRules
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.plans.models import TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.portal.views import patient_view
from ketaflow.validation import ValidationFailed
from ketaflow.web.form_errors import show_errors

from . import home
from .models import TreatmentSession

NUMBER = {"inputmode": "numeric", "pattern": "[0-9]*", "autocomplete": "off"}


def _number(label: str, *, required: bool, help_text: str = "") -> forms.CharField:
    field = forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs=NUMBER)
    )
    field.shown_required = required  # type: ignore[attr-defined]
    return field


class StartForm(forms.Form):
    systolic_bp = _number(
        "Top number (systolic)", required=True, help_text="In mmHg, from your blood pressure monitor."
    )
    diastolic_bp = _number("Bottom number (diastolic)", required=True)
    heart_rate = _number("Pulse (beats per minute)", required=False, help_text="If your monitor shows it.")


class MonitorForm(forms.Form):
    monitor_name = forms.CharField(label="Your monitor's full name", max_length=home.NAME_MAX)
    stays = forms.BooleanField(
        label="I am the treatment monitor. I will stay for the whole session, until the patient is settled.",
        error_messages={"required": "The monitor confirms they will stay for the whole session."},
    )


class DoseForm(forms.Form):
    dose_mg = forms.CharField(label="Dose taken (mg)", widget=forms.TextInput(attrs={"inputmode": "decimal"}))


class CheckInForm(forms.Form):
    feeling = forms.TypedChoiceField(
        label="How do you feel now? (0 = very bad, 10 = very well)",
        choices=[(str(n), str(n)) for n in range(11)],
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label="How was the session?",
        required=False,
        max_length=home.NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Anything you noticed or want your clinic to know: side effects, how it felt.",
    )


def _frame(account: PortalAccount, **extra: Any) -> dict[str, Any]:
    return {
        "clinic_name": account.patient.home_clinic.name,
        "crisis_resources": crisis_resources(account.organization_id),
        "account": account,
        "section": "home",
    } | extra


def bp_limit(rules: MonitoringRules) -> str:
    """The pre-dose blood-pressure limit as a patient reads it, e.g. "140/90" ("" without one)."""
    highs = {limit.field: limit.high for limit in rules.pre_dose if limit.high is not None}
    systolic, diastolic = highs.get("systolic_bp"), highs.get("diastolic_bp")
    if systolic is None or diastolic is None:
        return ""
    return f"{systolic:f}/{diastolic:f}"


def _ip(request: HttpRequest) -> str | None:
    return get_client_ip_address(request)


def _plan_page(
    request: HttpRequest, account: PortalAccount, plan: TreatmentPlan, form: StartForm
) -> HttpResponse:
    protocol = protocol_of(plan)
    rules = protocol.monitoring
    return render(
        request,
        "sessions/home_start.html",
        _frame(
            account,
            plan=plan,
            form=form,
            rules=rules,
            bp_limit=bp_limit(rules),
            safeguards=protocol.home.safeguards if protocol.home else (),
            instructions=protocol.instructions,
        ),
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@patient_view
def home_start(request: HttpRequest, account: PortalAccount) -> HttpResponse:
    """Start today's session with a blood pressure (or go back to today's session: under way, or
    blocked, which allows no second start that day)."""
    current = home.current_home_session(account) or home.blocked_today(account)
    if current is not None:
        return redirect("sessions:home_session", session_id=current.pk)
    plan = home.home_plan(account)
    if plan is None:
        return render(request, "sessions/home_no_plan.html", _frame(account), status=404)
    form = StartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = home.start_home_session(account, _ip(request), **form.cleaned_data)
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            return redirect("sessions:home_session", session_id=session.pk)
    else:
        with transaction.atomic():
            record(
                portal_actor(account, _ip(request)),
                Action.READ,
                "TreatmentPlan",
                plan.pk,
                patient_id=account.patient_id,
                detail={"purpose": "portal:home-start"},
            )
    return _plan_page(request, account, plan, form)


def _step(
    request: HttpRequest, account: PortalAccount, session: TreatmentSession, form: forms.Form | None = None
) -> HttpResponse:
    """The page for where the session stands, with `form` (bound, with errors) when re-shown."""
    Status = TreatmentSession.Status
    context = _frame(account, session=session, home=session.home)
    status = 422 if form is not None and form.errors else 200
    if session.status == Status.BLOCKED:
        return render(
            request, "sessions/home_blocked.html", context | {"advice": home.blocked_advice(session)}
        )
    if session.status == Status.CHECKED_IN:
        if home.monitor_required(session) and session.home.monitor_attested_at is None:
            return render(
                request,
                "sessions/home_monitor.html",
                context | {"form": form or MonitorForm()},
                status=status,
            )
        dose = form or DoseForm(initial={"dose_mg": f"{session.planned_mg.normalize():f}"})
        return render(request, "sessions/home_dose.html", context | {"form": dose}, status=status)
    if session.status == Status.RECOVERY:
        return render(
            request, "sessions/home_check_in.html", context | {"form": form or CheckInForm()}, status=status
        )
    return render(request, "sessions/home_done.html", context)


@require_http_methods(["GET"])
@patient_view
def home_session(request: HttpRequest, account: PortalAccount, session_id: uuid.UUID) -> HttpResponse:
    return _step(request, account, home.home_session_of(account, session_id, _ip(request)))


@require_POST
@patient_view
def home_monitor(request: HttpRequest, account: PortalAccount, session_id: uuid.UUID) -> HttpResponse:
    form = MonitorForm(request.POST)
    if form.is_valid():
        try:
            home.attest_monitor(
                account, session_id, monitor_name=form.cleaned_data["monitor_name"], ip_address=_ip(request)
            )
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            return redirect("sessions:home_session", session_id=session_id)
    return _step(request, account, home.home_session_of(account, session_id, _ip(request)), form)


@require_POST
@patient_view
def home_dose(request: HttpRequest, account: PortalAccount, session_id: uuid.UUID) -> HttpResponse:
    form = DoseForm(request.POST)
    if form.is_valid():
        try:
            home.record_dose_taken(
                account, session_id, dose_mg=form.cleaned_data["dose_mg"], ip_address=_ip(request)
            )
        except ValidationFailed as exc:
            show_errors(form, exc, rename={"monitor_name": ""})
        else:
            return redirect("sessions:home_session", session_id=session_id)
    return _step(request, account, home.home_session_of(account, session_id, _ip(request)), form)


@require_POST
@patient_view
def home_check_in(request: HttpRequest, account: PortalAccount, session_id: uuid.UUID) -> HttpResponse:
    form = CheckInForm(request.POST)
    if form.is_valid():
        try:
            home.post_check_in(
                account,
                session_id,
                feeling=form.cleaned_data["feeling"],
                notes=form.cleaned_data.get("notes", ""),
                ip_address=_ip(request),
            )
        except ValidationFailed as exc:
            show_errors(form, exc)
        else:
            messages.success(request, "Thank you: your check-in is sent to your clinic.")
            return redirect("sessions:home_session", session_id=session_id)
    return _step(request, account, home.home_session_of(account, session_id, _ip(request)), form)
