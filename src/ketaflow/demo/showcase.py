"""The showcase patients' plans, made the way a prescriber and the front desk make them.

Each showcase patient (see `evaluations.py`) with a signed IV approval and a current IV consent gets a
plan through `plans.services.create_plan` and `sign_plan`, an induction series through
`scheduling.series_booking.book_series`, an estimate through `billing.estimates` (accepted) and a
deposit through `billing.payments.record_payment`. Their earlier synthetic history keeps its given
treatments; treatments it still had booked without an appointment are cancelled, superseded by the
new series.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.billing.estimates import accept_estimate, estimate_for_plan
from ketaflow.billing.payments import record_payment
from ketaflow.clinical.protocols import builtin_protocols, find
from ketaflow.clinics.models import Organization
from ketaflow.consent.services import current_consent
from ketaflow.eligibility.decisions import route_approved
from ketaflow.measurement.models import Treatment
from ketaflow.patients.models import Condition, Patient
from ketaflow.plans.measures import clinic_today
from ketaflow.plans.services import create_plan, sign_plan
from ketaflow.scheduling.series_booking import book_series

from .evaluations import showcase_patients

ROUTE = "iv"
PROTOCOL = "iv-depression"
GOALS = (
    "Lift mood and energy enough to return to work full time; PHQ-9 at least halved by the end of induction."
)
DEPOSIT_CENTS = 250_00


def showcase_planned(organization: Organization) -> set[uuid.UUID]:
    """The showcase patients approved and consented for IV: their plans come through the services."""
    return {
        p.pk
        for p in showcase_patients(organization, timezone.localdate())
        if route_approved(p, ROUTE) and current_consent(p, ROUTE) is not None
    }


def load_showcase(
    organization: Organization, chosen: set[uuid.UUID], actors: dict[str, Actor]
) -> dict[str, int]:
    """Plan, sign, book the induction, estimate and take a deposit for each chosen patient; counts."""
    totals: Counter[str] = Counter()
    protocol = find(builtin_protocols(), PROTOCOL)
    assert protocol is not None
    prescriber, desk = actors["np"], actors["frontdesk"]
    for patient in Patient.objects.for_organization(organization.pk).filter(pk__in=chosen).order_by("mrn"):
        _supersede(desk, patient)
        ids = list(
            Condition.objects.for_organization(organization.pk)
            .filter(patient=patient)
            .order_by("recorded_at", "pk")
            .values_list("catalogue_id", flat=True)
        )
        condition = next(c for c in [*ids, "mdd"] if c in protocol.conditions)
        plan = create_plan(
            prescriber,
            patient.pk,
            protocol_key=PROTOCOL,
            clinic_id=patient.home_clinic_id,
            condition=condition,
            start_date=clinic_today(patient) + timedelta(days=2),
            goals=GOALS,
        )
        sign_plan(prescriber, plan.pk)
        booking = book_series(desk, plan.pk, phase="induction")
        estimate = estimate_for_plan(desk, plan.pk)
        accept_estimate(desk, estimate.pk)
        record_payment(
            desk,
            patient.pk,
            kind="deposit",
            method="card",
            amount_cents=estimate.deposit_cents or DEPOSIT_CENTS,
            reference="Deposit at booking",
        )
        totals.update(
            {
                "showcase plans": 1,
                "showcase sessions booked": len(booking.booked),
                "showcase sessions unplaced": len(booking.unplaced),
                "estimates accepted": 1,
                "deposits held": 1,
            }
        )
    return dict(totals)


def _supersede(actor: Actor, patient: Patient) -> None:
    """Cancel the synthetic history's booked treatments that no appointment holds."""
    with transaction.atomic():
        rows = list(
            Treatment.objects.for_organization(patient.organization_id).filter(
                patient=patient, status=Treatment.Status.SCHEDULED, appointment__isnull=True
            )
        )
        Treatment.objects.filter(pk__in=[t.pk for t in rows]).update(status=Treatment.Status.CANCELLED)
        record_many(
            actor,
            [
                Entry(
                    Action.UPDATE,
                    "Treatment",
                    str(t.pk),
                    patient.pk,
                    {"status": "cancelled", "reason": "superseded by the new plan"},
                )
                for t in rows
            ],
        )
