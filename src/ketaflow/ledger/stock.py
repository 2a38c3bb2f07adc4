"""Moving controlled stock: receipts, administrations, witnessed waste and transfers.

Every movement goes through `write_entry`, which locks the lot's balance in its location, applies
`controlled.next_balance` (so a balance never goes below zero: the entry is refused, naming
`quantity_mg`) and appends the entry with the balance after it, all in the caller's transaction with
its audit record. Nothing here updates or deletes an entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import ROLE_PERMISSIONS, Permission, Role
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.controlled import EntryKind, LedgerError, next_balance
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .models import Balance, Entry, Lot, Product, StorageLocation

MOST_MG = Decimal("99999999.999")
MG_STEP = Decimal("0.001")
CLOCK_SKEW = timedelta(minutes=2)


def quantity(value: Any, field: str = "quantity_mg") -> Decimal:
    """A positive Decimal of mg (at most 3 decimal places), or ValidationFailed naming `field`."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single(field, "Enter a quantity in mg.") from exc
    if not number.is_finite() or number <= 0:
        raise ValidationFailed.single(field, "Enter a quantity above zero.")
    if number > MOST_MG:
        raise ValidationFailed.single(field, "That quantity is too large.")
    if number != number.quantize(MG_STEP):
        raise ValidationFailed.single(field, "Give the quantity to at most 3 decimal places (0.001 mg).")
    return number


def moment(value: datetime | None, field: str = "occurred_at") -> datetime:
    """`value` (or now when None): timezone-aware and not in the future (2 minutes of clock skew
    allowed); ValidationFailed naming `field` otherwise."""
    now = timezone.now()
    if value is None:
        return now
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationFailed.single(field, "Give the time with its time zone.")
    if value > now + CLOCK_SKEW:
        raise ValidationFailed.single(field, "That time is in the future.")
    return value


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
        check_witness(
            actor, movement.witness_id, missing=f"A {kind.label.lower()} needs a second person as witness."
        )
    occurred_at = moment(movement.occurred_at)
    quantity_mg = Decimal(str(quantity_mg)).quantize(MG_STEP, rounding=ROUND_HALF_UP)
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
        occurred_at=occurred_at,
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


def handlers_of(organization_id: uuid.UUID) -> QuerySet[StaffMember]:
    """Active staff whose role lets them handle controlled substances: the possible witnesses."""
    roles = [r.value for r in Role if Permission.HANDLE_CONTROLLED in ROLE_PERMISSIONS[r]]
    return (
        StaffMember.objects.for_organization(organization_id)
        .filter(user__is_active=True, role_rows__role__in=roles)
        .select_related("user")
        .distinct()
    )


def is_handler(actor: Actor, user_id: int) -> bool:
    return handlers_of(actor.organization_id).filter(user_id=user_id).exists()


def check_witness(actor: Actor, witness_id: int | None, *, missing: str = "") -> None:
    """ValidationFailed('witness_id') when the witness is the actor or not a colleague who handles
    controlled substances; when there is none, only if `missing` says why one is needed."""
    if witness_id is None:
        if missing:
            raise ValidationFailed.single("witness_id", missing)
        return
    if witness_id == actor.user_id:
        raise ValidationFailed.single("witness_id", "The witness must be someone other than you.")
    if not is_handler(actor, witness_id):
        raise ValidationFailed.single("witness_id", "Choose a colleague who handles controlled substances.")


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
    quantity_mg: Any = None,
    location_id: Any,
    occurred_at: datetime | None = None,
    units: Any = None,
) -> Entry:
    """A delivery from a supplier into a location, as mg or as whole units (vials, devices) of the
    product. The lot is created on first receipt and must keep its recorded expiry afterwards; an
    expired lot, an inactive product or location are refused. ValidationFailed names the bad field."""
    actor.require(Permission.HANDLE_CONTROLLED)
    errors: list[FieldError] = []
    lot_number, supplier = (lot_number or "").strip(), (supplier or "").strip()
    invoice_number = (invoice_number or "").strip()
    if not lot_number:
        errors.append(FieldError("lot_number", "Enter the lot number."))
    if not isinstance(expires_on, date):
        errors.append(FieldError("expires_on", "Enter the expiry date."))
    elif expires_on < timezone.localdate():
        errors.append(FieldError("expires_on", "This lot has expired; expired stock is not received."))
    if not supplier:
        errors.append(FieldError("supplier", "Enter the supplier."))
    if not invoice_number:
        errors.append(FieldError("invoice_number", "Enter the supplier's invoice number."))
    if (quantity_mg in (None, "")) == (units in (None, "")):
        errors.append(FieldError("quantity_mg", "Enter the quantity received in mg, or the number of units."))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        product: Product = Product.objects.for_organization(actor.organization_id).one(product_id, "product")
        location = location_of(actor, location_id)
        if not product.is_active:
            raise ValidationFailed.single("product_id", f"{product.name} is no longer stocked.")
        if not location.is_active:
            raise ValidationFailed.single("location_id", f"{location.name} is no longer in use.")
        amount = quantity(quantity_mg) if units in (None, "") else units_as_mg(product, units)
        lot, created = Lot.objects.get_or_create(
            organization_id=actor.organization_id,
            product=product,
            lot_number=lot_number,
            defaults={"expires_on": expires_on, "supplier": supplier},
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
            Movement(occurred_at=occurred_at, supplier=supplier, invoice_number=invoice_number),
        )


