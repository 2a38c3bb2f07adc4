"""Controlled-substance arithmetic: balances, session reconciliation, counts and expiry.

Clinical reference §9: receipts, every administration, waste witnessed by a second person, running
balances, periodic and biennial inventories. Quantities are in mg of drug. The ledger app stores the
entries; this module decides whether one may be written and whether the figures agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class EntryKind(StrEnum):
    RECEIPT = "receipt"
    ADMINISTRATION = "administration"
    WASTE = "waste"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"  # a reconciled count difference, with its reason

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def sign(self) -> int:
        """+1 adds to the balance, -1 takes from it; an adjustment carries its own sign."""
        return 1 if self in (EntryKind.RECEIPT, EntryKind.TRANSFER_IN, EntryKind.ADJUSTMENT) else -1

    @property
    def needs_witness(self) -> bool:
        return self in (EntryKind.WASTE, EntryKind.ADJUSTMENT)


class LedgerError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def next_balance(balance: Decimal, kind: EntryKind, quantity_mg: Decimal) -> Decimal:
    """The balance after an entry; LedgerError('quantity_mg') when the quantity is not positive
    (an adjustment may be negative, not zero) or the balance would go below zero."""
    if kind is EntryKind.ADJUSTMENT:
        if quantity_mg == 0:
            raise LedgerError("quantity_mg", "An adjustment must change the balance.")
        change = quantity_mg
    else:
        if quantity_mg <= 0:
            raise LedgerError("quantity_mg", "Enter a quantity above zero.")
        change = kind.sign * quantity_mg
    after = balance + change
    if after < 0:
        raise LedgerError(
            "quantity_mg",
            f"This would leave {after:f} mg: the balance on hand is {balance:f} mg, "
            "and a balance cannot go below zero.",
        )
    return after


@dataclass(frozen=True)
class SessionReconciliation:
    """Drawn = given + wasted, within the tolerance: otherwise the session dose is flagged."""

    drawn_mg: Decimal
    given_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal
    reconciled: bool
    message: str


def reconcile_session(
    drawn_mg: Decimal, given_mg: Decimal, wasted_mg: Decimal, *, tolerance_mg: Decimal
) -> SessionReconciliation:
    """Whether what was taken from stock for a session is accounted for by what was given (computed
    from the dose events) and what was wasted under witness."""
    unaccounted = drawn_mg - given_mg - wasted_mg
    ok = abs(unaccounted) <= tolerance_mg
    if ok:
        message = f"Drawn {drawn_mg:f} mg = given {given_mg:f} mg + wasted {wasted_mg:f} mg."
    elif unaccounted > 0:
        message = (
            f"{unaccounted:f} mg drawn is neither given nor wasted (drawn {drawn_mg:f}, given {given_mg:f}, "
            f"wasted {wasted_mg:f}); record the witnessed waste or explain it."
        )
    else:
        message = (
            f"{-unaccounted:f} mg more was given or wasted than was drawn (drawn {drawn_mg:f}, given "
            f"{given_mg:f}, wasted {wasted_mg:f})."
        )
    return SessionReconciliation(drawn_mg, given_mg, wasted_mg, unaccounted, ok, message)


@dataclass(frozen=True)
class CountResult:
    expected_mg: Decimal
    counted_mg: Decimal
    difference_mg: Decimal  # counted - expected

    @property
    def discrepancy(self) -> bool:
        return self.difference_mg != 0


def count(expected_mg: Decimal, counted_mg: Decimal) -> CountResult:
    if counted_mg < 0:
        raise LedgerError("counted_mg", "A count cannot be below zero.")
    return CountResult(expected_mg, counted_mg, counted_mg - expected_mg)


def expiry_status(expires_on: date, today: date, *, warn_days: int) -> str:
    """'expired', 'expiring' (within `warn_days`) or 'ok'."""
    if expires_on < today:
        return "expired"
    return "expiring" if (expires_on - today).days <= warn_days else "ok"
