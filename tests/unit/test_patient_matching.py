from datetime import date

from ketaflow.patients.matching import Identity, compare
from ketaflow.patients.search import parse_query


def test_same_name_and_date_of_birth_is_a_possible_duplicate_with_reasons():
    new = Identity("Avery", "Lindqvist", date(1980, 3, 4))
    match = compare(new, Identity("Avery", "Lindqvist", date(1980, 3, 4)))
    assert match is not None
    assert set(match.reasons) == {"similar name", "same date of birth"}


def test_a_misspelt_name_with_the_same_birth_date_still_matches():
    match = compare(
        Identity("Jon", "Lindqvist", date(1980, 3, 4)), Identity("John", "Lindquist", date(1980, 3, 4))
    )
    assert match is not None


def test_a_shared_birth_date_alone_is_not_a_duplicate():
    assert (
        compare(
            Identity("Avery", "Lindqvist", date(1980, 3, 4)), Identity("Morgan", "Okafor", date(1980, 3, 4))
        )
        is None
    )


def test_the_same_family_phone_with_a_different_first_name_is_not_a_duplicate():
    assert (
        compare(
            Identity("Avery", "Lindqvist", date(1980, 3, 4), phone="+15035550142"),
            Identity("Morgan", "Lindqvist", date(2010, 1, 1), phone="+15035550142"),
        )
        is None
    )


def test_the_search_box_reads_dates_phones_mrns_and_names():
    q = parse_query("lindqvist 1980-03-04")
    assert q.names == ["lindqvist"] and q.date_of_birth == date(1980, 3, 4)
    assert parse_query("03/04/1980").date_of_birth == date(1980, 3, 4)
    assert parse_query("(503) 555-0142").phone_digits == "5035550142"
    assert parse_query("KF-000123").mrn == "KF-000123"
    assert parse_query("Zoë").names == ["zoe"]
