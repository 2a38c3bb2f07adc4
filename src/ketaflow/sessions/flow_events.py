"""Appending a dose event inside the caller's transaction, and what the events delivered.

`append_event` is the one place an event is written (the dose page, an alert's "pause the infusion"
answer): the route decides the event kinds (an infusion starts, pauses, resumes, changes rate and
stops; other routes give and stop), `dose_events.check_next` keeps the sequence valid, the first
dose waits for `checkin.start_blockers` and never comes before the check-in, a pump rate is held to
the protocol's minimum duration, and stopping computes the delivered dose and the session's
reconciliation (reference §9).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical import dose_events as core
from ketaflow.clinical.controlled import EntryKind, reconcile_session
from ketaflow.clinical.dosing import DoseError, check_rate
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.ledger.models import Entry
from ketaflow.ledger.setup import ledger_settings
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import FieldError, ValidationFailed

from .flow_common import INFUSION_ROUTES, zone_of
from .models import DoseEvent, DosePreparation, TreatmentSession

Status = TreatmentSession.Status
Kind = core.EventKind
INFUSION_KINDS = frozenset({Kind.START, Kind.PAUSE, Kind.RESUME, Kind.RATE, Kind.STOP})
GIVE_KINDS = frozenset({Kind.GIVE, Kind.STOP})


def events_of(session: TreatmentSession) -> list[core.DoseEvent]:
    """The session's events, oldest first, as the clinical core reads them."""
    rows = (
        DoseEvent.objects.for_organization(session.organization_id)
        .filter(session=session)
        .order_by("at", "recorded_at")
    )
    return [
        core.DoseEvent(Kind(r.kind), r.at, r.rate_ml_per_h, r.amount_mg)
        for r in rows.only("kind", "at", "rate_ml_per_h", "amount_mg")
    ]


def preparations_of(session: TreatmentSession) -> list[DosePreparation]:
    return list(DosePreparation.objects.for_organization(session.organization_id).filter(session=session))


def bag_of(preparations: Sequence[DosePreparation]) -> tuple[Decimal | None, Decimal | None]:
    """(mg per mL, mL) of the infusion bags prepared; (None, None) when nothing went into a bag."""
    bags = [p for p in preparations if p.bag_ml]
    if not bags:
        return None, None
    volume = sum((Decimal(p.bag_ml) for p in bags), Decimal(0))
    drug = sum((Decimal(p.drawn_mg) for p in bags), Decimal(0))
    return drug / volume, volume


def delivery_of(
    events: Sequence[core.DoseEvent], preparations: Sequence[DosePreparation], until: datetime | None
) -> core.Delivery:
    """What the events delivered, never more than the bag held (a pump stops when it is empty)."""
    concentration, bag_ml = bag_of(preparations)
    delivery = core.delivered(events, concentration, until=until)
    if bag_ml is None or concentration is None or delivery.volume_ml <= bag_ml:
        return delivery
    mg = (bag_ml * concentration).quantize(Decimal("0.01"))
    return core.Delivery(
        delivery.state,
        delivery.running_minutes,
        bag_ml.quantize(Decimal("0.01")),
        mg,
        (
            *delivery.arithmetic,
            f"Capped at the bag's {bag_ml:f} mL ({mg:f} mg): the pump stops when it is empty.",
        ),
    )


def min_duration_of(session: TreatmentSession) -> int | None:
    try:
        return protocol_of(session.plan).dose.min_duration_min
    except ProtocolError:
        return None


def append_event(
    actor: Actor,
    session: TreatmentSession,
    *,
    kind: Kind,
    at: datetime,
    rate_ml_per_h: Decimal | None = None,
    amount_mg: Decimal | None = None,
    note: str = "",
) -> DoseEvent:
    """Write one event on a session locked by the caller; ValidationFailed names the field at fault."""
    from .checkin import start_blockers

    if session.status not in (Status.CHECKED_IN, Status.DOSING):
        raise ValidationFailed.single("kind", "Dosing has ended for this session; nothing more is recorded.")
    infusion = session.route in INFUSION_ROUTES
    if kind not in (INFUSION_KINDS if infusion else GIVE_KINDS):
        allowed = "start, pause, resume, rate or stop" if infusion else "give or stop"
        raise ValidationFailed.single("kind", f"This route records {allowed} events.")
    events = events_of(session)
    preparations = preparations_of(session)
    if kind is Kind.START and rate_ml_per_h is None:
        rate_ml_per_h = next(
            (p.pump_rate_ml_per_h for p in reversed(preparations) if p.pump_rate_ml_per_h), None
        )
    new = core.DoseEvent(kind, at, rate_ml_per_h, amount_mg)
    try:
        core.check_next(events, new)
    except core.EventError as exc:
        raise ValidationFailed.single(exc.field, exc.message) from exc
    first = core.state(events) == "not started"
    if first:
        blockers = start_blockers(session)
        if at < session.checked_in_at:
            arrived = session.checked_in_at.astimezone(zone_of(session))
            blockers.append(
                FieldError("at", f"The first dose cannot come before the check-in at {arrived:%H:%M}.")
            )
        if blockers:
            raise ValidationFailed(blockers)
    _check_amounts(session, events, preparations, new)
    event = DoseEvent.objects.create(
        organization_id=session.organization_id,
        patient_id=session.patient_id,
        recorded_by_id=actor.user_id,
        session=session,
        kind=kind.value,
        at=at,
        rate_ml_per_h=rate_ml_per_h,
        amount_mg=amount_mg,
        note=note,
    )
    changed = ["updated_at"]
    if first:
        session.status, session.dosing_started_at = Status.DOSING, at
        changed += ["status", "dosing_started_at"]
    if kind is Kind.STOP:
        delivery = delivery_of([*events, new], preparations, None)
        session.status, session.dosing_ended_at = Status.RECOVERY, at
        session.delivered_mg, session.delivered_ml = delivery.mg, delivery.volume_ml if infusion else None
        changed += ["status", "dosing_ended_at", "delivered_mg", "delivered_ml"]
    session.save(update_fields=changed)
    if kind is Kind.STOP:
        refresh_reconciliation(session, preparations)
    record(
        actor,
        Action.CREATE,
        "DoseEvent",
        event.pk,
        patient_id=session.patient_id,
        detail=_detail(session, event),
    )
    return event


