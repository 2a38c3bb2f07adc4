"""A patient's progress per instrument: the scores over time, the outcome judgements and the chart.

Used by the chart tab, the portal, the PDF summary and the API alike, so each shows the same numbers
with the same reasons. Outcome rules come from the organization's settings, with their sources.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from ketaflow.clinical.instruments import Instrument
from ketaflow.clinical.outcomes import Measurement, Outcome, OutcomeRules, assess_outcome
from ketaflow.patients.models import Patient

from .charts import ChartBand, ChartPoint, TrajectoryChart, render_trajectory
from .library import instruments_for, settings_for
from .models import MeasurementSettings, ScoreObservation, Treatment


@dataclass(frozen=True)
class ScorePoint:
    at: datetime
    value: float
    band: str
    response_id: uuid.UUID
    flagged: bool


@dataclass(frozen=True)
class InstrumentProgress:
    instrument: Instrument
    points: list[ScorePoint]
    outcome: Outcome
    treatments: list[datetime]
    zone: tzinfo | None = None  # the home clinic's time zone: chart dates read as the page's dates

    @property
    def latest(self) -> ScorePoint | None:
        return self.points[-1] if self.points else None

    def chart(self, *, width: int = 640, height: int = 240) -> str:
        """The trajectory as inline SVG with bands, baseline, response line and treatment marks."""
        low, high = self.instrument.total_range
        local = (lambda at: at.astimezone(self.zone)) if self.zone else (lambda at: at)
        unit = "risk level" if self.instrument.scoring.method == "risk_level" else ""
        points = [
            ChartPoint(
                local(p.at),
                p.value,
                f"{self.instrument.short_name} {p.value:g}{' ' + unit if unit else ''}"
                f"{f' ({p.band})' if p.band else ''}",
            )
            for p in self.points
        ]
        baseline = self.outcome.baseline.total if self.outcome.baseline else None
        return render_trajectory(
            TrajectoryChart(
                title=self.instrument.short_name,
                points=points,
                y_min=low,
                y_max=high,
                bands=[ChartBand(b.low, b.high, b.label) for b in self.instrument.bands],
                baseline=baseline,
                response_at=self.outcome.response_threshold,
                treatments=[local(at) for at in self.treatments],
                flagged=[local(p.at) for p in self.points if p.flagged],
            ),
            width=width,
            height=height,
        )


# The order a clinician reads progress in: depression first, then anxiety, trauma, pain, mania, then
# the risk screen and the in-session scales; a clinic's own instruments after these.
DISPLAY_ORDER = ("phq9", "qids_sr16", "madrs", "gad7", "pcl5", "peg", "pain_nrs", "ymrs",
                 "cssrs_screener", "cadss6", "moaas")


def display_rank(instrument_id: str) -> tuple[int, str]:
    rank = DISPLAY_ORDER.index(instrument_id) if instrument_id in DISPLAY_ORDER else len(DISPLAY_ORDER)
    return (rank, instrument_id)


def outcome_rules(config: MeasurementSettings, instrument: Instrument) -> OutcomeRules:
    """The organization's rules for one instrument; a remission override replaces the definition's."""
    rules = OutcomeRules(
        response_reduction=config.response_reduction_percent / 100,
        relapse_consecutive=config.relapse_consecutive,
        non_response_after=config.non_response_after,
    ).for_instrument(instrument)
    override = (config.remission_overrides or {}).get(instrument.id)
    if override is not None:
        rules = OutcomeRules(
            response_reduction=rules.response_reduction,
            remission_at_most=float(override),
            relapse_consecutive=rules.relapse_consecutive,
            non_response_after=rules.non_response_after,
            sources={**rules.sources, "remission": "clinic setting"},
        )
    return rules


def patient_progress(
    patient: Patient, *, instrument_ids: list[str] | None = None
) -> list[InstrumentProgress]:
    """Progress for every instrument the patient has a current score on (or those named), in
    library order. The caller has already checked permission and audited the read."""
    org = patient.organization_id
    observations = ScoreObservation.objects.for_organization(org).filter(
        patient=patient, kind=ScoreObservation.Kind.TOTAL, is_current=True
    )
    if instrument_ids is not None:
        observations = observations.filter(instrument_id__in=instrument_ids)
    rows = observations.order_by("effective_at").values_list(
        "instrument_id", "effective_at", "value", "band", "response_id", "response__safety_flags"
    )
    by_instrument: dict[str, list[ScorePoint]] = defaultdict(list)
    for instrument_id, at, value, band, response_id, flags in rows:
        by_instrument[instrument_id].append(ScorePoint(at, value, band, response_id, bool(flags)))
    treatments = list(
        Treatment.objects.for_organization(org)
        .filter(patient=patient, status=Treatment.Status.GIVEN)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
    )
    zone = ZoneInfo(patient.home_clinic.timezone) if patient.home_clinic_id else None
    library = instruments_for(org)
    config = settings_for(org)
    found = []
    for instrument_id, instrument in sorted(library.items(), key=lambda pair: display_rank(pair[0])):
        points = by_instrument.get(instrument_id)
        if not points:
            continue
        outcome = assess_outcome(
            instrument_id,
            [Measurement(p.at, p.value) for p in points],
            treatments,
            outcome_rules(config, instrument),
            label=instrument.short_name,
        )
        found.append(InstrumentProgress(instrument, points, outcome, treatments, zone))
    return found
