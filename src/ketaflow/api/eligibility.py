"""Eligibility: the stateless assessment and the signed decisions, as JSON.

`POST /eligibility/assess` runs the engine on facts you send, with your organization's parameters,
and stores nothing. A patient's eligibility (facts with their sources, every route's result and the
decisions in force) and the decision history are read through `open_patient`, so each read is
audited. Signing needs SIGN_PLANS; going against the assessment without `override_reason` is a 422
naming that field, and nothing is stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from ketaflow.accounts.roles import Permission
from ketaflow.clinical.eligibility import FACT_SPECS, FACTS, FactError, Route, assess, facts_from_mapping
from ketaflow.eligibility.decisions import (
    IN_FORCE,
    REASON_LIMIT,
    assess_patient,
    decisions_of,
    parse_route,
    sign_decision,
)
from ketaflow.eligibility.models import EligibilityDecision
from ketaflow.eligibility.settings_service import parameter_rows, parameter_values, settings_for
from ketaflow.paging import paginate
from ketaflow.patients import services as registry
from ketaflow.validation import ValidationFailed

from .auth import actor_of
from .pagination import PageOut, PageQuery, page_body, refuse_unknown_query
from .schemas import PatientId, StrictInput
from .schemas import responses as documented

router = Router(tags=["Eligibility"])

RouteName = Annotated[str, Path(..., description="The route: iv, im, sublingual_home or esketamine.",
                                example="iv")]


# Schemas ----------------------------------------------------------------------------------------


class AssessIn(StrictInput):
    facts: dict[str, Any] = Field(
        description="Known facts by name (see docs/eligibility.md); a fact left out or null is unknown."
    )
    routes: list[Literal["iv", "im", "sublingual_home", "esketamine"]] | None = Field(
        None, description="The routes to assess; all four when left out."
    )


class FindingOut(Schema):
    rule: str
    severity: str
    message: str
    source: str
    verify: bool
    values: dict[str, Any] = Field(description="The facts the rule read, with their values.")


class OpenRuleOut(Schema):
    rule: str
    severity: str
    message: str
    source: str
    verify: bool
    missing: list[str]


class RouteResultOut(Schema):
    status: str = Field(description="eligible, eligible_with_cautions, needs_review or not_eligible.")
    findings: list[FindingOut]
    unresolved: list[OpenRuleOut]
    missing_facts: list[str]


class ParameterOut(Schema):
    name: str
    value: float
    default: float
    unit: str
    label: str
    source: str
    verify: bool
    clinic_setting: bool


class AssessmentOut(Schema):
    rules_version: str
    parameters: list[ParameterOut]
    routes: dict[str, RouteResultOut]


class FactOut(Schema):
    name: str
    label: str
    value: Any
    source: str
    question: str


class ChangeOut(Schema):
    fact: str
    before: Any
    after: Any
    note: str


class DecisionOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    route: str
    status: str = Field(description="signed, reopened (a relied-on fact changed) or superseded.")
    decision: str = Field(description="approve or decline.")
    assessed_status: str
    override: bool = Field(description="True when the decision went against the assessment.")
    override_reason: str
    assessment: RouteResultOut
    rules_version: str
    parameters: dict[str, float]
    facts: dict[str, Any]
    sources: dict[str, str]
    signed_by: str
    signed_at: datetime
    reopened_at: datetime | None
    reopen_changes: list[ChangeOut]
    superseded_at: datetime | None


class PatientEligibilityOut(Schema):
    patient_id: uuid.UUID
    rules_version: str
    facts: list[FactOut]
    parameters: list[ParameterOut]
    routes: dict[str, RouteResultOut]
    decisions: dict[str, DecisionOut | None] = Field(description="The decision in force per route.")
    problems: list[str] = Field(description="Answers in the chart that could not be used.")


AssessedStatus = Literal["eligible", "eligible_with_cautions", "needs_review", "not_eligible"]


class DecisionIn(StrictInput):
    decision: Literal["approve", "decline"]
    override_reason: str = Field(
        "", max_length=REASON_LIMIT,
        description="Required when approving a route assessed needs_review or not_eligible, or declining "
                    "one assessed eligible or eligible_with_cautions.",
    )
    assessed_status: AssessedStatus | None = Field(
        None, description="The status you saw; if the assessment has changed since, nothing is signed (422).",
    )


class DecisionPage(PageOut):
    items: list[DecisionOut]


class DecisionQuery(PageQuery):
    route: Literal["iv", "im", "sublingual_home", "esketamine"] | None = None


# Bodies -----------------------------------------------------------------------------------------


def _parameters(config: Any) -> list[dict[str, Any]]:
    return [
        {"name": row.name, "value": row.value, "default": row.parameter.default, "unit": row.parameter.unit,
         "label": row.parameter.label, "source": row.parameter.source, "verify": row.parameter.verify,
         "clinic_setting": row.changed}
        for row in parameter_rows(config)
    ]


def decision_body(decision: EligibilityDecision) -> dict[str, Any]:
    by = decision.signed_by
    return {
        "id": decision.pk,
        "patient_id": decision.patient_id,
        "route": decision.route,
        "status": decision.status,
        "decision": decision.decision,
        "assessed_status": decision.assessed_status,
        "override": decision.is_override,
        "override_reason": decision.override_reason,
        "assessment": decision.assessment,
        "rules_version": decision.rules_version,
        "parameters": decision.parameters,
        "facts": decision.facts,
        "sources": decision.sources,
        "signed_by": by.get_full_name() or by.username,
        "signed_at": decision.signed_at,
        "reopened_at": decision.reopened_at,
        "reopen_changes": [
            {"fact": c["fact"], "before": c["before"], "after": c["after"], "note": c.get("note", "")}
            for c in decision.reopen_changes or []
        ],
        "superseded_at": decision.superseded_at,
    }


# Operations -------------------------------------------------------------------------------------


@router.post("/eligibility/assess", response=documented(200, AssessmentOut))
def assess_facts(request: HttpRequest, payload: AssessIn) -> Any:
    """Assess facts you send (nothing is stored, no patient is involved) with your organization's
    parameters. A bad fact is a 422 naming it (`facts.systolic_bp`)."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    try:
        facts = facts_from_mapping(payload.facts)
    except FactError as exc:
        raise ValidationFailed.single(f"facts.{exc.field}", _fact_message(exc)) from exc
    config = settings_for(actor.organization_id)
    result = assess(facts, routes=payload.routes, parameters=parameter_values(config)).as_dict()
    return {
        "rules_version": result["rules_version"],
        "parameters": _parameters(config),
        "routes": result["routes"],
    }


