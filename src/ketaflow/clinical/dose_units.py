"""Esketamine devices and troches: a dose in mg made up from whole units, with the working.

`esketamine_devices` counts the nasal-spray devices for a listed dose and the minutes to the last
one; `troches` finds the fewest troches, from the strengths stocked, that make a dose exactly. The
device size, the minutes between devices, the listed doses and the strengths all come from the
protocol (`dose_rules.py`). Bad input raises `DoseError` naming the field.

Source: esketamine 28 mg per device, 5 minutes between devices (SPRAVATO US prescribing
information), as the shipped protocols set them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .dosing import DoseError, _fmt, _places, _plain, _positive


@dataclass(frozen=True)
class Devices:
    """Esketamine nasal-spray devices for one dose."""

    count: int
    device_mg: int
    minutes_between: int
    minutes_to_last: int
    arithmetic: tuple[str, ...]


@dataclass(frozen=True)
class Troches:
    """Troches for one dose: strength in mg -> how many, the fewest that make the dose exactly."""

    mg: Decimal
    pieces: tuple[tuple[Decimal, int], ...]
    arithmetic: tuple[str, ...]

    @property
    def count(self) -> int:
        return sum(n for _, n in self.pieces)


def esketamine_devices(
    dose_mg: Decimal | int, *, device_mg: int, minutes_between: int, allowed_mg: Sequence[int]
) -> Devices:
    """Devices for an esketamine dose. Raises DoseError('dose_mg') for a dose the label does not
    list or that is not a whole number of devices."""
    dose = _positive(dose_mg, "dose_mg")
    if dose not in {Decimal(a) for a in allowed_mg}:
        listed = ", ".join(str(a) for a in allowed_mg)
        raise DoseError("dose_mg", f"{_plain(dose)} mg is not a listed dose ({listed} mg)")
    count, remainder = divmod(dose, Decimal(device_mg))
    if remainder:
        raise DoseError("dose_mg", f"{_plain(dose)} mg is not a whole number of {device_mg} mg devices")
    n = int(count)
    wait = minutes_between * (n - 1)
    timing = (
        f"{minutes_between} min between devices: the last device {wait} min after the first"
        if n > 1
        else "one device: no wait between devices"
    )
    lines = (f"{_fmt(dose, 0)} mg / {device_mg} mg per device = {_plural(n, 'device')}", timing)
    return Devices(n, device_mg, minutes_between, wait, lines)


def troches(dose_mg: Decimal | int | str, strengths_mg: Sequence[Decimal | int | str]) -> Troches:
    """The fewest troches, from the strengths stocked, that make the dose exactly. Raises DoseError
    ('dose_mg') when no combination does, naming the nearest doses that can be made."""
    dose = _positive(dose_mg, "dose_mg")
    stocked = sorted({_positive(s, "strengths_mg") for s in strengths_mg}, reverse=True)
    if not stocked:
        raise DoseError("strengths_mg", "no troche strengths are stocked")
    unit = min(_unit(s) for s in [*stocked, dose])
    target = int(dose / unit)
    sizes = [int(s / unit) for s in stocked]
    best: list[int | None] = [0] + [None] * target
    choice: list[int] = [0] * (target + 1)
    for amount in range(1, target + 1):
        for size in sizes:
            prior = best[amount - size] if size <= amount else None
            if prior is not None and (best[amount] is None or prior + 1 < best[amount]):  # type: ignore[operator]
                best[amount] = prior + 1
                choice[amount] = size
    if best[target] is None:
        made = [a for a in range(target + 1) if best[a] is not None]  # amounts the table can make
        below = made[-1] * unit
        above = min(a + size for a in made for size in sizes if a + size > target) * unit
        nearest = f"the nearest below is {_plain(below)} mg and above is {_plain(above)} mg"
        if not below:
            nearest = f"the nearest is {_plain(above)} mg"
        raise DoseError(
            "dose_mg",
            f"{_plain(dose)} mg cannot be made from the stocked strengths "
            f"({', '.join(_plain(s) for s in stocked)} mg); {nearest}",
        )
    counts: dict[int, int] = {}
    amount = target
    while amount:
        counts[choice[amount]] = counts.get(choice[amount], 0) + 1
        amount -= choice[amount]
    pieces = tuple((Decimal(size) * unit, counts[size]) for size in sizes if size in counts)
    parts = " + ".join(f"{n} x {_plain(s)} mg" for s, n in pieces)
    lines = (f"{_plain(dose)} mg = {parts} ({_plural(sum(n for _, n in pieces), 'troche')})",)
    return Troches(dose, pieces, lines)


def _unit(value: Decimal) -> Decimal:
    return Decimal(1).scaleb(-_places(value))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
