"""A protocol in words for the pages: every number of its dose rule with the verify mark, and its
phases as blocks in words with an example calendar (`clinical.series.series_targets`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ketaflow.clinical.monitoring import MonitoringRules, clinic_settings
from ketaflow.clinical.protocols import Block, Phase, Protocol
from ketaflow.clinical.series import Target, phase_span_days, series_targets

EXAMPLE_SESSIONS = 8  # sessions shown for an open-ended phase


@dataclass(frozen=True)
class Number:
    label: str
    value: str
    verify: bool
    clinic: bool = False  # the clinic's own number, not the source's


@dataclass(frozen=True)
class PhaseText:
    name: str
    blocks: list[str]
    rules: str
    targets: list[Target]
    open_ended: bool


def _d(value: Decimal | int | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
    return f"{text} {unit}".strip()


def dose_numbers(protocol: Protocol) -> list[Number]:
    """Every number of the dose rule, in the order a nurse checks them, each marked when [verify]."""
    rule = protocol.dose
    verify = set(rule.verify)
    rows: list[tuple[str, str, str]] = []
    if rule.kind == "weight_based":
        rows.append(("mg_per_kg", "Dose per kg", _d(rule.mg_per_kg, "mg/kg")))
    if rule.kind == "weight_per_hour":
        rows.append(("mg_per_kg_per_hour", "Dose per kg per hour", _d(rule.mg_per_kg_per_hour, "mg/kg/h")))
    if rule.kind in ("weight_based", "weight_per_hour"):
        low, high = rule.plausible_weight_kg
        rows += [
            ("weight_basis", "Weight basis", rule.weight_basis.label),
            ("plausible_weight_kg", "Plausible weight", f"{_d(low)}-{_d(high)} kg"),
            ("concentration_mg_per_ml", "Concentration", _d(rule.concentration_mg_per_ml, "mg/mL")),
            ("increment_ml", "Measured in steps of", _d(rule.increment_ml, "mL")),
        ]
        if rule.bag_ml is not None:
            rows.append(("bag_ml", "Bag", _d(rule.bag_ml, "mL")))
        if rule.duration_min is not None:
            rows.append(("duration_min", "Duration", _d(rule.duration_min, "min")))
        if rule.min_duration_min is not None:
            rows.append(("min_duration_min", "Shortest duration", _d(rule.min_duration_min, "min")))
        if rule.min_mg is not None:
            rows.append(("min_mg", "Usual minimum", _d(rule.min_mg, "mg")))
        if rule.titration is not None:
            steps = ", ".join(_d(s) for s in rule.titration.steps_mg_per_kg)
            rows.append(("titration", "Titration steps",
                         f"{steps} mg/kg, after {rule.titration.after_sessions} session(s) at a step, when "
                         f"{rule.titration.when} ({rule.titration.source})"))
    if rule.kind == "fixed":
        rows += [
            ("allowed_mg", "Allowed doses", ", ".join(str(v) for v in rule.allowed_mg) + " mg"),
            ("first_dose_mg", "First dose", _d(rule.first_dose_mg, "mg")),
            ("device_mg", "Per device", _d(rule.device_mg, "mg")),
            ("minutes_between_devices", "Between devices", _d(rule.minutes_between_devices, "min")),
        ]
        if rule.older_adult_age is not None:
            rows.append(("older_adult_first_dose_mg", f"First dose from age {rule.older_adult_age}",
                         _d(rule.older_adult_first_dose_mg, "mg")))
    if rule.kind == "troche":
        rows += [
            ("start_mg", "Starting dose", _d(rule.start_mg, "mg")),
            ("step_mg", "Step", _d(rule.step_mg, "mg")),
            ("max_mg", "Highest dose", _d(rule.max_mg, "mg")),
            ("strengths_mg", "Troche strengths", ", ".join(_d(s) for s in rule.strengths_mg) + " mg"),
        ]
    rows.append(("cap_mg", "Cap", _d(rule.cap_mg, "mg")))
    return [Number(label, value, name in verify) for name, label, value in rows]


def block_text(block: Block) -> str:
    """'weeks 1-3, twice weekly: 2 a week for 3 weeks (6 sessions)'."""
    if block.weeks is not None and block.per_week is not None:
        return f"{block.label}: {block.per_week} a week for {block.weeks} week(s) ({block.count} sessions)"
    gap = f", the first {block.first_gap_days} days after the block starts" if block.first_gap_days else ""
    count = "until the plan changes" if block.sessions is None else f"{block.sessions} session(s)"
    return f"{block.label}: one every {block.every_days} day(s), {count}{gap}"


def _rules(phase: Phase) -> str:
    parts = [f"at least {phase.min_gap_days} day(s) between sessions",
             f"a session may move {phase.tolerance_days} day(s) either way"]
    if phase.within_days:
        parts.append(f"all within {phase.within_days} days")
    if phase.options_every_days:
        parts.append("interval: every " + " or ".join(str(d) for d in phase.options_every_days) + " days")
    span = phase_span_days(phase)
    if span is not None:
        parts.append(f"the next phase starts on day {span}")
    if phase.source:
        parts.append(f"source: {phase.source}")
    return "; ".join(parts)


def phases_text(protocol: Protocol, start: date) -> list[PhaseText]:
    """Each phase in words with its example dates; later phases start where the one before ends."""
    found = []
    cursor = start
    for name in ("induction", "maintenance", "taper"):
        phase = protocol.phases.get(name)
        if phase is None:
            continue
        open_ended = phase.session_count is None
        targets = series_targets(phase, cursor, limit=EXAMPLE_SESSIONS if open_ended else None)
        blocks = [block_text(b) for b in phase.blocks]
        found.append(PhaseText(name, blocks, _rules(phase), targets, open_ended))
        span = phase_span_days(phase)
        if span is None:
            break
        cursor = date.fromordinal(cursor.toordinal() + span)
    return found


def monitoring_numbers(rules: MonitoringRules) -> list[Number]:
    """Every number a session of the protocol is watched against, each marked when [verify] or when
    it is the clinic's own (changed from the route's default, so the shipped source does not cover it)."""
    rows: list[tuple[str, str, str]] = [
        ("vitals_every_min", "Vital signs every",
         _d(rules.vitals_every_min, "min") if rules.vitals_every_min else "as needed"),
    ]
    rows += [("limits", f"Alert: {limit.label.lower()}", limit.text) for limit in rules.limits]
    if rules.systolic_rise_mmhg:
        rows.append(("systolic_rise_mmhg", "Alert: systolic rise above baseline",
                     f"more than {rules.systolic_rise_mmhg} mmHg"))
    rows += [("pre_dose", f"Before dosing: {limit.label.lower()}", limit.text) for limit in rules.pre_dose]
    rows.append(("min_observation_min", "Minimum observation after dosing",
                 _d(rules.min_observation_min, "min")))
    rows.append(("second_check", "Second person checks the preparation",
                 "yes" if rules.second_check else "no"))
    if rules.fasting_hours:
        rows.append(("fasting_hours", "Nothing to eat before", _d(rules.fasting_hours, "h")))
    if rules.no_liquids_min:
        rows.append(("no_liquids_min", "No liquids before", _d(rules.no_liquids_min, "min")))
    rows.append(("pregnancy_test", "Pregnancy test where it applies",
                 "yes" if rules.pregnancy_test else "no"))
    rows.append(("escort_required", "Escort home named",
                 "required" if rules.escort_required else "not required"))
    if rules.check_in_within_hours:
        rows.append(("check_in_within_hours", "Check-in after a home dose within",
                     _d(rules.check_in_within_hours, "h")))
    mine = clinic_settings(rules)
    return [
        Number(label, value, name in rules.verify and name not in mine, name in mine)
        for name, label, value in rows
    ]
