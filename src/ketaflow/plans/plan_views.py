"""Plan pages: a new plan from the chart (with a live dose preview), the plan page, and its actions
(sign, change the dose, move the phase, resolve a review point). Each action calls one service and
comes back to the plan page, errors beside their fields."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.protocols import Protocol
from ketaflow.clinics.models import Clinic
from ketaflow.eligibility.decisions import route_approved
from ketaflow.patients.models import Condition, Patient
from ketaflow.patients.services import open_patient
from ketaflow.validation import FieldError, NotFound, ValidationFailed
from ketaflow.web.access import staff_view
from ketaflow.web.form_errors import show_errors

from . import changes, reviews, services
from .doses import calculate, dose_choices, dose_unit
from .forms import DoseChangeForm, PhaseForm, PlanForm, ResolveForm
from .library import get_protocol, library
from .measures import chart_measures
from .models import ReviewPoint, TreatmentPlan
from .snapshot import protocol_of

SECTION = "patients"


def protocol_options(patient: Patient, protocols: list[Protocol]) -> list[dict[str, Any]]:
    """Every current protocol; those for routes the patient is approved for first, the others
    disabled with the reason."""
    options = []
    approvals: dict[str, bool] = {}  # one look-up per route, not per protocol
    for protocol in protocols:
        if protocol.route.value not in approvals:
            approvals[protocol.route.value] = route_approved(patient, protocol.route)
        approved = approvals[protocol.route.value]
        options.append({
            "key": protocol.key, "protocol": protocol, "approved": approved, "unit": dose_unit(protocol),
            "why": "" if approved else f"{protocol.route.label} is not approved for this patient yet: a "
                                       "prescriber signs the approval on the Eligibility tab.",
        })
    return sorted(options, key=lambda o: not o["approved"])


def condition_choices(patient: Patient) -> list[tuple[str, str]]:
    """The patient's problem list first, then the rest of the catalogue."""
    known = {c.id: c.display for c in catalogue().conditions}
    mine = (Condition.objects.for_organization(patient.organization_id).filter(patient=patient)
            .exclude(status=Condition.Status.RESOLVED).values_list("catalogue_id", flat=True))
    first = [(cid, f"{known[cid]} (problem list)") for cid in dict.fromkeys(mine) if cid in known]
    return first + [(cid, name) for cid, name in known.items() if cid not in dict(first)]


def _plan_form(patient: Patient, protocols: list[Protocol], data: Any = None) -> PlanForm:
    clinics = Clinic.objects.for_organization(patient.organization_id).order_by("name")
    initial = {"clinic_id": str(patient.home_clinic_id), "start_date": timezone.localdate()}
    maintenance = [p.phases["maintenance"] for p in protocols if "maintenance" in p.phases]
    intervals = sorted({days for phase in maintenance for days in phase.options_every_days})
    return PlanForm(data, initial=initial, clinics=[(str(c.pk), c.name) for c in clinics],
                    conditions=condition_choices(patient), intervals=intervals)


