"""The facts a REMS monitoring form is answered from, and the answers (plain values, no clock).

`RemsFacts` is what the app gathers from a session; `RemsAnswers` is what `rems.rems_answers`
returns and the form row stores (`as_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .monitoring import MonitoringRules

FORM_VERSION = "2026-11"
FORM_SOURCE = (
    "Spravato REMS Patient Monitoring Form (clinical reference §4); due within 7 days of every dose. "
    "[verify the wording against the REMS program's current form]"
)


@dataclass(frozen=True)
class Reading:
    """One set of vital signs (None: not taken)."""

    at: datetime
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    oxygen_saturation: int | None = None

    def value(self, name: str) -> int | None:
        found: int | None = getattr(self, name, None)
        return found

    @property
    def has_bp(self) -> bool:
        return self.systolic_bp is not None and self.diastolic_bp is not None

    @property
    def bp(self) -> str:
        return f"{self.systolic_bp}/{self.diastolic_bp} mmHg"


@dataclass(frozen=True)
class MedicationFact:
    """A current medication: its name, catalogue classes, and whether the catalogue knew it."""

    name: str
    classes: frozenset[str] = frozenset()
    classified: bool = True


@dataclass(frozen=True)
class RemsFacts:
    """What the session record says, gathered by the app (times are timezone-aware)."""

    patient_name: str
    date_of_birth: date
    sex: str  # "Female", "Male", "Intersex"; "" when not recorded
    clinic_name: str
    clinic_address: str
    prescriber_name: str
    setting: str
    zone: str  # the clinic's time zone, for the times written on the form
    treatment_date: date
    rules: MonitoringRules
    medications: tuple[MedicationFact, ...] = ()
    delivered_mg: Decimal | None = None
    lot_numbers: tuple[str, ...] = ()
    first_device_at: datetime | None = None
    monitoring_ended_at: datetime | None = None
    ready_to_leave_at: datetime | None = None
    ready_before_dosing: bool | None = None  # the readiness decision; None when none was recorded
    override_reason: str = ""
    pre_dose: Reading | None = None
    readings: tuple[Reading, ...] = ()  # the session's readings after check-in, any order
    moaas: tuple[float, ...] = ()
    cadss6: tuple[float, ...] = ()
    side_effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemsField:
    key: str
    section: str
    label: str
    value: str
    detail: str = ""
    missing: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "section": self.section,
            "label": self.label,
            "value": self.value,
            "detail": self.detail,
            "missing": self.missing,
        }


@dataclass(frozen=True)
class RemsAnswers:
    fields: tuple[RemsField, ...]
    version: str = FORM_VERSION
    source: str = FORM_SOURCE
    by_key: dict[str, RemsField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {f.key: f for f in self.fields})

    def __getitem__(self, key: str) -> RemsField:
        return self.by_key[key]

    @property
    def missing(self) -> tuple[RemsField, ...]:
        return tuple(f for f in self.fields if f.missing)

    def as_dict(self) -> dict[str, Any]:
        """The answers as stored on the form row."""
        return {"version": self.version, "source": self.source, "fields": [f.as_dict() for f in self.fields]}
