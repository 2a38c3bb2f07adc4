from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.measurement_schedule import (
    STAGES,
    DueDecision,
    StageRule,
    is_overdue,
    load_schedule,
    next_due,
    parse_schedule,
)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def rule(stage: str) -> StageRule:
    return load_schedule().rule(stage)


def shipped() -> dict[str, Any]:
    text = resources.files("ketaflow.clinical").joinpath("data/measurement_schedule.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


# --- the shipped file ---------------------------------------------------------------------------


def test_the_shipped_schedule_loads_with_a_version_and_says_its_numbers_need_verifying():
    schedule = load_schedule()
    assert schedule.version == "2026.11.1"
    assert "[verify]" in schedule.source and "clinic-configurable" in schedule.source
    assert tuple(schedule.stages) == STAGES
    assert schedule.overdue_after == timedelta(days=2)
    assert load_schedule() is schedule


def test_every_condition_group_in_the_schedule_is_one_the_condition_catalogue_uses():
    groups = {condition.group for condition in catalogue().conditions}
    assert set(load_schedule().by_condition_group) <= groups


def test_each_stage_has_the_cadence_the_brief_describes():
    kinds = {stage: rule(stage).kind for stage in STAGES}
    assert kinds == {
        "evaluation": "once",
        "induction": "before_each_treatment",
        "maintenance": "every_days",
        "taper": "every_days",
        "completed": "none",
        "discontinued": "none",
    }
    assert rule("maintenance").description == "every 7 days for the first 56 days, then every 28 days"


# --- instruments_for ----------------------------------------------------------------------------


def test_instruments_come_in_order_always_then_stage_extras_then_condition_groups():
    schedule = load_schedule()
    assert schedule.instruments_for("induction", ["depression"]) == ("phq9", "gad7")
    assert schedule.instruments_for("evaluation", ["trauma"]) == ("phq9", "gad7", "cssrs_screener", "pcl5")


def test_an_instrument_asked_for_twice_is_listed_once():
    schedule = load_schedule()
    assert schedule.instruments_for("maintenance", ["safety", "pain"]) == (
        "phq9",
        "gad7",
        "cssrs_screener",
        "peg",
    )


def test_condition_groups_follow_the_file_order_whatever_order_the_caller_gives():
    schedule = load_schedule()
    forward = schedule.instruments_for("taper", ["bipolar", "pain", "trauma"])
    assert forward == schedule.instruments_for("taper", {"trauma", "pain", "bipolar"})
    assert forward == ("phq9", "gad7", "pcl5", "peg", "ymrs")


def test_a_condition_group_the_file_does_not_list_adds_nothing():
    assert load_schedule().instruments_for("taper", ["eating"]) == ("phq9", "gad7")


def test_a_stage_that_is_not_measured_asks_for_nothing():
    schedule = load_schedule()
    assert schedule.instruments_for("completed", ["trauma"]) == ()
    assert schedule.instruments_for("discontinued", []) == ()


def test_an_unknown_stage_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown care stage 'aftercare'"):
        load_schedule().instruments_for("aftercare", [])


# --- once ---------------------------------------------------------------------------------------


def test_once_is_due_at_the_start_of_the_stage_until_completed():
    decision = next_due(
        rule("evaluation"), stage_started_at=START, last_completed_at=None, upcoming_treatment_at=None
    )
    assert decision == DueDecision(
        START, "at the start of the stage on 2 Nov (evaluation: once, at the start of the stage)"
    )


def test_once_is_not_due_again_after_completion_in_the_stage():
    assert (
        next_due(
            rule("evaluation"), stage_started_at=START, last_completed_at=START, upcoming_treatment_at=None
        )
        is None
    )


def test_once_ignores_a_completion_from_before_the_stage_started():
    decision = next_due(
        rule("evaluation"), stage_started_at=START, last_completed_at=day(-30), upcoming_treatment_at=None
    )
    assert decision is not None and decision.due_at == START


# --- every_days ---------------------------------------------------------------------------------


def test_every_days_is_due_at_the_stage_start_before_any_completion_in_the_stage():
    decision = next_due(
        rule("taper"), stage_started_at=START, last_completed_at=day(-3), upcoming_treatment_at=None
    )
    assert decision is not None and decision.due_at == START


def test_every_days_is_due_the_interval_after_the_last_completion():
    decision = next_due(
        rule("taper"), stage_started_at=START, last_completed_at=day(3), upcoming_treatment_at=None
    )
    assert decision == DueDecision(day(17), "14 days after the last one on 5 Nov (taper: every 14 days)")


def test_maintenance_is_weekly_while_the_due_date_falls_within_the_first_56_days():
    decision = next_due(
        rule("maintenance"), stage_started_at=START, last_completed_at=day(49), upcoming_treatment_at=None
    )
    assert decision is not None and decision.due_at == day(56)


def test_maintenance_switches_to_every_28_days_once_past_the_first_56_days():
    at_switch = next_due(
        rule("maintenance"), stage_started_at=START, last_completed_at=day(56), upcoming_treatment_at=None
    )
    late = next_due(
        rule("maintenance"), stage_started_at=START, last_completed_at=day(50), upcoming_treatment_at=None
    )
    assert at_switch is not None and at_switch.due_at == day(84)
    assert at_switch.reason.startswith("28 days after the last one on 28 Dec (maintenance: every 7 days")
    assert late is not None and late.due_at == day(78)


# --- before_each_treatment ----------------------------------------------------------------------


def test_induction_is_due_24_hours_before_the_booked_treatment():
    treatment = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    decision = next_due(
        rule("induction"), stage_started_at=START, last_completed_at=day(10), upcoming_treatment_at=treatment
    )
    assert decision == DueDecision(
        treatment - timedelta(hours=24), "before the treatment on 3 Dec (induction: before every treatment)"
    )


def test_a_completion_at_the_opening_of_the_72_hour_window_counts_for_the_treatment():
    treatment = day(10)
    window_opens = treatment - timedelta(hours=24 + 48)
    counted = next_due(
        rule("induction"),
        stage_started_at=START,
        last_completed_at=window_opens,
        upcoming_treatment_at=treatment,
    )
    too_early = next_due(
        rule("induction"),
        stage_started_at=START,
        last_completed_at=window_opens - timedelta(minutes=1),
        upcoming_treatment_at=treatment,
    )
    assert counted is None
    assert too_early is not None and too_early.due_at == treatment - timedelta(hours=24)


def test_an_evaluation_measurement_just_before_the_first_treatment_counts_for_it():
    decision = next_due(
        rule("induction"), stage_started_at=START, last_completed_at=day(-1), upcoming_treatment_at=day(1)
    )
    assert decision is None


def test_without_a_booked_treatment_induction_falls_back_to_weekly():
    first = next_due(
        rule("induction"), stage_started_at=START, last_completed_at=None, upcoming_treatment_at=None
    )
    later = next_due(
        rule("induction"), stage_started_at=START, last_completed_at=day(4), upcoming_treatment_at=None
    )
    assert first is not None and first.due_at == START
    assert later == DueDecision(
        day(11), "7 days after the last one on 6 Nov (no treatment booked, induction: every 7 days)"
    )


# --- none ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["completed", "discontinued"])
def test_a_closed_stage_is_never_due(stage):
    assert (
        next_due(rule(stage), stage_started_at=START, last_completed_at=None, upcoming_treatment_at=day(1))
        is None
    )


# --- overdue and times --------------------------------------------------------------------------


def test_a_measurement_is_overdue_only_once_more_than_2_days_have_passed():
    limit = load_schedule().overdue_after
    assert is_overdue(START, START - timedelta(days=1), limit) is False
    assert is_overdue(START, START + timedelta(days=2), limit) is False
    assert is_overdue(START, START + timedelta(days=2, seconds=1), limit) is True


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="stage_started_at must be a timezone-aware"):
        next_due(
            rule("taper"),
            stage_started_at=datetime(2026, 11, 2),
            last_completed_at=None,
            upcoming_treatment_at=None,
        )
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        is_overdue(START, datetime(2026, 11, 5), timedelta(days=2))


