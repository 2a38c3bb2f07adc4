"""Request and response bodies of the controlled-substance ledger API.

Quantities are mg of drug, sent as JSON numbers and returned as decimal strings ("250" or "12.5").
People (the witness) are named by their staff id, as elsewhere in the API.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Path, Schema
from pydantic import Field

from ketaflow.clinical.controlled import EntryKind
from ketaflow.ledger.models import Count

from .measure_schemas import IsoDateTime
from .schemas import Id, IsoDate, QueryId, QueryInput, StrictInput


def _id_in_path(kind: str) -> Any:
    return Path(..., description=f"The {kind}'s id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")


LotId = Annotated[str, _id_in_path("lot")]
CountId = Annotated[str, _id_in_path("count")]
Mg = Annotated[float, Field(gt=0, description="mg of drug")]
ENTRY_KINDS = [kind.value for kind in EntryKind]


# Inputs ---------------------------------------------------------------------------------------------


class BalanceQuery(QueryInput):
    location_id: QueryId = Field(None, description="Only this storage location.")
    include_empty: bool = Field(False, description="Also lots with nothing left.")


class ReceiptIn(StrictInput):
    product_id: Id
    lot_number: str
    expires_on: IsoDate
    supplier: str
    invoice_number: str = Field(description="The supplier's invoice (or DEA Form 222) number.")
    quantity_mg: Mg
    location_id: Id
    occurred_at: IsoDateTime | None = Field(None, description="Default: now.")


class WasteIn(StrictInput):
    lot_id: Id
    location_id: Id
    quantity_mg: Mg
    witness_id: Id | None = Field(None, description="The colleague who saw it wasted (staff id).")
    reason: str
    session_id: Id | None = Field(None, description="The session the drug was left over from.")
    occurred_at: IsoDateTime | None = None


class TransferIn(StrictInput):
    lot_id: Id
    from_location_id: Id
    to_location_id: Id
    quantity_mg: Mg
    reason: str = ""


class CountIn(StrictInput):
    location_id: Id
    kind: Literal["periodic", "biennial"] = "periodic"
    counted: dict[str, float] = Field(
        description="mg on the shelf by lot id; every lot with stock there must be counted (0 if none)."
    )
    witness_id: Id | None = Field(None, description="A second person at the count (staff id).")


class ReconcileIn(StrictInput):
    resolutions: dict[str, str] = Field(description="Why the shelf and the ledger differ, by lot id.")
    witness_id: Id | None = Field(None, description="A second person for the adjustment entries (staff id).")


# Outputs --------------------------------------------------------------------------------------------


class BalanceOut(Schema):
    lot_id: uuid.UUID
    lot_number: str
    product_id: uuid.UUID
    product: str
    drug: str
    schedule: str
    expires_on: date
    expiry: str = Field(description="ok, expiring (within the warning days) or expired.")
    location_id: uuid.UUID
    location: str
    clinic_id: uuid.UUID
    quantity_mg: str


class BalanceList(Schema):
    items: list[BalanceOut]


class EntryOut(Schema):
    id: uuid.UUID
    kind: str = Field(json_schema_extra={"enum": list[Any](ENTRY_KINDS)})
    lot_id: uuid.UUID
    location_id: uuid.UUID
    location: str
    change_mg: str
    balance_after_mg: str
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    witness: str | None
    patient_id: uuid.UUID | None
    session_id: uuid.UUID | None
    supplier: str
    invoice_number: str
    transfer: uuid.UUID | None
    reason: str


class PlaceOut(Schema):
    location_id: uuid.UUID
    location: str
    quantity_mg: str


class LotOut(Schema):
    id: uuid.UUID
    lot_number: str
    product_id: uuid.UUID
    product: str
    drug: str
    schedule: str
    expires_on: date
    supplier: str
    balances: list[PlaceOut]
    entries: list[EntryOut] = Field(description="Oldest first, each with the balance after it.")


class TransferOut(Schema):
    out: EntryOut
    into: EntryOut


class CountLineOut(Schema):
    lot_id: uuid.UUID
    lot_number: str
    expected_mg: str
    counted_mg: str
    difference_mg: str
    resolution: str
    adjustment_id: uuid.UUID | None


class CountOut(Schema):
    id: uuid.UUID
    kind: str
    location_id: uuid.UUID
    counted_at: datetime
    status: str = Field(json_schema_extra={"enum": list[Any](Count.Status.values)})
    reconciled_at: datetime | None
    lines: list[CountLineOut]


class ExpiringOut(Schema):
    lot_id: uuid.UUID
    lot_number: str
    product: str
    expires_on: date
    days_left: int = Field(description="Negative once expired.")
    status: str = Field(description="expiring or expired.")
    location_id: uuid.UUID
    location: str
    quantity_mg: str
    message: str


class ExpiringList(Schema):
    warn_days: int
    items: list[ExpiringOut]
