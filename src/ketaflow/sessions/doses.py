"""The dose at the chair: drawn up from a lot, checked by a second person, given as timed events.

`prepare_dose` computes the mg drawn from the product's strength (volume x concentration, or whole
devices x mg each), refuses an expired lot or the wrong drug for the route, holds a dose above the
plan to a prescriber's override with a reason (`dose_events.check_prepared_dose`) and a pump rate to
the protocol's minimum duration (`dosing.check_rate`), and writes the controlled-substance ledger's
administration entry in the same transaction (reference §9). `record_event` appends a start, pause,
resume, rate change, give or stop; the delivered dose is computed from the events, never typed in.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical import dose_events as core
from ketaflow.clinical.controlled import expiry_status
from ketaflow.clinical.dosing import DoseError, check_rate
from ketaflow.ledger.models import Lot, Product, StorageLocation
from ketaflow.ledger.stock import administer, location_of, lot_of
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import FieldError, NotFound, ValidationFailed

from .access import locked_session
from .flow_common import INFUSION_ROUTES, clinic_day, decimal, drug_of_route, moment, text
from .flow_events import (
    append_event,
    delivery_of,
    events_of,
    min_duration_of,
    preparations_of,
    refresh_reconciliation,
)
from .models import DoseEvent, DosePreparation, TreatmentSession

__all__ = [
    "delivery_now",
    "lot_and_location",
    "prepare_dose",
    "record_event",
    "refresh_reconciliation",
    "verify_preparation",
]

Status = TreatmentSession.Status


def prepare_dose(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    lot_id: Any,
    location_id: Any,
    volume_drawn_ml: Any = None,
    units: Any = None,
    bag_ml: Any = None,
    pump_rate_ml_per_h: Any = None,
    override_reason: str = "",
) -> DosePreparation:
    """The dose drawn up for the session, with its ledger administration entry. ValidationFailed
    names the field: lot_id (another drug, expired), volume_drawn_ml / units (missing, more than in
    stock), bag_ml, pump_rate_ml_per_h (faster than the protocol allows), override_reason (above
    the plan without a prescriber's reason)."""
    actor.require(Permission.CHART_SESSIONS)
    actor.require(Permission.HANDLE_CONTROLLED)
    volume = decimal(volume_drawn_ml, "volume_drawn_ml")
    bag = decimal(bag_ml, "bag_ml")
    rate = decimal(pump_rate_ml_per_h, "pump_rate_ml_per_h")
    count = _units(units)
    reason = text(override_reason, "override_reason")
    now = timezone.now()
    with transaction.atomic():
        session = locked_session(actor, session_id)
        if session.status not in (Status.CHECKED_IN, Status.DOSING):
            raise ValidationFailed.single(
                None, "Dosing has ended for this session; nothing more is prepared."
            )
        lot, location = _stock(actor, session, lot_id, location_id, now)
        product: Product = lot.product
        drawn, amount_field = _drawn_mg(product, volume, count)
        if session.route in INFUSION_ROUTES:
            bag = bag or _protocol_bag(session, volume)
            if bag is None:
                raise ValidationFailed.single("bag_ml", "Enter the bag's final volume in mL.")
            if rate is not None:
                _check_pump(session, rate, bag)
        earlier = sum((Decimal(p.drawn_mg) for p in preparations_of(session)), Decimal(0))
        try:
            override = core.check_prepared_dose(
                Decimal(session.planned_mg).normalize(), (earlier + drawn).normalize(), override_reason=reason
            )
        except core.EventError as exc:
            field = amount_field if exc.field == "volume_drawn_ml" else exc.field
            raise ValidationFailed.single(field, exc.message) from exc
        if override and not actor.can(Permission.SIGN_DOSES):
            raise ValidationFailed.single(
                "override_reason",
                "A dose above the plan is a prescriber's decision; ask a prescriber to prepare it.",
            )
        try:
            entry = administer(
                actor,
                lot=lot,
                location=location,
                quantity_mg=drawn,
                patient_id=session.patient_id,
                session_id=session.pk,
                occurred_at=now,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                FieldError(amount_field if e.field == "quantity_mg" else e.field, e.message)
                for e in exc.errors
            ) from exc
        preparation = DosePreparation.objects.create(
            organization_id=session.organization_id,
            patient_id=session.patient_id,
            recorded_by_id=actor.user_id,
            session=session,
            lot=lot,
            location=location,
            concentration_mg_per_ml=product.concentration_mg_per_ml,
            volume_drawn_ml=volume if product.ml_per_unit else None,
            units=count if not product.ml_per_unit else None,
            drawn_mg=drawn,
            bag_ml=bag if session.route in INFUSION_ROUTES else None,
            pump_rate_ml_per_h=rate if session.route in INFUSION_ROUTES else None,
            override_reason=override or "",
            prepared_at=now,
            ledger_entry=entry,
        )
        record(
            actor,
            Action.CREATE,
            "DosePreparation",
            preparation.pk,
            patient_id=session.patient_id,
            detail={
                "session": str(session.pk),
                "lot": str(lot.pk),
                "drawn_mg": f"{drawn:f}",
                "planned_mg": f"{session.planned_mg:f}",
                "override_reason": override or "",
            },
        )
    return preparation


def _units(units: Any) -> int | None:
    if units is None or units == "":
        return None
    if isinstance(units, bool) or not str(units).strip().isdigit() or int(str(units)) < 1:
        raise ValidationFailed.single("units", "Enter a whole number of devices or troches.")
    return int(str(units))


def lot_and_location(
    actor: Actor, session: TreatmentSession, lot_id: Any, location_id: Any, when: datetime
) -> tuple[Lot, StorageLocation]:
    """The lot and storage location a session's drug (its dose, a rescue drug) is drawn from: this
    organization's, the location at the session's clinic, the lot not expired on the clinic's day
    of `when`. ValidationFailed names `lot_id` or `location_id`; the caller checks the drug."""
    try:
        lot = lot_of(actor, lot_id)
    except NotFound:
        raise ValidationFailed.single("lot_id", "Choose a lot from your stock.") from None
    try:
        location = location_of(actor, location_id)
    except NotFound:
        raise ValidationFailed.single("location_id", "Choose one of your storage locations.") from None
    if expiry_status(lot.expires_on, clinic_day(session, when), warn_days=0) == "expired":
        raise ValidationFailed.single(
            "lot_id", f"Lot {lot.lot_number} expired on {lot.expires_on:%Y-%m-%d}; it cannot be used."
        )
    if session.clinic_id and location.clinic_id != session.clinic_id:
        raise ValidationFailed.single("location_id", "Choose a storage location of this clinic.")
    return lot, location


def _stock(
    actor: Actor, session: TreatmentSession, lot_id: Any, location_id: Any, now: datetime
) -> tuple[Lot, StorageLocation]:
    """The lot and location (`lot_and_location`), of the right drug for the route."""
    lot, location = lot_and_location(actor, session, lot_id, location_id, now)
    wanted = drug_of_route(session.route)
    if lot.product.drug != wanted:
        raise ValidationFailed.single(
            "lot_id", f"This is {lot.product.get_drug_display().lower()}; this session's dose is {wanted}."
        )
    return lot, location


def _drawn_mg(product: Product, volume: Decimal | None, count: int | None) -> tuple[Decimal, str]:
    """mg drawn, and the input it came from. A liquid is measured by volume, a device by count."""
    if product.ml_per_unit:
        if volume is None:
            raise ValidationFailed.single("volume_drawn_ml", "Enter the volume drawn up in mL.")
        return (volume * product.mg_per_unit / product.ml_per_unit).quantize(
            Decimal("0.001")
        ), "volume_drawn_ml"
    if count is None:
        raise ValidationFailed.single("units", f"Enter how many {product.form}s are used.")
    return Decimal(count) * product.mg_per_unit, "units"


def _protocol_bag(session: TreatmentSession, drug_ml: Decimal | None) -> Decimal | None:
    """The protocol's diluent bag with the drug drawn into it: the final volume the pump runs, as
    the plan's own arithmetic counts it (`dosing.infusion`)."""
    bag = protocol_of(session.plan).dose.bag_ml
    return None if bag is None else Decimal(bag) + (drug_ml or Decimal(0))


def _check_pump(session: TreatmentSession, rate: Decimal, bag: Decimal) -> None:
    minimum = min_duration_of(session)
    if minimum is None:
        return
    try:
        check_rate(rate, bag, minimum)
    except DoseError as exc:
        raise ValidationFailed.single("pump_rate_ml_per_h", exc.message + ".") from exc


def verify_preparation(actor: Actor, preparation_id: uuid.UUID | str) -> DosePreparation:
    """A second person confirms the drug, lot, volume and pump settings. ValidationFailed
    ('verified_by') for the person who prepared it, or a preparation already verified."""
    actor.require(Permission.CHART_SESSIONS)
    actor.require(Permission.HANDLE_CONTROLLED)
    with transaction.atomic():
        preparation: DosePreparation = (
            DosePreparation.objects.for_organization(actor.organization_id)
            .select_for_update()
            .one(preparation_id, "preparation")
        )
        session = locked_session(actor, preparation.session_id)
        if preparation.recorded_by_id == actor.user_id:
            raise ValidationFailed.single(
                "verified_by", "A second person checks the dose, not the one who drew it up."
            )
        if preparation.verified_at is not None:
            raise ValidationFailed.single("verified_by", "This preparation is already verified.")
        preparation.verified_by_id, preparation.verified_at = actor.user_id, timezone.now()
        preparation.save(update_fields=["verified_by", "verified_at"])
        record(
            actor,
            Action.UPDATE,
            "DosePreparation",
            preparation.pk,
            patient_id=session.patient_id,
            detail={"verified": True, "session": str(session.pk)},
        )
    return preparation


def record_event(
    actor: Actor,
    session_id: uuid.UUID | str,
    *,
    kind: str,
    at: datetime | None = None,
    rate_ml_per_h: Any = None,
    amount_mg: Any = None,
    note: str = "",
) -> DoseEvent:
    """Append one dose event (start, pause, resume, rate, give, stop). ValidationFailed names the
    field: kind (out of order, wrong for the route), at (earlier than the last event or, for the
    first dose, than the check-in; in the future), rate_ml_per_h, amount_mg, or readiness /
    preparation / verified_by / rems when the first dose may not start yet. Stopping moves the
    session to recovery with the delivered dose."""
    try:
        event_kind = core.EventKind(str(kind))
    except ValueError:
        raise ValidationFailed.single("kind", "Choose start, pause, resume, rate, give or stop.") from None
    when = moment(at, "at")
    rate = decimal(rate_ml_per_h, "rate_ml_per_h")
    amount = decimal(amount_mg, "amount_mg")
    why = text(note, "note")
    with transaction.atomic():
        session = locked_session(actor, session_id)
        return append_event(
            actor, session, kind=event_kind, at=when, rate_ml_per_h=rate, amount_mg=amount, note=why
        )


def delivery_now(session: TreatmentSession, now: datetime) -> core.Delivery:
    """What has gone in so far (a running infusion counted up to `now`)."""
    return delivery_of(events_of(session), preparations_of(session), now)
