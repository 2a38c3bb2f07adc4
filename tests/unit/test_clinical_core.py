from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaflow.clinical.conditions import catalogue, parse_catalogue
from ketaflow.clinical.demographics import AgeBands, AgeGroup, age_on


def test_the_condition_catalogue_carries_snomed_and_icd10_codes_with_a_source():
    entries = catalogue().conditions
    assert {c.id for c in entries} >= {"mdd", "ptsd", "gad", "crps", "bipolar_depression"}
    mdd = catalogue().get("mdd")
    assert (mdd.snomed, mdd.icd10) == ("370143000", "F33.9")
    assert all(c.source and c.snomed.isdigit() and c.icd10 for c in entries)


def test_a_catalogue_entry_missing_a_code_is_refused_naming_the_entry():
    with pytest.raises(ValueError, match="condition #0: missing icd10"):
        parse_catalogue(
            {
                "version": "1",
                "source": "x",
                "conditions": [
                    {"id": "a", "display": "A", "snomed": "1", "group": "g", "source": "s", "verify": True}
                ],
            }
        )


def test_a_duplicate_catalogue_id_is_refused():
    item = {
        "id": "a",
        "display": "A",
        "snomed": "1",
        "icd10": "X",
        "group": "g",
        "source": "s",
        "verify": True,
    }
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        parse_catalogue({"version": "1", "source": "x", "conditions": [item, item]})


def test_age_counts_completed_years_around_the_birthday():
    assert age_on(date(2000, 11, 21), date(2026, 11, 20)) == 25
    assert age_on(date(2000, 11, 21), date(2026, 11, 21)) == 26
    assert age_on(date(2004, 2, 29), date(2026, 2, 28)) == 21


def test_age_of_someone_not_yet_born_is_refused():
    with pytest.raises(ValueError):
        age_on(date(2030, 1, 1), date(2026, 1, 1))


def test_age_groups_follow_the_configurable_bands():
    bands = AgeBands()
    assert [bands.group(a) for a in (11, 12, 17, 18, 64, 65)] == [
        AgeGroup.CHILD,
        AgeGroup.ADOLESCENT,
        AgeGroup.ADOLESCENT,
        AgeGroup.ADULT,
        AgeGroup.ADULT,
        AgeGroup.OLDER_ADULT,
    ]
    assert AgeBands(older_adult_from=60).group(62) is AgeGroup.OLDER_ADULT


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 1)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
)
def test_age_is_never_negative_and_never_exceeds_the_year_difference(born, on):
    if born > on:
        return
    age = age_on(born, on)
    assert 0 <= age <= on.year - born.year


def test_the_clinical_core_loads_without_django():
    code = (
        "import sys, ketaflow.clinical.conditions, ketaflow.clinical.demographics;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django','ninja','psycopg','pydantic'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
