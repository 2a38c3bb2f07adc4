"""What the chairside forms offer to draw from: the lots on hand at the session's clinic, and for the
preparation, the volume that holds the plan's dose at each strength on hand and, for an infusion's
first bag, the bag's final volume and the pump rate that runs it over the plan's duration.

The arithmetic is the clinical core's (`dosing.measurable`, `dosing.infusion`) and the numbers are
the plan's own (dose; bag and duration from the plan's copy of its protocol). The volume is worked
to 0.01 mL and rounded down, so it never holds more than the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ketaflow.accounts.actor import Actor
from ketaflow.clinical.controlled import expiry_status
from ketaflow.clinical.dosing import Dose, DoseError, infusion, measurable
from ketaflow.ledger.models import Balance, Product
from ketaflow.ledger.setup import ledger_settings
from ketaflow.plans.snapshot import protocol_of

from .flow_common import INFUSION_ROUTES
from .models import TreatmentSession

GUIDE_STEP_ML = Decimal("0.01")  # the precision the guide works to, not a syringe's graduation


@dataclass(frozen=True)
class Stock:
    """The unexpired lots with stock at the session's clinic (active locations), soonest expiry first."""

    rows: tuple[Balance, ...]
    today: date
    warn_days: int

    def choices(self, drugs: Iterable[str]) -> list[tuple[str, str]]:
        """("lot_id:location_id", label) for `drugs`; the label has the expiry and the quantity."""
        wanted = set(drugs)
        choices = []
        for row in self.rows:
            lot = row.lot
            if lot.product.drug not in wanted:
                continue
            soon = expiry_status(lot.expires_on, self.today, warn_days=self.warn_days) == "expiring"
            label = (
                f"{lot.product.name} · lot {lot.lot_number} · expires {lot.expires_on:%m/%d/%Y}"
                f"{' (soon)' if soon else ''} · {row.quantity_mg.normalize():f} mg in {row.location.name}"
            )
            choices.append((f"{lot.pk}:{row.location_id}", label))
        return choices

    def products(self, drug: str) -> list[Product]:
        """The products of `drug` on hand, each once."""
        found = {row.lot.product.pk: row.lot.product for row in self.rows if row.lot.product.drug == drug}
        return list(found.values())


def stock_of(actor: Actor, session: TreatmentSession, drugs: Iterable[str], today: date) -> Stock:
    """The stock of `drugs` on hand for the session (one query, and one for the expiry warning)."""
    rows = (
        Balance.objects.for_organization(actor.organization_id)
        .filter(
            quantity_mg__gt=0,
            lot__product__drug__in=list(drugs),
            lot__expires_on__gte=today,
            location__is_active=True,
        )
        .select_related("lot__product", "location")
        .order_by("lot__expires_on", "lot__lot_number")
    )
    if session.clinic_id is not None:
        rows = rows.filter(location__clinic_id=session.clinic_id)
    return Stock(tuple(rows), today, ledger_settings(actor.organization_id).expiry_warn_days)


@dataclass(frozen=True)
class DrawGuide:
    """How to draw the rest of the plan's dose from one product: the working, line by line."""

    product: str
    lines: tuple[str, ...]


def draw_guides(
    session: TreatmentSession, products: Iterable[Product], prepared_mg: Decimal
) -> list[DrawGuide]:
    """One guide per liquid product on hand for the dose not yet prepared (none once it all is).
    An infusion's first bag adds the bag's final volume and the pump rate for the plan's duration."""
    remaining = Decimal(session.planned_mg) - prepared_mg
    liquids = [p for p in products if p.concentration_mg_per_ml]
    if remaining <= 0 or not liquids:
        return []
    rule = protocol_of(session.plan).dose
    guides = []
    for product in liquids:
        mg, volume, working = measurable(
            remaining, product.concentration_mg_per_ml, GUIDE_STEP_ML, ceiling_mg=remaining
        )
        if volume <= 0:
            continue
        lines = [working]
        if session.route in INFUSION_ROUTES and not prepared_mg and rule.bag_ml and rule.duration_min:
            dose = Dose(
                mg=mg,
                volume_ml=volume,
                calculated_mg=remaining,
                cap_mg=None,
                capped=False,
                overridden=False,
                arithmetic=(working,),
            )
            try:
                bag = infusion(
                    dose,
                    bag_ml=rule.bag_ml,
                    duration_min=rule.duration_min,
                    min_duration_min=rule.min_duration_min or rule.duration_min,
                )
            except DoseError:
                pass  # a plan the core refuses gets the volume only; the service checks the rate
            else:
                lines += bag.arithmetic
        guides.append(DrawGuide(product.name, tuple(lines)))
    return guides
