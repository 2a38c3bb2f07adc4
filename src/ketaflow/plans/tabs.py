"""The chart's Plan tab: the open plan (phase, dose with its arithmetic, open review points, links)
or a "New plan" link, and the past plans. Registered when the app is ready."""

from __future__ import annotations

from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.patients.chart import register_tab
from ketaflow.patients.models import Patient

from .models import OPEN_PHASES, ReviewPoint
from .reviews import refresh_review_points
from .services import patient_plans

TAB = "plan"


def plan_tab_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    """For a patient already opened (and audited) by `open_patient`."""
    actor.require(Permission.VIEW_CLINICAL)
    plans = patient_plans(actor, patient)
    current = next((p for p in plans if p.phase in OPEN_PHASES), None)
    points: list[ReviewPoint] = []
    if current is not None:
        refresh_review_points(current)
        points = list(
            ReviewPoint.objects.for_organization(actor.organization_id)
            .filter(plan=current, status=ReviewPoint.Status.OPEN)
        )
    return {
        "current_plan": current,
        "past_plans": [p for p in plans if p is not current],
        "plan_points": points,
        "can_edit_clinical": actor.can(Permission.EDIT_CLINICAL),
    }


register_tab(TAB, "Plan", Permission.VIEW_CLINICAL, "plans/tab.html", plan_tab_context)
