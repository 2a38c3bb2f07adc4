"""The protocol library: versioned treatment protocols, `data/protocols.json`.

A protocol names its route and setting, the conditions it treats, its dose rule (`dose_rules.py`),
and its phases (induction, maintenance, taper), each laid out as blocks of sessions
(`Phase.session_days`; `series.py` turns them into dates and slots). Every number comes with a
source: the protocol's `source`, a phase's `source`, or the dose's `verify` list, which names the
conservative defaults a clinic confirms or changes by cloning the protocol into a new version.

`parse_protocol` validates one definition (a mapping, as stored) and raises `ProtocolError` naming
the bad field; `builtin_protocols` loads the shipped file once.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .conditions import catalogue
from .dose_rules import DOSE_KINDS, DoseRule, Titration, parse_dose_rule
from .eligibility.rules import Route
from .monitoring import MonitoringRules, monitoring_rules
from .protocol_fields import ProtocolError, flag, optional_whole, required, text, whole, wholes

__all__ = [
    "APPOINTMENT_TYPES",
    "DOSE_KINDS",
    "PHASES",
    "SETTINGS",
    "Block",
    "DoseRule",
    "HomeRules",
    "Phase",
    "Protocol",
    "ProtocolError",
    "Titration",
    "builtin_protocols",
    "builtin_source",
    "find",
    "parse_protocol",
]

KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
PHASES = ("induction", "maintenance", "taper")
SETTINGS = ("clinic", "home")
APPOINTMENT_TYPES = (
    "consultation",
    "evaluation",
    "iv",
    "im",
    "esketamine",
    "home_checkin",
    "integration",
    "follow_up",
)


@dataclass(frozen=True)
class Block:
    """A run of sessions: `per_week` sessions in each of `weeks` weeks, or one every `every_days`
    days for `sessions` sessions (None: open-ended), the first `first_gap_days` after the block starts."""

    label: str
    weeks: int | None = None
    per_week: int | None = None
    every_days: int | None = None
    sessions: int | None = None
    first_gap_days: int = 0

    @property
    def open_ended(self) -> bool:
        return self.every_days is not None and self.sessions is None

    @property
    def count(self) -> int | None:
        if self.weeks is not None and self.per_week is not None:
            return self.weeks * self.per_week
        return self.sessions


@dataclass(frozen=True)
class Phase:
    name: str
    blocks: tuple[Block, ...]
    min_gap_days: int
    tolerance_days: int
    within_days: int | None = None
    options_every_days: tuple[int, ...] = ()
    source: str = ""

    @property
    def session_count(self) -> int | None:
        """Sessions in the phase, or None when its last block is open-ended."""
        total = 0
        for block in self.blocks:
            if block.count is None:
                return None
            total += block.count
        return total

    def session_days(self, *, every_days: int | None = None) -> Iterator[tuple[int, Block]]:
        """Each session's day offset from the phase start, with its block; endless when the last
        block is open-ended. A `per_week` block puts its sessions on day round(k x 7 / per_week) of
        each week and ends after its weeks; an `every_days` block starts `first_gap_days` in and
        ends one interval after its last session. `every_days` replaces an open-ended block's
        interval (one of `options_every_days`)."""
        cursor = 0
        for block in self.blocks:
            if block.weeks is not None and block.per_week is not None:
                for week in range(block.weeks):
                    for k in range(block.per_week):
                        yield cursor + week * 7 + round(k * 7 / block.per_week), block
                cursor += block.weeks * 7
                continue
            interval = block.every_days or 1
            if block.open_ended and every_days is not None:
                interval = every_days
            day = cursor + block.first_gap_days
            for _ in range(block.sessions) if block.sessions is not None else itertools.count():
                yield day, block
                day += interval
            cursor = day


@dataclass(frozen=True)
class HomeRules:
    supply_stage_sessions: int
    renew_every_sessions: int
    monitor_required: bool
    safeguards: tuple[str, ...]


@dataclass(frozen=True)
class Protocol:
    key: str
    version: str
    name: str
    route: Route
    setting: str
    conditions: tuple[str, ...]
    appointment_type: str
    source: str
    dose: DoseRule
    phases: Mapping[str, Phase]
    futility_after: int
    futility_source: str
    monitoring: MonitoringRules
    chair_minutes: int | None = None
    instructions: str = ""
    home: HomeRules | None = None
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.name} (v{self.version})"

    @property
    def induction_sessions(self) -> int | None:
        phase = self.phases.get("induction")
        return phase.session_count if phase else None


def _block(data: Any, path: str) -> Block:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    p = path + "."
    label = text(data, "label", p)
    if "per_week" in data or "weeks" in data:
        weeks = whole(data, "weeks", p, minimum=1)
        per_week = whole(data, "per_week", p, minimum=1)
        if per_week > 7:
            raise ProtocolError(f"{p}per_week", "cannot be more than 7")
        return Block(label, weeks=weeks, per_week=per_week)
    every = whole(data, "every_days", p, minimum=1)
    if "sessions" not in data:
        raise ProtocolError(f"{p}sessions", "is required (null for open-ended)")
    sessions = optional_whole(data, "sessions", p, minimum=1)
    first_gap = optional_whole(data, "first_gap_days", p) or 0
    return Block(label, every_days=every, sessions=sessions, first_gap_days=first_gap)


def _phase(name: str, data: Any, path: str) -> Phase:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    p = path + "."
    raw_blocks = required(data, "blocks", p)
    if not isinstance(raw_blocks, list) or not raw_blocks:
        raise ProtocolError(f"{p}blocks", "must list at least one block")
    blocks = tuple(_block(b, f"{p}blocks[{i}]") for i, b in enumerate(raw_blocks))
    for i, block in enumerate(blocks[:-1]):
        if block.open_ended:
            raise ProtocolError(f"{p}blocks[{i}]", "only the last block may be open-ended")
    phase = Phase(
        name,
        blocks,
        min_gap_days=whole(data, "min_gap_days", p, minimum=1),
        tolerance_days=whole(data, "tolerance_days", p),
        within_days=optional_whole(data, "within_days", p, minimum=1),
        options_every_days=wholes(data, "options_every_days", p),
        source=text(data, "source", p, optional=True),
    )
    if phase.within_days is not None:
        if phase.session_count is None:
            raise ProtocolError(f"{p}within_days", "needs a fixed number of sessions")
        days = [day for day, _ in phase.session_days()]
        span = days[-1] - days[0] + 2 * phase.tolerance_days
        if span >= phase.within_days:
            raise ProtocolError(
                f"{p}within_days",
                f"the sessions span {span + 1} days with the tolerance; more than {phase.within_days}",
            )
    if phase.options_every_days and not blocks[-1].open_ended:
        raise ProtocolError(f"{p}options_every_days", "needs an open-ended last block")
    return phase


def _home(data: Any) -> HomeRules:
    if not isinstance(data, Mapping):
        raise ProtocolError("home", "must be an object")
    safeguards = data.get("safeguards")
    if not isinstance(safeguards, list) or not safeguards:
        raise ProtocolError("home.safeguards", "a home protocol lists its safeguards")
    return HomeRules(
        whole(data, "supply_stage_sessions", "home.", minimum=1),
        whole(data, "renew_every_sessions", "home.", minimum=1),
        flag(data, "monitor_required", "home.", default=True),
        tuple(str(s) for s in safeguards),
    )


def parse_protocol(data: Mapping[str, Any], *, version: str) -> Protocol:
    """A validated Protocol from its stored definition; raises ProtocolError naming the bad field."""
    if not isinstance(data, Mapping):
        raise ProtocolError("protocol", "must be an object")
    key = text(data, "key", "")
    if not KEY.fullmatch(key) or len(key) > 60:
        raise ProtocolError("key", "use lower-case letters, digits and hyphens (at most 60)")
    try:
        route = Route(text(data, "route", ""))
    except ValueError as exc:
        raise ProtocolError("route", f"must be one of {', '.join(r.value for r in Route)}") from exc
    setting = text(data, "setting", "")
    if setting not in SETTINGS:
        raise ProtocolError("setting", "must be clinic or home")
    if (setting == "home") != (route is Route.SUBLINGUAL_HOME):
        raise ProtocolError("setting", "home is the setting of the at-home sublingual route, and only of it")
    conditions = data.get("conditions")
    known = {c.id for c in catalogue().conditions}
    if not isinstance(conditions, list) or not conditions or any(c not in known for c in conditions):
        raise ProtocolError("conditions", "must list condition ids from the condition catalogue")
    appointment = text(data, "appointment_type", "")
    if appointment not in APPOINTMENT_TYPES:
        raise ProtocolError("appointment_type", f"must be one of {', '.join(APPOINTMENT_TYPES)}")
    dose = parse_dose_rule(required(data, "dose", ""), "dose")
    if route is Route.ESKETAMINE and dose.kind != "fixed":
        raise ProtocolError("dose.kind", "esketamine is dosed in fixed device doses")
    if route is Route.SUBLINGUAL_HOME and dose.kind != "troche":
        raise ProtocolError("dose.kind", "the sublingual route is dosed in troches")
    if dose.kind == "fixed" and route is not Route.ESKETAMINE:
        raise ProtocolError("dose.kind", "fixed device doses are for esketamine only")
    if dose.kind == "troche" and route is not Route.SUBLINGUAL_HOME:
        raise ProtocolError("dose.kind", "troches are for the sublingual route only")
    raw_phases = required(data, "phases", "")
    if not isinstance(raw_phases, Mapping) or "induction" not in raw_phases:
        raise ProtocolError("phases", "must include an induction phase")
    unknown = set(raw_phases) - set(PHASES)
    if unknown:
        name = sorted(unknown)[0]
        raise ProtocolError(f"phases.{name}", f"unknown phase {name!r}: use {', '.join(PHASES)}")
    phases = {name: _phase(name, raw_phases[name], f"phases.{name}") for name in PHASES if name in raw_phases}
    reviews = required(data, "reviews", "")
    if not isinstance(reviews, Mapping):
        raise ProtocolError("reviews", "must be an object")
    home = _home(required(data, "home", "")) if setting == "home" else None
    return Protocol(
        key=key,
        version=version,
        name=text(data, "name", ""),
        route=route,
        setting=setting,
        conditions=tuple(conditions),
        appointment_type=appointment,
        source=text(data, "source", ""),
        dose=dose,
        phases=phases,
        futility_after=whole(reviews, "futility_after", "reviews.", minimum=1),
        futility_source=text(reviews, "futility_source", "reviews."),
        chair_minutes=optional_whole(data, "chair_minutes", "", minimum=5),
        instructions=text(data, "instructions", "", optional=True),
        home=home,
        monitoring=monitoring_rules(route.value, data.get("monitoring")),
        definition=dict(data),
    )


@cache
def _shipped() -> Mapping[str, Any]:
    raw = resources.files("ketaflow.clinical").joinpath("data/protocols.json").read_text(encoding="utf-8")
    document: Mapping[str, Any] = json.loads(raw)
    return document


@cache
def builtin_protocols() -> tuple[Protocol, ...]:
    """The shipped library, validated once; a broken file fails loudly at first use."""
    document = _shipped()
    return tuple(parse_protocol(p, version=document["version"]) for p in document["protocols"])


def builtin_source() -> str:
    """The shipped library's own source note (what its verify marks mean)."""
    return str(_shipped()["source"])


def find(protocols: Sequence[Protocol], key: str) -> Protocol | None:
    return next((p for p in protocols if p.key == key), None)
