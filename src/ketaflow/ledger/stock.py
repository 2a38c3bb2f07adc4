"""Moving controlled stock: receipts, administrations, witnessed waste and transfers.

Every movement goes through `write_entry`, which locks the lot's balance in its location, applies
`controlled.next_balance` (so a balance never goes below zero: the entry is refused, naming
`quantity_mg`) and appends the entry with the balance after it, all in the caller's transaction with
its audit record. Nothing here updates or deletes an entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import ROLE_PERMISSIONS, Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.controlled import EntryKind, LedgerError, next_balance
from ketaflow.validation import FieldError, ValidationFailed

from .models import Balance, Entry, Lot, Product, StorageLocation


def quantity(value: Any, field: str = "quantity_mg") -> Decimal:
    """A positive Decimal of mg, or ValidationFailed naming `field`."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single(field, "Enter a quantity in mg.") from exc
    if not number.is_finite() or number <= 0:
        raise ValidationFailed.single(field, "Enter a quantity above zero.")
    return number


@dataclass(frozen=True)
class Movement:
    """What one entry records besides its lot, place and quantity."""

    occurred_at: datetime | None = None
    witness_id: int | None = None
    patient_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    supplier: str = ""
    invoice_number: str = ""
    transfer: uuid.UUID | None = None
    reason: str = ""


def write_entry(
    actor: Actor,
    kind: EntryKind,
    lot: Lot,
    location: StorageLocation,
    quantity_mg: Decimal,
    movement: Movement = Movement(),
) -> Entry:
    """Append one entry and move the balance; must run inside the caller's transaction. Raises
    ValidationFailed('quantity_mg') when the balance would go below zero, ('witness_id') when a
    waste or adjustment has no second person (or the same person) as witness."""
    actor.require(Permission.HANDLE_CONTROLLED)
    if actor.user_id is None:
        raise ValidationFailed.single(None, "A named person records every controlled-substance entry.")
    if kind.needs_witness:
        if movement.witness_id is None:
            raise ValidationFailed.single(
                "witness_id", f"A {kind.label.lower()} needs a second person as witness."
            )
        if movement.witness_id == actor.user_id:
            raise ValidationFailed.single("witness_id", "The witness must be someone other than you.")
        if not _is_handler(actor, movement.witness_id):
            raise ValidationFailed.single(
                "witness_id", "Choose a colleague who handles controlled substances."
            )
    balance, _ = Balance.objects.select_for_update().get_or_create(
        organization_id=actor.organization_id, lot=lot, location=location
    )
    try:
        after = next_balance(balance.quantity_mg, kind, quantity_mg)
    except LedgerError as exc:
        raise ValidationFailed([FieldError(exc.field, exc.message)]) from exc
    change = after - balance.quantity_mg
    balance.quantity_mg = after
    balance.save(update_fields=["quantity_mg", "updated_at"])
    entry = Entry.objects.create(
        organization_id=actor.organization_id,
        kind=kind.value,
        lot=lot,
        location=location,
        change_mg=change,
        balance_after_mg=after,
        occurred_at=movement.occurred_at or timezone.now(),
        recorded_by_id=actor.user_id,
        witness_id=movement.witness_id,
        patient_id=movement.patient_id,
        session_id=movement.session_id,
        supplier=movement.supplier,
        invoice_number=movement.invoice_number,
        transfer=movement.transfer,
        reason=movement.reason,
    )
    record(
        actor,
        Action.CREATE,
        "LedgerEntry",
        entry.pk,
        patient_id=movement.patient_id,
        detail={
            "kind": kind.value,
            "lot": str(lot.pk),
            "location": str(location.pk),
            "change_mg": f"{change:f}",
        },
    )
    return entry


def _is_handler(actor: Actor, user_id: int) -> bool:
    roles = [r for r in Role if Permission.HANDLE_CONTROLLED in ROLE_PERMISSIONS[r]]
    return (
        StaffMember.objects.for_organization(actor.organization_id)
        .filter(user_id=user_id, user__is_active=True, role_rows__role__in=[r.value for r in roles])
        .exists()
    )


def lot_of(actor: Actor, lot_id: Any) -> Lot:
    found: Lot = (
        Lot.objects.for_organization(actor.organization_id).select_related("product").one(lot_id, "lot")
    )
    return found


