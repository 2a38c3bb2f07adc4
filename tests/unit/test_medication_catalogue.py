"""The medication catalogue: loading, brand-name matching, and the classes eligibility reads.

Pure: no database.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ketaflow.clinical.eligibility import MEDICATION_CLASSES
from ketaflow.clinical.medications import (
    MedicationClasses,
    classify,
    medication_catalogue,
    parse_catalogue,
)

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "src/ketaflow/clinical/data/medications.json"


def document() -> dict:
    return json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))


def test_the_catalogue_loads_with_a_version_a_source_and_a_label_for_every_class():
    catalogue = medication_catalogue()
    assert catalogue.version and "RxNorm" in catalogue.source and "RxNav" in catalogue.source
    assert set(catalogue.class_labels) == set(MEDICATION_CLASSES)
    assert catalogue.class_labels["maoi"] == "Monoamine oxidase inhibitor (MAOI)"
    assert len(catalogue.medications) >= 60


def test_every_class_eligibility_reads_has_medications_in_the_catalogue():
    catalogue = medication_catalogue()
    for medication_class in MEDICATION_CLASSES:
        assert any(medication_class in m.classes for m in catalogue.medications), medication_class


def test_every_entry_has_a_unique_id_and_digits_for_its_rxnorm_code():
    medications = medication_catalogue().medications
    assert len({m.id for m in medications}) == len(medications)
    assert all(m.rxnorm.isdigit() for m in medications if m.id != "oral_contraceptive")


@pytest.mark.parametrize(
    ("ingredient", "rxnorm", "classes"),
    [
        ("alprazolam", "596", {"benzodiazepine"}),
        ("lamotrigine", "28439", {"lamotrigine"}),
        ("phenelzine", "8123", {"maoi"}),
        ("methylphenidate", "6901", {"psychostimulant"}),
        ("zolpidem", "39993", {"sedative_hypnotic"}),
        ("buprenorphine", "1819", {"opioid"}),
        ("sertraline", "36437", set()),
    ],
)
def test_an_ingredient_carries_its_rxnorm_code_and_classes(ingredient, rxnorm, classes):
    entry = medication_catalogue().get(ingredient)
    assert (entry.rxnorm, set(entry.classes)) == (rxnorm, classes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Xanax", "alprazolam"),
        ("xanax 0.5 mg twice daily", "alprazolam"),
        ("Xanax, 0.5 mg", "alprazolam"),
        ("XANAX (alprazolam) 1mg", "alprazolam"),
        ("Alprazolam", "alprazolam"),
        ("Lamictal 200 mg", "lamotrigine"),
        ("Emsam patch", "selegiline"),
        ("Adderall XR 20 mg", "amphetamine"),
        ("amphetamine salts", "amphetamine"),
        ("Ambien", "zolpidem"),
        ("the pill", "oral_contraceptive"),
        ("  zoloft  ", "sertraline"),
    ],
)
def test_brand_and_ingredient_names_match_the_catalogue(text, expected):
    match = medication_catalogue().match(text)
    assert match is not None and match.id == expected


def test_xanax_is_alprazolam_a_benzodiazepine():
    match = medication_catalogue().match("Xanax")
    assert match is not None
    assert (match.display, match.rxnorm) == ("Alprazolam", "596")
    assert match.classes == frozenset({"benzodiazepine"})


@pytest.mark.parametrize("text", ["St John's wort", "my blue pill", "", "   ", "xan", "lexapro10mg"])
def test_free_text_the_catalogue_does_not_know_is_left_unmatched(text):
    assert medication_catalogue().match(text) is None


def test_classify_collects_the_classes_of_a_medication_list():
    result = classify(["alprazolam", "sertraline", "phenelzine", "alprazolam"])
    assert result == MedicationClasses(frozenset({"benzodiazepine", "maoi"}), unclassified=False)


def test_classify_counts_free_text_as_unclassified_never_as_no_interaction():
    assert classify(["sertraline", None]) == MedicationClasses(frozenset(), unclassified=True)
    assert classify([""]).unclassified is True


def test_classify_counts_an_id_the_catalogue_no_longer_knows_as_unclassified():
    assert classify(["withdrawn_drug", "lorazepam"]) == MedicationClasses(
        frozenset({"benzodiazepine"}), unclassified=True
    )


def test_an_empty_medication_list_has_no_classes_and_nothing_unclassified():
    assert classify([]) == MedicationClasses(frozenset(), unclassified=False)


def test_a_catalogue_with_an_unknown_class_or_a_duplicate_id_is_refused():
    bad_class = document()
    bad_class["medications"][0]["classes"] = ["antihistamine"]
    with pytest.raises(ValueError, match="medication 'sertraline': unknown class"):
        parse_catalogue(bad_class)
    duplicate = document()
    duplicate["medications"].append(copy.deepcopy(duplicate["medications"][0]))
    with pytest.raises(ValueError, match="missing or duplicate id"):
        parse_catalogue(duplicate)


def test_a_catalogue_with_a_non_numeric_rxnorm_code_or_the_wrong_classes_is_refused():
    bad_code = document()
    bad_code["medications"][0]["rxnorm"] = "RX36437"
    with pytest.raises(ValueError, match="RxNorm code must be digits"):
        parse_catalogue(bad_code)
    fewer_classes = document()
    del fewer_classes["classes"]["opioid"]
    with pytest.raises(ValueError, match="must label exactly the eligibility medication classes"):
        parse_catalogue(fewer_classes)
    empty = document()
    empty["medications"] = []
    with pytest.raises(ValueError, match="lists no medications"):
        parse_catalogue(empty)
