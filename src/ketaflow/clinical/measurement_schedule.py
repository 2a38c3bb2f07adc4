"""Which questionnaires a patient is asked for, and when, per care stage: `data/measurement_schedule.json`.

The file is versioned data. Every cadence number in it is [verify]: a clinic-configurable setting with a
conservative default, not a published standard (its `source` says so). `parse_schedule` validates a
document and raises ValueError naming the bad entry; `load_schedule` loads the shipped file once.

Care stages: evaluation, induction, maintenance, taper, completed, discontinued. Each has one cadence:

- `once`: due at the start of the stage; nothing more once completed at or after the stage started.
- `every_days` (`every_days`, optionally `for_days` and `then_every_days`): with no completion since
  the stage started, due at the start of the stage; otherwise due `every_days` after the last
  completion. With `for_days`, that interval holds while the due date falls within `for_days` of the
  stage start (on the last day included); past it the interval is `then_every_days` from the last
  completion (weekly for 8 weeks, then every 4 weeks).
- `before_each_treatment` (`lead_hours`, `window_hours`, `fallback_every_days`): with a treatment
  booked at T, due at T - lead_hours, unless a completion at or after T - lead_hours - window_hours
  (and at any time up to T or later) already counts for that treatment: then nothing is due until
  the next treatment is booked, or until the fallback once none is. With no treatment booked, the
  cadence behaves as `every_days` with `fallback_every_days`.
- `none`: never due, and the stage asks for no instrument.

The instruments for a stage are `always`, then the stage's extras, then those of the patient's
condition groups (the `group` values of `data/conditions.json`), in the file's order, without
duplicates. A due date is overdue once more than `overdue_after_days` have passed since it.
All datetimes are timezone-aware and passed in; nothing reads the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeGuard

from .conditions import catalogue

STAGES = ("evaluation", "induction", "maintenance", "taper", "completed", "discontinued")
CADENCE_KINDS = ("once", "every_days", "before_each_treatment", "none")
# The numbers each cadence kind needs, and the ones it may carry as well.
_REQUIRED_NUMBERS: Mapping[str, tuple[str, ...]] = {
    "once": (),
    "every_days": ("every_days",),
    "before_each_treatment": ("lead_hours", "window_hours", "fallback_every_days"),
    "none": (),
}
_OPTIONAL_NUMBERS: Mapping[str, tuple[str, ...]] = {"every_days": ("for_days", "then_every_days")}
_INSTRUMENT_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class StageRule:
    """How often a care stage asks for its questionnaires (see the module docstring for each kind)."""

    stage: str
    label: str
    kind: str
    every_days: int | None = None
    for_days: int | None = None
    then_every_days: int | None = None
    lead_hours: int | None = None
    window_hours: int | None = None
    fallback_every_days: int | None = None

    @property
    def description(self) -> str:
        """The cadence in words, e.g. 'every 7 days for the first 56 days, then every 28 days'."""
        if self.kind == "once":
            return "once, at the start of the stage"
        if self.kind == "before_each_treatment":
            return "before every treatment"
        if self.kind == "every_days":
            text = f"every {_days(self.every_days)}"
            if self.for_days is not None:
                text += f" for the first {_days(self.for_days)}, then every {_days(self.then_every_days)}"
            return text
        return "not measured"


@dataclass(frozen=True)
class DueDecision:
    """When the questionnaires are next due, and why, in a sentence a clinician reads."""

    due_at: datetime
    reason: str


@dataclass(frozen=True)
class MeasurementSchedule:
    version: str
    source: str
    stages: Mapping[str, StageRule]
    always: tuple[str, ...]
    stage_extra: Mapping[str, tuple[str, ...]]
    by_condition_group: Mapping[str, tuple[str, ...]]
    overdue_after: timedelta

    def rule(self, stage: str) -> StageRule:
        """The stage's rule; raises ValueError naming an unknown stage."""
        try:
            return self.stages[stage]
        except KeyError:
            raise ValueError(f"unknown care stage {stage!r} (known: {', '.join(self.stages)})") from None

    def instruments_for(self, stage: str, condition_groups: Iterable[str]) -> tuple[str, ...]:
        """The instrument ids asked for in `stage`, in order and without duplicates.

        `always`, then the stage's extras, then each condition group's instruments in the file's
        order (not the caller's, so a set of groups gives a stable answer). A group the file does not
        list adds nothing; a stage that is not measured asks for nothing; an unknown stage raises
        ValueError.
        """
        if self.rule(stage).kind == "none":
            return ()
        groups = set(condition_groups)
        chosen: list[str] = [*self.always, *self.stage_extra.get(stage, ())]
        for group, instruments in self.by_condition_group.items():
            if group in groups:
                chosen.extend(instruments)
        return tuple(dict.fromkeys(chosen))


