"""Monitoring a treatment session: the rules, the readiness decision and the vital-sign alerts.

A route's defaults live in `data/monitoring.json` (clinical reference §4, each number's source or
verify mark beside it); a protocol may carry a `monitoring` block that replaces any of them, so a
clinic sets its own thresholds in its own copy of a protocol. `monitoring_rules` merges the two and
validates the result, raising `ProtocolError` with the dotted path (`monitoring.limits.heart_rate.high`).

`readiness` decides whether dosing may start from the pre-session checklist and the pre-dose vital
signs; `vital_alerts` says which readings cross a limit. Both return values carrying the number that
drove them and its source, for the chairside screen to show. Nothing here reads a clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from .protocol_fields import ProtocolError, flag, optional_number, optional_whole, whole
from .vitals import VITAL_SPECS

KNOWN_KEYS = frozenset(
    {
        "vitals_every_min",
        "limits",
        "systolic_rise_mmhg",
        "pre_dose",
        "min_observation_min",
        "second_check",
        "fasting_hours",
        "no_liquids_min",
        "pregnancy_test",
        "escort_required",
        "check_in_within_hours",
        "source",
        "verify",
    }
)


@dataclass(frozen=True)
class Limit:
    """One vital sign's alert range: a reading below `low` or above `high` crosses it."""

    field: str
    low: Decimal | None
    high: Decimal | None

    @property
    def label(self) -> str:
        return VITAL_SPECS[self.field].label

    @property
    def unit(self) -> str:
        return VITAL_SPECS[self.field].unit

    def crossed(self, value: Decimal) -> str | None:
        """'low' or 'high' when `value` is outside the range, else None."""
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return None

    @property
    def text(self) -> str:
        """`90-180 mmHg`, `above 92 %`-style wording of the acceptable range."""
        unit = self.unit
        if self.low is not None and self.high is not None:
            return f"{self.low:f}-{self.high:f} {unit}"
        if self.low is not None:
            return f"at least {self.low:f} {unit}"
        return f"at most {self.high:f} {unit}"