def _fact_message(exc: FactError) -> str:
    spec = FACT_SPECS.get(exc.field)
    return f"{spec.label}: {exc.message}." if spec else "Not a known fact; see docs/eligibility.md."


@router.get("/patients/{patient_id}/eligibility", response=documented(200, PatientEligibilityOut))
def get_patient_eligibility(request: HttpRequest, patient_id: PatientId) -> Any:
    """The patient's facts with their sources, every route's result and the decision in force per
    route. The read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    patient = registry.open_patient(actor, patient_id, purpose="eligibility")
    found = assess_patient(patient)
    facts = found.gathered.facts.as_dict()
    assessed = found.assessment.as_dict()
    in_force = decisions_of(patient).filter(status__in=IN_FORCE).select_related("signed_by")
    by_route = {decision.route: decision for decision in in_force}
    decisions = {route.value: decision_body(by_route[route.value]) if route.value in by_route else None
                 for route in Route}
    return {
        "patient_id": patient.pk,
        "rules_version": assessed["rules_version"],
        "facts": [
            {"name": spec.name, "label": spec.label, "value": facts[spec.name],
             "source": found.gathered.sources[spec.name], "question": spec.question}
            for spec in FACTS
        ],
        "parameters": _parameters(found.config),
        "routes": assessed["routes"],
        "decisions": decisions,
        "problems": list(found.gathered.problems),
    }


@router.post("/patients/{patient_id}/eligibility/{route}/decisions", response=documented(201, DecisionOut))
def sign_eligibility_decision(
    request: HttpRequest, patient_id: PatientId, route: RouteName, payload: DecisionIn
) -> Any:
    """Sign approve or decline for one route against a fresh assessment (prescribers). A decision in
    force for the route is superseded. 422 `override_reason` when going against the assessment
    without a reason."""
    actor = actor_of(request)
    wanted = parse_route(route)
    signed = sign_decision(
        actor, patient_id, wanted, decision=payload.decision, override_reason=payload.override_reason,
        expected_status=payload.assessed_status,
    )
    found = decisions_of(signed.patient).select_related("signed_by").get(pk=signed.pk)
    return Status(201, decision_body(found))


@router.get("/patients/{patient_id}/eligibility/decisions", response=documented(200, DecisionPage))
def list_eligibility_decisions(
    request: HttpRequest, patient_id: PatientId, query: Query[DecisionQuery]
) -> Any:
    """Every decision signed for the patient, newest first (superseded and re-opened ones too).
    The read is audited."""
    actor = actor_of(request)
    actor.require(Permission.VIEW_CLINICAL)
    refuse_unknown_query(request, DecisionQuery)
    patient = registry.open_patient(actor, patient_id, purpose="eligibility decisions")
    rows = decisions_of(patient).select_related("signed_by").order_by("-signed_at", "pk")
    if query.route:
        rows = rows.filter(route=query.route)
    page = paginate(rows, query.page, query.page_size)
    body = page_body(request, page)
    body["items"] = [decision_body(d) for d in page.items]
    return body
