"""Counting what is on the shelf, and reconciling a difference.

`record_count` compares each lot counted in a location with its balance (every lot holding stock
there must be counted). When every line agrees the count is closed at once; otherwise it stays open
as a discrepancy until `reconcile` records, for each differing line, the reason and a witnessed
adjustment entry that brings the balance to what was counted. Nothing is ever overwritten: the
count keeps what was expected and what was found, the adjustment is a new entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.controlled import LedgerError
from ketaflow.clinical.controlled import count as compare
from ketaflow.validation import FieldError, ValidationFailed

from .models import Balance, Count, CountLine, Entry, Lot
from .stock import MG_STEP, MOST_MG, adjust, check_witness, location_of, moment


def counted_quantity(value: Any, field: str) -> Decimal:
    """A counted amount in mg: zero or more, at most 3 decimal places; ValidationFailed naming `field`."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single(field, "Enter the amount counted in mg (0 when none).") from exc
    if not number.is_finite():  # NaN would not even compare with zero
        raise ValidationFailed.single(field, "Enter the amount counted in mg (0 when none).")
    try:
        compare(Decimal(0), number)
    except LedgerError as exc:
        raise ValidationFailed.single(field, exc.message) from exc
    if number > MOST_MG or number != number.quantize(MG_STEP):
        raise ValidationFailed.single(field, "Enter the amount in mg, to at most 3 decimal places.")
    return number


def record_count(
    actor: Actor,
    *,
    location_id: Any,
    kind: str,
    counted: Mapping[Any, Any],
    witness_id: int | None = None,
    counted_at: Any = None,
) -> Count:
    """Record a count of one location: `counted` maps lot id -> mg found. Returns the Count with its
    lines; its status is open when any line differs from the balance. ValidationFailed names
    `kind`, `witness_id` or `counted.<lot id>` (a lot with stock left uncounted, a bad amount)."""
    actor.require(Permission.HANDLE_CONTROLLED)
    if actor.user_id is None:
        raise ValidationFailed.single(None, "A named person records every count.")
    if kind not in Count.Kind.values:
        raise ValidationFailed.single("kind", "Choose periodic or biennial.")
    check_witness(actor, witness_id)
    when = moment(counted_at, "counted_at")
    with transaction.atomic():
        location = location_of(actor, location_id)
        expected = {
            b.lot_id: b.quantity_mg
            for b in Balance.objects.select_for_update().filter(
                organization_id=actor.organization_id, location=location
            )
        }
        found, errors = _parse_counted(actor, counted)
        refused = {error.field for error in errors}
        for lot_id, amount in expected.items():
            field = f"counted.{lot_id}"
            if amount > 0 and lot_id not in found and field not in refused:
                errors.append(FieldError(field, "Count this lot (enter 0 if none is there)."))
        if errors:
            raise ValidationFailed(errors)
        count = Count.objects.create(
            organization_id=actor.organization_id,
            kind=kind,
            location=location,
            counted_at=when,
            counted_by_id=actor.user_id,
            witness_id=witness_id,
            status=Count.Status.OPEN,
        )
        lines = []
        for lot_id, counted_mg in found.items():
            result = compare(expected.get(lot_id, Decimal(0)), counted_mg)
            lines.append(
                CountLine(
                    organization_id=actor.organization_id,
                    count=count,
                    lot_id=lot_id,
                    expected_mg=result.expected_mg,
                    counted_mg=result.counted_mg,
                    difference_mg=result.difference_mg,
                )
            )
        CountLine.objects.bulk_create(lines)
        differing = [line for line in lines if line.difference_mg != 0]
        if not differing:
            count.status = Count.Status.RECONCILED
            count.reconciled_at, count.reconciled_by_id = when, actor.user_id
            count.save(update_fields=["status", "reconciled_at", "reconciled_by"])
        record(
            actor,
            Action.CREATE,
            "Count",
            count.pk,
            detail={
                "kind": kind,
                "location": str(location.pk),
                "lines": len(lines),
                "differences": {str(line.lot_id): f"{line.difference_mg:f}" for line in differing},
            },
        )
    return count


