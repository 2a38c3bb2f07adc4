"""Eligibility: each organization's settings, and the prescriber's signed decision per patient and route.

`EligibilitySettings` holds a clinic's overrides of the rules' numeric parameters (never the rules
themselves) and the windows within which a reading, a test result or a risk screen still counts.
`EligibilityDecision` is what a prescriber signed for one route: the engine's assessment at that
moment, the facts it relied on with their sources, and (when the prescriber went against the
assessment) the written reason. A decision re-opens by itself when a relied-on fact changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.clinical.eligibility import Route, Status
from ketaflow.clinics.models import Organization
from ketaflow.patients.models import PatientChild

# Defaults for the windows: ketaflow's conservative choices, not published standards [verify].
DEFAULT_VITALS_WINDOW_DAYS = 90
DEFAULT_TESTS_WINDOW_DAYS = 365
DEFAULT_SCREEN_WINDOW_DAYS = 30


class EligibilitySettings(models.Model):
    """One organization's eligibility settings, created with the defaults on first use."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    # Only names from the rules' `parameters`; a value equal to the default is not stored.
    parameters = models.JSONField(default=dict, blank=True)
    vitals_window_days = models.PositiveIntegerField(default=DEFAULT_VITALS_WINDOW_DAYS)
    tests_window_days = models.PositiveIntegerField(default=DEFAULT_TESTS_WINDOW_DAYS)
    screen_window_days = models.PositiveIntegerField(default=DEFAULT_SCREEN_WINDOW_DAYS)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "eligibility settings"


ROUTE_CHOICES = [(route.value, route.label) for route in Route]
ASSESSED_CHOICES = [(status.value, status.label) for status in Status]


class EligibilityDecision(PatientChild):
    """A prescriber's signed decision for one route. At most one is in force (signed or re-opened)
    per patient and route; signing again supersedes it."""

    class State(models.TextChoices):
        SIGNED = "signed", "Signed"
        REOPENED = "reopened", "Re-opened"
        SUPERSEDED = "superseded", "Superseded"

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        DECLINE = "decline", "Declined"

    route = models.CharField(max_length=20, choices=ROUTE_CHOICES)
    status = models.CharField(max_length=12, choices=State.choices, default=State.SIGNED)
    assessed_status = models.CharField(max_length=24, choices=ASSESSED_CHOICES)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    override_reason = models.TextField(blank=True)
    assessment = models.JSONField()  # the engine's result for this route (`route_dict`)
    rules_version = models.CharField(max_length=40)
    parameters = models.JSONField()  # every parameter value the assessment used
    facts = models.JSONField()  # the relied-on facts (`RuleSet.facts_for(route)`), as JSON
    sources = models.JSONField()  # where each of those facts came from
    evidence = models.JSONField(default=dict, blank=True)  # e.g. the medication list behind the classes
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_changes = models.JSONField(default=list, blank=True)  # [{fact, before, after, note}]
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "route"],
                condition=~models.Q(status="superseded"),
                name="eligibility_decision_one_in_force",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "status"], name="eligibility_org_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.get_route_display()}"

    @property
    def route_label(self) -> str:
        return Route(self.route).label

    @property
    def assessed_label(self) -> str:
        return Status(self.assessed_status).label

    @property
    def is_override(self) -> bool:
        return overrides_assessment(self.decision, self.assessed_status)


def overrides_assessment(decision: str, assessed_status: str) -> bool:
    """Approving a route the engine did not call eligible, or declining one it did, goes against
    the assessment; either needs a written reason.

    Approving "needs review" or "not eligible" overrides an exclusion or an open review. Declining
    "eligible" or "eligible with cautions" sets the advice aside too, and the chart should say why
    (a patient who would otherwise be offered the route). Declining a route the engine already
    advises against, or approving one it calls eligible, agrees with it: a note is optional.
    """
    approving = decision == EligibilityDecision.Decision.APPROVE
    eligible = assessed_status in (Status.ELIGIBLE, Status.ELIGIBLE_WITH_CAUTIONS)
    return approving != eligible