# --- validation on load -------------------------------------------------------------------------


def broken(change) -> dict[str, Any]:
    raw = copy.deepcopy(shipped())
    change(raw)
    return raw


def _set(path: list[str], value: object):
    def change(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[str]):
    def change(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


GROUPS = {"depression", "anxiety", "safety", "trauma", "ocd", "pain", "bipolar"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_delete(["version"]), "version is required"),
        (_delete(["stages", "taper"]), "stage 'taper': missing"),
        (
            _set(["stages", "aftercare"], {"label": "A", "cadence": {"kind": "none"}}),
            "stage 'aftercare': not a care",
        ),
        (
            _set(["stages", "taper", "cadence", "kind"], "monthly"),
            "stage 'taper': cadence kind must be one of",
        ),
        (
            _delete(["stages", "taper", "cadence", "every_days"]),
            "stage 'taper': cadence every_days needs every_days",
        ),
        (
            _set(["stages", "taper", "cadence", "every_days"], 0),
            "stage 'taper': .*every_days as a whole number",
        ),
        (
            _set(["stages", "taper", "cadence", "every_days"], True),
            "stage 'taper': .*every_days as a whole number",
        ),
        (
            _set(["stages", "taper", "cadence", "every_days"], 7.5),
            "stage 'taper': .*every_days as a whole number",
        ),
        (_delete(["stages", "maintenance", "cadence", "then_every_days"]), "stage 'maintenance': .*together"),
        (
            _set(["stages", "maintenance", "cadence", "for_days"], 3),
            "stage 'maintenance': for_days must be at least",
        ),
        (_delete(["stages", "induction", "cadence", "lead_hours"]), "stage 'induction': .*needs lead_hours"),
        (
            _set(["stages", "evaluation", "cadence", "every_days"], 7),
            "stage 'evaluation': cadence once: unknown key",
        ),
        (_set(["stages", "taper", "lable"], "x"), "stage 'taper': unknown key 'lable'"),
        (_set(["stages", "taper", "label"], ""), "stage 'taper': label is required"),
        (_set(["instruments", "always"], ["PHQ-9"]), "instruments.always: 'PHQ-9' is not an instrument id"),
        (_set(["instruments", "always"], ["phq9", "phq9"]), "instruments.always: instrument ids repeat"),
        (_set(["instruments", "stage_extra", "aftercare"], []), "stage_extra 'aftercare': not a care stage"),
        (
            _set(["instruments", "by_condition_group", "eating"], ["ede_q"]),
            "by_condition_group 'eating': not a",
        ),
        (
            _set(["instruments", "by_condition_group", "pain"], "peg"),
            "by_condition_group 'pain': must be a list",
        ),
        (_set(["overdue_after_days"], -1), "overdue_after_days must be a whole number"),
        (_set(["overdue_days"], 2), "the schedule: unknown key 'overdue_days'"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_bad_entry(change, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(broken(change), known_groups=GROUPS)


def test_without_known_groups_any_condition_group_name_is_accepted():
    raw = broken(_set(["instruments", "by_condition_group", "eating"], ["ede_q"]))
    assert parse_schedule(raw).instruments_for("taper", ["eating"]) == ("phq9", "gad7", "ede_q")


def test_a_clinic_can_load_its_own_cadence():
    raw = broken(_set(["stages", "taper", "cadence"], {"kind": "every_days", "every_days": 21}))
    taper = parse_schedule(raw).rule("taper")
    decision = next_due(taper, stage_started_at=START, last_completed_at=START, upcoming_treatment_at=None)
    assert decision is not None and decision.due_at == day(21)
