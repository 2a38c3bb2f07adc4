"""Storage for measurement-based care, shaped for FHIR.

A `QuestionnaireResponse` keeps every answer with its item code; each derived score is a
`ScoreObservation` carrying its LOINC code (or an instrument-local code where LOINC has none), so
the FHIR layer maps them one to one. Safety alerts, due measures, single-use links and reminders
sit beside them. Every table carries the organization (tenant) key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.measurement_schedule import load_schedule
from ketaflow.clinical.outcomes import OutcomeRules
from ketaflow.clinics.models import Organization, TenantModel
from ketaflow.patients.models import Patient, PatientChild

_RULES = OutcomeRules()
INSTRUMENT_CODE_SYSTEM = "urn:ketaflow:instrument"
LOINC = "http://loinc.org"


def default_crisis_resources() -> list[dict[str, str]]:
    """Clinical reference §8: the US defaults; other countries set their own."""
    return [
        {"label": "988 Suicide & Crisis Lifeline", "contact": "Call or text 988", "href": "tel:988"},
        {"label": "Emergency", "contact": "Call 911", "href": "tel:911"},
    ]


def default_overdue_days() -> int:
    """The schedule data's default (clinical/data/measurement_schedule.json), a [verify] number."""
    return load_schedule().overdue_after.days


class MeasurementSettings(models.Model):
    """One organization's measurement settings: every number shown with its source where it is set."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    crisis_resources = models.JSONField(default=default_crisis_resources)
    link_ttl_hours = models.PositiveIntegerField(default=72)
    # Outcome rules default to the core's published ones (clinical/outcomes.py, with sources).
    response_reduction_percent = models.PositiveIntegerField(default=round(_RULES.response_reduction * 100))
    relapse_consecutive = models.PositiveIntegerField(default=_RULES.relapse_consecutive)
    non_response_after = models.PositiveIntegerField(default=_RULES.non_response_after)
    remission_overrides = models.JSONField(default=dict, blank=True)
    overdue_after_days = models.PositiveIntegerField(default=default_overdue_days)
    reminder_every_hours = models.PositiveIntegerField(default=48)
    updated_at = models.DateTimeField(auto_now=True)


class ClinicInstrument(TenantModel):
    """A definition a clinic loaded itself (a licensed scale, say), in the built-in JSON format."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instrument_id = models.CharField(max_length=40)
    version = models.CharField(max_length=40)
    document = models.JSONField()
    is_active = models.BooleanField(default=True)
    loaded_at = models.DateTimeField(auto_now_add=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "instrument_id", "version"], name="clinic_instrument_version_unique"
            )
        ]


class Stage(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation"
    INDUCTION = "induction", "Induction"
    MAINTENANCE = "maintenance", "Maintenance"
    TAPER = "taper", "Taper"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"


class MeasurementPlan(TenantModel):
    """A patient's measurement plan: the care stage (which sets the cadence), the instruments and the
    responsible clinician who receives safety alerts. The treatment-plan issue will drive the stage."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.EVALUATION)
    stage_started_at = models.DateTimeField()
    instruments = models.JSONField(default=list, blank=True)
    responsible_clinician = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient"], name="measurement_plan_one_per_patient"
            )
        ]


class Treatment(PatientChild):
    """A treatment date that measurement needs: the baseline cut-off, the count behind non-response and
    the induction cadence. Recorded by staff here until the sessions issue writes them itself."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        GIVEN = "given", "Given"
        CANCELLED = "cancelled", "Cancelled"

    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.GIVEN)
    description = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["occurred_at"]
        indexes = [
            models.Index(fields=["organization", "patient", "occurred_at"], name="treatment_org_patient")
        ]


