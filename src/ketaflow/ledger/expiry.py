"""Expiry alerts: stock on hand that has expired, or expires within the practice's warning window
(`LedgerSettings.expiry_warn_days`, 60 days unless changed). Expired stock is not given; it is
wasted under witness or returned, and the alert stays until its balance is zero."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .balances import BalanceRow, balances


@dataclass(frozen=True)
class ExpiryAlert:
    row: BalanceRow
    days_left: int  # negative once expired

    @property
    def expired(self) -> bool:
        return self.row.expiry == "expired"

    @property
    def quantity_mg(self) -> Decimal:
        return self.row.quantity_mg

    @property
    def message(self) -> str:
        lot = self.row.lot
        where = f"{lot.product.name} lot {lot.lot_number} at {self.row.location.name}"
        if self.expired:
            return f"{where} expired on {lot.expires_on:%Y-%m-%d}; {self.quantity_mg:f} mg still on hand."
        return (
            f"{where} expires on {lot.expires_on:%Y-%m-%d} (in {self.days_left} days); "
            f"{self.quantity_mg:f} mg on hand."
        )


def expiry_alerts(organization_id: uuid.UUID, today: date) -> list[ExpiryAlert]:
    """Lots with stock that are expired or expiring, soonest first (expired ones first of all)."""
    return alerts_in(balances(organization_id, today), today)


def alerts_in(rows: Iterable[BalanceRow], today: date) -> list[ExpiryAlert]:
    """The expiry alerts of balances already loaded (the overview shows both)."""
    found = [ExpiryAlert(row, (row.lot.expires_on - today).days) for row in rows if row.expiry != "ok"]
    return sorted(found, key=lambda a: (a.row.lot.expires_on, a.row.location.name, a.row.lot.lot_number))
