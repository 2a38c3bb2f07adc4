"""Users, staff members with roles and credentials, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from ketaflow.accounts.roles import Credential, Permission, Role, permissions_for
from ketaflow.clinics.models import Clinic, Organization, TenantModel


class User(AbstractUser):
    """A login. Staff users belong to one organization; platform operators (superusers) to none."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    must_change_password = models.BooleanField(
        default=False, help_text="Set for a new account or a reset; cleared when the user picks one."
    )
    two_factor_exempt = models.BooleanField(
        default=False,
        help_text="Only honoured in demo and development mode (the demo's own accounts).",
    )

    class Meta:
        ordering = ["last_name", "first_name"]


class StaffMember(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="staff")
    credential = models.CharField(max_length=8, blank=True, choices=[(c.value, c.value) for c in Credential])
    licence_number = models.CharField(max_length=40, blank=True)
    licence_region = models.CharField("licence state or region", max_length=40, blank=True)
    dea_number = models.CharField("DEA number", max_length=9, blank=True)
    npi = models.CharField("NPI", max_length=10, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    clinics = models.ManyToManyField(Clinic, blank=True, related_name="staff")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.user.get_full_name() or self.user.username
        return f"{name}, {self.credential}" if self.credential else name

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows.all())

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)


class StaffRole(TenantModel):
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="role_rows")
    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in Role])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["staff", "role"], name="staff_role_unique"),
        ]

    def __str__(self) -> str:
        return self.role


TOKEN_PREFIX = "kf_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(TenantModel):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="api")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    @staticmethod
    def new_raw_token() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)
