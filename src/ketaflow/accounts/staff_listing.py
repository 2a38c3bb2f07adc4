"""The staff list as the management page shows it: who, roles, clinics, two-factor and status."""

from __future__ import annotations

from dataclasses import dataclass

from django_otp.plugins.otp_totp.models import TOTPDevice

from .actor import Actor
from .models import StaffMember
from .roles import Permission
from .services import staff_for


@dataclass(frozen=True)
class StaffRow:
    staff: StaffMember
    role_labels: str
    clinic_names: str
    two_factor_enrolled: bool
    is_active: bool


def staff_rows(actor: Actor, *, include_inactive: bool = True) -> list[StaffRow]:
    """Everyone on the organization's staff, by name; two-factor from one query for all."""
    actor.require(Permission.MANAGE_STAFF)
    staff = list(staff_for(actor))
    if not include_inactive:
        staff = [s for s in staff if s.user.is_active]
    enrolled = set(TOTPDevice.objects.filter(user_id__in=[s.user_id for s in staff], confirmed=True)
                   .values_list("user_id", flat=True))
    return [
        StaffRow(
            staff=s,
            role_labels=", ".join(sorted(r.label for r in s.roles)),
            clinic_names=", ".join(c.name for c in s.clinics.all()),
            two_factor_enrolled=s.user_id in enrolled,
            is_active=s.user.is_active,
        )
        for s in staff
    ]


def two_factor_enrolled(staff: StaffMember) -> bool:
    return TOTPDevice.objects.filter(user_id=staff.user_id, confirmed=True).exists()