@require_http_methods(["GET", "POST"])
@staff_view(Permission.EDIT_CLINICAL)
def new_plan(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="plan:new")
    protocols = [entry.protocol for entry in library(actor.organization_id)]
    form = _plan_form(patient, protocols, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = services.create_plan(
                actor, patient.pk, protocol_key=data["protocol_key"], clinic_id=data["clinic_id"],
                condition=data["condition"], start_date=data["start_date"], goals=data["goals"],
                mg_per_kg=data["mg_per_kg"], mg=data["mg"], override_mg=data["override_mg"],
                override_reason=data["override_reason"], home_justification=data["home_justification"],
                maintenance_every_days=data["maintenance_every_days"],
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, "The plan is drafted. A prescriber reviews and signs it below.")
            return redirect("plans:detail", plan_id=plan.pk)
    chosen = form["protocol_key"].value() or ""
    return render(request, "plans/new.html", {
        "patient": patient, "form": form, "options": protocol_options(patient, protocols), "chosen": chosen,
        "measures": chart_measures(patient), "existing": services.open_plan_of(patient), "section": SECTION,
    })


@require_GET
@staff_view(Permission.EDIT_CLINICAL)
def preview(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The dose and its arithmetic for the new-plan form's current values (an HTMX fragment)."""
    actor = request.actor  # type: ignore[attr-defined]
    patient = open_patient(actor, patient_id, purpose="plan:dose preview")
    measures = chart_measures(patient)
    values = request.GET
    prescription, errors, protocol = None, [], None
    try:
        protocol = get_protocol(actor.organization_id, values.get("protocol_key", ""))
        prescription = calculate(
            protocol, measures.measures, mg_per_kg=values.get("mg_per_kg"), mg=values.get("mg"),
            override_mg=values.get("override_mg"), override_reason=values.get("override_reason", ""),
            first_dose=True,
        )
    except NotFound:
        errors = [FieldError("protocol_key", "Choose a protocol to see its dose.")]
    except ValidationFailed as failure:
        errors = list(failure.errors)
    return render(request, "plans/_dose_preview.html", {
        "prescription": prescription, "errors": errors, "measures": measures, "protocol": protocol,
        "choices": dose_choices(protocol, measures.measures) if protocol else [],
        "unit": dose_unit(protocol) if protocol else "",
    })


def plan_context(actor: Actor, plan: TreatmentPlan, **forms: Any) -> dict[str, Any]:
    """Everything the plan page shows; review points are refreshed first."""
    standing = reviews.standing(plan)
    reviews.refresh_review_points(plan, standing)
    protocol = protocol_of(plan)
    outcome = standing.outcome
    allowed = changes.TRANSITIONS.get(plan.phase, ()) if plan.is_open else ()
    points = list(ReviewPoint.objects.for_organization(actor.organization_id).filter(plan=plan)
                  .select_related("resolved_by"))
    today = timezone.localdate()
    return {
        "plan": plan, "patient": plan.patient, "protocol": protocol, "section": SECTION,
        "open_points": [p for p in points if p.status == ReviewPoint.Status.OPEN],
        "resolved_points": [p for p in points if p.status == ReviewPoint.Status.RESOLVED],
        "dose_changes": list(plan.dose_changes.select_related("recorded_by").order_by("-recorded_at")),
        "phase_changes": list(plan.phase_changes.select_related("recorded_by").order_by("-recorded_at")),
        "sign_errors": services.signing_errors(plan, plan.patient) if plan.status == "draft" else [],
        "counts": standing.counts, "outcome": outcome,
        "advice": changes.advice_for(plan, responding=outcome.response.value if outcome else None),
        "choices": dose_choices(protocol, chart_measures(plan.patient).measures), "unit": dose_unit(protocol),
        "can_sign": actor.can(Permission.SIGN_PLANS),
        "dose_form": forms.get("dose_form") or DoseChangeForm(initial={"effective_on": today}),
        "phase_form": forms.get("phase_form") or PhaseForm(allowed=allowed, initial={"effective_on": today}),
        "resolve_form": ResolveForm(), "resolve_errors": forms.get("resolve_errors", {}),
        "sign_failure": forms.get("sign_failure", []),
    }


def _page(request: HttpRequest, plan_id: uuid.UUID, **forms: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    plan = services.open_plan(actor, plan_id, purpose="plan page")
    with timezone.override(plan.patient.home_clinic.timezone):
        return render(request, "plans/detail.html", plan_context(actor, plan, **forms))


@require_GET
@staff_view(Permission.VIEW_CLINICAL)
def detail(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    return _page(request, plan_id)


@require_POST
@staff_view(Permission.SIGN_PLANS)
def sign(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    try:
        services.sign_plan(request.actor, plan_id)  # type: ignore[attr-defined]
    except ValidationFailed as failure:
        return _page(request, plan_id, sign_failure=list(failure.errors))
    messages.success(request, "The plan is signed. The measurement schedule now follows its phase.")
    return redirect("plans:detail", plan_id=plan_id)


@require_POST
@staff_view(Permission.SIGN_PLANS)
def dose(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    form = DoseChangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            change = changes.change_dose(
                request.actor, plan_id, mg_per_kg=data["mg_per_kg"], mg=data["mg"],  # type: ignore[attr-defined]
                override_mg=data["override_mg"], override_reason=data["override_reason"],
                reason=data["reason"], effective_on=data["effective_on"],
            )
        except ValidationFailed as failure:
            show_errors(form, failure)
        else:
            messages.success(request, f"The dose is now {change.summary}.")
            return redirect("plans:detail", plan_id=plan_id)
    return _page(request, plan_id, dose_form=form)


@require_POST
@staff_view(Permission.SIGN_PLANS)
def phase(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    current = services.plans_of(actor.organization_id).one(plan_id, "plan")
    form = PhaseForm(request.POST, allowed=changes.TRANSITIONS.get(current.phase, ()))
    form.is_valid()
    data = form.cleaned_data
    if "to_phase" not in data:  # an unknown choice: let the service say which moves are allowed
        data["to_phase"] = request.POST.get("phase-to_phase", "")
    try:
        change = changes.move_phase(actor, plan_id, to_phase=data.get("to_phase", ""),
                                    reason=data.get("reason", ""), effective_on=data.get("effective_on"))  # type: ignore[arg-type]
    except ValidationFailed as failure:
        show_errors(form, failure)
        return _page(request, plan_id, phase_form=form)
    messages.success(request, f"The plan moved to {change.get_to_phase_display().lower()}.")
    return redirect("plans:detail", plan_id=plan_id)


@require_POST
@staff_view(Permission.SIGN_PLANS)
def resolve(request: HttpRequest, review_point_id: uuid.UUID) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    point = ReviewPoint.objects.for_organization(actor.organization_id).one(review_point_id, "review point")
    try:
        reviews.resolve_review_point(actor, point.pk, resolution=request.POST.get("resolution", ""))
    except ValidationFailed as failure:
        return _page(request, point.plan_id,
                     resolve_errors={str(point.pk): " ".join(e.message for e in failure.errors)})
    messages.success(request, f"Review point resolved: {point.title}.")
    return redirect("plans:detail", plan_id=point.plan_id)