def _parse_counted(
    actor: Actor, counted: Mapping[Any, Any]
) -> tuple[dict[uuid.UUID, Decimal], list[FieldError]]:
    errors: list[FieldError] = []
    wanted: dict[uuid.UUID, Any] = {}
    for key, value in counted.items():
        try:
            wanted[uuid.UUID(str(key))] = value
        except ValueError:
            errors.append(FieldError(f"counted.{key}", "Not a lot of your practice."))
    known = set(
        Lot.objects.for_organization(actor.organization_id).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    found: dict[uuid.UUID, Decimal] = {}
    for lot_id, value in wanted.items():
        field = f"counted.{lot_id}"
        if lot_id not in known:
            errors.append(FieldError(field, "Not a lot of your practice."))
            continue
        try:
            found[lot_id] = counted_quantity(value, field)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return found, errors


def reconcile(
    actor: Actor,
    count_id: Any,
    *,
    resolutions: Mapping[Any, str],
    witness_id: int | None,
) -> list[Entry]:
    """Close an open count: each differing line (by line id) gets its reason and a witnessed
    adjustment entry of the difference. Returns the adjustments. ValidationFailed names
    `resolutions.<line id>` (no reason, or the adjustment would leave a negative balance because
    stock has moved since the count) or `witness_id`; nothing is written then."""
    actor.require(Permission.HANDLE_CONTROLLED)
    check_witness(actor, witness_id, missing="A second person must witness the adjustment.")
    reasons = {str(key): (value or "").strip() for key, value in resolutions.items()}
    with transaction.atomic():
        count: Count = (
            Count.objects.for_organization(actor.organization_id)
            .select_for_update()
            .select_related("location")
            .one(count_id, "count")
        )
        if count.status != Count.Status.OPEN:
            raise ValidationFailed.single(None, "This count is already reconciled.")
        lines = list(count.lines.select_related("lot__product").exclude(difference_mg=0).order_by("pk"))
        missing = [
            FieldError(f"resolutions.{line.pk}", "Give the reason for this difference.")
            for line in lines
            if not reasons.get(str(line.pk))
        ]
        if missing:
            raise ValidationFailed(missing)
        when = timezone.now()
        adjustments = []
        for line in lines:
            reason = reasons[str(line.pk)][:240]
            try:
                entry = adjust(
                    actor,
                    lot=line.lot,
                    location=count.location,
                    change_mg=line.difference_mg,
                    witness_id=witness_id,
                    reason=f"Count of {count.counted_at:%Y-%m-%d}: {reason}",
                    occurred_at=when,
                )
            except ValidationFailed as exc:
                raise ValidationFailed(
                    FieldError(f"resolutions.{line.pk}" if e.field == "quantity_mg" else e.field, e.message)
                    for e in exc.errors
                ) from exc
            line.resolution, line.adjustment = reason, entry
            line.save(update_fields=["resolution", "adjustment"])
            adjustments.append(entry)
        count.status = Count.Status.RECONCILED
        count.reconciled_at, count.reconciled_by_id = when, actor.user_id
        count.save(update_fields=["status", "reconciled_at", "reconciled_by"])
        record(
            actor,
            Action.UPDATE,
            "Count",
            count.pk,
            detail={
                "reconciled": True,
                "adjustments": [str(e.pk) for e in adjustments],
                "witness": witness_id,
            },
        )
    return adjustments


def open_counts(organization_id: uuid.UUID) -> list[Count]:
    """Counts whose difference is not reconciled yet, oldest first."""
    return list(
        Count.objects.for_organization(organization_id)
        .filter(status=Count.Status.OPEN)
        .select_related("location__clinic", "counted_by")
        .order_by("counted_at")
    )


def count_of(actor: Actor, count_id: Any) -> Count:
    """One count of the organization (NotFound otherwise); its lines are prefetched."""
    actor.require(Permission.HANDLE_CONTROLLED)
    found: Count = (
        Count.objects.for_organization(actor.organization_id)
        .select_related("location__clinic", "counted_by", "witness", "reconciled_by")
        .prefetch_related("lines__lot__product", "lines__adjustment__witness")
        .one(count_id, "count")
    )
    return found