def _check_amounts(
    session: TreatmentSession,
    events: Sequence[core.DoseEvent],
    preparations: Sequence[DosePreparation],
    new: core.DoseEvent,
) -> None:
    """A pump rate no faster than the protocol's minimum duration allows; no more given than drawn."""
    if new.rate_ml_per_h is not None and new.kind in (Kind.START, Kind.RATE, Kind.RESUME):
        _, bag_ml = bag_of(preparations)
        minimum = min_duration_of(session)
        if bag_ml is not None and minimum is not None:
            try:
                check_rate(new.rate_ml_per_h, bag_ml, minimum)
            except DoseError as exc:
                raise ValidationFailed.single(exc.field, exc.message + ".") from exc
    if new.kind is Kind.GIVE and new.amount_mg is not None:
        drawn = sum((Decimal(p.drawn_mg) for p in preparations), Decimal(0))
        given = sum((e.amount_mg or Decimal(0) for e in events if e.kind is Kind.GIVE), Decimal(0))
        if given + new.amount_mg > drawn:
            raise ValidationFailed.single(
                "amount_mg",
                f"{(given + new.amount_mg).normalize():f} mg in all would be more than the "
                f"{drawn.normalize():f} mg prepared; "
                "prepare the rest first.",
            )


def _detail(session: TreatmentSession, event: DoseEvent) -> dict[str, Any]:
    detail: dict[str, Any] = {"session": str(session.pk), "kind": event.kind, "at": event.at.isoformat()}
    if event.rate_ml_per_h is not None:
        detail["rate_ml_per_h"] = f"{event.rate_ml_per_h:f}"
    if event.amount_mg is not None:
        detail["amount_mg"] = f"{event.amount_mg:f}"
    if session.delivered_mg is not None and event.kind == Kind.STOP:
        detail["delivered_mg"] = f"{session.delivered_mg:f}"
    return detail


def refresh_reconciliation(
    session: TreatmentSession, preparations: Sequence[DosePreparation] | None = None
) -> dict[str, Any]:
    """Drawn = given + witnessed waste (within the practice's tolerance), stored on the session.
    Call it again after a waste entry of the session is written. Waste counts only from the lots
    the dose was drawn from, so a rescue drug's waste does not mask the session's dose."""
    preparations = preparations_of(session) if preparations is None else preparations
    drawn = sum((Decimal(p.drawn_mg) for p in preparations), Decimal(0))
    lots = {p.lot_id for p in preparations}
    wasted = -sum(
        Entry.objects.for_organization(session.organization_id)
        .filter(session=session, kind=EntryKind.WASTE.value, lot_id__in=lots)
        .values_list("change_mg", flat=True),
        Decimal(0),
    )
    tolerance = Decimal(ledger_settings(session.organization_id).session_tolerance_mg)
    given = Decimal(session.delivered_mg or 0)
    result = reconcile_session(drawn, given, wasted, tolerance_mg=tolerance)
    stored: dict[str, Any] = {
        "drawn_mg": f"{result.drawn_mg:f}",
        "given_mg": f"{result.given_mg:f}",
        "wasted_mg": f"{result.wasted_mg:f}",
        "unaccounted_mg": f"{result.unaccounted_mg:f}",
        "tolerance_mg": f"{tolerance:f}",
        "reconciled": result.reconciled,
        "message": result.message,
    }
    session.reconciliation, session.reconciled = stored, result.reconciled
    session.save(update_fields=["reconciliation", "reconciled", "updated_at"])
    return stored
