"""The patient's own intake, completed online before the consultation.

An intake is opened by staff (a single-use link by email or text, or in the portal) and filled in by
the patient in sections; `answers` holds them by section (see `ketaflow.intake.form`). Only the
SHA-256 of the link's token is stored. Submitting is final: the answers then feed the clinician's
evaluation and the eligibility facts (`intake_facts`), and a later intake supersedes it.
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

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["organization", "patient", "status"], name="intake_org_patient_status")
        ]

    def __str__(self) -> str:
        return f"intake {self.pk}"
