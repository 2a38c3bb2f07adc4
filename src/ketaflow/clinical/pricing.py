"""Estimates: what a plan will cost before the patient commits.

Prices are whole cents in the clinic's currency. `estimate` takes the sessions a plan needs (per
billable item) and the clinic's price list, and chooses, for each item, the cheapest mix of packages
(N sessions for a price) and single sessions that covers the count. Add-ons and one-off items are
added as listed. Every line says where its amount comes from; nothing is discounted silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """One price-list entry: a single item (`sessions` 1) or a package of `sessions` of `covers`."""

    code: str
    label: str
    amount_cents: int
    covers: str = ""
    sessions: int = 1

    def __post_init__(self) -> None:
        if self.amount_cents < 0:
            raise ValueError(f"amount_cents: {self.code} has a negative price")
        if self.sessions < 1:
            raise ValueError(f"sessions: {self.code} must cover at least one session")


@dataclass(frozen=True)
class Line:
    code: str
    label: str
    quantity: int
    unit_cents: int
    note: str = ""

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_cents


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    deposit_cents: int

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def cheapest_cover(count: int, single: Price, packages: Sequence[Price]) -> list[tuple[Price, int]]:
    """The cheapest (price, quantity) mix of packages and singles that covers `count` sessions,
    preferring fewer lines when two cost the same."""
    if count <= 0:
        return []
    options = [single, *packages]
    best: list[tuple[int, int, tuple[tuple[Price, int], ...]] | None] = [(0, 0, ())] + [None] * count
    for covered in range(1, count + 1):
        for option in options:
            before = max(0, covered - option.sessions)
            prior = best[before]
            if prior is None:
                continue
            cost, _, mix = prior
            merged = dict(mix)
            merged[option] = merged.get(option, 0) + 1
            candidate = (cost + option.amount_cents, len(merged), tuple(merged.items()))
            current = best[covered]
            if current is None or candidate[:2] < current[:2]:
                best[covered] = candidate
    result = best[count]
    assert result is not None
    order = {p.code: i for i, p in enumerate(options)}
    return sorted(result[2], key=lambda pair: order[pair[0].code])


def estimate(
    sessions: Mapping[str, int],
    prices: Sequence[Price],
    *,
    extras: Sequence[tuple[str, int]] = (),
    deposit_cents: int = 0,
) -> Estimate:
    """An estimate for `sessions` (price code of the single session -> count) plus `extras`
    (price code -> quantity). Raises KeyError naming a code missing from the price list, and
    ValueError for a negative count, quantity or deposit. When the cheapest mix covers more
    sessions than the plan needs, the first package line says so."""
    if deposit_cents < 0:
        raise ValueError("deposit_cents: cannot be negative")
    by_code = {p.code: p for p in prices}
    lines: list[Line] = []
    for code, count in sessions.items():
        if code not in by_code:
            raise KeyError(code)
        if count < 0:
            raise ValueError(f"sessions: {code} cannot be negative")
        single = by_code[code]
        packages = [p for p in prices if p.covers == code and p.sessions > 1]
        mix = cheapest_cover(count, single, packages)
        covered = sum(price.sessions * quantity for price, quantity in mix)
        told = False
        for price, quantity in mix:
            note = f"{price.sessions} sessions" if price.sessions > 1 else ""
            if price.sessions > 1 and covered > count and not told:
                note += f" (covers {covered}; the plan needs {count})"
                told = True
            lines.append(Line(price.code, price.label, quantity, price.amount_cents, note))
    for code, quantity in extras:
        if code not in by_code:
            raise KeyError(code)
        if quantity < 0:
            raise ValueError(f"extras: {code} cannot be negative")
        price = by_code[code]
        lines.append(Line(price.code, price.label, quantity, price.amount_cents))
    return Estimate(tuple(lines), deposit_cents)


def money(cents: int, currency: str = "USD") -> str:
    """Cents as the clinic shows them: $1,250.00 (other currencies by code: EUR 1,250.00)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    prefix = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{prefix}{whole:,}.{part:02d}"
