"""Controlled-substance arithmetic (balances, session reconciliation, counts, expiry) and the rescue
formulary that decides which rescue doses also go to the ledger. Pure: no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.controlled import (
    EntryKind,
    LedgerError,
    count,
    expiry_status,
    next_balance,
    reconcile_session,
)
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.clinical.session_catalogue import (
    default_formulary_entries,
    formulary,
    formulary_source,
    severities,
    side_effects,
)

MG = Decimal

quantities = st.decimals("-600", "600", places=1)


@settings(max_examples=100, deadline=None)
@given(
    opening=st.decimals("0", "1000", places=1),
    entries=st.lists(st.tuples(st.sampled_from(list(EntryKind)), quantities), max_size=20),
)
def test_a_running_balance_never_goes_below_zero_and_moves_by_exactly_each_entry(opening, entries):
    balance = opening
    for kind, quantity in entries:
        try:
            after = next_balance(balance, kind, quantity)
        except LedgerError as refused:
            assert refused.field == "quantity_mg"
            below_zero = balance + (quantity if kind is EntryKind.ADJUSTMENT else kind.sign * quantity) < 0
            not_a_change = quantity == 0 if kind is EntryKind.ADJUSTMENT else quantity <= 0
            assert below_zero or not_a_change
            continue
        assert after >= 0
        assert after - balance == (quantity if kind is EntryKind.ADJUSTMENT else kind.sign * quantity)
        balance = after


def test_an_entry_that_would_leave_less_than_nothing_is_refused_with_the_balance_on_hand():
    assert next_balance(MG(0), EntryKind.RECEIPT, MG(500)) == MG(500)
    assert next_balance(MG(500), EntryKind.ADMINISTRATION, MG(35)) == MG(465)
    assert next_balance(MG(35), EntryKind.WASTE, MG(35)) == MG(0)
    assert next_balance(MG(100), EntryKind.ADJUSTMENT, MG(-10)) == MG(90)
    with pytest.raises(LedgerError) as refused:
        next_balance(MG(100), EntryKind.TRANSFER_OUT, MG("100.5"))
    assert refused.value.field == "quantity_mg"
    assert refused.value.message == (
        "This would leave -0.5 mg: the balance on hand is 100 mg, and a balance cannot go below zero."
    )
    with pytest.raises(LedgerError, match=r"An adjustment must change the balance\."):
        next_balance(MG(100), EntryKind.ADJUSTMENT, MG(0))
    with pytest.raises(LedgerError, match=r"Enter a quantity above zero\."):
        next_balance(MG(100), EntryKind.RECEIPT, MG(-5))


def test_waste_and_adjustments_need_a_witness_and_entries_read_plainly():
    assert {k for k in EntryKind if k.needs_witness} == {EntryKind.WASTE, EntryKind.ADJUSTMENT}
    assert {k for k in EntryKind if k.sign > 0} == {
        EntryKind.RECEIPT,
        EntryKind.TRANSFER_IN,
        EntryKind.ADJUSTMENT,
    }
    assert EntryKind.TRANSFER_OUT.label == "Transfer out"


def test_a_session_is_reconciled_when_drawn_equals_given_plus_wasted_within_tolerance():
    exact = reconcile_session(MG(50), MG("35.00"), MG(15), tolerance_mg=MG("0.5"))
    assert exact.reconciled and exact.unaccounted_mg == 0
    assert exact.message == "Drawn 50 mg = given 35.00 mg + wasted 15 mg."
    assert reconcile_session(MG(50), MG("34.6"), MG(15), tolerance_mg=MG("0.5")).reconciled


def test_a_session_dose_that_does_not_add_up_is_flagged_saying_which_way():
    missing = reconcile_session(MG(50), MG(35), MG(0), tolerance_mg=MG("0.5"))
    assert (missing.reconciled, missing.unaccounted_mg) == (False, MG(15))
    assert missing.message == (
        "15 mg drawn is neither given nor wasted (drawn 50, given 35, wasted 0); "
        "record the witnessed waste or explain it."
    )
    excess = reconcile_session(MG(50), MG(45), MG(10), tolerance_mg=MG("0.5"))
    assert (excess.reconciled, excess.unaccounted_mg) == (False, MG(-5))
    assert excess.message == "5 mg more was given or wasted than was drawn (drawn 50, given 45, wasted 10)."


def test_a_count_reports_the_difference_and_refuses_a_negative_count():
    assert count(MG(465), MG(465)).discrepancy is False
    short = count(MG(465), MG(455))
    assert (short.discrepancy, short.difference_mg) == (True, MG(-10))
    with pytest.raises(LedgerError) as refused:
        count(MG(465), MG(-1))
    assert refused.value.field == "counted_mg"


def test_a_lot_is_expired_after_its_date_and_expiring_within_the_warning_window():
    today = date(2026, 11, 3)
    assert expiry_status(date(2026, 11, 2), today, warn_days=30) == "expired"
    assert expiry_status(today, today, warn_days=30) == "expiring"
    assert expiry_status(date(2026, 12, 3), today, warn_days=30) == "expiring"
    assert expiry_status(date(2026, 12, 4), today, warn_days=30) == "ok"


# The rescue formulary and the side-effect list (session_catalogue)


def test_the_default_formulary_lists_the_issues_rescue_drugs_with_midazolam_controlled():
    drugs = {drug.key: drug for drug in formulary()}
    assert list(drugs) == ["ondansetron", "clonidine", "labetalol", "midazolam"]
    assert [key for key, drug in drugs.items() if drug.controlled] == ["midazolam"]
    midazolam = drugs["midazolam"]
    assert (midazolam.doses_mg, midazolam.max_mg, midazolam.schedule) == ((MG(1), MG(2)), MG(4), "IV")
    assert midazolam.as_dict()["doses_mg"] == ["1", "2"]
    assert all(max(drug.doses_mg) <= drug.max_mg for drug in drugs.values())
    assert formulary_source().startswith("verify:")


def test_side_effects_and_severities_are_the_issues_structured_lists():
    assert list(side_effects().values()) == [
        "Nausea",
        "Vomiting",
        "Dizziness",
        "Double vision",
        "Hypertension",
        "Tachycardia",
        "Emergence reaction",
        "Anxiety",
        "Dissociation",
        "Hallucinations",
        "Drowsiness",
        "Confusion",
    ]
    assert list(severities()) == ["mild", "moderate", "severe"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"doses_mg": []}, "formulary[1].doses_mg"),
        ({"doses_mg": "48"}, "formulary[1].doses_mg"),  # text, not a list of 4 and 8
        ({"max_mg": None}, "formulary[1].max_mg"),
        ({"doses_mg": ["0.1", "zero"]}, "formulary[1].doses_mg"),
        ({"max_mg": "0.05"}, "formulary[1].max_mg"),
        ({"max_mg": "-1"}, "formulary[1].max_mg"),
        ({"routes": ["rectal"]}, "formulary[1].routes"),
        ({"name": " "}, "formulary[1].name"),
        ({"key": "ondansetron"}, "formulary"),
    ],
)
def test_a_clinic_formulary_with_a_bad_entry_is_refused_naming_it(change, path):
    entries = default_formulary_entries()
    entries[1] = {**entries[1], **change}
    with pytest.raises(ProtocolError) as refused:
        formulary(entries)
    assert refused.value.field == path
