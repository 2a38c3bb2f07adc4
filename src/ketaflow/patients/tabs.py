"""The chart tabs this app provides: Summary, Problems & allergies, and Access log.

Each context function receives a patient already opened (and audited) by `open_patient`, for an
actor already checked against the tab's permission.
"""

from __future__ import annotations

from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.search import display_zone, patient_access_log, rows_for

from .chart import register_tab
from .models import Allergy, Condition, Patient, PatientAlert
from .record_forms import AlertForm, AllergyForm, ConditionForm, ConditionStatusForm, alert_categories

ALERT_ORDER = ("safety", "clinical", "administrative")


def alert_rank(alert: PatientAlert) -> int:
    """Safety alerts first: they are what must not be missed at the chairside."""
    return ALERT_ORDER.index(alert.category) if alert.category in ALERT_ORDER else len(ALERT_ORDER)


def visible_alerts(actor: Actor, patient: Patient) -> list[PatientAlert]:
    """Active alerts this actor may see, safety first: without clinical access, administrative only."""
    alerts = PatientAlert.objects.for_organization(actor.organization_id).filter(
        patient=patient, is_active=True
    )
    if not actor.can(Permission.VIEW_CLINICAL):
        alerts = alerts.filter(category=PatientAlert.Category.ADMINISTRATIVE)
    return sorted(alerts, key=alert_rank)


def alerts_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    categories = alert_categories(actor)
    return {
        "alerts": visible_alerts(actor, patient),
        "alert_form": AlertForm(categories=categories) if categories else None,
        "resolvable": {value for value, _label in categories},
    }


def summary_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    """Demographics and contacts. A role without clinical access manages administrative alerts here."""
    context: dict[str, Any] = {"show_alerts": False}
    if not actor.can(Permission.VIEW_CLINICAL) and actor.can(Permission.EDIT_DEMOGRAPHICS):
        context.update(alerts_context(actor, patient), show_alerts=True)
    return context


def problems_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    actor.require(Permission.VIEW_CLINICAL)
    scope = actor.organization_id
    conditions = list(Condition.objects.for_organization(scope).filter(patient=patient))
    allergies = list(Allergy.objects.for_organization(scope).filter(patient=patient))
    editable = actor.can(Permission.EDIT_CLINICAL)
    context = {
        "current_conditions": [c for c in conditions if c.status != Condition.Status.RESOLVED],
        "resolved_conditions": [c for c in conditions if c.status == Condition.Status.RESOLVED],
        "active_allergies": [a for a in allergies if a.is_active],
        "inactive_allergies": [a for a in allergies if not a.is_active],
        "can_edit_clinical": editable,
        "condition_form": ConditionForm() if editable else None,
        "allergy_form": AllergyForm() if editable else None,
        "status_choices": ConditionStatusForm.base_fields["status"].choices,  # type: ignore[attr-defined]
    }
    context.update(alerts_context(actor, patient))
    return context


def access_log_context(actor: Actor, patient: Patient) -> dict[str, Any]:
    zone = display_zone(actor)
    events = patient_access_log(actor, patient.pk)
    return {"access_rows": rows_for(actor, events, zone)}


register_tab("summary", "Summary", Permission.VIEW_DEMOGRAPHICS, "patients/tabs/summary.html",
             summary_context)
register_tab("problems", "Problems & allergies", Permission.VIEW_CLINICAL,
             "patients/tabs/problems.html", problems_context)
register_tab("access-log", "Access log", Permission.VIEW_AUDIT, "patients/tabs/access_log.html",
             access_log_context)