@dataclass(frozen=True)
class MonitoringRules:
    """What a session of one protocol watches, with the source of the numbers."""

    route: str
    vitals_every_min: int | None
    limits: tuple[Limit, ...]
    systolic_rise_mmhg: int | None
    pre_dose: tuple[Limit, ...]
    min_observation_min: int
    second_check: bool
    fasting_hours: int | None
    no_liquids_min: int | None
    pregnancy_test: bool
    escort_required: bool
    check_in_within_hours: int | None
    source: str
    verify: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The rules as stored with a session (so later protocol edits do not rewrite history)."""
        return {
            "route": self.route,
            "vitals_every_min": self.vitals_every_min,
            "limits": _limits_dict(self.limits),
            "systolic_rise_mmhg": self.systolic_rise_mmhg,
            "pre_dose": _limits_dict(self.pre_dose),
            "min_observation_min": self.min_observation_min,
            "second_check": self.second_check,
            "fasting_hours": self.fasting_hours,
            "no_liquids_min": self.no_liquids_min,
            "pregnancy_test": self.pregnancy_test,
            "escort_required": self.escort_required,
            "check_in_within_hours": self.check_in_within_hours,
            "source": self.source,
            "verify": list(self.verify),
        }

    def is_verify(self, name: str) -> bool:
        return name in self.verify


def _limits_dict(limits: Iterable[Limit]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for limit in limits:
        entry = {}
        if limit.low is not None:
            entry["low"] = f"{limit.low:f}"
        if limit.high is not None:
            entry["high"] = f"{limit.high:f}"
        out[limit.field] = entry
    return out


@cache
def _shipped() -> Mapping[str, Any]:
    raw = resources.files("ketaflow.clinical").joinpath("data/monitoring.json").read_text(encoding="utf-8")
    document: Mapping[str, Any] = json.loads(raw)
    return document


def monitoring_rules(route: str, overrides: Mapping[str, Any] | None = None) -> MonitoringRules:
    """The route's shipped defaults with a protocol's `monitoring` block laid over them (a block
    key replaces the default's whole value). Raises ProtocolError naming `monitoring.<field>`."""
    routes = _shipped()["routes"]
    if route not in routes:
        raise ProtocolError("route", f"no monitoring defaults for route {route!r}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ProtocolError("monitoring", "must be an object")
    merged = {**routes[route], **(overrides or {})}
    return parse_rules(route, merged)


@cache
def _default_settings(route: str) -> Mapping[str, Any]:
    return monitoring_rules(route).as_dict()


def clinic_settings(rules: MonitoringRules) -> frozenset[str]:
    """The settings whose value differs from the route's shipped default: the clinic's own numbers
    (from its version of a protocol). The shipped source does not stand behind them, so screens
    show them as the clinic's setting rather than "from the source"."""
    shipped = _default_settings(rules.route)
    mine = rules.as_dict()
    return frozenset(
        name
        for name, value in mine.items()
        if name not in ("route", "source", "verify") and value != shipped[name]
    )


def parse_rules(route: str, data: Mapping[str, Any]) -> MonitoringRules:
    """Validated rules from a complete definition (a stored session's copy, or a merged one)."""
    unknown = sorted(set(data) - KNOWN_KEYS - {"route"})
    if unknown:
        raise ProtocolError(f"monitoring.{unknown[0]}", "is not a monitoring setting")
    verify = data.get("verify", [])
    if not isinstance(verify, list) or not all(isinstance(v, str) for v in verify):
        raise ProtocolError("monitoring.verify", "must list setting names")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ProtocolError("monitoring.source", "must say where the numbers come from")
    p = "monitoring."
    return MonitoringRules(
        route=route,
        vitals_every_min=optional_whole(data, "vitals_every_min", p, minimum=1),
        limits=_limits(data.get("limits", {}), "monitoring.limits"),
        systolic_rise_mmhg=optional_whole(data, "systolic_rise_mmhg", p, minimum=1),
        pre_dose=_limits(data.get("pre_dose", {}), "monitoring.pre_dose"),
        min_observation_min=whole(data, "min_observation_min", p),
        second_check=flag(data, "second_check", p),
        fasting_hours=optional_whole(data, "fasting_hours", p),
        no_liquids_min=optional_whole(data, "no_liquids_min", p),
        pregnancy_test=flag(data, "pregnancy_test", p),
        escort_required=flag(data, "escort_required", p),
        check_in_within_hours=optional_whole(data, "check_in_within_hours", p, minimum=1),
        source=source.strip(),
        verify=tuple(verify),
    )


def _limits(data: Any, path: str) -> tuple[Limit, ...]:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object of vital signs")
    limits = []
    for field, bounds in data.items():
        here = f"{path}.{field}"
        spec = VITAL_SPECS.get(field)
        if spec is None or field in ("weight_kg", "height_cm"):
            raise ProtocolError(here, "is not a vital sign watched in a session")
        if not isinstance(bounds, Mapping) or not bounds or set(bounds) - {"low", "high"}:
            raise ProtocolError(here, "give a low and/or a high limit")
        low, high = (optional_number(bounds, k, f"{here}.") for k in ("low", "high"))
        if low is None and high is None:
            raise ProtocolError(here, "give a low and/or a high limit")
        for value, key in ((low, "low"), (high, "high")):
            if value is not None and not spec.minimum <= value <= spec.maximum:
                raise ProtocolError(
                    f"{here}.{key}", f"must be within {spec.minimum}-{spec.maximum} {spec.unit}"
                )
        if low is not None and high is not None and low >= high:
            raise ProtocolError(f"{here}.low", "must be below the high limit")
        limits.append(Limit(field, low, high))
    return tuple(limits)


@dataclass(frozen=True)
class Finding:
    """One reason behind a decision: the field it is about, plain words, and the rule's source."""

    field: str
    message: str
    source: str = ""


@dataclass(frozen=True)
class Checklist:
    """The pre-session checklist as the nurse recorded it ('' or None for not recorded)."""

    fasting_confirmed: bool
    escort_name: str
    escort_phone: str
    medications_taken: str
    pregnancy_test: str  # "negative", "positive", "not_applicable" or ""
    pre_dose: Mapping[str, Decimal | int | None]


PREGNANCY_RESULTS = ("negative", "positive", "not_applicable")


@dataclass(frozen=True)
class Readiness:
    """May dosing start? `blockers` are why not; proceeding anyway is a recorded override."""

    ready: bool
    blockers: tuple[Finding, ...]
    rules_source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "blockers": [{"field": f.field, "message": f.message, "source": f.source} for f in self.blockers],
            "rules_source": self.rules_source,
        }


def readiness(checklist: Checklist, rules: MonitoringRules) -> Readiness:
    """The readiness decision against the protocol's rules: pre-dose vital signs taken and within
    `pre_dose` limits, fasting confirmed when the protocol asks it, an escort named with a phone
    number when required, medications recorded, and a negative or not-applicable pregnancy test
    when the protocol asks for one."""
    blockers: list[Finding] = []
    source = rules.source
    taken = {k: v for k, v in checklist.pre_dose.items() if v is not None}
    if not taken:
        blockers.append(Finding("pre_dose", "Take the pre-dose vital signs.", source))
    for limit in rules.pre_dose:
        value = taken.get(limit.field)
        if value is None:
            if taken:
                blockers.append(Finding(limit.field, f"{limit.label} before dosing is missing.", source))
            continue
        if limit.crossed(Decimal(value)) is not None:
            blockers.append(
                Finding(
                    limit.field,
                    f"{limit.label} {Decimal(value):f} {limit.unit} is outside this protocol's pre-dose "
                    f"limit ({limit.text}).",
                    source,
                )
            )
    if rules.fasting_hours and not checklist.fasting_confirmed:
        liquids = f"; no liquids for {rules.no_liquids_min} min" if rules.no_liquids_min else ""
        blockers.append(
            Finding(
                "fasting_confirmed",
                f"Confirm nothing to eat for {rules.fasting_hours} h before dosing{liquids}.",
                source,
            )
        )
    if rules.escort_required and not (checklist.escort_name.strip() and checklist.escort_phone.strip()):
        blockers.append(Finding("escort_name", "Confirm the escort home by name and phone.", source))
    if not checklist.medications_taken.strip():
        blockers.append(Finding("medications_taken", "Record today's medications (or 'none').", source))
    if rules.pregnancy_test:
        if checklist.pregnancy_test == "positive":
            blockers.append(Finding("pregnancy_test", "The pregnancy test is positive.", source))
        elif checklist.pregnancy_test not in PREGNANCY_RESULTS:
            blockers.append(
                Finding(
                    "pregnancy_test", "Record the pregnancy test result, or that it does not apply.", source
                )
            )
    return Readiness(not blockers, tuple(blockers), source)


@dataclass(frozen=True)
class VitalAlert:
    """A reading that crossed a limit: what, how far, and the limit with its source."""

    field: str
    value: Decimal
    direction: str  # "low", "high" or "rise"
    limit_text: str
    message: str
    source: str


def vital_alerts(
    readings: Mapping[str, Decimal | int | None],
    rules: MonitoringRules,
    *,
    baseline_systolic: int | Decimal | None = None,
) -> tuple[VitalAlert, ...]:
    """Every reading outside the protocol's limits, plus a systolic rise above the baseline by more
    than `systolic_rise_mmhg`. Readings are assumed plausible (`vitals.check_vitals` first)."""
    alerts: list[VitalAlert] = []
    for limit in rules.limits:
        raw = readings.get(limit.field)
        if raw is None:
            continue
        value = Decimal(raw)
        direction = limit.crossed(value)
        if direction is not None:
            alerts.append(
                VitalAlert(
                    limit.field,
                    value,
                    direction,
                    limit.text,
                    f"{limit.label} {value:f} {limit.unit} is {direction}: the limit is {limit.text}.",
                    rules.source,
                )
            )
    systolic = readings.get("systolic_bp")
    if rules.systolic_rise_mmhg and systolic is not None and baseline_systolic is not None:
        rise = Decimal(systolic) - Decimal(baseline_systolic)
        already = any(a.field == "systolic_bp" for a in alerts)
        if rise > rules.systolic_rise_mmhg and not already:
            alerts.append(
                VitalAlert(
                    "systolic_bp",
                    Decimal(systolic),
                    "rise",
                    f"at most {rules.systolic_rise_mmhg} mmHg above baseline",
                    f"Systolic blood pressure rose {rise:f} mmHg above the baseline of "
                    f"{Decimal(baseline_systolic):f} "
                    f"(limit {rules.systolic_rise_mmhg} mmHg).",
                    rules.source,
                )
            )
    return tuple(alerts)


@dataclass(frozen=True)
class VitalsTimer:
    """When the next set of vital signs is due, for the chairside countdown."""

    due_at: datetime | None
    every_min: int | None

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and now > self.due_at

    def seconds_left(self, now: datetime) -> int | None:
        return None if self.due_at is None else int((self.due_at - now).total_seconds())


def vitals_timer(
    last_reading_at: datetime | None, started_at: datetime | None, rules: MonitoringRules
) -> VitalsTimer:
    """The next reading is due `vitals_every_min` after the last one (or after dosing started when
    none has been taken since); no timer for a route without an interval or before dosing."""
    every = rules.vitals_every_min
    anchor = max((t for t in (last_reading_at, started_at) if t is not None), default=None)
    if every is None or anchor is None or started_at is None:
        return VitalsTimer(None, every)
    return VitalsTimer(anchor + timedelta(minutes=every), every)