def next_due(
    rule: StageRule,
    *,
    stage_started_at: datetime,
    last_completed_at: datetime | None,
    upcoming_treatment_at: datetime | None,
) -> DueDecision | None:
    """When the stage's questionnaires are next due, or None when nothing is due (module docstring)."""
    _require_aware(stage_started_at, "stage_started_at")
    if last_completed_at is not None:
        _require_aware(last_completed_at, "last_completed_at")
    if upcoming_treatment_at is not None:
        _require_aware(upcoming_treatment_at, "upcoming_treatment_at")
    where = f"({rule.label.lower()}: {rule.description})"
    since_start = (
        last_completed_at if last_completed_at is not None and last_completed_at >= stage_started_at else None
    )

    if rule.kind == "once":
        if since_start is not None:
            return None
        return DueDecision(
            stage_started_at, f"at the start of the stage on {_date(stage_started_at)} {where}"
        )

    if rule.kind == "every_days":
        assert rule.every_days is not None
        if since_start is None:
            return DueDecision(
                stage_started_at, f"at the start of the stage on {_date(stage_started_at)} {where}"
            )
        interval = rule.every_days
        due = since_start + timedelta(days=interval)
        switch = rule.for_days is not None and rule.then_every_days is not None
        if switch and due > stage_started_at + timedelta(days=rule.for_days or 0):
            interval = rule.then_every_days or interval
            due = since_start + timedelta(days=interval)
        return DueDecision(due, f"{_days(interval)} after the last one on {_date(since_start)} {where}")

    if rule.kind == "before_each_treatment":
        assert rule.lead_hours is not None and rule.window_hours is not None
        assert rule.fallback_every_days is not None
        if upcoming_treatment_at is not None:
            due = upcoming_treatment_at - timedelta(hours=rule.lead_hours)
            window_opens = due - timedelta(hours=rule.window_hours)
            if last_completed_at is not None and last_completed_at >= window_opens:
                return None
            return DueDecision(due, f"before the treatment on {_date(upcoming_treatment_at)} {where}")
        fallback = f"(no treatment booked, {rule.label.lower()}: every {_days(rule.fallback_every_days)})"
        if since_start is None:
            return DueDecision(
                stage_started_at, f"at the start of the stage on {_date(stage_started_at)} {fallback}"
            )
        due = since_start + timedelta(days=rule.fallback_every_days)
        return DueDecision(
            due, f"{_days(rule.fallback_every_days)} after the last one on {_date(since_start)} {fallback}"
        )

    return None


def is_overdue(due_at: datetime, now: datetime, overdue_after: timedelta) -> bool:
    """True once more than `overdue_after` has passed since `due_at` (exactly at the limit: not yet)."""
    _require_aware(due_at, "due_at")
    _require_aware(now, "now")
    return now > due_at + overdue_after


def parse_schedule(raw: Mapping[str, Any], known_groups: Iterable[str] | None = None) -> MeasurementSchedule:
    """Validate a schedule document; raises ValueError naming the first bad entry.

    `known_groups`, when given, are the condition groups a `by_condition_group` key may name.
    """
    if not isinstance(raw, Mapping):
        raise ValueError("the schedule must be a JSON object")
    _no_unknown_keys(
        raw, ("version", "source", "stages", "instruments", "overdue_after_days"), "the schedule"
    )
    version = _text(raw.get("version"), "version")
    source = _text(raw.get("source"), "source")
    stages = _stages(raw.get("stages"))
    always, stage_extra, by_group = _instruments(raw.get("instruments"), known_groups)
    overdue = raw.get("overdue_after_days")
    if not _is_whole(overdue) or overdue < 0:
        raise ValueError(f"overdue_after_days must be a whole number of 0 or more, not {overdue!r}")
    return MeasurementSchedule(
        version=version,
        source=source,
        stages=stages,
        always=always,
        stage_extra=stage_extra,
        by_condition_group=by_group,
        overdue_after=timedelta(days=overdue),
    )


@cache
def load_schedule() -> MeasurementSchedule:
    """The shipped schedule, validated once (condition groups checked against the condition catalogue)."""
    text = resources.files("ketaflow.clinical").joinpath("data/measurement_schedule.json").read_text("utf-8")
    groups = {condition.group for condition in catalogue().conditions}
    return parse_schedule(json.loads(text), known_groups=groups)


