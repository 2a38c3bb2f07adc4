"""The protocol library: versioned treatment protocols, `data/protocols.json`.

A protocol names its route and setting, the conditions it treats, its dose rule, and its phases
(induction, maintenance, taper), each laid out as blocks of sessions (`series.py` turns blocks into
dates). Every number comes with the protocol's `source`; numbers listed in a dose's `verify` are
conservative defaults a clinic confirms or changes by cloning the protocol into a new version.

`parse_protocol` validates one definition (a mapping, as stored) and raises `ProtocolError` naming
the bad field; `builtin_protocols` loads the shipped file once.

Dose kinds:
- `weight_based`: `mg_per_kg` x dosing weight (actual, ideal or adjusted), capped at `cap_mg`, drawn
  up at `concentration_mg_per_ml` in `increment_ml` steps; IV protocols add a bag and a duration.
- `weight_per_hour`: `mg_per_kg_per_hour` x weight x hours of `duration_min`, otherwise as above.
- `fixed`: one of `allowed_mg` (esketamine), with a first dose and an older-adult first dose.
- `troche`: `start_mg` stepping by `step_mg` to `max_mg`, made up from `strengths_mg`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from .conditions import catalogue
from .dosing import DoseError, WeightBasis, troches
from .eligibility.rules import Route

KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
PHASES = ("induction", "maintenance", "taper")
SETTINGS = ("clinic", "home")
DOSE_KINDS = ("weight_based", "weight_per_hour", "fixed", "troche")
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


class ProtocolError(ValueError):
    """A protocol definition that cannot be used; `field` is the dotted path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


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

    @property
    def session_count(self) -> int | None:
        """Sessions in the phase, or None when its last block is open-ended."""
        total = 0
        for block in self.blocks:
            if block.count is None:
                return None
            total += block.count
        return total


@dataclass(frozen=True)
class Titration:
    steps_mg_per_kg: tuple[Decimal, ...]
    after_sessions: int
    when: str
    source: str


@dataclass(frozen=True)
class DoseRule:
    kind: str
    cap_mg: Decimal
    mg_per_kg: Decimal | None = None
    mg_per_kg_per_hour: Decimal | None = None
    weight_basis: WeightBasis = WeightBasis.ACTUAL
    min_mg: Decimal | None = None
    plausible_weight_kg: tuple[Decimal, Decimal] = (Decimal(35), Decimal(250))
    concentration_mg_per_ml: Decimal | None = None
    increment_ml: Decimal | None = None
    bag_ml: Decimal | None = None
    duration_min: int | None = None
    min_duration_min: int | None = None
    titration: Titration | None = None
    allowed_mg: tuple[int, ...] = ()
    first_dose_mg: int | None = None
    older_adult_age: int | None = None
    older_adult_first_dose_mg: int | None = None
    older_adult_allowed_mg: tuple[int, ...] = ()
    device_mg: int | None = None
    minutes_between_devices: int | None = None
    start_mg: Decimal | None = None
    step_mg: Decimal | None = None
    max_mg: Decimal | None = None
    strengths_mg: tuple[Decimal, ...] = ()
    verify: tuple[str, ...] = ()


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


def _get(data: Mapping[str, Any], name: str, path: str) -> Any:
    if name not in data:
        raise ProtocolError(f"{path}{name}", "is required")
    return data[name]


def _text(data: Mapping[str, Any], name: str, path: str, *, required: bool = True) -> str:
    value = _get(data, name, path) if required else data.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ProtocolError(f"{path}{name}", "must be non-empty text")
    return value.strip()


