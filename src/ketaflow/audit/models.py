"""The append-only, hash-chained audit trail of every read and write of patient data.

Each organization has its own chain (so a network can later be distributed by organization); the
platform's own events (logins of users without an organization) form the `platform` chain. Each
event stores the hash of the one before it; `AuditChainHead` holds the last sequence number and
hash, so removing the newest events is also detected. Database triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import uuid

from django.db import models

from ketaflow.clinics.models import Organization

PLATFORM_CHAIN = "platform"


class Action(models.TextChoices):
    READ = "read", "Read"
    LIST = "list", "List or search"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    ARCHIVE = "archive", "Archive"
    RESTORE = "restore", "Restore"
    EXPORT = "export", "Export"
    LOGIN = "login", "Log in"
    LOGOUT = "logout", "Log out"
    TWO_FACTOR = "two_factor", "Two-factor change"
    TOKEN = "token", "API token issued"


class AuditChainHead(models.Model):
    chain = models.CharField(max_length=40, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    chain = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=150)
    roles = models.CharField(max_length=200)
    clinic_id = models.UUIDField(null=True, blank=True)
    via = models.CharField(max_length=10)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-occurred_at", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_seq_unique_in_chain"),
        ]
        indexes = [
            models.Index(fields=["organization", "occurred_at"], name="audit_org_time"),
            models.Index(fields=["organization", "patient_id"], name="audit_org_patient"),
            models.Index(fields=["organization", "user_id"], name="audit_org_user"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


def chain_key(organization_id: uuid.UUID | None) -> str:
    return str(organization_id) if organization_id else PLATFORM_CHAIN
