"""The protocol library: the shipped protocols plus the clinic's own numbered versions.

Per key the **current** protocol is the newest clinic version that is not retired, else the shipped
one of that key. A clinic never edits a version in place: `clone_protocol` validates an edited
definition (`clinical.protocols.parse_protocol`) and saves it as the next number for its key, so a
plan made earlier keeps the copy it was made from. Reading the library is not patient data, so it is
not audited; every write is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.protocols import Protocol, ProtocolError, builtin_protocols, find, parse_protocol
from ketaflow.validation import Forbidden, NotFound, ValidationFailed

from .models import ClinicProtocol

SHIPPED = "shipped"
CLINIC = "clinic"
NOTE_LIMIT = 300


@dataclass(frozen=True)
class Version:
    """One version of a key: the shipped one, or a clinic row (with who saved it and why)."""

    protocol: Protocol
    source: str  # "shipped" or "clinic"
    number: int | None = None
    based_on: str = ""
    change_note: str = ""
    created_by: str = ""
    created_at: datetime | None = None
    retired_at: datetime | None = None
    retired_reason: str = ""

    @property
    def version(self) -> str:
        return self.protocol.version

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True)
class LibraryEntry:
    """A key of the library: its current version and every version, newest first."""

    key: str
    current: Version
    history: tuple[Version, ...] = field(default_factory=tuple)

    @property
    def protocol(self) -> Protocol:
        return self.current.protocol

    @property
    def source(self) -> str:
        return self.current.source

    def named(self, version: str | None) -> Version:
        """The version called `version` (the current one when None or blank); NotFound otherwise."""
        if not version:
            return self.current
        found = next((v for v in self.history if v.version == version), None)
        if found is None:
            raise NotFound("protocol version")
        return found


def _clinic_version(row: ClinicProtocol) -> Version:
    by = row.created_by
    return Version(
        protocol=parse_protocol(row.definition, version=row.version),
        source=CLINIC,
        number=row.number,
        based_on=row.based_on,
        change_note=row.change_note,
        created_by=(by.get_full_name() or by.username) if by else "",
        created_at=row.created_at,
        retired_at=row.retired_at,
        retired_reason=row.retired_reason,
    )


def _rows(organization_id: uuid.UUID, key: str | None = None) -> list[ClinicProtocol]:
    rows = ClinicProtocol.objects.for_organization(organization_id).select_related("created_by")
    if key is not None:
        rows = rows.filter(key=key)
    return list(rows.order_by("key", "-number"))


def _entry(key: str, clinic: list[Version], shipped: Protocol | None) -> LibraryEntry | None:
    history = [*clinic, *([Version(shipped, SHIPPED)] if shipped else [])]
    live = [v for v in history if not v.is_retired]
    if not live:
        return None
    return LibraryEntry(key, live[0], tuple(history))


def library(organization_id: uuid.UUID) -> list[LibraryEntry]:
    """Every key with a current version, shipped keys first in file order, then the clinic's own."""
    shipped = {p.key: p for p in builtin_protocols()}
    clinic: dict[str, list[Version]] = {}
    for row in _rows(organization_id):
        clinic.setdefault(row.key, []).append(_clinic_version(row))
    keys = [*shipped, *sorted(k for k in clinic if k not in shipped)]
    entries = [_entry(key, clinic.get(key, []), shipped.get(key)) for key in keys]
    return [e for e in entries if e is not None]


def library_entry(organization_id: uuid.UUID, key: str) -> LibraryEntry:
    """One key with its history; NotFound when neither shipped nor the clinic's own (or all retired)."""
    clinic = [_clinic_version(r) for r in _rows(organization_id, key)]
    found = _entry(key, clinic, find(builtin_protocols(), key))
    if found is None:
        raise NotFound("protocol")
    return found


