"""The sessions part of the ledger check: each session's stored reconciliation against its ledger
entries (drawn = given + witnessed waste of the lots the dose was drawn from, as
`sessions.flow_events.refresh_reconciliation` computes it)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from ketaflow.clinical.controlled import EntryKind, reconcile_session
from ketaflow.sessions.models import DosePreparation, TreatmentSession

from .models import Entry
from .reports import mg_text
from .setup import ledger_settings

ZERO = Decimal(0)


def check_sessions(
    organization_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> tuple[int, list[tuple[uuid.UUID, str]]]:
    """Each reconciled-or-flagged session's stored figures against its ledger entries (sessions
    checked in from `start` up to `end`): how many were checked, and (session id, problem) pairs."""
    problems: list[tuple[uuid.UUID, str]] = []
    sessions = TreatmentSession.objects.for_organization(organization_id).filter(reconciliation__isnull=False)
    if start is not None:
        sessions = sessions.filter(checked_in_at__gte=start)
    if end is not None:
        sessions = sessions.filter(checked_in_at__lt=end)
    found = list(sessions.values_list("pk", "checked_in_at", "delivered_mg", "reconciliation", "reconciled"))
    if not found:
        return 0, problems
    ids = [row[0] for row in found]
    preparations = DosePreparation.objects.for_organization(organization_id).filter(session_id__in=ids)
    drawn: dict[uuid.UUID, Decimal] = defaultdict(lambda: ZERO)
    lots: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    unlinked: dict[uuid.UUID, int] = defaultdict(int)
    for session_id, lot_id, entry_change, drawn_mg in preparations.values_list(
        "session_id", "lot_id", "ledger_entry__change_mg", "drawn_mg"
    ):
        lots[session_id].add(lot_id)
        if entry_change is None or -entry_change != drawn_mg:
            unlinked[session_id] += 1
        drawn[session_id] += -entry_change if entry_change is not None else ZERO
    wasted: dict[uuid.UUID, Decimal] = defaultdict(lambda: ZERO)
    waste_rows = (
        Entry.objects.for_organization(organization_id)
        .filter(session_id__in=ids, kind=EntryKind.WASTE.value)
        .values_list("session_id", "lot_id", "change_mg")
    )
    for session_id, lot_id, change in waste_rows:
        if lot_id in lots[session_id]:
            wasted[session_id] += -change
    tolerance = Decimal(ledger_settings(organization_id).session_tolerance_mg)
    for session_id, checked_in_at, delivered, stored, flag in found:
        label = f"The session of {checked_in_at:%Y-%m-%d} ({session_id})"
        if unlinked[session_id]:
            problems.append(
                (session_id, f"{label}: a preparation's ledger entry is missing or differs from it.")
            )
        recorded = {k: decimal_or_none(stored.get(k)) for k in ("drawn_mg", "wasted_mg", "given_mg")}
        ledger = reconcile_session(
            drawn[session_id],
            Decimal(delivered or 0),
            wasted[session_id],
            tolerance_mg=recorded_tolerance(stored, tolerance),
        )
        figures = (recorded["drawn_mg"], recorded["wasted_mg"])
        if figures != (ledger.drawn_mg, ledger.wasted_mg) or flag != ledger.reconciled:
            problems.append((session_id, _stale(label, recorded, flag, ledger)))
    return len(found), problems


def _stale(label: str, recorded: dict[str, Decimal | None], flag: bool, ledger: Any) -> str:
    def state(reconciled: bool) -> str:
        return "reconciled" if reconciled else "flagged"

    def amount(value: Decimal | None) -> str:
        return "?" if value is None else mg_text(value)

    return (
        f"{label}: its reconciliation says drawn {amount(recorded['drawn_mg'])} mg, wasted "
        f"{amount(recorded['wasted_mg'])} mg ({state(flag)}); the ledger says drawn "
        f"{mg_text(ledger.drawn_mg)} mg, wasted {mg_text(ledger.wasted_mg)} mg ({state(ledger.reconciled)}). "
        "Refresh the session's reconciliation."
    )


def recorded_tolerance(stored: dict[str, Any], default: Decimal) -> Decimal:
    """The tolerance the session was reconciled with (kept with it), else the practice's now."""
    value = decimal_or_none(stored.get("tolerance_mg"))
    return default if value is None else value


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None