def location_of(actor: Actor, location_id: Any) -> StorageLocation:
    found: StorageLocation = StorageLocation.objects.for_organization(actor.organization_id).one(
        location_id, "storage location"
    )
    return found


def receive(
    actor: Actor,
    *,
    product_id: Any,
    lot_number: str,
    expires_on: date,
    supplier: str,
    invoice_number: str,
    quantity_mg: Any,
    location_id: Any,
    occurred_at: datetime | None = None,
) -> Entry:
    """A delivery from a supplier into a location: the lot is created on first receipt (or must
    match its recorded expiry and supplier afterwards). ValidationFailed names the bad field."""
    actor.require(Permission.HANDLE_CONTROLLED)
    errors: list[FieldError] = []
    if not lot_number.strip():
        errors.append(FieldError("lot_number", "Enter the lot number."))
    if not isinstance(expires_on, date):
        errors.append(FieldError("expires_on", "Enter the expiry date."))
    if not supplier.strip():
        errors.append(FieldError("supplier", "Enter the supplier."))
    if not invoice_number.strip():
        errors.append(FieldError("invoice_number", "Enter the supplier's invoice number."))
    if errors:
        raise ValidationFailed(errors)
    amount = quantity(quantity_mg)
    with transaction.atomic():
        product: Product = Product.objects.for_organization(actor.organization_id).one(product_id, "product")
        location = location_of(actor, location_id)
        lot, created = Lot.objects.get_or_create(
            organization_id=actor.organization_id,
            product=product,
            lot_number=lot_number.strip(),
            defaults={"expires_on": expires_on, "supplier": supplier.strip()},
        )
        if not created and lot.expires_on != expires_on:
            raise ValidationFailed.single(
                "expires_on", f"Lot {lot.lot_number} is recorded as expiring {lot.expires_on:%Y-%m-%d}."
            )
        return write_entry(
            actor,
            EntryKind.RECEIPT,
            lot,
            location,
            amount,
            Movement(
                occurred_at=occurred_at, supplier=supplier.strip(), invoice_number=invoice_number.strip()
            ),
        )


def administer(
    actor: Actor,
    *,
    lot: Lot,
    location: StorageLocation,
    quantity_mg: Decimal,
    patient_id: uuid.UUID,
    session_id: uuid.UUID,
    occurred_at: datetime | None = None,
) -> Entry:
    """Stock drawn for one patient's session (a session's preparation, a controlled rescue dose);
    runs inside the caller's transaction."""
    return write_entry(
        actor,
        EntryKind.ADMINISTRATION,
        lot,
        location,
        quantity_mg,
        Movement(occurred_at=occurred_at, patient_id=patient_id, session_id=session_id),
    )


def waste(
    actor: Actor,
    *,
    lot_id: Any,
    location_id: Any,
    quantity_mg: Any,
    witness_id: int | None,
    reason: str,
    session_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Entry:
    """Drug discarded (left in a syringe or bag, a broken vial) before a second person."""
    if not (reason or "").strip():
        raise ValidationFailed.single("reason", "Say why the drug was wasted.")
    amount = quantity(quantity_mg)
    with transaction.atomic():
        return write_entry(
            actor,
            EntryKind.WASTE,
            lot_of(actor, lot_id),
            location_of(actor, location_id),
            amount,
            Movement(
                occurred_at=occurred_at,
                witness_id=witness_id,
                session_id=session_id,
                patient_id=patient_id,
                reason=reason.strip(),
            ),
        )


def transfer(
    actor: Actor,
    *,
    lot_id: Any,
    from_location_id: Any,
    to_location_id: Any,
    quantity_mg: Any,
    reason: str = "",
) -> tuple[Entry, Entry]:
    """Stock moved between two locations: an out and an in entry sharing one transfer id."""
    amount = quantity(quantity_mg)
    with transaction.atomic():
        lot = lot_of(actor, lot_id)
        source, target = location_of(actor, from_location_id), location_of(actor, to_location_id)
        if source.pk == target.pk:
            raise ValidationFailed.single(
                "to_location_id", "Choose a different location to move the stock to."
            )
        pair = uuid.uuid4()
        out = write_entry(
            actor, EntryKind.TRANSFER_OUT, lot, source, amount, Movement(transfer=pair, reason=reason)
        )
        into = write_entry(
            actor, EntryKind.TRANSFER_IN, lot, target, amount, Movement(transfer=pair, reason=reason)
        )
        return out, into
