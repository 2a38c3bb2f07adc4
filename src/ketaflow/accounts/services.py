"""Staff management, API tokens and building the Actor for a user."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.changes import announce
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.phones import normalise_phone
from ketaflow.validation import FieldError, ValidationFailed

from .actor import Actor
from .credentials import dea_problem, npi_problem
from .models import ApiToken, StaffMember, StaffRole, User, hash_token
from .roles import PRESCRIBER_CREDENTIALS, Credential, Permission, Role

STAFF_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "roles",
    "credential",
    "licence_number",
    "licence_region",
    "dea_number",
    "npi",
    "phone",
    "clinic_ids",
)
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_lowercase + string.digits if c not in "lo01")


def temporary_password() -> str:
    """An easy-to-type one-time password; the user must replace it at first login."""
    groups = ["".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4)]
    return "-".join(groups)


def actor_for(user: User, *, ip_address: str | None = None, via: str = "web") -> Actor | None:
    """The Actor for a staff user, or None when the user is not active staff of an organization."""
    if not user.is_active or user.organization_id is None:
        return None
    staff = StaffMember.objects.filter(user=user).prefetch_related("role_rows").first()
    if staff is None:
        return None
    return Actor(
        user_id=user.pk,
        username=user.username,
        organization_id=user.organization_id,
        roles=staff.roles,
        staff_id=staff.pk,
        ip_address=ip_address,
        via=via,
    )


def staff_for(actor: Actor) -> QuerySet[StaffMember]:
    return (
        StaffMember.objects.for_organization(actor.organization_id)
        .select_related("user")
        .prefetch_related("role_rows", "clinics")
    )


def get_staff(actor: Actor, staff_id: uuid.UUID | str) -> StaffMember:
    return staff_for(actor).one(staff_id, "staff")  # type: ignore[attr-defined]


def _clean_staff(actor: Actor, data: Mapping[str, Any], *, existing: StaffMember | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    errors.extend(
        FieldError(n, "This field is not part of a staff record.")
        for n in sorted(set(data) - set(STAFF_FIELDS))
    )
    clean: dict[str, Any] = {}
    creating = existing is None

    if creating or "username" in data:
        username = (data.get("username") or "").strip().lower()
        if not username:
            errors.append(FieldError("username", "This field is required."))
        elif not all(c.isalnum() or c in "._-" for c in username) or len(username) > 150:
            errors.append(FieldError("username", "Use letters, digits, dots, hyphens and underscores."))
        elif User.objects.filter(username=username).exclude(pk=existing.user_id if existing else 0).exists():
            errors.append(FieldError("username", "This username is taken."))
        clean["username"] = username
    for name in ("first_name", "last_name"):
        if creating or name in data:
            value = (data.get(name) or "").strip()
            if not value:
                errors.append(FieldError(name, "This field is required."))
            clean[name] = value[:150]
    if creating or "email" in data:
        email = (data.get("email") or "").strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            errors.append(FieldError("email", "Enter a valid email address."))
        clean["email"] = email
    if creating or "roles" in data:
        raw_roles = data.get("roles") or []
        try:
            roles = frozenset(Role(r) for r in raw_roles)
        except ValueError:
            errors.append(FieldError("roles", f"Roles are: {', '.join(r.value for r in Role)}."))
            roles = frozenset()
        if not roles and not any(e.field == "roles" for e in errors):
            errors.append(FieldError("roles", "Give this person at least one role."))
        previous = existing.roles if existing else frozenset()
        if Role.OWNER in (roles ^ previous) and not actor.can(Permission.MANAGE_OWNERS):
            errors.append(FieldError("roles", "Only an owner can grant or remove the owner role."))
        clean["roles"] = roles
    for name in ("credential", "licence_number", "licence_region"):
        if creating or name in data:
            clean[name] = (data.get(name) or "").strip()
    if clean.get("credential") and clean["credential"] not in {c.value for c in Credential}:
        errors.append(FieldError("credential", f"Credentials are: {', '.join(c.value for c in Credential)}."))
    if creating or "dea_number" in data:
        dea = (data.get("dea_number") or "").strip().upper()
        if dea and (problem := dea_problem(dea)):
            errors.append(FieldError("dea_number", problem))
        clean["dea_number"] = dea
    if creating or "npi" in data:
        npi = (data.get("npi") or "").strip()
        if npi and (problem := npi_problem(npi)):
            errors.append(FieldError("npi", problem))
        clean["npi"] = npi
    if creating or "phone" in data:
        try:
            org = Organization.objects.get(pk=actor.organization_id)
            clean["phone"] = normalise_phone(data.get("phone") or "", org.country)
        except ValueError as exc:
            errors.append(FieldError("phone", str(exc)))
    if creating or "clinic_ids" in data:
        ids = _uuids(data.get("clinic_ids") or [])
        found = set(
            Clinic.objects.for_organization(actor.organization_id)
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if ids is None or found != set(ids):
            errors.append(FieldError("clinic_ids", "Choose clinics of your own organization."))
        clean["clinic_ids"] = ids or []

    roles_now = clean.get("roles", existing.roles if existing else frozenset())
    credential = clean.get("credential", existing.credential if existing else "")
    licence = clean.get("licence_number", existing.licence_number if existing else "")
    if Role.PRESCRIBER in roles_now:
        if credential not in PRESCRIBER_CREDENTIALS:
            errors.append(FieldError("credential", "A prescriber needs an MD, DO, NP or PA credential."))
        if not licence:
            errors.append(FieldError("licence_number", "A prescriber needs a licence number."))
    if errors:
        raise ValidationFailed(errors)
    return clean


def _uuids(values: Iterable[Any]) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(str(v)) for v in values]
    except ValueError:
        return None


def _apply(staff: StaffMember, clean: dict[str, Any]) -> None:
    user = staff.user
    for name in ("username", "first_name", "last_name", "email"):
        if name in clean:
            setattr(user, name, clean[name])
    user.save()
    for name in ("credential", "licence_number", "licence_region", "dea_number", "npi", "phone"):
        if name in clean:
            setattr(staff, name, clean[name])
    staff.save()
    if "roles" in clean:
        StaffRole.objects.filter(staff=staff).delete()
        StaffRole.objects.bulk_create(
            StaffRole(organization_id=staff.organization_id, staff=staff, role=r.value)
            for r in sorted(clean["roles"])
        )
    if "clinic_ids" in clean:
        staff.clinics.set(clean["clinic_ids"])


def create_staff(
    actor: Actor, data: Mapping[str, Any], *, password: str | None = None
) -> tuple[StaffMember, str]:
    """Add a staff member; returns it with the one-time password to hand over.

    The new user must choose a password and set up two-factor at first login.
    """
    actor.require(Permission.MANAGE_STAFF)
    clean = _clean_staff(actor, data, existing=None)
    initial = password or temporary_password()
    with transaction.atomic():
        user = User(organization_id=actor.organization_id, must_change_password=password is None)
        user.set_password(initial)
        user.username = clean["username"]
        user.save()
        staff = StaffMember.objects.create(organization_id=actor.organization_id, user=user)
        _apply(staff, clean)
        record(actor, Action.CREATE, "StaffMember", staff.pk, detail={"roles": sorted(clean["roles"])})
    return staff, initial


def _owners_left(actor: Actor, excluding: StaffMember) -> bool:
    return (
        StaffRole.objects.for_organization(actor.organization_id)
        .filter(role=Role.OWNER, staff__user__is_active=True)
        .exclude(staff=excluding)
        .exists()
    )


def update_staff(actor: Actor, staff_id: uuid.UUID | str, data: Mapping[str, Any]) -> StaffMember:
    actor.require(Permission.MANAGE_STAFF)
    with transaction.atomic():
        staff = get_staff(actor, staff_id)
        clean = _clean_staff(actor, data, existing=staff)
        if (
            "roles" in clean
            and Role.OWNER in staff.roles
            and Role.OWNER not in clean["roles"]
            and not _owners_left(actor, staff)
        ):
            raise ValidationFailed.single("roles", "The organization must keep at least one owner.")
        _apply(staff, clean)
        record(actor, Action.UPDATE, "StaffMember", staff.pk, detail={"fields": sorted(clean)})
    return get_staff(actor, staff.pk)


def set_staff_active(actor: Actor, staff_id: uuid.UUID | str, active: bool) -> StaffMember:
    actor.require(Permission.MANAGE_STAFF)
    with transaction.atomic():
        staff = get_staff(actor, staff_id)
        if not active:
            if staff.pk == actor.staff_id:
                raise ValidationFailed.single(None, "You cannot deactivate your own account.")
            if Role.OWNER in staff.roles and not _owners_left(actor, staff):
                raise ValidationFailed.single(None, "The organization must keep at least one owner.")
            if Role.OWNER in staff.roles and not actor.can(Permission.MANAGE_OWNERS):
                raise ValidationFailed.single(None, "Only an owner can deactivate an owner.")
        staff.user.is_active = active
        staff.user.save(update_fields=["is_active"])
        announce(StaffMember, [staff])
        if not active:
            ApiToken.objects.filter(user=staff.user, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        record(
            actor, Action.UPDATE, "StaffMember", staff.pk, detail={"fields": ["is_active"], "active": active}
        )
    return staff


def reset_password(actor: Actor, staff_id: uuid.UUID | str) -> str:
    """A new one-time password for a staff member; returned once, to hand over in person."""
    actor.require(Permission.MANAGE_STAFF)
    with transaction.atomic():
        staff = get_staff(actor, staff_id)
        password = temporary_password()
        staff.user.set_password(password)
        staff.user.must_change_password = True
        staff.user.save(update_fields=["password", "must_change_password"])
        record(actor, Action.UPDATE, "StaffMember", staff.pk, detail={"fields": ["password"]})
    return password


def reset_two_factor(actor: Actor, staff_id: uuid.UUID | str) -> None:
    """Remove a staff member's authenticator so they enrol a new one at next login."""
    actor.require(Permission.MANAGE_STAFF)
    with transaction.atomic():
        staff = get_staff(actor, staff_id)
        TOTPDevice.objects.filter(user=staff.user).delete()
        record(actor, Action.TWO_FACTOR, "StaffMember", staff.pk, detail={"reset": True})


def change_own_password(user: User, actor: Actor, new_password: str) -> None:
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationFailed([FieldError("new_password", m) for m in exc.messages]) from exc
    if user.check_password(new_password):
        raise ValidationFailed.single("new_password", "Choose a password different from the current one.")
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        record(actor, Action.UPDATE, "User", user.pk, detail={"fields": ["password"]})


def issue_api_token(user: User, name: str = "api", *, issued_by: Actor | None = None) -> str:
    """Create a bearer token for `user`; returns the raw token, which is never stored."""
    actor = actor_for(user, via="cli")
    if actor is None:
        raise ValidationFailed.single("username", "Tokens are for active staff of an organization.")
    raw = ApiToken.new_raw_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            organization_id=actor.organization_id,
            user=user,
            name=name[:100],
            key_hash=hash_token(raw),
            key_hint=raw[:10],
        )
        record(issued_by or actor, Action.TOKEN, "ApiToken", token.pk, detail={"user": user.username})
    return raw


def user_for_token(raw: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown or revoked token."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
