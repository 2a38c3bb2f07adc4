"""The patient's own intake, completed online before the consultation.

An intake is opened by staff (a link by email or text, or in person) and filled in by the patient
in sections, through the link or the portal; `answers` holds them by section (see
`ketaflow.intake.form`). Only the SHA-256 of the link's token is stored, and it is cleared on
submission. Submitting is final: the answers then feed the clinician's evaluation and the
eligibility facts (`intake_facts`), and a later intake supersedes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.patients.models import PatientChild


class Intake(PatientChild):
    class Status(models.TextChoices):
        INVITED = "invited", "Sent, not started"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"
        CANCELLED = "cancelled", "Cancelled"

    class Channel(models.TextChoices):
        IN_PERSON = "in_person", "In person (tablet or printed code)"
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"
        PORTAL = "portal", "Patient portal"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    form_version = models.CharField(max_length=20, default="1")
    answers = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    link_issued_at = models.DateTimeField(null=True, blank=True)
    # Wrong dates of birth typed at the link; at MAX_IDENTITY_FAILURES the link stops working.
    identity_failures = models.PositiveSmallIntegerField(default=0)
    # The C-SSRS answers last kept (with their alert) while the intake was still open.
    safety_kept = models.JSONField(default=dict, blank=True)
    # What submitting wrote to the chart: {"medications": [ids], "allergies": [ids], "alerts": [ids]}.
    created_records = models.JSONField(default=dict, blank=True)
    cssrs_response = models.ForeignKey(
        "measurement.QuestionnaireResponse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["organization", "patient", "status"], name="intake_org_patient_status")
        ]

    def __str__(self) -> str:
        return f"intake {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.INVITED, self.Status.IN_PROGRESS)
