"""Treatment plans and the clinic's protocol library.

The shipped protocols live in `ketaflow/clinical/data/protocols.json`. A clinic's own protocols are
`ClinicProtocol` rows: a clone of a shipped or clinic protocol, edited, saved as a new numbered
version; rows are never edited in place. A plan stores a frozen copy of the protocol it was made
from (`protocol`), so a later edit of the library never changes a signed plan.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.eligibility.rules import Route
from ketaflow.clinics.models import Clinic, TenantModel
from ketaflow.patients.models import PatientChild

ROUTE_CHOICES = [(r.value, r.label) for r in Route]


class ClinicProtocol(TenantModel):
    """One version of a clinic's protocol. `definition` is the same shape as a shipped protocol and
    is validated by `ketaflow.clinical.protocols.parse_protocol` before it is saved."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=60)
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    route = models.CharField(max_length=20, choices=ROUTE_CHOICES)
    definition = models.JSONField()
    based_on = models.CharField(max_length=100, help_text="key@version this version was cloned from")
    change_note = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=300, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["key", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key", "number"], name="clinic_protocol_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (clinic v{self.number})"

    @property
    def version(self) -> str:
        return f"clinic-{self.number}"


class Phase(models.TextChoices):
    INDUCTION = "induction", "Induction"
    MAINTENANCE = "maintenance", "Maintenance"
    TAPER = "taper", "Taper"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"


OPEN_PHASES = (Phase.INDUCTION, Phase.MAINTENANCE, Phase.TAPER)


class TreatmentPlan(PatientChild):
    """A patient's plan: protocol, route, setting, clinic, start date, goals, the current dose, and
    its phase. Drafted by a prescriber or nurse, then signed by a prescriber; only a signed plan is
    scheduled. At most one open plan per patient."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    class Setting(models.TextChoices):
        CLINIC = "clinic", "In clinic"
        HOME = "home", "At home"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    protocol_key = models.SlugField(max_length=60)
    protocol_version = models.CharField(max_length=40)
    protocol_name = models.CharField(max_length=200)
    protocol = models.JSONField(help_text="The protocol definition as it was when the plan was made")
    route = models.CharField(max_length=20, choices=ROUTE_CHOICES)
    setting = models.CharField(max_length=10, choices=Setting.choices)
    condition = models.CharField(max_length=40, help_text="Condition id from the condition catalogue")
    goals = models.TextField()
    start_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    phase = models.CharField(max_length=15, choices=Phase.choices, default=Phase.INDUCTION)
    phase_started_on = models.DateField()
    ended_reason = models.CharField(max_length=300, blank=True)
    prescriber = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # The current dose; every change is a DoseChange row with its reason.
    dose_mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    dose_summary = models.CharField(max_length=200)
    dose_arithmetic = models.JSONField(default=list)
    dose_overridden = models.BooleanField(default=False)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    maintenance_every_days = models.PositiveSmallIntegerField(null=True, blank=True)

    home_justification = models.TextField(blank=True)
    eligibility_decision = models.ForeignKey(
        "eligibility.EligibilityDecision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent = models.ForeignKey(
        "consent.Consent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["organization", "phase"], name="plan_org_phase")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(phase__in=[p.value for p in OPEN_PHASES]),
                name="plan_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=~models.Q(phase=Phase.DISCONTINUED) | ~models.Q(ended_reason=""),
                name="plan_discontinued_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(setting="home") | ~models.Q(home_justification=""),
                name="plan_home_has_justification",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="signed")
                | models.Q(signed_by__isnull=False, signed_at__isnull=False),
                name="plan_signed_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol_name} from {self.start_date:%d %b %Y}"

    @property
    def is_open(self) -> bool:
        return self.phase in OPEN_PHASES

    @property
    def condition_display(self) -> str:
        """The condition's name from the catalogue, with its ICD-10 code (the key if unknown)."""
        try:
            found = catalogue().get(self.condition)
        except KeyError:
            return self.condition
        return f"{found.display} ({found.icd10})"


class PhaseChange(PatientChild):
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="phase_changes")
    from_phase = models.CharField(max_length=15, choices=Phase.choices)
    to_phase = models.CharField(max_length=15, choices=Phase.choices)
    effective_on = models.DateField()
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["recorded_at"]


class DoseChange(PatientChild):
    """A change of the plan's dose, with its reason and the arithmetic of the new dose. The first row
    is the dose the plan was made with."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="dose_changes")
    mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    mg = models.DecimalField(max_digits=7, decimal_places=2)
    summary = models.CharField(max_length=200)
    arithmetic = models.JSONField(default=list)
    overridden = models.BooleanField(default=False)
    reason = models.CharField(max_length=300)
    effective_on = models.DateField()

    class Meta:
        ordering = ["recorded_at"]


class ReviewPoint(PatientChild):
    """A decision the plan is waiting for (futility, end of induction, relapse booster, home renewal,
    supply release), raised from outcomes and sessions given; resolved by a clinician with a note."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="review_points")
    kind = models.CharField(max_length=20)
    title = models.CharField(max_length=120)
    reason = models.CharField(max_length=300)
    source = models.CharField(max_length=400)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    sessions_given = models.PositiveSmallIntegerField(default=0)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "kind", "sessions_given"],
                name="review_point_once_per_count",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resolved") | ~models.Q(resolution=""),
                name="review_point_resolved_has_note",
            ),
        ]
