"""Estimates from a clinic's price list (clinical.pricing)."""

from __future__ import annotations

import pytest

from ketaflow.clinical.pricing import Line, Price, cheapest_cover, estimate, money

IV = Price("iv", "IV infusion", 50_000)
SIX = Price("iv-6", "IV series of 6", 270_000, covers="iv", sessions=6)
THREE = Price("iv-3", "IV series of 3", 140_000, covers="iv", sessions=3)
CONSULT = Price("consult", "Initial consultation", 35_000)
INTEGRATION = Price("integration", "Integration therapy", 15_000)
PRICES = [IV, SIX, THREE, CONSULT, INTEGRATION]


def test_six_infusions_are_cheapest_as_the_package():
    assert cheapest_cover(6, IV, [SIX, THREE]) == [(SIX, 1)]


def test_seven_infusions_are_the_package_and_one_single():
    assert cheapest_cover(7, IV, [SIX, THREE]) == [(IV, 1), (SIX, 1)]


def test_a_package_is_chosen_even_when_it_covers_more_than_needed_if_it_costs_less():
    # 5 singles = $2,500; the 6-pack = $2,700; 3-pack + 2 singles = $2,400.
    assert cheapest_cover(5, IV, [SIX, THREE]) == [(IV, 2), (THREE, 1)]
    cheap_six = Price("iv-6", "IV series of 6", 240_000, covers="iv", sessions=6)
    assert cheapest_cover(5, IV, [cheap_six]) == [(cheap_six, 1)]


def test_equal_cost_prefers_fewer_lines():
    even = Price("iv-2", "IV pair", 100_000, covers="iv", sessions=2)
    assert cheapest_cover(2, IV, [even]) == [(IV, 2)]


def test_nothing_to_cover_gives_no_lines():
    assert cheapest_cover(0, IV, [SIX]) == []


def test_an_estimate_lists_each_line_with_where_its_amount_comes_from():
    result = estimate({"iv": 6}, PRICES, extras=[("consult", 1), ("integration", 2)], deposit_cents=50_000)
    assert result.lines == (
        Line("iv-6", "IV series of 6", 1, 270_000, "6 sessions"),
        Line("consult", "Initial consultation", 1, 35_000),
        Line("integration", "Integration therapy", 2, 15_000),
    )
    assert result.total_cents == 270_000 + 35_000 + 30_000
    assert result.deposit_cents == 50_000


def test_a_package_covering_more_sessions_than_the_plan_needs_is_noted():
    cheap_six = Price("iv-6", "IV series of 6", 240_000, covers="iv", sessions=6)
    result = estimate({"iv": 5}, [IV, cheap_six])
    assert result.lines == (
        Line("iv-6", "IV series of 6", 1, 240_000, "6 sessions (covers 6; the plan needs 5)"),
    )


def test_a_mix_of_packages_that_overshoots_is_noted_once():
    single = Price("iv", "IV infusion", 100_000)
    five = Price("iv-5", "IV series of 5", 200_000, covers="iv", sessions=5)
    three = Price("iv-3", "IV series of 3", 130_000, covers="iv", sessions=3)
    # 7 sessions: 5 + 3 ($3,300) beats 5 + 2 singles ($4,000) and 3 + 3 + 1 ($3,600).
    result = estimate({"iv": 7}, [single, five, three])
    assert [(line.code, line.quantity, line.note) for line in result.lines] == [
        ("iv-5", 1, "5 sessions (covers 8; the plan needs 7)"),
        ("iv-3", 1, "3 sessions"),
    ]
    assert result.total_cents == 330_000


def test_a_line_amount_is_quantity_times_unit():
    assert Line("iv", "IV", 3, 50_000).amount_cents == 150_000


@pytest.mark.parametrize(
    ("sessions", "extras"),
    [({"ketamine-oral": 2}, []), ({"iv": 2}, [("massage", 1)])],
)
def test_an_unknown_code_raises_key_error_naming_it(sessions, extras):
    with pytest.raises(KeyError) as caught:
        estimate(sessions, PRICES, extras=extras)
    assert caught.value.args[0] in ("ketamine-oral", "massage")


@pytest.mark.parametrize(
    ("sessions", "extras", "deposit"),
    [({"iv": -1}, [], 0), ({"iv": 1}, [("consult", -1)], 0), ({"iv": 1}, [], -100)],
)
def test_negative_counts_and_deposits_are_refused(sessions, extras, deposit):
    with pytest.raises(ValueError):
        estimate(sessions, PRICES, extras=extras, deposit_cents=deposit)


def test_a_price_must_not_be_negative_and_a_package_covers_at_least_one_session():
    with pytest.raises(ValueError, match="amount_cents"):
        Price("x", "X", -1)
    with pytest.raises(ValueError, match="sessions"):
        Price("x", "X", 100, sessions=0)


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (125_000, "USD", "$1,250.00"),
        (5, "USD", "$0.05"),
        (0, "USD", "$0.00"),
        (-2_050, "USD", "-$20.50"),
        (123_456_789, "USD", "$1,234,567.89"),
        (125_000, "EUR", "EUR 1,250.00"),
    ],
)
def test_money_is_shown_as_the_clinic_writes_it(cents, currency, shown):
    assert money(cents, currency) == shown


def test_money_defaults_to_dollars():
    assert money(40_000) == "$400.00"