def _stages(raw: object) -> Mapping[str, StageRule]:
    if not isinstance(raw, Mapping):
        raise ValueError("stages must be an object keyed by care stage")
    unknown = [key for key in raw if key not in STAGES]
    if unknown:
        raise ValueError(f"stage {unknown[0]!r}: not a care stage (known: {', '.join(STAGES)})")
    missing = [stage for stage in STAGES if stage not in raw]
    if missing:
        raise ValueError(f"stage {missing[0]!r}: missing")
    return MappingProxyType({stage: _stage(stage, raw[stage]) for stage in STAGES})


def _stage(stage: str, raw: object) -> StageRule:
    where = f"stage {stage!r}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be an object with a label and a cadence")
    _no_unknown_keys(raw, ("label", "cadence"), where)
    label = _text(raw.get("label"), f"{where}: label")
    cadence = raw.get("cadence")
    if not isinstance(cadence, Mapping):
        raise ValueError(f"{where}: cadence must be an object with a kind")
    kind = cadence.get("kind")
    if kind not in CADENCE_KINDS:
        raise ValueError(f"{where}: cadence kind must be one of {', '.join(CADENCE_KINDS)}, not {kind!r}")
    required = _REQUIRED_NUMBERS[kind]
    optional = _OPTIONAL_NUMBERS.get(kind, ())
    _no_unknown_keys(cadence, ("kind", *required, *optional), f"{where}: cadence {kind}")
    numbers: dict[str, int] = {}
    for key in (*required, *optional):
        value = cadence.get(key)
        if value is None and key in optional:
            continue
        if not _is_whole(value) or value < 1:
            raise ValueError(
                f"{where}: cadence {kind} needs {key} as a whole number of 1 or more, not {value!r}"
            )
        numbers[key] = value
    if ("for_days" in numbers) != ("then_every_days" in numbers):
        raise ValueError(f"{where}: cadence every_days needs for_days and then_every_days together")
    if "for_days" in numbers and numbers["for_days"] < numbers["every_days"]:
        raise ValueError(f"{where}: for_days must be at least every_days")
    return StageRule(stage=stage, label=label, kind=kind, **numbers)


def _instruments(
    raw: object, known_groups: Iterable[str] | None
) -> tuple[tuple[str, ...], Mapping[str, tuple[str, ...]], Mapping[str, tuple[str, ...]]]:
    if not isinstance(raw, Mapping):
        raise ValueError("instruments must be an object with always, stage_extra and by_condition_group")
    _no_unknown_keys(raw, ("always", "stage_extra", "by_condition_group"), "instruments")
    always = _ids(raw.get("always"), "instruments.always")
    extra_raw = raw.get("stage_extra", {})
    if not isinstance(extra_raw, Mapping):
        raise ValueError("instruments.stage_extra must be an object keyed by care stage")
    stage_extra: dict[str, tuple[str, ...]] = {}
    for stage, ids in extra_raw.items():
        if stage not in STAGES:
            raise ValueError(f"instruments.stage_extra {stage!r}: not a care stage")
        stage_extra[stage] = _ids(ids, f"instruments.stage_extra {stage!r}")
    groups_raw = raw.get("by_condition_group", {})
    if not isinstance(groups_raw, Mapping):
        raise ValueError("instruments.by_condition_group must be an object keyed by condition group")
    known = None if known_groups is None else set(known_groups)
    by_group: dict[str, tuple[str, ...]] = {}
    for group, ids in groups_raw.items():
        if known is not None and group not in known:
            raise ValueError(
                f"instruments.by_condition_group {group!r}: not a condition group "
                f"(known: {', '.join(sorted(known))})"
            )
        by_group[group] = _ids(ids, f"instruments.by_condition_group {group!r}")
    return always, MappingProxyType(stage_extra), MappingProxyType(by_group)


def _ids(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of instrument ids")
    for value in raw:
        if not isinstance(value, str) or not _INSTRUMENT_ID.match(value):
            raise ValueError(f"{where}: {value!r} is not an instrument id")
    if len(set(raw)) != len(raw):
        raise ValueError(f"{where}: instrument ids repeat")
    return tuple(raw)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} is required")
    return value


def _no_unknown_keys(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}")


def _is_whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {moment!r}")


def _date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]}"


def _days(number: int | None) -> str:
    return "1 day" if number == 1 else f"{number} days"
