"""Session monitoring rules, the readiness decision, vital-sign alerts and the vitals timer. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.eligibility.rules import Route
from ketaflow.clinical.monitoring import (
    KNOWN_KEYS,
    Checklist,
    clinic_settings,
    monitoring_rules,
    parse_rules,
    readiness,
    vital_alerts,
    vitals_timer,
)
from ketaflow.clinical.protocol_fields import ProtocolError
from ketaflow.clinical.protocols import builtin_protocols, parse_protocol

ESKETAMINE = monitoring_rules("esketamine")
IV = monitoring_rules("iv")
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def checklist(**changes) -> Checklist:
    values = {
        "fasting_confirmed": True,
        "escort_name": "Sam Rivera",
        "escort_phone": "+1 555 0100",
        "medications_taken": "sertraline 100 mg this morning",
        "pregnancy_test": "negative",
        "pre_dose": {"systolic_bp": 128, "diastolic_bp": 82, "heart_rate": 74, "oxygen_saturation": 98},
    }
    return Checklist(**{**values, **changes})


def blocker_fields(result) -> list[str]:
    return [finding.field for finding in result.blockers]


def shipped_protocol(key: str) -> dict:
    raw = resources.files("ketaflow.clinical").joinpath("data/protocols.json").read_text(encoding="utf-8")
    return next(p for p in json.loads(raw)["protocols"] if p["key"] == key)


# The shipped defaults


@pytest.mark.parametrize("route", list(Route))
def test_the_shipped_defaults_of_every_route_parse_with_a_source_and_survive_storage(route):
    rules = monitoring_rules(route.value)
    assert rules.route == route.value
    assert len(rules.source) > 40
    assert set(rules.verify) <= KNOWN_KEYS, "a verify mark must name a real setting"
    # a session stores as_dict() and reads it back with parse_rules: nothing may change
    stored = json.loads(json.dumps(rules.as_dict()))
    assert parse_rules(route.value, stored) == rules


def test_every_builtin_protocol_carries_its_routes_monitoring_rules():
    for protocol in builtin_protocols():
        assert protocol.monitoring == monitoring_rules(protocol.route.value)


def test_esketamine_observes_for_two_hours_as_the_label_and_rems_require():
    assert ESKETAMINE.min_observation_min == 120
    assert not ESKETAMINE.is_verify("min_observation_min"), (
        "120 min is the label's rule, not a clinic default"
    )
    assert "REMS" in ESKETAMINE.source
    assert "observe at least 2 h" in ESKETAMINE.source
    assert "140/90" in ESKETAMINE.source
    pre_dose = {limit.field: (limit.low, limit.high) for limit in ESKETAMINE.pre_dose}
    assert pre_dose == {"systolic_bp": (None, Decimal(140)), "diastolic_bp": (None, Decimal(90))}
    assert (ESKETAMINE.fasting_hours, ESKETAMINE.no_liquids_min, ESKETAMINE.vitals_every_min) == (2, 30, 40)
    # the label asks for one reading about 40 min after dosing; repeating it is the clinic's choice
    assert ESKETAMINE.is_verify("vitals_every_min")


def test_the_clinic_set_numbers_of_the_iv_route_are_marked_verify():
    assert IV.second_check and IV.escort_required and IV.pregnancy_test
    for name in ("limits", "pre_dose", "min_observation_min", "vitals_every_min", "systolic_rise_mmhg"):
        assert IV.is_verify(name)
    assert "Sanacora" in IV.source


# A protocol's monitoring block


def test_a_protocol_override_replaces_the_default_value_whole_and_keeps_the_rest():
    rules = monitoring_rules("iv", {"limits": {"heart_rate": {"high": 120}}, "min_observation_min": 45})
    assert [(limit.field, limit.low, limit.high) for limit in rules.limits] == [
        ("heart_rate", None, Decimal(120))
    ]
    assert rules.min_observation_min == 45
    assert (rules.pre_dose, rules.vitals_every_min, rules.source) == (IV.pre_dose, 15, IV.source)


def test_a_shipped_protocol_with_its_own_monitoring_block_uses_it():
    definition = {
        **shipped_protocol("esketamine-trd"),
        "monitoring": {"pre_dose": {"systolic_bp": {"high": 150}}},
    }
    protocol = parse_protocol(definition, version="clinic-1")
    assert protocol.monitoring is not None
    assert [(limit.field, limit.high) for limit in protocol.monitoring.pre_dose] == [
        ("systolic_bp", Decimal(150))
    ]
    assert protocol.monitoring.min_observation_min == 120


SCALARS = {
    "vitals_every_min": st.integers(1, 240),
    "systolic_rise_mmhg": st.integers(1, 100),
    "min_observation_min": st.integers(0, 480),
    "fasting_hours": st.integers(0, 12),
    "no_liquids_min": st.integers(0, 240),
    "check_in_within_hours": st.integers(1, 48),
    "second_check": st.booleans(),
    "pregnancy_test": st.booleans(),
    "escort_required": st.booleans(),
}


@settings(max_examples=60, deadline=None)
@given(
    route=st.sampled_from([r.value for r in Route]),
    overrides=st.fixed_dictionaries({}, optional=SCALARS),
)
def test_any_valid_override_replaces_exactly_the_settings_it_names(route, overrides):
    default = monitoring_rules(route).as_dict()
    rules = monitoring_rules(route, overrides).as_dict()
    for name, value in default.items():
        assert rules[name] == overrides.get(name, value)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"limits": {"heart_rate": {"high": "fast"}}}, "monitoring.limits.heart_rate.high"),
        ({"limits": {"heart_rate": {"high": "NaN"}}}, "monitoring.limits.heart_rate.high"),
        ({"limits": {"heart_rate": {"low": 120, "high": 60}}}, "monitoring.limits.heart_rate.low"),
        ({"limits": {"heart_rate": {"low": None}}}, "monitoring.limits.heart_rate"),
        ({"limits": {"heart_rate": {"max": 120}}}, "monitoring.limits.heart_rate"),
        ({"limits": {"weight_kg": {"high": 150}}}, "monitoring.limits.weight_kg"),
        ({"limits": {"pulse": {"high": 150}}}, "monitoring.limits.pulse"),
        ({"limits": [90, 180]}, "monitoring.limits"),
        ({"pre_dose": {"systolic_bp": {"high": 400}}}, "monitoring.pre_dose.systolic_bp.high"),
        ({"vitals_every_min": 0}, "monitoring.vitals_every_min"),
        ({"vitals_every_min": True}, "monitoring.vitals_every_min"),
        ({"min_observation_min": 90.5}, "monitoring.min_observation_min"),
        ({"min_observation_min": None}, "monitoring.min_observation_min"),
        ({"second_check": "yes"}, "monitoring.second_check"),
        ({"source": "  "}, "monitoring.source"),
        ({"verify": "limits"}, "monitoring.verify"),
        ({"sedation_scale": "moaas"}, "monitoring.sedation_scale"),
    ],
)
def test_a_bad_override_is_refused_naming_its_monitoring_path(override, path):
    with pytest.raises(ProtocolError) as refused:
        monitoring_rules("iv", override)
    assert refused.value.field == path


def test_a_monitoring_block_that_is_not_an_object_or_an_unknown_route_is_refused():
    with pytest.raises(ProtocolError) as refused:
        monitoring_rules("iv", ["limits"])  # type: ignore[arg-type]
    assert refused.value.field == "monitoring"
    with pytest.raises(ProtocolError) as refused:
        monitoring_rules("oral")
    assert refused.value.field == "route"


def test_a_bad_block_in_a_protocol_is_refused_naming_the_monitoring_path():
    definition = {**shipped_protocol("iv-depression"), "monitoring": {"limits": {"heart_rate": {"low": "x"}}}}
    with pytest.raises(ProtocolError) as refused:
        parse_protocol(definition, version="clinic-1")
    assert refused.value.field == "monitoring.limits.heart_rate.low"


# Readiness


def test_a_complete_checklist_within_the_limits_is_ready_and_says_whose_rules():
    result = readiness(checklist(), ESKETAMINE)
    assert result.ready and result.blockers == ()
    assert result.as_dict() == {"ready": True, "blockers": [], "rules_source": ESKETAMINE.source}


@settings(max_examples=80, deadline=None)
@given(systolic=st.integers(100, 220), diastolic=st.integers(50, 99))
def test_readiness_blocks_any_esketamine_pre_dose_pressure_above_140_over_90(systolic, diastolic):
    result = readiness(checklist(pre_dose={"systolic_bp": systolic, "diastolic_bp": diastolic}), ESKETAMINE)
    expected = [
        f
        for f, value, limit in (("systolic_bp", systolic, 140), ("diastolic_bp", diastolic, 90))
        if value > limit
    ]
    assert blocker_fields(result) == expected
    assert result.ready is not expected
    for finding in result.blockers:
        assert "outside this protocol's pre-dose limit (at most" in finding.message
        assert finding.source == ESKETAMINE.source


def test_each_missing_checklist_item_blocks_naming_its_field():
    empty = Checklist(
        fasting_confirmed=False,
        escort_name="Sam",
        escort_phone=" ",
        medications_taken="",
        pregnancy_test="",
        pre_dose={"systolic_bp": None},
    )
    result = readiness(empty, ESKETAMINE)
    assert not result.ready
    assert blocker_fields(result) == [
        "pre_dose",
        "fasting_confirmed",
        "escort_name",
        "medications_taken",
        "pregnancy_test",
    ]
    messages = {f.field: f.message for f in result.blockers}
    assert (
        messages["fasting_confirmed"]
        == "Confirm nothing to eat for 2 h before dosing; no liquids for 30 min."
    )
    assert messages["pre_dose"] == "Take the pre-dose vital signs."


def test_half_the_pre_dose_pressure_or_a_positive_pregnancy_test_blocks():
    result = readiness(checklist(pre_dose={"systolic_bp": 120}, pregnancy_test="positive"), IV)
    assert blocker_fields(result) == ["diastolic_bp", "pregnancy_test"]
    assert result.blockers[0].message == "Diastolic blood pressure before dosing is missing."
    assert result.blockers[1].message == "The pregnancy test is positive."
    assert readiness(checklist(pregnancy_test="not_applicable"), IV).ready


def test_a_home_session_needs_no_escort_nor_pregnancy_test_but_keeps_the_140_over_90_block():
    home = monitoring_rules("sublingual_home")
    assert readiness(checklist(escort_name="", escort_phone="", pregnancy_test=""), home).ready
    blocked = readiness(checklist(pre_dose={"systolic_bp": 141, "diastolic_bp": 80}), home)
    assert blocker_fields(blocked) == ["systolic_bp"]
    assert blocked.blockers[0].message == (
        "Systolic blood pressure 141 mmHg is outside this protocol's pre-dose limit (at most 140 mmHg)."
    )


# Alerts and the timer


def test_readings_outside_the_limits_raise_alerts_with_the_limit_and_its_source():
    alerts = vital_alerts({"heart_rate": 134, "oxygen_saturation": 90, "respiratory_rate": 14}, IV)
    assert [(a.field, a.value, a.direction, a.limit_text) for a in alerts] == [
        ("heart_rate", Decimal(134), "high", "50-130 /min"),
        ("oxygen_saturation", Decimal(90), "low", "at least 92 %"),
    ]
    assert alerts[1].message == "Oxygen saturation 90 % is low: the limit is at least 92 %."
    assert {a.source for a in alerts} == {IV.source}
    assert vital_alerts({"heart_rate": 130, "oxygen_saturation": 92, "temperature_c": None}, IV) == ()


def test_a_systolic_rise_above_baseline_alerts_once_even_when_it_also_crosses_the_high_limit():
    (rise,) = vital_alerts({"systolic_bp": 161, "diastolic_bp": 90}, IV, baseline_systolic=120)
    assert (rise.direction, rise.limit_text) == ("rise", "at most 40 mmHg above baseline")
    assert rise.message == "Systolic blood pressure rose 41 mmHg above the baseline of 120 (limit 40 mmHg)."
    assert vital_alerts({"systolic_bp": 160}, IV, baseline_systolic=120) == ()
    (high,) = vital_alerts({"systolic_bp": 190}, IV, baseline_systolic=120)
    assert high.direction == "high"
    assert (
        vital_alerts({"systolic_bp": 190}, monitoring_rules("sublingual_home"), baseline_systolic=100) == ()
    )


@settings(max_examples=80, deadline=None)
@given(
    readings=st.fixed_dictionaries(
        {},
        optional={
            "systolic_bp": st.integers(50, 300),
            "heart_rate": st.integers(20, 250),
            "respiratory_rate": st.integers(4, 60),
            "oxygen_saturation": st.integers(50, 100),
            "temperature_c": st.decimals("30", "44", places=1),
        },
    )
)
def test_an_alert_fires_exactly_for_each_reading_outside_the_iv_limits(readings):
    bounds = {
        "systolic_bp": (90, 180),
        "heart_rate": (50, 130),
        "respiratory_rate": (8, 30),
        "oxygen_saturation": (92, None),
        "temperature_c": (None, Decimal("38.5")),
    }
    expected = set()
    for field, value in readings.items():
        low, high = bounds[field]
        if low is not None and value < low:
            expected.add((field, "low"))
        elif high is not None and value > high:
            expected.add((field, "high"))
    assert {(a.field, a.direction) for a in vital_alerts(readings, IV)} == expected


def test_the_next_vitals_are_due_an_interval_after_the_last_reading_or_the_start():
    started = NOW - timedelta(minutes=20)
    timer = vitals_timer(None, started, IV)
    assert (timer.due_at, timer.every_min) == (started + timedelta(minutes=15), 15)
    assert timer.overdue(NOW) and timer.seconds_left(NOW) == -300
    last = NOW - timedelta(minutes=5)
    timer = vitals_timer(last, started, IV)
    assert timer.due_at == NOW + timedelta(minutes=10) and timer.seconds_left(NOW) == 600
    # a pre-dose reading taken before the start does not move the timer back
    assert vitals_timer(started - timedelta(minutes=30), started, IV).due_at == started + timedelta(
        minutes=15
    )
    assert vitals_timer(last, None, IV).due_at is None
    home = vitals_timer(last, started, monitoring_rules("sublingual_home"))
    assert (home.due_at, home.overdue(NOW), home.seconds_left(NOW)) == (None, False, None)


def test_the_settings_a_clinic_changed_are_named_so_screens_do_not_credit_them_to_the_source():
    assert clinic_settings(monitoring_rules("iv")) == frozenset()
    changed = monitoring_rules("iv", {"min_observation_min": 45, "limits": {"heart_rate": {"high": 120}}})
    assert clinic_settings(changed) == {"min_observation_min", "limits"}
    same = monitoring_rules("esketamine", {"min_observation_min": 120})
    assert clinic_settings(same) == frozenset()
