"""The medication catalogue: ingredient names, RxNorm codes and the classes eligibility reads.

`data/medications.json` maps each ingredient (and common brand names) to its RxNorm ingredient code
and to the interacting classes of clinical reference §3 (benzodiazepine, lamotrigine, MAOI,
psychostimulant, sedative-hypnotic, opioid). Every code is marked to verify against RxNav. A
medication typed in free text that the catalogue cannot match is *unclassified*, which the
eligibility rules report so a clinician checks it by hand; it is never read as "no interaction".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .eligibility.facts import MEDICATION_CLASSES

_PUNCTUATION = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class MedicationDefinition:
    id: str
    display: str
    rxnorm: str
    classes: frozenset[str]
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class MedicationCatalogue:
    version: str
    source: str
    class_labels: dict[str, str]
    medications: tuple[MedicationDefinition, ...]

    def get(self, medication_id: str) -> MedicationDefinition:
        for medication in self.medications:
            if medication.id == medication_id:
                return medication
        raise KeyError(medication_id)

    def match(self, text: str) -> MedicationDefinition | None:
        """The entry whose id, name or brand alias is the first word(s) of `text`, else None.
        Case and punctuation are ignored: "Xanax, 0.5 mg" and "XANAX (alprazolam)" both match."""
        words = _words(text)
        if not words:
            return None
        for medication in self.medications:
            names = (medication.id.replace("_", " "), medication.display, *medication.aliases)
            for name in names:
                parts = _words(name)
                if parts and words[: len(parts)] == parts:
                    return medication
        return None


def _words(text: str) -> list[str]:
    """Lower-case words; anything but a letter or digit (commas, brackets, hyphens) separates them."""
    return _PUNCTUATION.sub(" ", text.lower()).split()


def parse_catalogue(raw: dict[str, Any]) -> MedicationCatalogue:
    """Validate a catalogue document; raises ValueError naming the first bad entry."""
    labels = dict(raw.get("classes", {}))
    if set(labels) != set(MEDICATION_CLASSES):
        raise ValueError("classes: must label exactly the eligibility medication classes")
    entries: list[MedicationDefinition] = []
    seen: set[str] = set()
    for index, item in enumerate(raw.get("medications", [])):
        medication_id = item.get("id")
        if not medication_id or medication_id in seen:
            raise ValueError(f"medication #{index}: missing or duplicate id")
        classes = frozenset(item.get("classes", []))
        if not classes <= set(MEDICATION_CLASSES):
            raise ValueError(f"medication {medication_id!r}: unknown class in {sorted(classes)}")
        rxnorm = str(item.get("rxnorm", ""))
        if rxnorm and not rxnorm.isdigit():
            raise ValueError(f"medication {medication_id!r}: RxNorm code must be digits")
        seen.add(medication_id)
        entries.append(MedicationDefinition(
            medication_id, str(item["display"]), rxnorm, classes,
            tuple(str(a).lower() for a in item.get("aliases", [])),
        ))
    if not entries:
        raise ValueError("the catalogue lists no medications")
    return MedicationCatalogue(str(raw["version"]), str(raw["source"]), labels, tuple(entries))


@cache
def medication_catalogue() -> MedicationCatalogue:
    text = resources.files("ketaflow.clinical").joinpath("data/medications.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))


@dataclass(frozen=True)
class MedicationClasses:
    """The interacting classes of a medication list and whether any entry could not be classified."""

    classes: frozenset[str]
    unclassified: bool


def classify(catalogue_ids: Iterable[str | None]) -> MedicationClasses:
    """Classes of current medications given their catalogue ids (None or "" for free text).

    An id this catalogue no longer knows (a row stored under an older catalogue version) counts as
    unclassified, like free text: a clinician checks it by hand; it is never read as "no class"."""
    catalogue = medication_catalogue()
    classes: set[str] = set()
    unclassified = False
    for medication_id in catalogue_ids:
        try:
            definition = catalogue.get(medication_id) if medication_id else None
        except KeyError:
            definition = None
        if definition is None:
            unclassified = True
            continue
        classes |= definition.classes
    return MedicationClasses(frozenset(classes), unclassified)
