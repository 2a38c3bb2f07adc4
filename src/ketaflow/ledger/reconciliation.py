"""Discrepancy detection: does the ledger agree with itself, and with the sessions it served?

`ledger_check` recomputes every balance from its entries and compares it with the `Balance` row;
walks each lot's running balance (every entry must follow from the one before, none below zero,
each change with its kind's sign, waste and adjustments witnessed by someone else, each transfer a
matching out and in); and recomputes each session's reconciliation (drawn = given + witnessed waste,
as `sessions.flow_events.refresh_reconciliation` stores it) from the ledger entries. A fixed number
of queries whatever the size. `flagged_sessions` lists the session doses that are not reconciled.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Q, Sum

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.controlled import EntryKind
from ketaflow.sessions.models import TreatmentSession

from .balances import chain_order
from .models import Balance, Entry, Lot, StorageLocation
from .reports import mg_text
from .session_check import check_sessions, decimal_or_none

ZERO = Decimal(0)
KINDS = {kind.value: kind for kind in EntryKind}


@dataclass(frozen=True)
class Problem:
    kind: str  # balance, chain, entry, transfer, session, triggers
    message: str
    lot_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None


@dataclass
class LedgerCheck:
    places: int = 0
    entries: int = 0
    sessions: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Row(NamedTuple):
    pk: uuid.UUID
    kind: str
    lot_id: uuid.UUID
    location_id: uuid.UUID
    change_mg: Decimal
    balance_after_mg: Decimal
    recorded_at: datetime
    recorded_by_id: int
    witness_id: int | None
    transfer: uuid.UUID | None


def entry_triggers_present() -> bool:
    """True when the database still refuses UPDATE and DELETE on ledger entries."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN "
                "('ledger_entry_no_update', 'ledger_entry_no_delete')"
            )
            return bool(cursor.fetchone()[0] == 2)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger "
                "WHERE tgname = 'ledger_entry_append_only' AND NOT tgisinternal"
            )
            return bool(cursor.fetchone()[0] == 1)
    return False


def ledger_check(
    organization_id: uuid.UUID, start: datetime | None = None, end: datetime | None = None
) -> LedgerCheck:
    """Every discrepancy found. Balances are always compared in full; the entry-by-entry walk and
    the sessions cover entries recorded (sessions checked in) from `start` up to `end`."""
    report = LedgerCheck()
    names = _Names(organization_id)
    _check_balances(organization_id, report, names)
    _check_entries(organization_id, start, end, report, names)
    report.sessions, stale = check_sessions(organization_id, start, end)
    report.problems.extend(Problem("session", message, session_id=pk) for pk, message in stale)
    if not entry_triggers_present():
        report.problems.append(
            Problem("triggers", "The database triggers that keep ledger entries append-only are missing.")
        )
    return report


class _Names:
    """Lot and location names for messages, loaded once when the first message needs them."""

    def __init__(self, organization_id: uuid.UUID) -> None:
        self.organization_id = organization_id
        self._lots: dict[uuid.UUID, str] | None = None
        self._places: dict[uuid.UUID, str] = {}

    def __call__(self, lot_id: uuid.UUID, location_id: uuid.UUID) -> str:
        if self._lots is None:
            lots = Lot.objects.for_organization(self.organization_id).select_related("product")
            self._lots = {lot.pk: f"{lot.product.name} lot {lot.lot_number}" for lot in lots}
            self._places = dict(
                StorageLocation.objects.for_organization(self.organization_id).values_list("pk", "name")
            )
        return (
            f"{self._lots.get(lot_id, 'unknown lot')} at {self._places.get(location_id, 'unknown location')}"
        )


def _check_balances(organization_id: uuid.UUID, report: LedgerCheck, names: _Names) -> None:
    sums = {
        (row["lot_id"], row["location_id"]): row["total"]
        for row in Entry.objects.for_organization(organization_id)
        .values("lot_id", "location_id")
        .annotate(total=Sum("change_mg"))
        .order_by()
    }
    stored = {
        (lot_id, location_id): quantity
        for lot_id, location_id, quantity in Balance.objects.for_organization(organization_id).values_list(
            "lot_id", "location_id", "quantity_mg"
        )
    }
    report.places = len(set(sums) | set(stored))
    for key in sorted(set(sums) | set(stored), key=str):
        total, balance = sums.get(key, ZERO), stored.get(key)
        if balance is None:
            report.problems.append(
                Problem(
                    "balance",
                    f"{names(*key)}: entries add up to {mg_text(total)} mg but there is no balance.",
                    *key,
                )
            )
        elif balance != total:
            report.problems.append(
                Problem(
                    "balance",
                    f"{names(*key)}: the balance says {mg_text(balance)} mg but the entries add up to "
                    f"{mg_text(total)} mg.",
                    *key,
                )
            )


