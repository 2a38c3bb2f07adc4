"""Review points a plan reaches (clinical.plan_reviews)."""

from __future__ import annotations

from typing import Any

import pytest

from ketaflow.clinical.plan_reviews import review_points
from ketaflow.clinical.protocols import builtin_protocols, find


def shipped(key: str) -> Any:
    protocol = find(builtin_protocols(), key)
    assert protocol is not None
    return protocol


def kinds(key: str = "iv-depression", **kwargs: Any) -> list[str]:
    values: dict[str, Any] = {
        "phase": "induction",
        "given_in_phase": 0,
        "given_total": 0,
        "response": None,
        "relapse": None,
    }
    values.update(kwargs)
    return [p.kind for p in review_points(shipped(key), **values)]


def test_futility_is_due_after_three_infusions_without_a_response_citing_the_apa():
    points = review_points(
        shipped("iv-depression"),
        phase="induction",
        given_in_phase=3,
        given_total=3,
        response=False,
        relapse=None,
    )
    assert [p.kind for p in points] == ["futility"]
    assert points[0].title == "No response yet: continue, change or stop"
    assert points[0].reason == "3 treatment(s) given without a response (review point: 3)"
    assert "APA" in points[0].source


def test_futility_is_not_due_before_the_third_infusion():
    assert kinds(given_in_phase=2, given_total=2, response=False) == []


def test_futility_is_not_due_when_the_response_has_not_been_measured():
    assert kinds(given_in_phase=3, given_total=3, response=None) == []


def test_futility_is_not_due_for_a_responder():
    assert kinds(given_in_phase=4, given_total=4, response=True) == []


def test_a_clinic_may_set_its_own_futility_count():
    assert kinds(given_in_phase=3, given_total=3, response=False, futility_after=4) == []
    assert kinds(given_in_phase=4, given_total=4, response=False, futility_after=4) == ["futility"]


def test_esketamine_futility_waits_for_the_end_of_the_labels_induction():
    assert kinds("esketamine-trd", given_in_phase=4, given_total=4, response=False) == []
    assert kinds("esketamine-trd", given_in_phase=8, given_total=8, response=False) == ["futility"]


def test_the_end_of_induction_is_due_once_every_induction_session_is_given():
    assert kinds(given_in_phase=5, given_total=5, response=True) == []
    points = review_points(
        shipped("iv-depression"),
        phase="induction",
        given_in_phase=6,
        given_total=6,
        response=True,
        relapse=None,
    )
    assert [(p.kind, p.reason) for p in points] == [("end_of_induction", "all 6 induction sessions given")]
    assert "Oliver" in points[0].source


def test_a_non_responder_at_the_end_of_induction_gets_both_points():
    assert kinds(given_in_phase=6, given_total=6, response=False) == ["futility", "end_of_induction"]


def test_relapse_in_maintenance_calls_for_a_booster():
    points = review_points(
        shipped("iv-depression"),
        phase="maintenance",
        given_in_phase=2,
        given_total=8,
        response=True,
        relapse=True,
    )
    assert [p.kind for p in points] == ["relapse_booster"]
    assert points[0].title == "Relapse: consider a booster"


@pytest.mark.parametrize("relapse", [None, False])
def test_no_booster_without_a_reported_relapse(relapse):
    assert kinds(phase="maintenance", given_in_phase=2, given_total=8, relapse=relapse) == []


def test_relapse_during_induction_is_not_a_booster_point():
    assert kinds(given_in_phase=2, given_total=2, relapse=True) == []


def test_a_taper_relapse_also_calls_for_a_booster():
    assert kinds(phase="taper", given_in_phase=1, given_total=12, relapse=True) == ["relapse_booster"]


def test_home_plans_release_supply_every_stage_and_renew_every_six_sessions():
    assert kinds("sublingual-home", given_in_phase=1, given_total=1) == []
    assert kinds("sublingual-home", given_in_phase=2, given_total=2) == ["supply_release"]
    assert kinds("sublingual-home", given_in_phase=3, given_total=3) == []
    six = review_points(
        shipped("sublingual-home"),
        phase="induction",
        given_in_phase=6,
        given_total=6,
        response=True,
        relapse=None,
    )
    assert [p.kind for p in six] == ["end_of_induction", "renewal", "supply_release"]
    assert six[1].reason == "6 home sessions: renew every 6"
    assert six[2].reason == "stage of 2 session(s) used"


def test_home_renewal_carries_on_in_maintenance():
    assert kinds("sublingual-home", phase="maintenance", given_in_phase=6, given_total=12) == [
        "renewal",
        "supply_release",
    ]


def test_clinic_plans_have_no_home_points():
    assert kinds(given_in_phase=2, given_total=12) == []


@pytest.mark.parametrize("phase", ["completed", "discontinued"])
def test_a_closed_plan_has_no_review_points(phase):
    assert (
        kinds("sublingual-home", phase=phase, given_in_phase=6, given_total=12, response=False, relapse=True)
        == []
    )