def _int(
    data: Mapping[str, Any], name: str, path: str, *, required: bool = True, minimum: int = 0
) -> int | None:
    value = data.get(name) if not required else _get(data, name, path)
    if value is None:
        if required:
            raise ProtocolError(f"{path}{name}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProtocolError(f"{path}{name}", f"must be a whole number of at least {minimum}")
    return int(value)


def _dec(data: Mapping[str, Any], name: str, path: str, *, required: bool = True) -> Decimal | None:
    value = data.get(name) if not required else _get(data, name, path)
    if value is None:
        if required:
            raise ProtocolError(f"{path}{name}", "is required")
        return None
    if isinstance(value, bool):
        raise ProtocolError(f"{path}{name}", "must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ProtocolError(f"{path}{name}", f"{value!r} is not a number") from exc
    if not number.is_finite() or number <= 0:
        raise ProtocolError(f"{path}{name}", "must be a number above zero")
    return number


def _ints(data: Mapping[str, Any], name: str, path: str) -> tuple[int, ...]:
    values = data.get(name, [])
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ProtocolError(f"{path}{name}", "must be a list of whole numbers above zero")
    return tuple(values)


def _block(data: Any, path: str) -> Block:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    label = _text(data, "label", path + ".")
    if "per_week" in data or "weeks" in data:
        weeks = _int(data, "weeks", path + ".", minimum=1)
        per_week = _int(data, "per_week", path + ".", minimum=1)
        if per_week is not None and per_week > 7:
            raise ProtocolError(f"{path}.per_week", "cannot be more than 7")
        return Block(label, weeks=weeks, per_week=per_week)
    every = _int(data, "every_days", path + ".", minimum=1)
    if "sessions" not in data:
        raise ProtocolError(f"{path}.sessions", "is required (null for open-ended)")
    sessions = _int(data, "sessions", path + ".", required=False, minimum=1)
    first_gap = _int(data, "first_gap_days", path + ".", required=False) or 0
    return Block(label, every_days=every, sessions=sessions, first_gap_days=first_gap)


def _phase(name: str, data: Any, path: str) -> Phase:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    raw_blocks = _get(data, "blocks", path + ".")
    if not isinstance(raw_blocks, list) or not raw_blocks:
        raise ProtocolError(f"{path}.blocks", "must list at least one block")
    blocks = tuple(_block(b, f"{path}.blocks[{i}]") for i, b in enumerate(raw_blocks))
    for i, block in enumerate(blocks[:-1]):
        if block.open_ended:
            raise ProtocolError(f"{path}.blocks[{i}]", "only the last block may be open-ended")
    phase = Phase(
        name,
        blocks,
        min_gap_days=_int(data, "min_gap_days", path + ".", minimum=1) or 1,
        tolerance_days=_int(data, "tolerance_days", path + ".") or 0,
        within_days=_int(data, "within_days", path + ".", required=False, minimum=1),
        options_every_days=_ints(data, "options_every_days", path + "."),
    )
    if phase.within_days is not None and phase.session_count is None:
        raise ProtocolError(f"{path}.within_days", "needs a fixed number of sessions")
    if phase.within_days is not None:
        days = _layout_days(blocks)
        span = days[-1] - days[0] + 2 * phase.tolerance_days
        if span >= phase.within_days:
            raise ProtocolError(
                f"{path}.within_days",
                f"the sessions span {span + 1} days with the tolerance; more than {phase.within_days}",
            )
    if phase.options_every_days and not blocks[-1].open_ended:
        raise ProtocolError(f"{path}.options_every_days", "needs an open-ended last block")
    return phase


def _layout_days(blocks: Sequence[Block]) -> list[int]:
    """Day offsets of a fixed phase's sessions, as `series.series_targets` lays them out."""
    days: list[int] = []
    cursor = 0
    for block in blocks:
        if block.weeks is not None and block.per_week is not None:
            days += [
                cursor + w * 7 + round(k * 7 / block.per_week)
                for w in range(block.weeks)
                for k in range(block.per_week)
            ]
            cursor += block.weeks * 7
        else:
            every = block.every_days or 1
            day = cursor + block.first_gap_days
            for _ in range(block.sessions or 0):
                days.append(day)
                day += every
            cursor = day
    return days


def _dose(data: Any, path: str) -> DoseRule:
    if not isinstance(data, Mapping):
        raise ProtocolError(path, "must be an object")
    p = path + "."
    kind = _text(data, "kind", p)
    if kind not in DOSE_KINDS:
        raise ProtocolError(f"{p}kind", f"must be one of {', '.join(DOSE_KINDS)}")
    cap = _dec(data, "cap_mg", p)
    assert cap is not None
    verify = data.get("verify", [])
    if not isinstance(verify, list) or not all(isinstance(v, str) for v in verify):
        raise ProtocolError(f"{p}verify", "must be a list of field names")
    if kind in ("weight_based", "weight_per_hour"):
        return _weight_dose(data, p, kind, cap, tuple(verify))
    if kind == "fixed":
        allowed = _ints(data, "allowed_mg", p)
        if not allowed:
            raise ProtocolError(f"{p}allowed_mg", "must list at least one dose")
        if max(allowed) > cap:
            raise ProtocolError(f"{p}allowed_mg", "lists a dose above cap_mg")
        first = _int(data, "first_dose_mg", p, minimum=1)
        if first not in allowed:
            raise ProtocolError(f"{p}first_dose_mg", "must be one of allowed_mg")
        older_allowed = _ints(data, "older_adult_allowed_mg", p)
        older_first = _int(data, "older_adult_first_dose_mg", p, required=False, minimum=1)
        older_age = _int(data, "older_adult_age", p, required=False, minimum=18)
        if older_first is not None and older_first not in older_allowed:
            raise ProtocolError(f"{p}older_adult_first_dose_mg", "must be one of older_adult_allowed_mg")
        if (older_first is None) != (older_age is None):
            raise ProtocolError(
                f"{p}older_adult_age", "older_adult_age and older_adult_first_dose_mg go together"
            )
        if older_allowed and max(older_allowed) > cap:
            raise ProtocolError(f"{p}older_adult_allowed_mg", "lists a dose above cap_mg")
        device = _int(data, "device_mg", p, minimum=1)
        assert device is not None
        for name, doses in (("allowed_mg", allowed), ("older_adult_allowed_mg", older_allowed)):
            for dose in doses:
                if dose % device:
                    raise ProtocolError(
                        f"{p}{name}", f"{dose} mg is not a whole number of {device} mg devices"
                    )
        return DoseRule(
            kind,
            cap,
            allowed_mg=allowed,
            first_dose_mg=first,
            older_adult_age=older_age,
            older_adult_first_dose_mg=older_first,
            older_adult_allowed_mg=older_allowed,
            device_mg=device,
            minutes_between_devices=_int(data, "minutes_between_devices", p),
            verify=tuple(verify),
        )
    start, step, top = (_dec(data, n, p) for n in ("start_mg", "step_mg", "max_mg"))
    assert start is not None and step is not None and top is not None
    if start > top or top > cap:
        raise ProtocolError(f"{p}max_mg", "must lie between start_mg and cap_mg")
    if (top - start) % step:
        raise ProtocolError(f"{p}max_mg", "must be start_mg plus whole steps of step_mg")
    raw = data.get("strengths_mg")
    if not isinstance(raw, list) or not raw:
        raise ProtocolError(f"{p}strengths_mg", "must list the troche strengths stocked")
    strengths = _decs(raw, f"{p}strengths_mg")
    amount = start
    while amount <= top:
        try:
            troches(amount, strengths)
        except DoseError as exc:
            raise ProtocolError(f"{p}strengths_mg", exc.message) from exc
        amount += step
    return DoseRule(
        kind, cap, start_mg=start, step_mg=step, max_mg=top, strengths_mg=strengths, verify=tuple(verify)
    )


def _decs(values: list[Any], path: str) -> tuple[Decimal, ...]:
    """Each value as a positive Decimal; an error names the item, e.g. dose.strengths_mg[1]."""
    found = []
    for i, value in enumerate(values):
        number = _dec({f"[{i}]": value}, f"[{i}]", path)
        assert number is not None
        found.append(number)
    return tuple(found)


def _weight_dose(
    data: Mapping[str, Any], p: str, kind: str, cap: Decimal, verify: tuple[str, ...]
) -> DoseRule:
    rate_name = "mg_per_kg" if kind == "weight_based" else "mg_per_kg_per_hour"
    rate = _dec(data, rate_name, p)
    try:
        basis = WeightBasis(_text(data, "weight_basis", p))
    except ValueError as exc:
        raise ProtocolError(f"{p}weight_basis", "must be actual, ideal or adjusted") from exc
    plausible = data.get("plausible_weight_kg")
    if not isinstance(plausible, list) or len(plausible) != 2:
        raise ProtocolError(f"{p}plausible_weight_kg", "must be [lowest, highest] in kg")
    low, high = _decs(plausible, f"{p}plausible_weight_kg")
    if low >= high:
        raise ProtocolError(f"{p}plausible_weight_kg", "the lowest must be below the highest")
    duration = _int(data, "duration_min", p, required=kind == "weight_per_hour", minimum=1)
    min_duration = _int(data, "min_duration_min", p, required=False, minimum=1)
    if duration is not None and min_duration is not None and duration < min_duration:
        raise ProtocolError(f"{p}duration_min", "is shorter than min_duration_min")
    if data.get("bag_ml") is not None and duration is None:
        raise ProtocolError(f"{p}duration_min", "an infusion bag needs a duration")
    titration = None
    if "titration" in data:
        raw = data["titration"]
        if not isinstance(raw, Mapping):
            raise ProtocolError(f"{p}titration", "must be an object")
        steps = raw.get("steps_mg_per_kg")
        if not isinstance(steps, list) or not steps:
            raise ProtocolError(f"{p}titration.steps_mg_per_kg", "must list the steps")
        values = _decs(steps, f"{p}titration.steps_mg_per_kg")
        if list(values) != sorted(set(values)):
            raise ProtocolError(f"{p}titration.steps_mg_per_kg", "must rise step by step")
        if rate is not None and values[0] != rate:
            raise ProtocolError(f"{p}titration.steps_mg_per_kg", f"must start at {rate_name}")
        titration = Titration(
            values,
            _int(raw, "after_sessions", f"{p}titration.", minimum=1) or 1,
            _text(raw, "when", f"{p}titration."),
            _text(raw, "source", f"{p}titration."),
        )
    return DoseRule(
        kind,
        cap,
        mg_per_kg=rate if kind == "weight_based" else None,
        mg_per_kg_per_hour=rate if kind == "weight_per_hour" else None,
        weight_basis=basis,
        min_mg=_dec(data, "min_mg", p, required=False),
        plausible_weight_kg=(low, high),
        concentration_mg_per_ml=_dec(data, "concentration_mg_per_ml", p),
        increment_ml=_dec(data, "increment_ml", p),
        bag_ml=_dec(data, "bag_ml", p, required=False),
        duration_min=duration,
        min_duration_min=min_duration,
        titration=titration,
        verify=verify,
    )


def parse_protocol(data: Mapping[str, Any], *, version: str) -> Protocol:
    """A validated Protocol from its stored definition; raises ProtocolError naming the bad field."""
    if not isinstance(data, Mapping):
        raise ProtocolError("protocol", "must be an object")
    key = _text(data, "key", "")
    if not KEY.fullmatch(key) or len(key) > 60:
        raise ProtocolError("key", "use lower-case letters, digits and hyphens (at most 60)")
    try:
        route = Route(_text(data, "route", ""))
    except ValueError as exc:
        raise ProtocolError("route", f"must be one of {', '.join(r.value for r in Route)}") from exc
    setting = _text(data, "setting", "")
    if setting not in SETTINGS:
        raise ProtocolError("setting", "must be clinic or home")
    if (setting == "home") != (route is Route.SUBLINGUAL_HOME):
        raise ProtocolError("setting", "home is the setting of the at-home sublingual route, and only of it")
    conditions = data.get("conditions")
    known = {c.id for c in catalogue().conditions}
    if not isinstance(conditions, list) or not conditions or any(c not in known for c in conditions):
        raise ProtocolError("conditions", "must list condition ids from the condition catalogue")
    appointment = _text(data, "appointment_type", "")
    if appointment not in APPOINTMENT_TYPES:
        raise ProtocolError("appointment_type", f"must be one of {', '.join(APPOINTMENT_TYPES)}")
    dose = _dose(_get(data, "dose", ""), "dose")
    if route is Route.ESKETAMINE and dose.kind != "fixed":
        raise ProtocolError("dose.kind", "esketamine is dosed in fixed device doses")
    if route is Route.SUBLINGUAL_HOME and dose.kind != "troche":
        raise ProtocolError("dose.kind", "the sublingual route is dosed in troches")
    if dose.kind == "fixed" and route is not Route.ESKETAMINE:
        raise ProtocolError("dose.kind", "fixed device doses are for esketamine only")
    if dose.kind == "troche" and route is not Route.SUBLINGUAL_HOME:
        raise ProtocolError("dose.kind", "troches are for the sublingual route only")
    raw_phases = _get(data, "phases", "")
    if not isinstance(raw_phases, Mapping) or "induction" not in raw_phases:
        raise ProtocolError("phases", "must include an induction phase")
    unknown = set(raw_phases) - set(PHASES)
    if unknown:
        name = sorted(unknown)[0]
        raise ProtocolError(f"phases.{name}", f"unknown phase {name!r}: use {', '.join(PHASES)}")
    phases = {name: _phase(name, raw_phases[name], f"phases.{name}") for name in PHASES if name in raw_phases}
    reviews = _get(data, "reviews", "")
    if not isinstance(reviews, Mapping):
        raise ProtocolError("reviews", "must be an object")
    home = None
    if setting == "home":
        raw = _get(data, "home", "")
        if not isinstance(raw, Mapping):
            raise ProtocolError("home", "must be an object")
        safeguards = raw.get("safeguards")
        if not isinstance(safeguards, list) or not safeguards:
            raise ProtocolError("home.safeguards", "a home protocol lists its safeguards")
        monitor = raw.get("monitor_required", True)
        if not isinstance(monitor, bool):
            raise ProtocolError("home.monitor_required", "must be true or false")
        home = HomeRules(
            _int(raw, "supply_stage_sessions", "home.", minimum=1) or 1,
            _int(raw, "renew_every_sessions", "home.", minimum=1) or 1,
            monitor,
            tuple(str(s) for s in safeguards),
        )
    return Protocol(
        key=key,
        version=version,
        name=_text(data, "name", ""),
        route=route,
        setting=setting,
        conditions=tuple(conditions),
        appointment_type=appointment,
        source=_text(data, "source", ""),
        dose=dose,
        phases=phases,
        futility_after=_int(reviews, "futility_after", "reviews.", minimum=1) or 3,
        futility_source=_text(reviews, "futility_source", "reviews."),
        chair_minutes=_int(data, "chair_minutes", "", required=False, minimum=5),
        instructions=_text(data, "instructions", "", required=False),
        home=home,
        definition=dict(data),
    )


@cache
def builtin_protocols() -> tuple[Protocol, ...]:
    """The shipped library, validated once; a broken file fails loudly at first use."""
    text = resources.files("ketaflow.clinical").joinpath("data/protocols.json").read_text(encoding="utf-8")
    document = json.loads(text)
    version = document["version"]
    return tuple(parse_protocol(p, version=version) for p in document["protocols"])


def builtin_source() -> str:
    text = resources.files("ketaflow.clinical").joinpath("data/protocols.json").read_text(encoding="utf-8")
    return str(json.loads(text)["source"])


def find(protocols: Sequence[Protocol], key: str) -> Protocol | None:
    return next((p for p in protocols if p.key == key), None)
