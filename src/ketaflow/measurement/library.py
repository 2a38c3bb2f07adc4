"""The instruments an organization can use: the built-ins plus any licensed definitions it loaded."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.changes import announce
from ketaflow.clinical.instruments import DefinitionError, Instrument, builtin_instruments, parse_definition
from ketaflow.validation import NotFound, ValidationFailed

from .models import ClinicInstrument, MeasurementSettings


def settings_for(organization_id: uuid.UUID) -> MeasurementSettings:
    found, _created = MeasurementSettings.objects.get_or_create(organization_id=organization_id)
    return found


def instruments_for(organization_id: uuid.UUID) -> dict[str, Instrument]:
    """Every instrument this organization may administer, by id. A clinic definition with a built-in id
    is refused at load, so the built-in meaning of `phq9` can never be redefined."""
    found = dict(builtin_instruments())
    rows = (
        ClinicInstrument.objects.for_organization(organization_id)
        .filter(is_active=True)
        .order_by("loaded_at")
    )
    for row in rows:
        found[row.instrument_id] = parse_definition(row.document)
    return found


def instrument_for(organization_id: uuid.UUID, instrument_id: str) -> Instrument:
    """The instrument, or NotFound (an unknown id, or another organization's definition)."""
    try:
        return instruments_for(organization_id)[instrument_id]
    except KeyError as exc:
        raise NotFound("instrument") from exc


def load_clinic_instrument(actor: Actor, document: dict[str, Any]) -> ClinicInstrument:
    """Validate and store a clinic's own definition; a newer version replaces the active one."""
    actor.require(Permission.MANAGE_CLINICS)
    try:
        instrument = parse_definition(document)
    except DefinitionError as exc:
        raise ValidationFailed.single("document", str(exc)) from exc
    if instrument.id in builtin_instruments():
        raise ValidationFailed.single("id", f"{instrument.id} is a built-in instrument; choose another id.")
    try:
        with transaction.atomic():
            scope = ClinicInstrument.objects.for_organization(actor.organization_id)
            retired = list(scope.filter(instrument_id=instrument.id, is_active=True))
            scope.filter(pk__in=[r.pk for r in retired]).update(is_active=False)
            announce(ClinicInstrument, retired)
            row = ClinicInstrument.objects.create(
                organization_id=actor.organization_id,
                instrument_id=instrument.id,
                version=instrument.version,
                document=document,
                loaded_by_id=actor.user_id,
            )
            record(
                actor,
                Action.CREATE,
                "ClinicInstrument",
                row.pk,
                detail={"instrument": instrument.id, "version": instrument.version},
            )
    except IntegrityError as exc:
        raise ValidationFailed.single(
            "version", f"{instrument.id} version {instrument.version} is already loaded; raise the version."
        ) from exc
    return row
