"""Which procedure codes a visit carries (clinical reference §7; every code there is [verify]).

- IV infusion: CPT 96365 for the first hour, plus one 96366 for each added hour. Following the CPT
  time rule, an added hour counts once more than 30 minutes of it has passed [verify].
- Esketamine (Spravato) observation: HCPCS G2082 for a dose up to 56 mg, G2083 above 56 mg [verify].

The codes are suggestions to confirm before a claim is submitted; clinics edit them on the price list.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

SOURCE = "Clinical reference §7 (billing codes, every one marked [verify]): confirm before submitting."
IV_FIRST_HOUR = "96365"
IV_ADDED_HOUR = "96366"
ESKETAMINE_UP_TO_56 = "G2082"
ESKETAMINE_ABOVE_56 = "G2083"
ESKETAMINE_CODES = frozenset({ESKETAMINE_UP_TO_56, ESKETAMINE_ABOVE_56})


def iv_added_hours(minutes: int) -> int:
    """Added hours (96366 units) for `minutes` of chair time: 0 up to 90 minutes, 1 from 91, ..."""
    beyond = max(0, minutes - 60)
    full, part = divmod(beyond, 60)
    return full + (1 if part > 30 else 0)


def esketamine_code(dose_mg: Decimal | float | int | None) -> str:
    """G2082 for a dose up to 56 mg (or an unknown dose), G2083 above 56 mg."""
    return ESKETAMINE_ABOVE_56 if dose_mg is not None and Decimal(str(dose_mg)) > 56 else ESKETAMINE_UP_TO_56


def codes_for_visit(
    base: list[dict[str, Any]], *, type_key: str, minutes: int, dose_mg: Decimal | None
) -> list[dict[str, Any]]:
    """The price item's codes adjusted for this visit: the esketamine code by dose, 96366 units by time."""
    codes = [dict(code) for code in base if code.get("code") != IV_ADDED_HOUR]
    if type_key == "esketamine":
        codes = [c for c in codes if c.get("code") not in ESKETAMINE_CODES]
        codes.insert(0, {"system": "HCPCS", "code": esketamine_code(dose_mg)})
    if any(c.get("code") == IV_FIRST_HOUR for c in codes):
        added = iv_added_hours(minutes)
        if added:
            codes.append({"system": "CPT", "code": IV_ADDED_HOUR, "units": added})
    return codes


def codes_text(codes: list[dict[str, Any]]) -> str:
    """ "CPT 96365, CPT 96366 x2" for a page or the superbill."""
    parts = []
    for code in codes:
        units = int(code.get("units") or 1)
        parts.append(
            f"{code.get('system', '')} {code.get('code', '')}{f' x{units}' if units > 1 else ''}".strip()
        )
    return ", ".join(parts)
