"""Recovery and discharge: the modified Aldrete score and the discharge-readiness decision.

Clinical reference §4: activity, respiration, circulation (2 = blood pressure within 20 mmHg of the
baseline), consciousness and oxygen saturation (2 = above 92% on room air), each 0-2. Common sedation
rules ask for a total of at least 9, or at least 8 with 2 on respiration and on oxygen saturation
[verify for ketamine: the thresholds are a clinic setting]. Discharge also needs the protocol's
minimum observation time (2 h for esketamine, label and REMS) and an escort confirmed by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ALDRETE_SOURCE = (
    "Modified Aldrete score (Aldrete 1995), clinical reference §4; "
    "the pass marks are a clinic setting [verify]"
)

ALDRETE_ITEMS: dict[str, tuple[str, tuple[str, str, str]]] = {
    "activity": ("Activity", ("Moves no limbs", "Moves two limbs on command", "Moves four limbs on command")),
    "respiration": (
        "Respiration",
        ("Apnoeic", "Dyspnoea or limited breathing", "Breathes deeply and coughs freely"),
    ),
    "circulation": (
        "Circulation",
        (
            "BP more than 50 mmHg from baseline",
            "BP within 20-50 mmHg of baseline",
            "BP within 20 mmHg of baseline",
        ),
    ),
    "consciousness": ("Consciousness", ("Not responding", "Arousable on calling", "Fully awake")),
    "oxygen_saturation": (
        "Oxygen saturation",
        ("Below 90% even with oxygen", "Needs oxygen to stay above 90%", "Above 92% on room air"),
    ),
}


class DischargeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AldreteRules:
    minimum_total: int = 9
    alternative_total: int | None = 8  # allowed when respiration and oxygen saturation both score 2
    source: str = ALDRETE_SOURCE


@dataclass(frozen=True)
class AldreteScore:
    items: Mapping[str, int]
    total: int

    def passes(self, rules: AldreteRules) -> bool:
        if self.total >= rules.minimum_total:
            return True
        return (
            rules.alternative_total is not None
            and self.total >= rules.alternative_total
            and self.items["respiration"] == 2
            and self.items["oxygen_saturation"] == 2
        )


def aldrete(items: Mapping[str, Any]) -> AldreteScore:
    """The score from its five items (0, 1 or 2 each); DischargeError names a missing or bad item."""
    scores: dict[str, int] = {}
    for key, (label, _) in ALDRETE_ITEMS.items():
        value = items.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or value not in (0, 1, 2):
            raise DischargeError(key, f"Score {label.lower()} 0, 1 or 2.")
        scores[key] = int(value)
    return AldreteScore(scores, sum(scores.values()))


def suggested_circulation(
    systolic: int | Decimal | None, baseline_systolic: int | Decimal | None
) -> int | None:
    """2 within 20 mmHg of the baseline, 1 within 50, else 0; None without both readings."""
    if systolic is None or baseline_systolic is None:
        return None
    difference = abs(Decimal(systolic) - Decimal(baseline_systolic))
    return 2 if difference <= 20 else 1 if difference <= 50 else 0


def suggested_saturation(spo2: int | Decimal | None, *, on_oxygen: bool = False) -> int | None:
    """2 above 92% on room air, 1 when oxygen keeps it above 90%, else 0; None without a reading."""
    if spo2 is None:
        return None
    value = Decimal(spo2)
    if value > 92 and not on_oxygen:
        return 2
    return 1 if value > 90 else 0


@dataclass(frozen=True)
class DischargeReadiness:
    ready: bool
    reasons: tuple[tuple[str, str], ...]  # (field, plain words) for each unmet condition
    minutes_left: int  # of the minimum observation time; 0 when it has passed


def discharge_readiness(
    score: AldreteScore | None,
    rules: AldreteRules,
    *,
    observed_minutes: int,
    min_observation_min: int,
    escort_name: str,
    escort_required: bool,
) -> DischargeReadiness:
    """Ready when the Aldrete score passes, the minimum observation time is over and, when the
    protocol needs one, an escort is named; each unmet condition is a reason naming its field."""
    reasons: list[tuple[str, str]] = []
    if score is None:
        reasons.append(("aldrete", "Score the modified Aldrete."))
    elif not score.passes(rules):
        alt = (
            f" (or {rules.alternative_total} with 2 on respiration and oxygen saturation)"
            if rules.alternative_total is not None
            else ""
        )
        reasons.append(
            (
                "aldrete",
                f"Aldrete {score.total} is below the clinic's pass mark of {rules.minimum_total}{alt}.",
            )
        )
    left = max(0, min_observation_min - observed_minutes)
    if left:
        reasons.append(
            (
                "observation",
                f"Observe for {left} more min: this protocol's minimum is {min_observation_min} min.",
            )
        )
    if escort_required and not escort_name.strip():
        reasons.append(("escort_name", "Name the escort taking the patient home."))
    return DischargeReadiness(not reasons, tuple(reasons), left)
