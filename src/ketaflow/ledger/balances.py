"""Balances now, per lot and location, and a lot's running balance, entry by entry.

The running balance is the order the entries were written in (`recorded_at`): each entry's balance
after it is the one before plus its change. `occurred_at` is when the movement happened, which may
be earlier than when it was recorded; reports sum by it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from django.db import transaction

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry as AuditEntry
from ketaflow.audit.trail import record_many
from ketaflow.clinical.controlled import EntryKind, expiry_status

from .models import Balance, Entry, Lot, Product, StorageLocation
from .setup import ledger_settings
from .stock import lot_of


@dataclass(frozen=True)
class BalanceRow:
    lot: Lot
    location: StorageLocation
    quantity_mg: Decimal
    expiry: str  # ok, expiring, expired

    @property
    def product(self) -> Product:
        return self.lot.product

    @property
    def units(self) -> Decimal | None:
        """The balance in whole-and-part units of the product (vials, devices)."""
        per_unit = self.lot.product.mg_per_unit
        return (self.quantity_mg / per_unit).quantize(Decimal("0.01")) if per_unit else None


def balances(
    organization_id: uuid.UUID,
    today: date,
    *,
    location_id: Any = None,
    include_empty: bool = False,
) -> list[BalanceRow]:
    """Every lot's balance in every location (one query), by location, product and expiry."""
    rows = (
        Balance.objects.for_organization(organization_id)
        .select_related("lot__product", "location__clinic")
        .order_by("location__clinic__name", "location__name", "lot__product__name", "lot__expires_on")
    )
    if location_id is not None:
        rows = rows.filter(location_id=location_id)
    if not include_empty:
        rows = rows.filter(quantity_mg__gt=0)
    warn_days = ledger_settings(organization_id).expiry_warn_days
    return [
        BalanceRow(
            row.lot,
            row.location,
            row.quantity_mg,
            expiry_status(row.lot.expires_on, today, warn_days=warn_days),
        )
        for row in rows
    ]


class Written(Protocol):
    @property
    def recorded_at(self) -> Any: ...
    @property
    def change_mg(self) -> Decimal: ...
    @property
    def balance_after_mg(self) -> Decimal: ...


W = TypeVar("W", bound=Written)


def chain_order(entries: Sequence[W]) -> list[W]:
    """One place's entries (sorted by `recorded_at`) in the order they were written: among entries
    with the same timestamp, the one that continues the running balance first."""
    ordered: list[W] = []
    running = Decimal(0)
    index = 0
    while index < len(entries):
        end = index
        while end + 1 < len(entries) and entries[end + 1].recorded_at == entries[index].recorded_at:
            end += 1
        tied = list(entries[index : end + 1])
        while tied:
            following = next((e for e in tied if e.balance_after_mg - e.change_mg == running), tied[0])
            tied.remove(following)
            ordered.append(following)
            running = following.balance_after_mg
        index = end + 1
    return ordered


@dataclass(frozen=True)
class HistoryRow:
    entry: Entry
    kind: EntryKind
    counterpart: StorageLocation | None  # the other side of a transfer


@dataclass(frozen=True)
class Place:
    location: StorageLocation
    balance_mg: Decimal
    rows: list[HistoryRow]


@dataclass(frozen=True)
class LotHistory:
    lot: Lot
    expiry: str
    places: list[Place]

    @property
    def total_mg(self) -> Decimal:
        return sum((place.balance_mg for place in self.places), Decimal(0))


def lot_history(actor: Actor, lot_id: Any, today: date) -> LotHistory:
    """The lot's running balance in each location it has been in, oldest first. Administrations name
    their patient, so the read is audited once per patient shown (Action.LIST) besides the lot."""
    actor.require(Permission.HANDLE_CONTROLLED)
    lot = lot_of(actor, lot_id)
    entries = list(
        Entry.objects.for_organization(actor.organization_id)
        .filter(lot=lot)
        .select_related("location__clinic", "recorded_by", "witness", "patient")
        .order_by("location__name", "location_id", "recorded_at")
    )
    counterparts = _transfer_counterparts(actor.organization_id, entries)
    now = {
        b.location_id: b.quantity_mg
        for b in Balance.objects.for_organization(actor.organization_id).filter(lot=lot)
    }
    by_place: dict[uuid.UUID, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_place[entry.location_id].append(entry)
    places = [
        Place(
            rows[0].location,
            now.get(location_id, Decimal(0)),
            [
                HistoryRow(e, EntryKind(e.kind), counterparts.get((e.transfer, e.location_id)))
                for e in chain_order(rows)
            ],
        )
        for location_id, rows in by_place.items()
    ]
    patients = sorted({e.patient_id for e in entries if e.patient_id}, key=str)
    with transaction.atomic():
        record_many(
            actor,
            [
                AuditEntry(Action.READ, "Lot", str(lot.pk), detail={"entries": len(entries)}),
                *(
                    AuditEntry(Action.LIST, "LedgerEntry", "", patient, {"lot": str(lot.pk)})
                    for patient in patients
                ),
            ],
        )
    warn_days = ledger_settings(actor.organization_id).expiry_warn_days
    return LotHistory(lot, expiry_status(lot.expires_on, today, warn_days=warn_days), places)


def _transfer_counterparts(
    organization_id: uuid.UUID, entries: Iterable[Entry]
) -> dict[tuple[uuid.UUID | None, uuid.UUID], StorageLocation]:
    """(transfer id, this side's location) -> the location on the other side."""
    pairs = {e.transfer for e in entries if e.transfer}
    if not pairs:
        return {}
    sides = (
        Entry.objects.for_organization(organization_id).filter(transfer__in=pairs).select_related("location")
    )
    by_pair: dict[uuid.UUID, list[StorageLocation]] = defaultdict(list)
    for side in sides:
        if side.transfer is not None:
            by_pair[side.transfer].append(side.location)
    found: dict[tuple[uuid.UUID | None, uuid.UUID], StorageLocation] = {}
    for pair, places in by_pair.items():
        for place in places:
            other = next((p for p in places if p.pk != place.pk), None)
            if other is not None:
                found[(pair, place.pk)] = other
    return found