def _check_entries(
    organization_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    report: LedgerCheck,
    names: _Names,
) -> None:
    entries = Entry.objects.for_organization(organization_id)
    window = Q()
    if start is not None:
        window &= Q(recorded_at__gte=start)
    if end is not None:
        window &= Q(recorded_at__lt=end)
    opening: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = {}
    if start is not None:
        opening = {
            (row["lot_id"], row["location_id"]): row["total"]
            for row in entries.filter(recorded_at__lt=start)
            .values("lot_id", "location_id")
            .annotate(total=Sum("change_mg"))
            .order_by()
        }
    rows = [
        _Row(*values)
        for values in entries.filter(window)
        .order_by("lot_id", "location_id", "recorded_at")
        .values_list(*_Row._fields)
    ]
    report.entries = len(rows)
    by_place: dict[tuple[uuid.UUID, uuid.UUID], list[_Row]] = defaultdict(list)
    transfers: dict[uuid.UUID, list[_Row]] = defaultdict(list)
    for row in rows:
        by_place[(row.lot_id, row.location_id)].append(row)
        if row.transfer is not None:
            transfers[row.transfer].append(row)
        _check_one(row, report, names)
    for key, place_rows in by_place.items():
        running = opening.get(key, ZERO)
        for row in chain_order(place_rows):
            if row.balance_after_mg - row.change_mg != running:
                report.problems.append(
                    Problem(
                        "chain",
                        f"{names(*key)}: the {EntryKind(row.kind).label.lower()} recorded "
                        f"{row.recorded_at:%Y-%m-%d %H:%M} starts from "
                        f"{mg_text(row.balance_after_mg - row.change_mg)} mg, but the balance before it was "
                        f"{mg_text(running)} mg.",
                        *key,
                    )
                )
            running = row.balance_after_mg
    if start is None and end is None:
        for pair, sides in transfers.items():
            kinds = sorted(side.kind for side in sides)
            if kinds != ["transfer_in", "transfer_out"] or sum((s.change_mg for s in sides), ZERO) != 0:
                first = sides[0]
                report.problems.append(
                    Problem(
                        "transfer",
                        f"{names(first.lot_id, first.location_id)}: transfer {pair} is not one "
                        "matching out and in.",
                        first.lot_id,
                        first.location_id,
                    )
                )


def _check_one(row: _Row, report: LedgerCheck, names: _Names) -> None:
    """An entry's own rules: its kind's sign, not below zero, a witness other than the recorder."""
    kind = KINDS[row.kind]
    found = []
    if row.change_mg == 0 or (kind is not EntryKind.ADJUSTMENT and (row.change_mg > 0) != (kind.sign > 0)):
        found.append(f"a {kind.label.lower()} of {mg_text(row.change_mg)} mg has the wrong sign.")
    if row.balance_after_mg < 0:
        found.append(f"an entry leaves {mg_text(row.balance_after_mg)} mg, below zero.")
    if kind.needs_witness and (row.witness_id is None or row.witness_id == row.recorded_by_id):
        found.append(f"a {kind.label.lower()} has no second person as witness.")
    for message in found:
        where = names(row.lot_id, row.location_id)
        report.problems.append(Problem("entry", f"{where}: {message}", row.lot_id, row.location_id))


@dataclass(frozen=True)
class FlaggedSession:
    session: TreatmentSession
    message: str

    @property
    def unaccounted_mg(self) -> Decimal | None:
        return decimal_or_none((self.session.reconciliation or {}).get("unaccounted_mg"))


def unreconciled_sessions(organization_id: uuid.UUID) -> Any:
    """The sessions whose dose is not reconciled (a queryset; one query with patient and clinic)."""
    return (
        TreatmentSession.objects.for_organization(organization_id)
        .filter(reconciled=False)
        .select_related("patient", "clinic")
        .order_by("-checked_in_at")
    )


def flagged_sessions(actor: Actor) -> list[FlaggedSession]:
    """Session doses that cannot be reconciled, newest first; they name patients, so the list is
    audited (Action.LIST) when it is not empty."""
    actor.require(Permission.HANDLE_CONTROLLED)
    found = [
        FlaggedSession(session, str((session.reconciliation or {}).get("message", "")))
        for session in unreconciled_sessions(actor.organization_id)
    ]
    if found:
        with transaction.atomic():
            record(
                actor,
                Action.LIST,
                "TreatmentSession",
                detail={"purpose": "ledger-flagged", "count": len(found)},
            )
    return found
