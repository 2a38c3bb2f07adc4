"""Review points of a plan, raised from the sessions given and the outcome judgements.

`refresh_review_points(plan)` counts the plan's completed appointments (in all, and in the current
phase since it started), reads the primary instrument's outcome (response, relapse) from the
patient's progress, asks `clinical.plan_reviews.review_points` what is due, and creates the open
ReviewPoint rows not raised before. It is idempotent: a point is keyed by (plan, kind, count), where
the count for phase-bound points (futility, end of induction) is where the phase reached them, so a
resolved point is not raised again in the same phase but is after a re-induction. Scheduling calls
it when an appointment of a plan is completed or cancelled; the plan page calls it when opened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.outcomes import Outcome
from ketaflow.clinical.plan_reviews import review_points
from ketaflow.measurement.progress import patient_progress
from ketaflow.scheduling.calendar import local_midnight, zone_of
from ketaflow.scheduling.models import Appointment
from ketaflow.validation import ValidationFailed

from .models import ReviewPoint, TreatmentPlan
from .snapshot import protocol_of

RESOLUTION_LIMIT = 300
# Risk screens and in-session scales say nothing about response.
NOT_PRIMARY = frozenset({"cssrs_screener", "cadss6", "moaas", "ymrs"})


@dataclass(frozen=True)
class SessionCounts:
    total: int
    in_phase: int


@dataclass(frozen=True)
class Standing:
    """What review points are raised from: sessions completed and, for a signed plan, the outcome."""

    counts: SessionCounts
    outcome: Outcome | None


def session_counts(plan: TreatmentPlan) -> SessionCounts:
    """Completed appointments of the plan: in all, and in the current phase since it started (from
    midnight of that day at the plan's clinic)."""
    done = Appointment.objects.for_organization(plan.organization_id).filter(
        plan=plan, status=Appointment.Status.COMPLETED
    )
    since = local_midnight(plan.phase_started_on, zone_of(plan.clinic))
    in_phase = done.filter(phase=plan.phase, starts_at__gte=since)
    return SessionCounts(done.count(), in_phase.count())


def primary_outcome(plan: TreatmentPlan) -> Outcome | None:
    """The outcome of the patient's main symptom measure (depression first, then anxiety, trauma,
    pain), or None when nothing has been measured."""
    for progress in patient_progress(plan.patient):
        if progress.instrument.id not in NOT_PRIMARY:
            return progress.outcome
    return None


def standing(plan: TreatmentPlan) -> Standing:
    """The plan's session counts, and its primary outcome when signed (a draft is not judged)."""
    signed = plan.status == TreatmentPlan.Status.SIGNED
    return Standing(session_counts(plan), primary_outcome(plan) if signed else None)


def refresh_review_points(plan: TreatmentPlan, known: Standing | None = None) -> list[ReviewPoint]:
    """Create the review points now due that were not raised before; returns the new rows. Pass
    `known` when the caller has already read the plan's standing.

    Runs as the software (no actor): the points are derived, and each creation is audited as such."""
    if not plan.is_open or plan.status != TreatmentPlan.Status.SIGNED:
        return []
    protocol = protocol_of(plan)
    known = known or standing(plan)
    counts, outcome = known.counts, known.outcome
    due = review_points(
        protocol, phase=plan.phase, given_in_phase=counts.in_phase, given_total=counts.total,
        response=outcome.response.value if outcome else None,
        relapse=outcome.relapse.value if outcome else None,
    )
    phase_start = counts.total - counts.in_phase
    created = []
    with transaction.atomic():
        for point in due:
            if point.kind == "futility":
                key = phase_start + protocol.futility_after
            elif point.kind == "end_of_induction":
                key = phase_start + (protocol.induction_sessions or counts.in_phase)
            else:
                key = counts.total
            rows = ReviewPoint.objects.for_organization(plan.organization_id)
            scope = rows.filter(plan=plan, kind=point.kind)
            if point.kind == "relapse_booster" and scope.filter(status=ReviewPoint.Status.OPEN).exists():
                continue
            row, made = rows.get_or_create(
                plan=plan, kind=point.kind, sessions_given=key,
                defaults={
                    "organization_id": plan.organization_id, "patient_id": plan.patient_id,
                    "title": point.title[:120], "reason": point.reason[:300], "source": point.source[:400],
                },
            )
            if made:
                created.append(row)
                _audit_created(plan, row)
    return created


def _audit_created(plan: TreatmentPlan, row: ReviewPoint) -> None:
    record(
        Actor.system(plan.organization_id, via="plans"), Action.CREATE, "ReviewPoint", row.pk,
        patient_id=plan.patient_id, detail={"plan": str(plan.pk), "kind": row.kind,
                                            "sessions_given": row.sessions_given},
    )


def resolve_review_point(actor: Actor, review_point_id: uuid.UUID | str, *, resolution: str) -> ReviewPoint:
    """Resolve an open review point with the decision taken (SIGN_PLANS). ValidationFailed on
    `resolution` when empty or too long, or when already resolved; NotFound for another's."""
    actor.require(Permission.SIGN_PLANS)
    text = (resolution or "").strip()
    if not text:
        raise ValidationFailed.single("resolution", "Write the decision taken (continue, change, stop...).")
    if len(text) > RESOLUTION_LIMIT:
        raise ValidationFailed.single("resolution", f"Keep the decision to {RESOLUTION_LIMIT} characters.")
    with transaction.atomic():
        row: ReviewPoint = (
            ReviewPoint.objects.for_organization(actor.organization_id).select_for_update()
            .one(review_point_id, "review point")
        )
        if row.status == ReviewPoint.Status.RESOLVED:
            raise ValidationFailed.single(None, "This review point is already resolved.")
        row.status = ReviewPoint.Status.RESOLVED
        row.resolution = text
        row.resolved_by_id = actor.user_id
        row.resolved_at = timezone.now()
        row.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
        record(actor, Action.UPDATE, "ReviewPoint", row.pk, patient_id=row.patient_id, detail={
            "event": "resolved", "plan": str(row.plan_id), "kind": row.kind,
        })
    return row
