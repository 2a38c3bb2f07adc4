"""Assessing a patient and signing the decision per route: the prescriber decides, ketaflow advises.

`assess_patient` gathers the facts and runs the engine with the organization's parameters.
`sign_decision` stores what a prescriber decided for one route with the assessment, the facts it
relied on and their sources; going against the assessment (see `models.overrides_assessment`) needs
a written reason. Signing again supersedes the decision in force. `current_decision` is what later
steps (treatment plans) check before a route is used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.eligibility import Assessment, Route, Status, assess, builtin_rules, route_dict
from ketaflow.measurement.models import Notification
from ketaflow.patients.models import Patient
from ketaflow.validation import FieldError, Forbidden, NotFound, ValidationFailed

from .facts import GatheredFacts, clinic_zone, gather_facts
from .models import EligibilityDecision, EligibilitySettings, overrides_assessment
from .settings_service import parameter_values, settings_for

REASON_LIMIT = 4000
IN_FORCE = (EligibilityDecision.State.SIGNED, EligibilityDecision.State.REOPENED)


@dataclass(frozen=True)
class PatientAssessment:
    """The facts with their sources and the engine's result for every route, under `config`."""

    gathered: GatheredFacts
    assessment: Assessment
    config: EligibilitySettings


def parse_route(value: str) -> Route:
    """The route named `value`; NotFound for anything else (a route is part of a path)."""
    try:
        return Route(value)
    except ValueError as exc:
        raise NotFound("route") from exc


def assess_patient(patient: Patient, *, now: datetime | None = None) -> PatientAssessment:
    """Gather the facts and assess every route with the organization's parameters (no audit)."""
    now = now or timezone.now()
    config = settings_for(patient.organization_id)
    today = timezone.localtime(now, clinic_zone(patient)).date()
    gathered = gather_facts(patient, today=today, now=now, config=config)
    assessment = assess(gathered.facts, parameters=parameter_values(config))
    return PatientAssessment(gathered, assessment, config)


def decisions_of(patient: Patient) -> QuerySet[EligibilityDecision]:
    return EligibilityDecision.objects.for_organization(patient.organization_id).filter(patient=patient)


def current_decision(patient: Patient, route: Route | str) -> EligibilityDecision | None:
    """The decision in force for this route: signed, or re-opened (which a plan must not rely on:
    check `status == "signed"` and `decision == "approve"`). None when nothing was ever signed."""
    found: EligibilityDecision | None = (
        decisions_of(patient).filter(route=Route(route).value, status__in=IN_FORCE).select_related(
            "signed_by"
        ).first()
    )
    return found


def route_approved(patient: Patient, route: Route | str) -> bool:
    """True only when a prescriber's approval for this route is signed and has not re-opened."""
    decision = current_decision(patient, route)
    return (
        decision is not None
        and decision.status == EligibilityDecision.State.SIGNED
        and decision.decision == EligibilityDecision.Decision.APPROVE
    )


def _clean(decision: str, reason: str) -> tuple[str, str, list[FieldError]]:
    errors = []
    if decision not in EligibilityDecision.Decision.values:
        errors.append(FieldError("decision", "Choose approve or decline."))
    reason = (reason or "").strip()
    if len(reason) > REASON_LIMIT:
        errors.append(FieldError("override_reason", f"Keep the reason to {REASON_LIMIT} characters."))
    return decision, reason, errors


def reason_required_message(decision: str, status: Status) -> str:
    if decision == EligibilityDecision.Decision.APPROVE:
        return (f"You are approving a route assessed as {status.label.lower()}: write why "
                "(the override is recorded with your reason).")
    return (f"You are declining a route assessed as {status.label.lower()}: write why, "
            "so the chart says what set the advice aside.")


def sign_decision(
    actor: Actor,
    patient_id: uuid.UUID | str,
    route: Route | str,
    *,
    decision: str,
    override_reason: str = "",
    expected_status: str | None = None,
) -> EligibilityDecision:
    """Sign the decision for one route (prescribers only) against a fresh assessment.

    Raises ValidationFailed: `decision` not approve/decline; `override_reason` missing when the
    decision goes against the assessment; `assessed_status` when the assessment is no longer the one
    the prescriber saw (`expected_status`). NotFound for another organization's patient or an unknown
    route; Forbidden without SIGN_PLANS. Nothing is written unless everything is right.
    """
    actor.require(Permission.SIGN_PLANS)
    signer = actor.user_id
    if signer is None:
        raise Forbidden("A prescriber signs eligibility decisions; the software cannot.")
    wanted = parse_route(route)
    decision, reason, errors = _clean(decision, override_reason)
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    with transaction.atomic():
        scope = Patient.objects.for_organization(actor.organization_id).select_related("home_clinic")
        patient: Patient = scope.select_for_update(of=("self",)).one(patient_id, "patient")
        found = assess_patient(patient, now=now)
        result = found.assessment.result(wanted)
        if expected_status and expected_status != result.status.value:
            raise ValidationFailed.single(
                "assessed_status",
                f"The assessment changed since you opened it: it is now {result.status.label.lower()}. "
                "Review it and sign again.",
            )
        if overrides_assessment(decision, result.status) and not reason:
            raise ValidationFailed.single("override_reason", reason_required_message(decision, result.status))
        relied = sorted(builtin_rules().facts_for(wanted))
        facts = found.gathered.facts.as_dict()
        previous = list(
            decisions_of(patient).filter(route=wanted.value, status__in=IN_FORCE).select_for_update()
        )
        for old in previous:
            old.status = EligibilityDecision.State.SUPERSEDED
            old.superseded_at = now
            old.save(update_fields=["status", "superseded_at"])
        signed = EligibilityDecision.objects.create(
            organization_id=patient.organization_id,
            patient=patient,
            recorded_by_id=actor.user_id,
            route=wanted.value,
            status=EligibilityDecision.State.SIGNED,
            assessed_status=result.status.value,
            decision=decision,
            override_reason=reason,
            assessment=route_dict(result),
            rules_version=found.assessment.rules_version,
            parameters=dict(found.assessment.parameters),
            facts={name: facts[name] for name in relied},
            sources={name: found.gathered.sources[name] for name in relied},
            evidence=found.gathered.evidence(),
            signed_by_id=signer,
            signed_at=now,
        )
        for old in previous:
            old.superseded_by = signed
            old.save(update_fields=["superseded_by"])
            record(actor, Action.UPDATE, "EligibilityDecision", old.pk, patient_id=patient.pk,
                   detail={"fields": ["status", "superseded_at", "superseded_by"], "status": "superseded"})
        record(actor, Action.CREATE, "EligibilityDecision", signed.pk, patient_id=patient.pk, detail={
            "route": wanted.value, "decision": decision, "assessed_status": result.status.value,
            "override": overrides_assessment(decision, result.status), "rules_version": signed.rules_version,
            "supersedes": [str(old.pk) for old in previous],
        })
        mark_reopen_notices_read(actor, patient)
    return signed


def mark_reopen_notices_read(actor: Actor, patient: Patient) -> int:
    """The actor's unread re-opening notices for this patient are done with once they look or sign."""
    if actor.user_id is None:
        return 0
    return Notification.objects.for_organization(actor.organization_id).filter(
        recipient_id=actor.user_id, patient=patient, safety_alert__isnull=True, read_at__isnull=True,
        link=eligibility_link(patient),
    ).update(read_at=timezone.now())


def eligibility_link(patient: Patient) -> str:
    return f"/patients/{patient.pk}/eligibility/"
