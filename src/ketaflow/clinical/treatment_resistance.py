"""Treatment-resistant depression: the Thase-Rush stage and the common two-trial definition.

    trials = parse_trials([{"drug": "sertraline", "adequate": True, "outcome": "no_response"},
                           {"drug": "Effexor", "adequate": True, "outcome": "partial_response"}])
    staging = stage_treatment_resistance(trials, ect_failed=None)
    staging.stage, staging.label, staging.is_trd     # 2, "Stage II", True
    staging.reasons                                  # why, one sentence per step

Staging after Thase ME, Rush AJ. When at first you don't succeed: sequential strategies for
antidepressant nonresponders. J Clin Psychiatry 1997;58 Suppl 13:23-29:

- Stage 0: no failed adequate trial;
- Stage I: failure of at least one adequate trial of one major class;
- Stage II: failure of adequate trials in two distinctly different classes;
- Stage III: Stage II plus failure of an adequate trial of a tricyclic (TCA);
- Stage IV: Stage III plus failure of an adequate trial of an MAOI;
- Stage V: Stage IV plus failure of a course of bilateral ECT.

A trial *failed* when it was adequate (dose and duration) and the response was none or partial.
A trial stopped because it was not tolerated never counts. Each step must be met by failures
beyond those of the steps before it: Stage III needs a TCA failure besides two other distinct
classes, and Stage IV an MAOI failure besides a TCA and two other classes (the paper describes a
sequence; this is how ketaflow reads it, and the reasons say so). "Other" counts as one class.

`is_trd` uses the common definition: at least two failed adequate trials of different
antidepressants in the current episode (as in the EMA guideline on depression,
EMA/CHMP/185423/2010 Rev. 2) [verify]. The trials recorded are those of the current episode.

Pure: no clock, no I/O. The drug table names each ingredient's class and brand names [verify].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STAGING_SOURCE = (
    "Thase ME, Rush AJ. J Clin Psychiatry 1997;58 Suppl 13:23-29 (Thase-Rush staging)."
)
TRD_SOURCE = (
    "Common definition: failure of at least two adequate trials of different antidepressants in the "
    "current episode (e.g. EMA guideline on depression, EMA/CHMP/185423/2010 Rev. 2) [verify]."
)
ANTIDEPRESSANT_CLASSES: dict[str, str] = {
    "ssri": "SSRI",
    "snri": "SNRI",
    "bupropion": "Bupropion",
    "mirtazapine": "Mirtazapine",
    "tca": "Tricyclic (TCA)",
    "maoi": "MAOI",
    "other": "Other antidepressant",
}
OUTCOMES: dict[str, str] = {
    "no_response": "No response",
    "partial_response": "Partial response",
    "response": "Responded",
    "not_tolerated": "Stopped: not tolerated",
}
FAILED_OUTCOMES = frozenset({"no_response", "partial_response"})
STAGE_LABELS = ("Stage 0", "Stage I", "Stage II", "Stage III", "Stage IV", "Stage V")
MAX_TRIALS = 40
MAX_DRUG_LENGTH = 120

# ingredient -> (class, brand names), lower case. [verify] against a drug reference before clinical use.
ANTIDEPRESSANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sertraline": ("ssri", ("zoloft",)),
    "fluoxetine": ("ssri", ("prozac",)),
    "escitalopram": ("ssri", ("lexapro",)),
    "citalopram": ("ssri", ("celexa",)),
    "paroxetine": ("ssri", ("paxil",)),
    "fluvoxamine": ("ssri", ("luvox",)),
    "venlafaxine": ("snri", ("effexor",)),
    "desvenlafaxine": ("snri", ("pristiq",)),
    "duloxetine": ("snri", ("cymbalta",)),
    "levomilnacipran": ("snri", ("fetzima",)),
    "bupropion": ("bupropion", ("wellbutrin",)),
    "mirtazapine": ("mirtazapine", ("remeron",)),
    "amitriptyline": ("tca", ("elavil",)),
    "nortriptyline": ("tca", ("pamelor",)),
    "imipramine": ("tca", ("tofranil",)),
    "desipramine": ("tca", ("norpramin",)),
    "clomipramine": ("tca", ("anafranil",)),
    "doxepin": ("tca", ("sinequan",)),
    "protriptyline": ("tca", ("vivactil",)),
    "trimipramine": ("tca", ("surmontil",)),
    "phenelzine": ("maoi", ("nardil",)),
    "tranylcypromine": ("maoi", ("parnate",)),
    "isocarboxazid": ("maoi", ("marplan",)),
    "selegiline": ("maoi", ("emsam",)),
    "trazodone": ("other", ("desyrel",)),
    "nefazodone": ("other", ()),
    "vortioxetine": ("other", ("trintellix",)),
    "vilazodone": ("other", ("viibryd",)),
}
_TRIAL_KEYS = frozenset({"drug", "drug_class", "adequate", "outcome"})


@dataclass(frozen=True)
class Trial:
    """One antidepressant trial of the current episode. `drug` is the ingredient when recognised,
    else the text as written ("" when only the class is known)."""

    drug: str
    drug_class: str
    adequate: bool
    outcome: str

    @property
    def failed(self) -> bool:
        return self.adequate and self.outcome in FAILED_OUTCOMES

    def as_dict(self) -> dict[str, Any]:
        return {"drug": self.drug, "drug_class": self.drug_class, "adequate": self.adequate,
                "outcome": self.outcome}


@dataclass(frozen=True)
class TrialProblem:
    field: str
    message: str


class TrialsInvalid(ValueError):
    """Every problem in a list of trials, each naming its field (`trials[1].outcome`)."""

    def __init__(self, problems: Sequence[TrialProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class TreatmentResistance:
    """The stage (0-5) with the reasoning behind it, and whether the common TRD definition is met."""

    stage: int
    label: str
    reasons: tuple[str, ...]
    failed_trials: int
    failed_classes: tuple[str, ...]
    is_trd: bool
    trd_reason: str
    source: str = STAGING_SOURCE
    trd_source: str = TRD_SOURCE


def identify_antidepressant(text: str) -> str | None:
    """The ingredient whose name or brand is the first word of `text` ("Zoloft 100 mg" ->
    "sertraline"), else None."""
    words = text.strip().lower().replace("-", " ").split()
    if not words:
        return None
    first = words[0].strip(".,;:()")
    for ingredient, (_cls, brands) in ANTIDEPRESSANTS.items():
        if first == ingredient or first in brands:
            return ingredient
    return None


def _trial(index: int, raw: Any) -> tuple[Trial | None, list[TrialProblem]]:
    where = f"trials[{index}]"
    if not isinstance(raw, Mapping):
        return None, [TrialProblem(where, "Each trial must be an object.")]
    problems = [TrialProblem(f"{where}.{key}", "This is not a field of a trial.")
                for key in raw if key not in _TRIAL_KEYS]
    drug_text = raw.get("drug", "")
    drug_class = raw.get("drug_class", "") or ""
    adequate = raw.get("adequate")
    outcome = raw.get("outcome")
    if drug_text is None:
        drug_text = ""
    if not isinstance(drug_text, str):
        problems.append(TrialProblem(f"{where}.drug", "Enter the drug as text."))
        drug_text = ""
    drug_text = drug_text.strip()
    if len(drug_text) > MAX_DRUG_LENGTH:
        problems.append(TrialProblem(f"{where}.drug", f"Keep the drug name to {MAX_DRUG_LENGTH} characters."))
    if not isinstance(drug_class, str) or (drug_class and drug_class not in ANTIDEPRESSANT_CLASSES):
        problems.append(TrialProblem(f"{where}.drug_class",
                                     f"Choose one of: {', '.join(ANTIDEPRESSANT_CLASSES.values())}."))
        drug_class = ""
    ingredient = identify_antidepressant(drug_text)
    if ingredient is not None:
        known_class = ANTIDEPRESSANTS[ingredient][0]
        if drug_class and drug_class != known_class:
            problems.append(TrialProblem(
                f"{where}.drug_class",
                f"{ingredient.capitalize()} is {_article(known_class)} "
                f"{ANTIDEPRESSANT_CLASSES[known_class]}, not {_article(drug_class)} "
                f"{ANTIDEPRESSANT_CLASSES[drug_class]}.",
            ))
        drug_class = known_class
    elif not drug_text and not drug_class:
        problems.append(TrialProblem(f"{where}.drug", "Name the antidepressant, or choose its class."))
    elif not drug_class:
        problems.append(TrialProblem(f"{where}.drug_class",
                                     "This drug is not in ketaflow's list: choose its class."))
    if not isinstance(adequate, bool):
        problems.append(TrialProblem(f"{where}.adequate",
                                     "Say whether the trial reached an adequate dose and duration."))
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        problems.append(TrialProblem(f"{where}.outcome",
                                     f"Choose the outcome: {', '.join(OUTCOMES.values()).lower()}."))
    elif adequate is True and outcome == "not_tolerated":
        problems.append(TrialProblem(
            f"{where}.adequate",
            "A trial stopped because it was not tolerated did not reach an adequate dose and duration: "
            "untick 'adequate', or choose the response it had.",
        ))
    if problems or not isinstance(adequate, bool) or not isinstance(outcome, str):
        return None, problems
    return Trial(ingredient or drug_text, drug_class, adequate, outcome), []


def _article(drug_class: str) -> str:
    """The article read aloud before the class name: "an SSRI", "an MAOI", "a tricyclic"."""
    return "an" if drug_class in ("ssri", "snri", "maoi", "other") else "a"


def parse_trials(raw: Any) -> tuple[Trial, ...]:
    """Trials from JSON-like input (a list of objects with drug, drug_class, adequate, outcome).

    The class is taken from the drug table when the drug is recognised (a different class given is
    a contradiction). Raises TrialsInvalid naming every bad field."""
    if not isinstance(raw, (list, tuple)):
        raise TrialsInvalid([TrialProblem("trials", "Send a list of trials.")])
    if len(raw) > MAX_TRIALS:
        raise TrialsInvalid([TrialProblem("trials", f"Record at most {MAX_TRIALS} trials.")])
    trials: list[Trial] = []
    problems: list[TrialProblem] = []
    for index, item in enumerate(raw):
        trial, found = _trial(index, item)
        problems.extend(found)
        if trial is not None:
            trials.append(trial)
    if problems:
        raise TrialsInvalid(problems)
    return tuple(trials)


def _names(classes: Iterable[str]) -> str:
    return ", ".join(ANTIDEPRESSANT_CLASSES[c] for c in classes)


def _distinct_failed_drugs(trials: Sequence[Trial]) -> int:
    """Different antidepressants among the failed trials: the same drug named twice counts once; a
    trial known only by its class counts on its own."""
    named = {t.drug.lower() for t in trials if t.failed and t.drug}
    unnamed = sum(1 for t in trials if t.failed and not t.drug)
    return len(named) + unnamed


def stage_treatment_resistance(
    trials: Iterable[Trial], *, ect_failed: bool | None = None
) -> TreatmentResistance:
    """The Thase-Rush stage of the current episode, with one reason per step, and the TRD count."""
    trials = tuple(trials)
    failed = [t for t in trials if t.failed]
    failed_classes = {t.drug_class for t in failed}
    ordered = tuple(c for c in ANTIDEPRESSANT_CLASSES if c in failed_classes)
    others = [c for c in ordered if c not in ("tca", "maoi")]
    without_tca = [c for c in ordered if c != "tca"]
    reasons: list[str] = []
    not_counted = [t for t in trials if not t.failed]
    if not_counted:
        reasons.append(
            f"{len(not_counted)} trial{'s' if len(not_counted) != 1 else ''} not counted "
            "(not adequate, responded, or not tolerated)."
        )

    stage = 0
    if not failed:
        reasons.append("No failed adequate antidepressant trial: Stage 0.")
    else:
        stage = 1
        reasons.append(f"Failed adequate trial(s) in {len(ordered)} class(es) ({_names(ordered)}): "
                       "at least Stage I.")
        if len(ordered) >= 2:
            stage = 2
            reasons.append("Two distinctly different classes failed: Stage II.")
        else:
            reasons.append("Stage II needs a failed adequate trial in a second, different class.")
    if stage == 2:
        if "tca" in failed_classes and len(without_tca) >= 2:
            stage = 3
            reasons.append("A tricyclic (TCA) failed besides two other classes: Stage III.")
        elif "tca" in failed_classes:
            reasons.append("A TCA failed, but Stage III needs two other classes failed besides it.")
        else:
            reasons.append("Stage III needs a failed adequate trial of a tricyclic (TCA).")
    if stage == 3:
        if "maoi" in failed_classes and len(others) >= 2:
            stage = 4
            reasons.append("An MAOI failed besides a TCA and two other classes: Stage IV.")
        elif "maoi" in failed_classes:
            reasons.append("An MAOI failed, but it counted toward Stage II; Stage IV needs an MAOI failure "
                           "besides a TCA and two other classes.")
        else:
            reasons.append("Stage IV needs a failed adequate trial of an MAOI.")
    if stage == 4:
        if ect_failed is True:
            stage = 5
            reasons.append("A course of bilateral ECT failed: Stage V.")
        elif ect_failed is False:
            reasons.append("No failed course of bilateral ECT, so not Stage V.")
        else:
            reasons.append("Stage V needs a failed course of bilateral ECT (not recorded).")
    elif ect_failed is True:
        reasons.append("A failed course of ECT is recorded; it moves the stage only from Stage IV.")

    distinct = _distinct_failed_drugs(trials)
    is_trd = distinct >= 2
    trd_reason = (
        f"{distinct} different antidepressant{'s' if distinct != 1 else ''} failed at an adequate dose "
        f"and duration in the current episode; the common definition of treatment-resistant depression "
        f"needs at least 2: {'met' if is_trd else 'not met'}."
    )
    return TreatmentResistance(
        stage=stage, label=STAGE_LABELS[stage], reasons=tuple(reasons), failed_trials=len(failed),
        failed_classes=ordered, is_trd=is_trd, trd_reason=trd_reason,
    )
