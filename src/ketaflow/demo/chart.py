"""The clinical part of a synthetic chart: problem list, allergies, alerts and archiving.

Proportions are made up to look like a ketamine clinic's caseload (clinical reference §1: TRD and
major depression most, then PTSD, anxiety, bipolar depression, OCD and chronic pain). They are
demo data for trying the software, not epidemiology.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from ketaflow.clinical.conditions import catalogue

from .pools import Weighted

PRIMARY_CONDITIONS = {
    "trd": 34, "mdd": 18, "ptsd": 12, "bipolar_depression": 8, "gad": 6, "fibromyalgia": 6,
    "crps": 5, "neuropathic_pain": 5, "ocd": 4,
}
COMORBID_CONDITIONS = {
    "gad": 22, "ptsd": 18, "mdd": 12, "suicidal_ideation": 8, "fibromyalgia": 9, "ocd": 6,
    "neuropathic_pain": 4,
}
EXTRA_CONDITION_COUNT = {"0": 50, "1": 35, "2": 15}  # so 15% carry three conditions
# Pairs a chart never holds together (one depression diagnosis at a time).
EXCLUSIVE = ({"trd", "mdd", "bipolar_depression"},)
MOOD_GROUPS = {"depression", "bipolar"}

# (substance, category, reaction, severity): a few common allergies, weighted.
ALLERGENS: dict[tuple[str, str, str, str], float] = {
    ("Penicillin", "medication", "Hives", "moderate"): 30,
    ("Sulfa drugs (sulfonamides)", "medication", "Rash", "mild"): 18,
    ("Codeine", "medication", "Nausea and vomiting", "mild"): 12,
    ("Latex", "environment", "Contact dermatitis", "moderate"): 10,
    ("Amoxicillin", "medication", "Rash", "mild"): 8,
    ("Morphine", "medication", "Itching", "mild"): 5,
    ("Iodinated contrast", "medication", "Hives", "moderate"): 4,
    ("Peanuts", "food", "Anaphylaxis", "severe"): 4,
    ("Adhesive tape", "other", "Skin irritation", "mild"): 4,
    ("Ibuprofen", "medication", "Angioedema", "severe"): 3,
    ("Shellfish", "food", "Throat tightness", "severe"): 3,
    ("Bee stings", "environment", "Swelling", "moderate"): 3,
    ("Ondansetron", "medication", "Headache", "mild"): 2,
}
ALLERGY_COUNT = {"1": 70, "2": 22, "3": 8}

ALERTS: dict[str, tuple[str, ...]] = {
    "administrative": (
        "Needs a ride arranged after each session",
        "Prefers afternoon appointments",
        "Interpreter needed: Spanish",
        "Call the mobile only; do not leave voicemail at home",
        "Prior authorization pending with insurer",
    ),
    "clinical": (
        "Elevated blood pressure at last visit: recheck before dosing",
        "History of motion sickness: consider antiemetic before infusion",
        "Difficult IV access: allow extra time",
        "Sleep apnea: monitor oxygen saturation closely",
    ),
    "safety": (
        "Do not leave unattended during recovery",
        "History of fainting during IV placement: keep reclined",
        "Fall risk: assist to and from the chair",
    ),
}
SAFETY_PLAN_ALERT = "Recent suicidal ideation: review the safety plan at every visit"
ARCHIVE_REASONS = (
    "Moved out of state",
    "Transferred care to another provider",
    "Completed treatment; discharged to primary care",
    "Duplicate registration; see the other record",
    "Chose not to start treatment",
)


class Deck:
    """Draws from a shuffled deck holding items in fixed proportions, refilled when empty.

    Every run of `sum(counts)` draws holds exactly the proportions, so even a 40-patient demo has
    its adolescents, older adults and unknown allergy statuses.
    """

    def __init__(self, rng: random.Random, counts: Mapping[str, int]) -> None:
        self._rng = rng
        self._template = [item for item, count in counts.items() for _ in range(count)]
        self._cards: list[str] = []

    def draw(self) -> str:
        if not self._cards:
            self._cards = list(self._template)
            self._rng.shuffle(self._cards)
        return self._cards.pop()


@dataclass(frozen=True)
class ChartDecks:
    allergy_status: Deck
    alert: Deck
    archived: Deck

    @classmethod
    def new(cls, rng: random.Random) -> ChartDecks:
        return cls(
            allergy_status=Deck(rng, {"nkda": 6, "recorded": 3, "unknown": 1}),
            alert=Deck(rng, {"": 36, "administrative": 2, "clinical": 1, "safety": 1}),
            archived=Deck(rng, {"": 39, "archived": 1}),
        )


_PRIMARY = Weighted({k: float(v) for k, v in PRIMARY_CONDITIONS.items()})
_COMORBID = Weighted({k: float(v) for k, v in COMORBID_CONDITIONS.items()})
_EXTRA = Weighted({k: float(v) for k, v in EXTRA_CONDITION_COUNT.items()})
_ALLERGY_COUNT = Weighted({k: float(v) for k, v in ALLERGY_COUNT.items()})
_ALLERGEN_KEYS = tuple(ALLERGENS)
_ALLERGENS = Weighted({str(i): w for i, w in enumerate(ALLERGENS.values())})


def _compatible(candidate: str, chosen: list[str]) -> bool:
    if candidate in chosen:
        return False
    if any(candidate in group and group & set(chosen) for group in EXCLUSIVE):
        return False
    if candidate == "suicidal_ideation":
        groups = {catalogue().get(c).group for c in chosen}
        return bool(groups & MOOD_GROUPS)
    return True


def draw_conditions(rng: random.Random, age: int, today: date) -> list[dict[str, object]]:
    """One primary condition and 0-2 comorbid ones, as Condition field values."""
    chosen = [_PRIMARY.pick(rng)]
    wanted = int(_EXTRA.pick(rng))
    for _ in range(wanted * 4):
        if len(chosen) > wanted:
            break
        candidate = _COMORBID.pick(rng)
        if _compatible(candidate, chosen):
            chosen.append(candidate)
    rows: list[dict[str, object]] = []
    for index, condition_id in enumerate(chosen):
        definition = catalogue().get(condition_id)
        years_ill = max(1, min(age - 11, 25))
        onset = today - timedelta(days=rng.randint(60, 365 * years_ill))
        status = "active" if index == 0 or rng.random() < 0.85 else "remission"
        note = ""
        if condition_id == "trd":
            note = f"Inadequate response to {rng.randint(2, 6)} adequate antidepressant trials"
        rows.append({
            "catalogue_id": definition.id, "display": definition.display,
            "snomed_code": definition.snomed, "icd10_code": definition.icd10,
            "status": status, "onset_date": onset, "note": note,
        })
    return rows


def draw_allergies(rng: random.Random) -> list[dict[str, object]]:
    """1-3 distinct recorded allergies, as Allergy field values."""
    wanted = int(_ALLERGY_COUNT.pick(rng))
    picked: list[tuple[str, str, str, str]] = []
    while len(picked) < wanted:
        allergen = _ALLERGEN_KEYS[int(_ALLERGENS.pick(rng))]
        if allergen not in picked:
            picked.append(allergen)
    return [
        {"substance": s, "category": c, "reaction": r, "severity": sev}
        for s, c, r, sev in picked
    ]


def draw_alerts(rng: random.Random, category: str, conditions: list[dict[str, object]],
                age: int) -> list[dict[str, object]]:
    """The alerts of a chart: the deck's one (if any), plus a safety-plan alert for suicidal ideation."""
    alerts: list[dict[str, object]] = []
    if category:
        messages = ALERTS[category]
        if category == "safety" and age < 65:
            messages = tuple(m for m in messages if not m.startswith("Fall risk"))
        alerts.append({"category": category, "message": rng.choice(messages)})
    if any(c["catalogue_id"] == "suicidal_ideation" for c in conditions):
        alerts.append({"category": "safety", "message": SAFETY_PLAN_ALERT})
    return alerts
