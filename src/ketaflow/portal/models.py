"""A patient's portal account: one sign-in (a Django user with no staff record) for one patient.

Staff invite the patient; the invitation is a single-use set-password token of which only the
SHA-256 is stored, valid for 72 hours. Once the patient has chosen a password the token is gone.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.clinics.models import TenantModel
from ketaflow.patients.models import Patient


class PortalAccount(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_account"
    )
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="+")
    invite_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    invite_expires_at = models.DateTimeField(null=True, blank=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="portal_account_org_patient")]

    def __str__(self) -> str:
        return f"portal account {self.pk}"

    @property
    def is_active(self) -> bool:
        """Activated, the login enabled and the patient not archived."""
        return (
            self.activated_at is not None
            and self.user.is_active
            and self.patient.archived_at is None
        )