def units_as_mg(product: Product, units: Any, field: str = "units") -> Decimal:
    """Whole units (vials, devices) of `product` as mg; ValidationFailed naming `field`."""
    try:
        count = int(str(units).strip())
    except ValueError as exc:
        raise ValidationFailed.single(field, "Enter a whole number of units.") from exc
    if not 0 < count <= 100_000:
        raise ValidationFailed.single(field, "Enter a number of units above zero.")
    return quantity(product.mg_per_unit * count, field)


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
    """Drug discarded (left in a syringe or bag, a broken vial) before a second person. Waste of a
    session's dose names the session (and so its patient); once the session's dosing has ended its
    reconciliation is refreshed in the same transaction, so a flagged dose clears when the waste
    accounts for it. ValidationFailed names reason, quantity_mg, witness_id or session_id."""
    if not (reason or "").strip():
        raise ValidationFailed.single("reason", "Say why the drug was wasted.")
    amount = quantity(quantity_mg)
    with transaction.atomic():
        session = _session_of(actor, session_id)
        entry = write_entry(
            actor,
            EntryKind.WASTE,
            lot_of(actor, lot_id),
            location_of(actor, location_id),
            amount,
            Movement(
                occurred_at=occurred_at,
                witness_id=witness_id,
                session_id=session.pk if session else None,
                patient_id=session.patient_id if session else patient_id,
                reason=reason.strip()[:300],
            ),
        )
        if session is not None and session.reconciliation is not None:
            from ketaflow.sessions.flow_events import refresh_reconciliation

            refresh_reconciliation(session)
        return entry


def _session_of(actor: Actor, session_id: Any) -> Any:
    """The organization's session, locked (None when no id is given); ValidationFailed otherwise."""
    if session_id is None:
        return None
    from ketaflow.sessions.models import TreatmentSession

    try:
        key = uuid.UUID(str(session_id))
    except ValueError:
        key = None
    found = (
        TreatmentSession.objects.for_organization(actor.organization_id)
        .select_for_update(of=("self",))
        .filter(pk=key)
        .first()
    )
    if found is None:
        raise ValidationFailed.single("session_id", "No such session in your practice.")
    return found


def _place(actor: Actor, location_id: Any, field: str) -> StorageLocation:
    """`location_of`, refused on `field` (one of a transfer's two locations) instead of NotFound."""
    try:
        return location_of(actor, location_id)
    except NotFound as exc:
        raise ValidationFailed.single(field, "No such storage location in your practice.") from exc


def transfer(
    actor: Actor,
    *,
    lot_id: Any,
    from_location_id: Any,
    to_location_id: Any,
    quantity_mg: Any,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> tuple[Entry, Entry]:
    """Stock moved between two locations: an out and an in entry sharing one transfer id.
    ValidationFailed names from_location_id or to_location_id for a location not of the practice."""
    amount = quantity(quantity_mg)
    with transaction.atomic():
        source = _place(actor, from_location_id, "from_location_id")
        target = _place(actor, to_location_id, "to_location_id")
        lot = lot_of(actor, lot_id)
        if source.pk == target.pk:
            raise ValidationFailed.single(
                "to_location_id", "Choose a different location to move the stock to."
            )
        if not target.is_active:
            raise ValidationFailed.single("to_location_id", f"{target.name} is no longer in use.")
        pair = uuid.uuid4()
        out = write_entry(
            actor,
            EntryKind.TRANSFER_OUT,
            lot,
            source,
            amount,
            Movement(occurred_at=occurred_at, transfer=pair, reason=(reason or "").strip()[:300]),
        )
        into = write_entry(
            actor,
            EntryKind.TRANSFER_IN,
            lot,
            target,
            amount,
            Movement(occurred_at=occurred_at, transfer=pair, reason=(reason or "").strip()[:300]),
        )
        return out, into


def adjust(
    actor: Actor,
    *,
    lot: Lot,
    location: StorageLocation,
    change_mg: Decimal,
    witness_id: int | None,
    reason: str,
    occurred_at: datetime | None = None,
) -> Entry:
    """A witnessed correction of the balance by a signed `change_mg` (a reconciled count difference);
    runs inside the caller's transaction. ValidationFailed names reason, witness_id or quantity_mg."""
    if not (reason or "").strip():
        raise ValidationFailed.single("reason", "Give the reason for the adjustment.")
    return write_entry(
        actor,
        EntryKind.ADJUSTMENT,
        lot,
        location,
        change_mg,
        Movement(occurred_at=occurred_at, witness_id=witness_id, reason=reason.strip()[:300]),
    )
