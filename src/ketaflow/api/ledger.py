"""The controlled-substance ledger: the JSON API (clinical reference §9).

Balances per lot and location, a lot's running balance entry by entry, receipts, witnessed waste,
transfers between locations, counts and their reconciliation, and expiry alerts. Everything needs
HANDLE_CONTROLLED. Entries are append-only: nothing here edits or removes one; a count difference is
settled by a witnessed adjustment entry with its reason. A movement that would take a balance
below zero is refused naming `quantity_mg`.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.responses import Status

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Permission
from ketaflow.ledger import balances as ledger_balances
from ketaflow.ledger import counts, expiry, stock
from ketaflow.ledger.models import Count, Entry
from ketaflow.ledger.reports import mg_text
from ketaflow.ledger.setup import ledger_settings
from ketaflow.validation import FieldError, ValidationFailed

from .auth import actor_of
from .body_ids import refused_on_field
from .ledger_schemas import (
    BalanceList,
    BalanceQuery,
    CountId,
    CountIn,
    CountOut,
    EntryOut,
    ExpiringList,
    LotId,
    LotOut,
    ReceiptIn,
    ReconcileIn,
    TransferIn,
    TransferOut,
    WasteIn,
)
from .pagination import refuse_unknown_query
from .schemas import responses as documented

router = Router(tags=["Controlled-substance ledger"])

PLACES = {"lot": "lot_id", "storage location": "location_id", "product": "product_id"}


def _name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _handler(request: HttpRequest) -> Actor:
    actor = actor_of(request)
    actor.require(Permission.HANDLE_CONTROLLED)
    return actor


def _witness(actor: Actor, staff_id: uuid.UUID | None, field: str = "witness_id") -> int | None:
    """The witness's user id from their staff id; 422 on `field` when not a colleague."""
    if staff_id is None:
        return None
    user_id = (
        StaffMember.objects.for_organization(actor.organization_id)
        .filter(pk=staff_id)
        .values_list("user_id", flat=True)
        .first()
    )
    if user_id is None:
        raise ValidationFailed.single(field, "Choose a colleague of your practice as witness.")
    return int(user_id)


def entry_body(e: Entry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "lot_id": e.lot_id,
        "location_id": e.location_id,
        "location": e.location.name,
        "change_mg": mg_text(e.change_mg),
        "balance_after_mg": mg_text(e.balance_after_mg),
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "recorded_by": _name(e.recorded_by),
        "witness": _name(e.witness) if e.witness_id else None,
        "patient_id": e.patient_id,
        "session_id": e.session_id,
        "supplier": e.supplier,
        "invoice_number": e.invoice_number,
        "transfer": e.transfer,
        "reason": e.reason,
    }


def _entry(entry: Entry) -> dict[str, Any]:
    reloaded = Entry.objects.select_related("location", "recorded_by", "witness").get(pk=entry.pk)
    return entry_body(reloaded)


def count_body(count: Count) -> dict[str, Any]:
    return {
        "id": count.pk,
        "kind": count.kind,
        "location_id": count.location_id,
        "counted_at": count.counted_at,
        "status": count.status,
        "reconciled_at": count.reconciled_at,
        "lines": [
            {
                "lot_id": line.lot_id,
                "lot_number": line.lot.lot_number,
                "expected_mg": mg_text(line.expected_mg),
                "counted_mg": mg_text(line.counted_mg),
                "difference_mg": mg_text(line.difference_mg),
                "resolution": line.resolution,
                "adjustment_id": line.adjustment_id,
            }
            for line in count.lines.all()
        ],
    }


@router.get("/ledger/balances", response=documented(200, BalanceList))
def list_ledger_balances(request: HttpRequest, query: Query[BalanceQuery]) -> Any:
    """What is on hand now, per lot and location, with each lot's expiry status."""
    actor = _handler(request)
    refuse_unknown_query(request, BalanceQuery)
    rows = ledger_balances.balances(
        actor.organization_id,
        timezone.localdate(),
        location_id=query.location_id,
        include_empty=query.include_empty,
    )
    return {
        "items": [
            {
                "lot_id": r.lot.pk,
                "lot_number": r.lot.lot_number,
                "product_id": r.product.pk,
                "product": r.product.name,
                "drug": r.product.drug,
                "schedule": r.product.schedule,
                "expires_on": r.lot.expires_on,
                "expiry": r.expiry,
                "location_id": r.location.pk,
                "location": r.location.name,
                "clinic_id": r.location.clinic_id,
                "quantity_mg": mg_text(r.quantity_mg),
            }
            for r in rows
        ]
    }


@router.get("/ledger/lots/{lot_id}", response=documented(200, LotOut))
def get_ledger_lot(request: HttpRequest, lot_id: LotId) -> Any:
    """One lot: its balance per location and every entry in the order written, each with the
    balance after it. Administrations name their patient, so the read is audited."""
    actor = _handler(request)
    history = ledger_balances.lot_history(actor, lot_id, timezone.localdate())
    lot = history.lot
    return {
        "id": lot.pk,
        "lot_number": lot.lot_number,
        "product_id": lot.product.pk,
        "product": lot.product.name,
        "drug": lot.product.drug,
        "schedule": lot.product.schedule,
        "expires_on": lot.expires_on,
        "supplier": lot.supplier,
        "balances": [
            {"location_id": p.location.pk, "location": p.location.name, "quantity_mg": mg_text(p.balance_mg)}
            for p in history.places
        ],
        "entries": [entry_body(row.entry) for p in history.places for row in p.rows],
    }