class Invitation(TenantModel):
    """A single-use link for a patient to answer questionnaires without signing in. Only the SHA-256
    of the token is stored; the link itself goes to the patient and nowhere else."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"
        IN_PERSON = "in_person", "Given in person"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    instruments = models.JSONField()
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.IN_PERSON)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="invitation_org_patient")]


class QuestionnaireResponse(PatientChild):
    """One completed questionnaire: every answer with its item id, code and option label."""

    class Source(models.TextChoices):
        CLINICIAN = "clinician", "Entered by staff"
        LINK = "link", "Patient, by link"
        PORTAL = "portal", "Patient, in the portal"
        API = "api", "API"
        IMPORT = "import", "Imported"

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        # Unfinished answers kept only because they already endorse a safety item (never scored).
        IN_PROGRESS = "in-progress", "Unfinished (safety answer kept)"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    instrument_id = models.CharField(max_length=40)
    instrument_version = models.CharField(max_length=40)
    authored_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    answers = models.JSONField()
    safety_flags = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-authored_at"]
        indexes = [
            models.Index(
                fields=["organization", "patient", "instrument_id", "authored_at"],
                name="response_org_patient",
            )
        ]


class ScoreObservation(TenantModel):
    """A derived score (total, risk level or subscale) as a FHIR-ready observation."""

    class Kind(models.TextChoices):
        TOTAL = "total", "Total"
        SUBSCORE = "subscore", "Subscale"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    response = models.ForeignKey(QuestionnaireResponse, on_delete=models.PROTECT, related_name="observations")
    instrument_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=20)
    code_system = models.CharField(max_length=60)
    code = models.CharField(max_length=60)
    display = models.CharField(max_length=120)
    value = models.FloatField()
    band = models.CharField(max_length=40, blank=True)
    effective_at = models.DateTimeField()
    is_current = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "patient", "instrument_id", "kind", "effective_at"],
                name="observation_trajectory",
            )
        ]


class SafetyAlert(TenantModel):
    """An answer that endorses suicidal ideation or risk: a task for the responsible clinician that
    stays open until acknowledged with a documented action."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"

    class Action(models.TextChoices):
        CONTACTED_SAFETY_PLAN = (
            "contacted_safety_plan",
            "Contacted the patient; risk assessed and safety plan reviewed",
        )
        CONTACTED_NO_ACUTE_RISK = "contacted_no_acute_risk", "Contacted the patient; no acute risk found"
        SEEN_IN_PERSON = "seen_in_person", "Assessed in person"
        CRISIS_REFERRAL = "crisis_referral", "Referred to crisis services"
        EMERGENCY_SERVICES = "emergency_services", "Emergency services called"
        UNABLE_TO_REACH = "unable_to_reach", "Unable to reach; emergency contact or welfare check arranged"
        KNOWN_REVIEWED = "known_reviewed", "Known chronic ideation; reviewed against the current safety plan"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    response = models.ForeignKey(QuestionnaireResponse, on_delete=models.PROTECT, related_name="+")
    instrument_id = models.CharField(max_length=40)
    flags = models.JSONField()
    raised_at = models.DateTimeField()
    assigned_to = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action.choices, blank=True)
    action_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [
            models.Index(fields=["organization", "status", "raised_at"], name="safety_alert_org_status"),
            models.Index(fields=["organization", "patient"], name="safety_alert_org_patient"),
        ]


class Notification(TenantModel):
    """An in-app notification for one staff user (the bell in the header)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    safety_alert = models.ForeignKey(
        SafetyAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=200)
    link = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "recipient", "read_at"], name="notification_recipient")
        ]


class MeasureDue(TenantModel):
    """One questionnaire a patient is due to complete; the next is created when this one is done."""

    class Status(models.TextChoices):
        OPEN = "open", "Due"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    instrument_id = models.CharField(max_length=40)
    due_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    response = models.ForeignKey(
        QuestionnaireResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "instrument_id"],
                condition=models.Q(status="open"),
                name="measure_due_one_open_per_instrument",
            )
        ]
        indexes = [models.Index(fields=["organization", "status", "due_at"], name="measure_due_org_status")]


class Reminder(TenantModel):
    """A reminder sent (or that failed to send) to a patient; the message text holds no clinical detail."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "No contact details"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Invitation.Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    detail = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["organization", "patient"], name="reminder_org_patient")]
