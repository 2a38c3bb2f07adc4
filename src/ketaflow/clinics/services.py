"""Organization and clinic settings: create and edit clinics, opening hours and rooms."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action, AuditChainHead, chain_key
from ketaflow.audit.trail import record
from ketaflow.phones import normalise_phone
from ketaflow.validation import FieldError, ValidationFailed

from .models import Clinic, OpeningHours, Organization, Room, validate_timezone

CLINIC_FIELDS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "phone",
    "timezone",
    "is_active",
)


def create_organization(name: str, *, country: str = "US", slug: str = "") -> Organization:
    """A new tenant with its own audit chain."""
    name = name.strip()
    if not name:
        raise ValidationFailed.single("name", "Name the organization.")
    base = slugify(slug or name)[:50] or "practice"
    candidate, n = base, 1
    while Organization.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    with transaction.atomic():
        org = Organization.objects.create(name=name, slug=candidate, country=country.upper())
        AuditChainHead.objects.create(chain=chain_key(org.pk))
    return org


def clinics_for(actor: Actor) -> QuerySet[Clinic]:
    return Clinic.objects.for_organization(actor.organization_id)


def get_clinic(actor: Actor, clinic_id: uuid.UUID | str) -> Clinic:
    return clinics_for(actor).one(clinic_id, "clinic")  # type: ignore[attr-defined]


def _clean_clinic(actor: Actor, data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    unknown = sorted(set(data) - set(CLINIC_FIELDS))
    errors.extend(FieldError(n, "This field is not part of a clinic.") for n in unknown)
    clean: dict[str, Any] = {}
    for name in CLINIC_FIELDS:
        if name not in data:
            if name == "name" and not partial:
                errors.append(FieldError("name", "This field is required."))
            continue
        value = data[name]
        if name == "is_active":
            clean[name] = bool(value)
        elif name == "phone":
            try:
                org = Organization.objects.get(pk=actor.organization_id)
                clean[name] = normalise_phone(value or "", org.country)
            except ValueError as exc:
                errors.append(FieldError("phone", str(exc)))
        elif name == "timezone":
            try:
                validate_timezone(value or "")
                clean[name] = value
            except ValidationError as exc:
                errors.append(FieldError("timezone", exc.messages[0]))
        else:
            clean[name] = (value or "").strip()
            if name == "name" and not clean[name]:
                errors.append(FieldError("name", "This field is required."))
    if errors:
        raise ValidationFailed(errors)
    return clean


def _unique_name(actor: Actor, name: str | None, exclude: uuid.UUID | None = None) -> None:
    others = clinics_for(actor).exclude(pk=exclude) if exclude else clinics_for(actor)
    if name and others.filter(name__iexact=name).exists():
        raise ValidationFailed.single("name", "Another clinic already has this name.")


def create_clinic(actor: Actor, data: Mapping[str, Any]) -> Clinic:
    actor.require(Permission.MANAGE_CLINICS)
    clean = _clean_clinic(actor, data, partial=False)
    with transaction.atomic():
        _unique_name(actor, clean["name"])
        clinic = Clinic.objects.create(organization_id=actor.organization_id, **clean)
        record(actor, Action.CREATE, "Clinic", clinic.pk)
    return clinic


def update_clinic(actor: Actor, clinic_id: uuid.UUID | str, data: Mapping[str, Any]) -> Clinic:
    actor.require(Permission.MANAGE_CLINICS)
    clean = _clean_clinic(actor, data, partial=True)
    with transaction.atomic():
        clinic = get_clinic(actor, clinic_id)
        _unique_name(actor, clean.get("name"), exclude=clinic.pk)
        for name, value in clean.items():
            setattr(clinic, name, value)
        clinic.save()
        record(actor, Action.UPDATE, "Clinic", clinic.pk, detail={"fields": sorted(clean)})
    return clinic


def set_opening_hours(
    actor: Actor, clinic_id: uuid.UUID | str, intervals: Iterable[tuple[int, time, time]]
) -> list[OpeningHours]:
    """Replace the clinic's week: (weekday 0=Monday, opens, closes) intervals, not overlapping."""
    actor.require(Permission.MANAGE_CLINICS)
    rows = sorted(intervals)
    errors: list[FieldError] = []
    for index, (weekday, opens, closes) in enumerate(rows):
        if not 0 <= weekday <= 6:
            errors.append(FieldError(f"hours[{index}].weekday", "Weekday is 0 (Monday) to 6 (Sunday)."))
        if closes <= opens:
            errors.append(FieldError(f"hours[{index}].closes", "Closing time must be after opening time."))
        if index and rows[index - 1][0] == weekday and rows[index - 1][2] > opens:
            errors.append(FieldError(f"hours[{index}].opens", "Intervals on the same day overlap."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        clinic = get_clinic(actor, clinic_id)
        OpeningHours.objects.filter(clinic=clinic).delete()
        created = OpeningHours.objects.bulk_create(
            OpeningHours(organization_id=actor.organization_id, clinic=clinic, weekday=w, opens=o, closes=c)
            for w, o, c in rows
        )
        record(actor, Action.UPDATE, "Clinic", clinic.pk, detail={"fields": ["opening_hours"]})
    return created


ROOM_FIELDS = ("name", "kind", "is_active", "notes")


def save_room(
    actor: Actor, clinic_id: uuid.UUID | str, data: Mapping[str, Any], room_id: uuid.UUID | str | None = None
) -> Room:
    """Create a room (no `room_id`) or change one."""
    actor.require(Permission.MANAGE_CLINICS)
    errors: list[FieldError] = []
    name = (data.get("name") or "").strip() if "name" in data or room_id is None else None
    if name is not None and not name:
        errors.append(FieldError("name", "This field is required."))
    kind = data.get("kind")
    if kind is not None and kind not in Room.Kind.values:
        errors.append(FieldError("kind", f"Choose one of: {', '.join(Room.Kind.values)}."))
    errors.extend(
        FieldError(n, "This field is not part of a room.") for n in sorted(set(data) - set(ROOM_FIELDS))
    )
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        clinic = get_clinic(actor, clinic_id)
        rooms = Room.objects.for_organization(actor.organization_id).filter(clinic=clinic)
        if room_id is None:
            room = Room(organization_id=actor.organization_id, clinic=clinic)
        else:
            room = rooms.one(room_id, "room")
        if name is not None:
            if rooms.filter(name__iexact=name).exclude(pk=room.pk).exists():
                raise ValidationFailed.single("name", "Another room in this clinic has this name.")
            room.name = name
        if kind is not None:
            room.kind = kind
        if "is_active" in data:
            room.is_active = bool(data["is_active"])
        if "notes" in data:
            room.notes = (data["notes"] or "").strip()[:300]
        action = Action.CREATE if room_id is None else Action.UPDATE
        room.save()
        record(actor, action, "Room", room.pk)
    return room
