"""Enquiries: a Lead is someone who answered the public self-screen and left contact details.

A lead is personal data of a person who is not (yet) a patient: it belongs to one organization,
every staff read and write of it is audited, and it is never deleted, only closed or converted
(linked to the patient registered from it).
"""

from __future__ import annotations

import uuid

from django.db import models

from ketaflow.accounts.models import StaffMember
from ketaflow.clinical.self_screen import Outcome
from ketaflow.clinics.models import Clinic, TenantModel
from ketaflow.patients.models import ContactMethod, Patient


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    BOOKED = "booked", "Consultation booked"
    CONVERTED = "converted", "Registered as patient"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.BOOKED)


class Lead(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    preferred_clinic = models.ForeignKey(
        Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    preferred_contact = models.CharField(
        max_length=10, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    consent_to_contact = models.BooleanField()

    answers = models.JSONField(default=dict)
    screen_version = models.CharField(max_length=40)
    outcome = models.CharField(max_length=20, choices=[(o.value, o.label) for o in Outcome])
    reasons = models.JSONField(default=list)
    red_flags = models.JSONField(default=list)
    risk_endorsed = models.BooleanField(default=False)

    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    notes = models.TextField(blank=True)
    assigned_to = models.ForeignKey(
        StaffMember, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_reason = models.CharField(max_length=300, blank=True)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status", "created_at"], name="lead_org_status_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(consent_to_contact=True), name="lead_has_consent"),
            models.CheckConstraint(
                condition=~models.Q(email="", phone=""), name="lead_has_a_contact_method"
            ),
            models.CheckConstraint(
                condition=models.Q(status=LeadStatus.CONVERTED, patient__isnull=False)
                | (~models.Q(status=LeadStatus.CONVERTED) & models.Q(patient__isnull=True)),
                name="lead_converted_has_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"Lead {self.pk}"

    @property
    def call_today(self) -> bool:
        """Risk was endorsed and nobody has contacted the person yet."""
        return self.risk_endorsed and self.status == LeadStatus.NEW