@router.post("/ledger/receipts", response=documented(201, EntryOut))
def receive_ledger_stock(request: HttpRequest, payload: ReceiptIn) -> Any:
    """A delivery from a supplier: the lot is created on its first receipt."""
    actor = _handler(request)
    with refused_on_field(PLACES):
        entry = stock.receive(
            actor,
            product_id=payload.product_id,
            lot_number=payload.lot_number,
            expires_on=payload.expires_on,
            supplier=payload.supplier,
            invoice_number=payload.invoice_number,
            quantity_mg=Decimal(str(payload.quantity_mg)),
            location_id=payload.location_id,
            occurred_at=payload.occurred_at,
        )
    return Status(201, _entry(entry))


@router.post("/ledger/waste", response=documented(201, EntryOut))
def waste_ledger_stock(request: HttpRequest, payload: WasteIn) -> Any:
    """Drug discarded before a second person (`witness_id`, a colleague who handles controlled
    substances, not you); 422 on `witness_id` without one."""
    actor = _handler(request)
    with refused_on_field(PLACES):
        entry = stock.waste(
            actor,
            lot_id=payload.lot_id,
            location_id=payload.location_id,
            quantity_mg=Decimal(str(payload.quantity_mg)),
            witness_id=_witness(actor, payload.witness_id),
            reason=payload.reason,
            session_id=payload.session_id,
            occurred_at=payload.occurred_at,
        )
    return Status(201, _entry(entry))


@router.post("/ledger/transfers", response=documented(201, TransferOut))
def transfer_ledger_stock(request: HttpRequest, payload: TransferIn) -> Any:
    """Move stock between two locations: an out and an in entry sharing one transfer id."""
    actor = _handler(request)
    with refused_on_field(PLACES):
        out, into = stock.transfer(
            actor,
            lot_id=payload.lot_id,
            from_location_id=payload.from_location_id,
            to_location_id=payload.to_location_id,
            quantity_mg=Decimal(str(payload.quantity_mg)),
            reason=payload.reason,
        )
    return Status(201, {"out": _entry(out), "into": _entry(into)})


@router.post("/ledger/counts", response=documented(201, CountOut))
def record_ledger_count(request: HttpRequest, payload: CountIn) -> Any:
    """A count of one location, lot by lot (`counted`: mg by lot id); any difference from the ledger
    leaves the count open until it is reconciled. 422 names `counted.<lot id>`."""
    actor = _handler(request)
    with refused_on_field(PLACES):
        count = counts.record_count(
            actor,
            location_id=payload.location_id,
            kind=payload.kind,
            counted={lot: Decimal(str(mg)) for lot, mg in payload.counted.items()},
            witness_id=_witness(actor, payload.witness_id),
        )
    return Status(201, count_body(counts.count_of(actor, count.pk)))


@router.post("/ledger/counts/{count_id}/reconcile", response=documented(200, CountOut))
def reconcile_ledger_count(request: HttpRequest, count_id: CountId, payload: ReconcileIn) -> Any:
    """Settle an open count: the reason for each differing lot (`resolutions`: by lot id) and a
    witness; one adjustment entry per difference. 422 names `resolutions.<lot id>`."""
    actor = _handler(request)
    count = counts.count_of(actor, count_id)
    line_of = {str(line.lot_id): line.pk for line in count.lines.all()}
    lot_of_line = {f"resolutions.{pk}": f"resolutions.{lot}" for lot, pk in line_of.items()}
    unknown = sorted(set(payload.resolutions) - set(line_of))
    if unknown:
        raise ValidationFailed(
            FieldError(f"resolutions.{lot}", "This lot is not in the count.") for lot in unknown
        )
    try:
        counts.reconcile(
            actor,
            count.pk,
            resolutions={line_of[lot]: reason for lot, reason in payload.resolutions.items()},
            witness_id=_witness(actor, payload.witness_id),
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            FieldError(lot_of_line.get(e.field or "", e.field), e.message) for e in exc.errors
        ) from exc
    return count_body(counts.count_of(actor, count.pk))


@router.get("/ledger/expiring", response=documented(200, ExpiringList))
def list_ledger_expiring(request: HttpRequest) -> Any:
    """Stock on hand that has expired or expires within the practice's warning window."""
    actor = _handler(request)
    alerts = expiry.expiry_alerts(actor.organization_id, timezone.localdate())
    return {
        "warn_days": ledger_settings(actor.organization_id).expiry_warn_days,
        "items": [
            {
                "lot_id": a.row.lot.pk,
                "lot_number": a.row.lot.lot_number,
                "product": a.row.product.name,
                "expires_on": a.row.lot.expires_on,
                "days_left": a.days_left,
                "status": a.row.expiry,
                "location_id": a.row.location.pk,
                "location": a.row.location.name,
                "quantity_mg": mg_text(a.quantity_mg),
                "message": a.message,
            }
            for a in alerts
        ],
    }
