"""Who and what a demo visit at the chair involves: its `Story` (what happens beyond the routine),
the `Chair` every visit shares (staff, stock, randomness, counts) and the `Seat` of one visit under
way, with the small charting steps the scripts repeat (readings, an alert and its answer, a side
effect, a rescue medication). Everything is synthetic.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.clinical.dose_rules import DoseRule
from ketaflow.clinical.monitoring import MonitoringRules
from ketaflow.plans.snapshot import protocol_of
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.effects import give_rescue, record_side_effect
from ketaflow.sessions.flow_common import rules_of
from ketaflow.sessions.vitals import ingest_batch, record_vitals, respond_to_alert

from .ledger_stock import Stock

MINUTE = timedelta(minutes=1)


@dataclass
class Story:
    """What happens in one visit beyond the routine."""

    high_bp: bool = False  # pre-dose blood pressure above the limit; a prescriber overrides
    pause: bool = False  # a blood-pressure alert pauses the infusion for 5 minutes; the rest wasted
    early_stop: int = 0  # the infusion stopped this many minutes early; the rest wasted
    unwasted: bool = False  # ... but the waste is never recorded (the session the ledger flags)
    low_oxygen: bool = False  # an SpO2 alert answered by calling the prescriber
    rescue: bool = False  # an emergence reaction with a fast pulse: midazolam, answering the alert
    nausea: bool = False  # nausea, treated with ondansetron, resolved in recovery
    side_effect: str = ""  # another mild side effect (dizziness, dissociation, ...)
    scores: bool = False  # CADSS-6 and MOAA/S
    signed: bool = True
    amended: bool = False
    submit_rems: bool = False


@dataclass
class Chair:
    """What every visit shares: who works at each clinic, the stock, the randomness, the counts."""

    actors: dict[str, Actor]
    stock: Stock
    rng: random.Random
    totals: Counter[str] = field(default_factory=Counter)


@dataclass
class Seat:
    """One visit under way: its session, the staff at its clinic, the patient's resting vitals, the
    plan's dose rule (bag, infusion time, device size and interval) and, once checked in, the
    session's monitoring rules (reading interval, observation time)."""

    chair: Chair
    appointment: Appointment
    story: Story
    dose: DoseRule
    nurse: Actor
    prescriber: Actor
    systolic: int
    diastolic: int
    pulse: int
    session: Any = None
    escort: str = ""
    began: Any = None  # when dosing started (the first device, for esketamine)

    @classmethod
    def of(cls, chair: Chair, appointment: Appointment, clinic_index: int, story: Story) -> Seat:
        rng = chair.rng
        nurse, prescriber = ("nurse", "np") if clinic_index == 0 else ("nurse2", "pa")
        assert appointment.plan is not None
        return cls(
            chair,
            appointment,
            story,
            protocol_of(appointment.plan).dose,
            chair.actors[nurse],
            chair.actors[prescriber],
            rng.randint(116, 136),
            rng.randint(70, 84),
            rng.randint(62, 82),
        )

    @property
    def pk(self) -> Any:
        return self.session.pk

    @property
    def rules(self) -> MonitoringRules:
        return rules_of(self.session)

    def reading(self, rise: int = 0, **fixed: int) -> dict[str, int]:
        """A set of vital signs about the patient's resting values (raised by `rise` mmHg)."""
        rng = self.chair.rng
        values = {
            "systolic_bp": self.systolic + rise + rng.randint(-4, 4),
            "diastolic_bp": self.diastolic + rise // 2 + rng.randint(-3, 3),
            "heart_rate": self.pulse + rise // 3 + rng.randint(-3, 3),
            "respiratory_rate": rng.randint(12, 18),
            "oxygen_saturation": rng.randint(96, 99),
        }
        return {**values, **fixed}

    def readings(self, times: list[datetime], rise: int = 0) -> None:
        """Routine readings from the monitor, sent as one batch."""
        if times:
            items = [{"measured_at": at, **self.reading(rise)} for at in times]
            self.chair.totals["vital signs"] += ingest_batch(self.nurse, self.pk, items).stored

    def alert(self, reading: dict[str, int], response: str, note: str) -> list[Any]:
        """A reading outside the limits, answered at once; returns the alerts it raised."""
        result = record_vitals(self.nurse, self.pk, reading)
        self.chair.totals["vital signs"] += 1
        for raised in result.alerts:
            if response:
                respond_to_alert(self.nurse, raised.pk, response=response, note=note)
                self.chair.totals["alerts answered"] += 1
        return list(result.alerts)

    def side_effect(self, kind: str, severity: str, onset: datetime, note: str = "") -> None:
        record_side_effect(self.nurse, self.pk, kind=kind, severity=severity, onset_at=onset, note=note)
        self.chair.totals["side effects"] += 1

    def rescue(self, drug: str, dose: str, reason: str, **options: Any) -> None:
        if drug == "midazolam":
            clinic = self.appointment.clinic_id
            lot = self.chair.stock.lot_for(clinic, drug, Decimal(dose), self.appointment.starts_at.date())
            options |= {"lot_id": lot.pk, "location_id": self.chair.stock.location(clinic).pk}
        give_rescue(self.nurse, self.pk, drug_key=drug, dose_mg=dose, route="iv", reason=reason, **options)
        self.chair.totals["rescue doses"] += 1
