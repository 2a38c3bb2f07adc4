"""Estimates: what a plan will cost before the patient commits.

The sessions are the plan protocol's induction count (an open-ended induction is priced per
session), charged at the price whose appointment type is the protocol's; `clinical.pricing.estimate`
picks the cheapest mix of packages and single sessions, and each package line shows its saving
against single sessions. Extras (integration therapy, a consultation) are added as asked. The lines,
total and deposit are frozen on the Estimate row, so a later price change never rewrites it.

Making and accepting an estimate needs EDIT_SCHEDULE (the front desk handles money); reading one
needs VIEW_DEMOGRAPHICS. Neither needs clinical view: an estimate reads only the plan's protocol
(session count and appointment type), never its dose or notes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical import pricing
from ketaflow.plans.models import TreatmentPlan
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import FieldError, ValidationFailed

from .defaults import settings_for
from .models import Estimate, PriceItem
from .prices import active_prices

MAX_EXTRA = 50


@dataclass(frozen=True)
class Draft:
    """An estimate before it is stored: the frozen lines, total, deposit and what the plan needs."""

    lines: list[dict[str, Any]]
    total_cents: int
    deposit_cents: int
    sessions: int | None
    session_label: str

    @property
    def saving_cents(self) -> int:
        return sum(int(line.get("saving_cents") or 0) for line in self.lines)


def load_plan(actor: Actor, plan_id: uuid.UUID | str) -> TreatmentPlan:
    return (
        TreatmentPlan.objects.for_organization(actor.organization_id)
        .select_related("patient", "clinic")
        .one(plan_id, "plan")
    )


def draft_for_plan(actor: Actor, plan: TreatmentPlan, extras: Sequence[tuple[str, int]] = ()) -> Draft:
    """The estimate's lines for `plan` plus `extras` (price code, quantity); nothing is stored.
    Raises ValidationFailed when the protocol's appointment type has no active price."""
    protocol = protocol_of(plan)
    rows = active_prices(actor.organization_id)
    single = next(
        (
            p
            for p in rows
            if p.kind == PriceItem.Kind.SESSION and p.appointment_type_key == protocol.appointment_type
        ),
        None,
    )
    if single is None:
        raise ValidationFailed.single(
            "plan",
            (
                f"The price list has no active session price for the appointment type "
                f"'{protocol.appointment_type}'; add one on the price list first."
            ),
        )
    errors: list[FieldError] = []
    by_code = {p.code: p for p in rows}
    clean_extras = []
    for code, quantity in extras:
        if code not in by_code or by_code[code].kind == PriceItem.Kind.PACKAGE:
            errors.append(FieldError(f"extras.{code}", "Choose an item from the price list."))
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= MAX_EXTRA:
            errors.append(FieldError(f"extras.{code}", f"Give a number from 0 to {MAX_EXTRA}."))
        elif quantity:
            clean_extras.append((code, quantity))
    if errors:
        raise ValidationFailed(errors)
    count = protocol.induction_sessions
    prices = [
        pricing.Price(p.code, p.label, p.amount_cents, p.covers, p.sessions)
        for p in rows
        if p.kind != PriceItem.Kind.MEMBERSHIP
    ]
    deposit = settings_for(actor.organization_id).deposit_cents
    result = pricing.estimate({single.code: count or 1}, prices, extras=clean_extras, deposit_cents=deposit)
    lines = []
    for line in result.lines:
        row: dict[str, Any] = {
            "code": line.code,
            "label": line.label,
            "quantity": line.quantity,
            "unit_cents": line.unit_cents,
            "amount_cents": line.amount_cents,
            "note": line.note,
            "saving_cents": 0,
        }
        price = by_code[line.code]
        if price.kind == PriceItem.Kind.PACKAGE and price.covers == single.code:
            singles = price.sessions * line.quantity * single.amount_cents
            row["saving_cents"] = max(0, singles - line.amount_cents)
            if row["saving_cents"]:
                saving = pricing.money(row["saving_cents"])
                row["note"] = (
                    f"{line.note}; saves {saving} against {price.sessions * line.quantity} single sessions"
                ).lstrip("; ")
        if line.code == single.code and count is None:
            row["note"] = "per session: the induction phase is open-ended"
        lines.append(row)
    label = f"{count} x {single.label}" if count else f"{single.label} (per session)"
    return Draft(lines, result.total_cents, result.deposit_cents, count, label)


def estimate_for_plan(
    actor: Actor, plan_id: uuid.UUID | str, *, extras: Sequence[tuple[str, int]] = ()
) -> Estimate:
    """Make and store an estimate for the plan (frozen lines, total, deposit). Raises
    ValidationFailed, NotFound or Forbidden."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        plan = load_plan(actor, plan_id)
        draft = draft_for_plan(actor, plan, extras)
        estimate = Estimate.objects.create(
            organization_id=actor.organization_id,
            patient_id=plan.patient_id,
            plan=plan,
            lines=draft.lines,
            total_cents=draft.total_cents,
            deposit_cents=draft.deposit_cents,
            recorded_by_id=actor.user_id,
        )
        record(
            actor,
            Action.CREATE,
            "Estimate",
            estimate.pk,
            patient_id=plan.patient_id,
            detail={
                "plan_id": str(plan.pk),
                "total_cents": draft.total_cents,
                "deposit_cents": draft.deposit_cents,
                "codes": [line["code"] for line in draft.lines],
            },
        )
    return estimate


def open_plan_for_estimate(actor: Actor, plan_id: uuid.UUID | str) -> TreatmentPlan:
    """The plan (NotFound for another organization's), read for its estimate; the read is audited.
    `draft_for_plan` then says what the estimate would be now."""
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    with transaction.atomic():
        plan = load_plan(actor, plan_id)
        record(
            actor,
            Action.READ,
            "TreatmentPlan",
            plan.pk,
            patient_id=plan.patient_id,
            detail={"purpose": "estimate"},
        )
    return plan


def plan_estimates(actor: Actor, plan: TreatmentPlan) -> list[Estimate]:
    actor.require(Permission.VIEW_DEMOGRAPHICS)
    return list(
        Estimate.objects.for_organization(actor.organization_id).filter(plan=plan).order_by("-recorded_at")
    )


def accept_estimate(actor: Actor, estimate_id: uuid.UUID | str) -> Estimate:
    """Record that the patient accepted the estimate. Raises ValidationFailed when already accepted."""
    actor.require(Permission.EDIT_SCHEDULE)
    with transaction.atomic():
        estimate: Estimate = (
            Estimate.objects.for_organization(actor.organization_id)
            .select_for_update()
            .one(estimate_id, "estimate")
        )
        if estimate.accepted_at is not None:
            raise ValidationFailed.single(None, "This estimate was already accepted.")
        estimate.accepted_at = timezone.now()
        estimate.save(update_fields=["accepted_at"])
        record(
            actor,
            Action.UPDATE,
            "Estimate",
            estimate.pk,
            patient_id=estimate.patient_id,
            detail={"event": "accepted", "total_cents": estimate.total_cents},
        )
    return estimate
