"""Which demo patients get a bulk plan, and the protocol and condition each plan follows.

Every patient past evaluation with a treatment on the chart (but the showcase patients, planned
through the services) is chosen, by MRN. Most follow `iv-depression`; up to three esketamine and
three IM plans and one at-home sublingual plan (a maintenance patient) show the other routes, and a
patient with only a pain condition follows a pain protocol. All synthetic.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass

from ketaflow.clinical.protocols import Protocol, builtin_protocols
from ketaflow.clinics.models import Clinic
from ketaflow.measurement.models import MeasurementPlan, Stage, Treatment
from ketaflow.patients.models import Condition, Patient
from ketaflow.plans.models import TreatmentPlan

PAST_EVALUATION = (Stage.INDUCTION, Stage.MAINTENANCE, Stage.COMPLETED, Stage.DISCONTINUED)
# The measurement treatments of these protocols' plans are relabelled from the IV infusion.
ROUTE_LABELS = {
    "iv-chronic-pain": "IV ketamine 0.5 mg/kg/h over 4 h",
    "im-depression": "IM ketamine 0.5 mg/kg",
    "esketamine-trd": "Esketamine (Spravato) nasal spray",
    "sublingual-home": "Sublingual ketamine troche at home",
}


@dataclass
class Planned:
    """One patient's bulk plan and what it was made from."""

    patient: Patient
    measurement: MeasurementPlan
    clinic_index: int
    protocol: Protocol
    condition: str
    treatments: list[Treatment]
    plan: TreatmentPlan | None = None


def choose(
    org_id: uuid.UUID, clinics: list[Clinic], skip: set[uuid.UUID], rng: random.Random
) -> list[Planned]:
    """Every patient past evaluation (but those in `skip`), by MRN, with the protocol and condition
    their plan will follow."""
    protocols = {p.key: p for p in builtin_protocols()}
    measurements = (
        MeasurementPlan.objects.for_organization(org_id)
        .filter(stage__in=PAST_EVALUATION)
        .exclude(patient_id__in=skip)
        .select_related("patient__home_clinic")
        .order_by("patient__mrn")
    )
    conditions: dict[uuid.UUID, list[str]] = {}
    for patient_id, catalogue_id in (
        Condition.objects.for_organization(org_id)
        .order_by("recorded_at", "pk")
        .values_list("patient_id", "catalogue_id")
    ):
        conditions.setdefault(patient_id, []).append(catalogue_id)
    treatments: dict[uuid.UUID, list[Treatment]] = {}
    for treatment in Treatment.objects.for_organization(org_id).order_by("occurred_at"):
        treatments.setdefault(treatment.patient_id, []).append(treatment)
    chosen: list[Planned] = []
    wanted = Counter({"esketamine-trd": 3, "im-depression": 3, "sublingual-home": 1})
    clinic_ids = [c.pk for c in clinics]
    for measurement in measurements:
        patient = measurement.patient
        given = treatments.get(patient.pk, [])
        if not given:
            continue
        ids = conditions.get(patient.pk, []) or ["mdd"]
        key = "iv-depression"
        for special in ("sublingual-home", "esketamine-trd", "im-depression"):
            fits = set(ids) & set(protocols[special].conditions)
            home_ok = special != "sublingual-home" or measurement.stage == Stage.MAINTENANCE
            if wanted[special] and fits and home_ok and rng.random() < 0.3:
                key, wanted[special] = special, wanted[special] - 1
                break
        if key == "iv-depression" and not set(ids) & set(protocols[key].conditions):
            # The pain protocol doses on adjusted weight, which needs sex at birth recorded.
            sexed = patient.sex_at_birth in ("female", "male")
            key = "iv-chronic-pain" if sexed else "iv-crps-daily" if "crps" in ids else "iv-depression"
        protocol = protocols[key]
        condition = next(c for c in [*ids, "mdd"] if c in protocol.conditions)
        chosen.append(
            Planned(
                patient, measurement, clinic_ids.index(patient.home_clinic_id), protocol, condition, given
            )
        )
    return chosen
