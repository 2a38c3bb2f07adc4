"""The demo's controlled-substance ledger over the replayed month, through the ledger services.

At the start of the month each clinic's nurse sets up a storage location ("Med room safe") and
receives the month's stock from a synthetic supplier with invoice numbers: ketamine vials and
esketamine devices enough for the month's sessions with some to spare, and midazolam for rescue
(Portland's midazolam lot is short-dated, so the expiry alert shows). Mid-month Portland sends two
vials to Denver (a transfer); Denver's periodic count finds 50 mg missing, reconciled the next
morning with the reason and a witness; late in the month Portland's biennial inventory agrees with
every balance. Sessions draw from the clinic's stock (`Stock.lot_for`), earliest expiry first.
Everything is synthetic.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic
from ketaflow.ledger.counts import reconcile, record_count
from ketaflow.ledger.models import Balance, Count, Lot, Product, StorageLocation
from ketaflow.ledger.setup import add_location, ensure_products, update_settings
from ketaflow.ledger.stock import receive, transfer

from .replay import Script

LOCATION = "Med room safe"
SUPPLIER = "Synthetic Pharma Supply"
# (drug, at least the units received by Portland, by Denver, months to expiry).
DELIVERIES = (
    ("ketamine", 24, 16, 14),
    ("esketamine", 36, 24, 10),
    ("midazolam", 10, 10, 18),
)
SHORT_DATED_DAYS = 45  # inside the practice's 60-day warning window
TRANSFER_VIALS = 2
COUNT_SHORTFALL_MG = Decimal(50)
COUNT_REASON = (
    "1 mL (50 mg) short in an opened vial: a spill while drawing up was witnessed at the time but never "
    "entered as waste. Staff reminded to record waste before leaving the med room."
)


@dataclass
class Stock:
    """Each clinic's storage location and the products the practice stocks (set by the first step)."""

    locations: dict[uuid.UUID, StorageLocation] = field(default_factory=dict)  # by clinic id
    products: dict[str, Product] = field(default_factory=dict)  # by drug
    totals: Counter[str] = field(default_factory=Counter)

    def location(self, clinic_id: uuid.UUID) -> StorageLocation:
        return self.locations[clinic_id]

    def lot_for(self, clinic_id: uuid.UUID, drug: str, need_mg: Decimal, on: date) -> Lot:
        """The clinic's lot of `drug` with at least `need_mg` on hand, earliest expiry first."""
        found = (
            Balance.objects.filter(
                location=self.locations[clinic_id],
                lot__product__drug=drug,
                lot__expires_on__gte=on,
                quantity_mg__gte=need_mg,
            )
            .select_related("lot")
            .order_by("lot__expires_on", "lot__lot_number")
            .first()
        )
        if found is None:
            raise RuntimeError(f"the demo clinic has no {drug} left for a session")
        return found.lot


def _at(clinic: Clinic, on: date, clock: time) -> datetime:
    return datetime.combine(on, clock, ZoneInfo(clinic.timezone))


def pharmacy(
    stock: Stock,
    clinics: list[Clinic],
    actors: dict[str, Actor],
    needs: Mapping[tuple[uuid.UUID, str], Decimal],
    days: tuple[date, date],
    rng: random.Random,
) -> Script:
    """The ledger's month: set-up and receipts on the first of `days` (enough for `needs`, the mg
    each clinic's sessions will draw of each drug), a transfer, two counts; the second of `days`
    is today, from which the short-dated lot's expiry is set."""
    first_day, today = days
    portland, denver = clinics
    nurses = {portland.pk: actors["nurse"], denver.pk: actors["nurse2"]}
    witnesses = {portland.pk: actors["np"], denver.pk: actors["pa"]}
    owner = StaffMember.objects.filter(user__username=actors["owner"].username).values_list(
        "dea_number", flat=True
    )
    update_settings(
        actors["owner"],
        registrant=portland.organization.name,
        registration_number=owner.first() or "",
        expiry_warn_days=60,
        session_tolerance_mg="0.5",
    )
    stock.products = {p.drug: p for p in ensure_products(portland.organization_id)}
    for clinic in clinics:
        stock.locations[clinic.pk] = add_location(nurses[clinic.pk], clinic_id=clinic.pk, name=LOCATION)
    invoice = rng.randint(41000, 42000)
    for index, clinic in enumerate(clinics):
        for drug, *units, months in DELIVERIES:
            expires = first_day + timedelta(days=30 * months)
            if drug == "midazolam" and index == 0:
                expires = today + timedelta(days=SHORT_DATED_DAYS)
            product = stock.products[drug]
            need = needs.get((clinic.pk, drug), Decimal(0))
            spare = math.ceil(need * Decimal("1.25") / product.mg_per_unit) + 2
            receive(
                nurses[clinic.pk],
                product_id=product.pk,
                lot_number=f"{drug[:3].upper()}{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                expires_on=expires,
                supplier=SUPPLIER,
                invoice_number=f"SPS-{invoice}",
                units=max(units[index], spare),
                location_id=stock.locations[clinic.pk].pk,
            )
            stock.totals["ledger receipts"] += 1
        invoice += rng.randint(3, 40)
    yield _at(portland, first_day + timedelta(days=9), time(8, 15))
    vials = stock.products["ketamine"].mg_per_unit * TRANSFER_VIALS
    transfer(
        nurses[portland.pk],
        lot_id=stock.lot_for(portland.pk, "ketamine", vials, first_day).pk,
        from_location_id=stock.location(portland.pk).pk,
        to_location_id=stock.location(denver.pk).pk,
        quantity_mg=vials,
        reason="Denver short of ketamine before its next delivery",
    )
    stock.totals["ledger transfers"] += 1
    yield _at(denver, first_day + timedelta(days=14), time(18, 10))
    found = _count(stock, denver, nurses[denver.pk], witnesses[denver.pk], "periodic", short=True)
    yield _at(denver, first_day + timedelta(days=15), time(7, 45))
    line = found.lines.exclude(difference_mg=0).get()
    reconcile(
        nurses[denver.pk],
        found.pk,
        resolutions={line.pk: COUNT_REASON},
        witness_id=witnesses[denver.pk].user_id,
    )
    stock.totals["ledger discrepancies reconciled"] += 1
    yield _at(portland, first_day + timedelta(days=21), time(18, 5))
    _count(stock, portland, nurses[portland.pk], witnesses[portland.pk], "biennial", short=False)


def _count(stock: Stock, clinic: Clinic, nurse: Actor, witness: Actor, kind: str, *, short: bool) -> Count:
    """Count every lot in the clinic's safe: as the balances say, less 50 mg of ketamine if `short`."""
    location = stock.location(clinic.pk)
    counted: dict[uuid.UUID, Decimal] = {}
    balances = Balance.objects.filter(location=location, quantity_mg__gt=0).order_by("lot__lot_number")
    for lot_id, drug, quantity in balances.values_list("lot_id", "lot__product__drug", "quantity_mg"):
        if short and drug == "ketamine" and quantity > COUNT_SHORTFALL_MG:
            quantity, short = quantity - COUNT_SHORTFALL_MG, False
        counted[lot_id] = quantity
    found = record_count(
        nurse, location_id=location.pk, kind=kind, counted=counted, witness_id=witness.user_id
    )
    stock.totals[f"ledger counts {kind}"] += 1
    return found
