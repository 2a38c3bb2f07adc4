"""Reading typed fields out of a stored protocol definition (`protocols.py`, `dose_rules.py`).

Each reader returns the value or raises `ProtocolError` with the dotted path of the bad field
(`dose.titration.steps_mg_per_kg[1]`), so a clinic editing its own protocol sees exactly what to fix.
`path` is the prefix of the field's parent, ending in a dot (or empty at the top level).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


class ProtocolError(ValueError):
    """A protocol definition that cannot be used; `field` is the dotted path of the bad value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def required(data: Mapping[str, Any], name: str, path: str) -> Any:
    if name not in data:
        raise ProtocolError(f"{path}{name}", "is required")
    return data[name]


def text(data: Mapping[str, Any], name: str, path: str, *, optional: bool = False) -> str:
    """Stripped text; required and non-empty unless `optional` (then "" when absent)."""
    value = data.get(name, "") if optional else required(data, name, path)
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise ProtocolError(f"{path}{name}", "must be non-empty text")
    return value.strip()


def whole(data: Mapping[str, Any], name: str, path: str, *, minimum: int = 0) -> int:
    """A required whole number of at least `minimum`."""
    value = optional_whole(data, name, path, minimum=minimum)
    if value is None:
        raise ProtocolError(f"{path}{name}", "is required")
    return value


def optional_whole(data: Mapping[str, Any], name: str, path: str, *, minimum: int = 0) -> int | None:
    """A whole number of at least `minimum`, or None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProtocolError(f"{path}{name}", f"must be a whole number of at least {minimum}")
    return int(value)


def flag(data: Mapping[str, Any], name: str, path: str, *, default: bool = False) -> bool:
    """True or false (`default` when absent); anything else is refused."""
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{path}{name}", "must be true or false")
    return value


def number(data: Mapping[str, Any], name: str, path: str) -> Decimal:
    """A required number above zero, as a Decimal (given as a JSON number or a string)."""
    value = optional_number(data, name, path)
    if value is None:
        raise ProtocolError(f"{path}{name}", "is required")
    return value


def optional_number(data: Mapping[str, Any], name: str, path: str) -> Decimal | None:
    """A number above zero, or None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProtocolError(f"{path}{name}", "must be a number")
    try:
        found = Decimal(str(value))
    except InvalidOperation as exc:
        raise ProtocolError(f"{path}{name}", f"{value!r} is not a number") from exc
    if not found.is_finite() or found <= 0:
        raise ProtocolError(f"{path}{name}", "must be a number above zero")
    return found


def wholes(data: Mapping[str, Any], name: str, path: str) -> tuple[int, ...]:
    """A list of whole numbers above zero (empty when absent)."""
    values = data.get(name, [])
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ProtocolError(f"{path}{name}", "must be a list of whole numbers above zero")
    return tuple(values)


def numbers(values: list[Any], path: str) -> tuple[Decimal, ...]:
    """Each value as a number above zero; an error names the item, e.g. dose.strengths_mg[1]."""
    return tuple(number({f"[{i}]": value}, f"[{i}]", path) for i, value in enumerate(values))