def get_protocol(organization_id: uuid.UUID, key: str, version: str | None = None) -> Protocol:
    """The current protocol of `key`, or the named version ('clinic-2', or the shipped file's
    version); a retired clinic version is still readable by its name. NotFound otherwise."""
    if version is None:
        return library_entry(organization_id, key).protocol
    if version.startswith("clinic-"):
        number = version.removeprefix("clinic-")
        row = (
            ClinicProtocol.objects.for_organization(organization_id)
            .filter(key=key, number=int(number) if number.isdigit() else -1)
            .first()
        )
        if row is None:
            raise NotFound("protocol version")
        return parse_protocol(row.definition, version=row.version)
    shipped = next((p for p in builtin_protocols() if p.key == key and p.version == version), None)
    if shipped is None:
        raise NotFound("protocol version")
    return shipped


def validate_definition(definition: Mapping[str, Any], *, version: str = "draft") -> Protocol:
    """A parsed protocol, or ValidationFailed naming the dotted field (`dose.cap_mg`)."""
    try:
        return parse_protocol(definition, version=version)
    except ProtocolError as exc:
        raise ValidationFailed.single(exc.field, exc.message) from exc


def clone_protocol(
    actor: Actor,
    key: str,
    *,
    version: str | None = None,
    definition: Mapping[str, Any],
    change_note: str,
) -> ClinicProtocol:
    """Save an edited copy of `key` (at `version`, default current) as the next clinic version of the
    definition's key (the same key unless the definition names another). SIGN_PLANS; ValidationFailed
    naming the field for a bad definition or a missing change note; NotFound for an unknown key."""
    actor.require(Permission.SIGN_PLANS)
    if actor.user_id is None:
        raise Forbidden("A prescriber saves protocol versions (the history names who did).")
    author: int = actor.user_id
    source = get_protocol(actor.organization_id, key, version)
    note = (change_note or "").strip()
    if not note:
        raise ValidationFailed.single("change_note", "Say what changed and why (shown in the history).")
    if len(note) > NOTE_LIMIT:
        raise ValidationFailed.single("change_note", f"Keep the note to {NOTE_LIMIT} characters.")
    data = dict(definition)
    data.setdefault("key", source.key)
    parsed = validate_definition(data)
    with transaction.atomic():
        scope = ClinicProtocol.objects.for_organization(actor.organization_id).filter(key=parsed.key)
        # Lock this key's rows so two saves cannot take the same number (the unique constraint backs it).
        list(scope.select_for_update().values_list("pk", flat=True))
        number = (scope.aggregate(top=Max("number"))["top"] or 0) + 1
        row = ClinicProtocol.objects.create(
            organization_id=actor.organization_id,
            key=parsed.key,
            number=number,
            name=parsed.name,
            route=parsed.route.value,
            definition=data,
            based_on=f"{source.key}@{source.version}",
            change_note=note,
            created_by_id=author,
        )
        record(actor, Action.CREATE, "ClinicProtocol", row.pk, detail={
            "key": row.key, "number": number, "based_on": row.based_on,
        })
    return row


def retire_protocol(actor: Actor, key: str, number: int, reason: str) -> ClinicProtocol:
    """Retire one clinic version (new plans stop using it; plans made from it keep their copy).
    SIGN_PLANS; ValidationFailed without a reason or when already retired; NotFound otherwise."""
    actor.require(Permission.SIGN_PLANS)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.single("reason", "Say why this version is retired.")
    if len(reason) > NOTE_LIMIT:
        raise ValidationFailed.single("reason", f"Keep the reason to {NOTE_LIMIT} characters.")
    with transaction.atomic():
        row = (
            ClinicProtocol.objects.for_organization(actor.organization_id)
            .select_for_update()
            .filter(key=key, number=number)
            .first()
        )
        if row is None:
            raise NotFound("protocol version")
        if row.retired_at is not None:
            raise ValidationFailed.single(None, f"Version clinic-{number} of {key} is already retired.")
        row.retired_at = timezone.now()
        row.retired_reason = reason
        row.retired_by_id = actor.user_id
        row.save(update_fields=["retired_at", "retired_reason", "retired_by"])
        record(actor, Action.UPDATE, "ClinicProtocol", row.pk, detail={
            "key": key, "number": number, "event": "retired",
        })
    return row
