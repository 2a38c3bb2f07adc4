"""Writing to and verifying the audit trail.

`record()` must run inside the caller's `transaction.atomic()` block, so the audit row commits or
rolls back with the change it describes. It locks the chain head (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers) so concurrent requests
extend the chain one at a time.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import AuditChainHead, AuditEvent, chain_key

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    occurred = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    payload = [
        event.chain,
        event.seq,
        occurred,
        event.user_id,
        event.username,
        event.roles,
        str(event.clinic_id or ""),
        event.via,
        event.ip_address or "",
        event.action,
        event.object_type,
        event.object_id,
        str(event.patient_id or ""),
        event.detail,
        event.prev_hash,
    ]
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One thing to record; `record_many` writes a batch of them under one lock."""

    action: str
    object_type: str
    object_id: str = ""
    patient_id: uuid.UUID | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _locked_head(key: str) -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(chain=key).first()
    if head is None:
        AuditChainHead.objects.get_or_create(chain=key)
        head = AuditChainHead.objects.select_for_update().get(chain=key)
    return head


def record_many(
    actor: Actor | None,
    entries: Iterable[Entry],
    *,
    organization_id: uuid.UUID | None = None,
    clinic_id: uuid.UUID | None = None,
    username: str = "",
    now: datetime | None = None,
) -> list[AuditEvent]:
    """Append `entries` to the organization's chain; returns the saved events."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change it records")
    org_id = actor.organization_id if actor else organization_id
    key = chain_key(org_id)
    head = _locked_head(key)
    when = now or timezone.now()
    events: list[AuditEvent] = []
    prev = head.last_hash or GENESIS
    seq = head.last_seq
    for entry in entries:
        seq += 1
        event = AuditEvent(
            organization_id=org_id,
            chain=key,
            seq=seq,
            occurred_at=when,
            user_id=actor.user_id if actor else None,
            username=(actor.username if actor else username)[:150],
            roles=actor.role_label if actor else "",
            clinic_id=clinic_id,
            via=actor.via if actor else "web",
            ip_address=actor.ip_address if actor else None,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            patient_id=entry.patient_id,
            detail=dict(entry.detail),
            prev_hash=prev,
        )
        event.hash = compute_hash(event)
        prev = event.hash
        events.append(event)
    if not events:
        return events
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    AuditChainHead.objects.filter(chain=key).update(last_seq=seq, last_hash=prev)
    return events


def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = "",
    *,
    patient_id: uuid.UUID | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event for `actor`; call it inside the change's own transaction."""
    entry = Entry(action, object_type, str(object_id or ""), patient_id, detail or {})
    return record_many(actor, [entry])[0]


@dataclass
class ChainReport:
    chain: str
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(key: str, *, max_problems: int = 20) -> ChainReport:
    """Recompute every hash in one chain and check the links and the head."""
    report = ChainReport(chain=key)
    expected_prev, expected_seq = GENESIS, 0
    events = AuditEvent.objects.filter(chain=key).order_by("seq").iterator(chunk_size=5000)
    for event in events:
        report.checked += 1
        expected_seq += 1
        if event.seq != expected_seq:
            report.problems.append(f"event #{expected_seq} is missing (found #{event.seq} next)")
            expected_seq = event.seq
        if event.prev_hash != expected_prev:
            report.problems.append(f"event #{event.seq} does not link to the event before it")
        if compute_hash(event) != event.hash:
            report.problems.append(f"event #{event.seq} was altered after it was written")
        expected_prev = event.hash
        if len(report.problems) >= max_problems:
            return report
    head = AuditChainHead.objects.filter(chain=key).first()
    if head is not None and (head.last_seq != expected_seq or (head.last_hash or GENESIS) != expected_prev):
        report.problems.append(
            f"the chain ends at #{expected_seq} but its head records #{head.last_seq}: "
            "events were removed from the end, or the head was altered"
        )
    return report


def verify_all() -> list[ChainReport]:
    keys = set(AuditChainHead.objects.values_list("chain", flat=True))
    keys |= set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    return [verify_chain(key) for key in sorted(keys)]


def append_only_triggers_present() -> bool:
    """True when the database still refuses UPDATE and DELETE on the audit table."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN "
                "('audit_event_no_update', 'audit_event_no_delete')"
            )
            return bool(cursor.fetchone()[0] == 2)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_event_append_only' "
                "AND NOT tgisinternal"
            )
            return bool(cursor.fetchone()[0] == 1)
    return False


__all__ = ["Entry", "record", "record_many", "verify_all", "verify_chain"]
