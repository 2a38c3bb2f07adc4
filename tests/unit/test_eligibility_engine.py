"""The eligibility engine: status logic, missing facts, three-valued conditions, parameters, facts
validation, and property tests of the invariants a clinician relies on.

Pure: no database. The rule-by-rule cases are in test_eligibility_rules.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaflow.clinical.eligibility import (
    FACT_SPECS,
    FACTS,
    HEPATIC_LEVELS,
    MEDICATION_CLASSES,
    FactError,
    Facts,
    Route,
    RuleError,
    Severity,
    Status,
    assess,
    builtin_rules,
    evaluate,
    facts_from_mapping,
    parse_rules,
)
from tests.unit.eligibility_factories import ALL_CLEAR, all_clear, unknown

IV, IM, HOME, ESK = Route.IV, Route.IM, Route.SUBLINGUAL_HOME, Route.ESKETAMINE
IMPLIED_FIRED = {
    Severity.EXCLUDE: Status.NOT_ELIGIBLE,
    Severity.REVIEW: Status.NEEDS_REVIEW,
    Severity.CAUTION: Status.ELIGIBLE_WITH_CAUTIONS,
    Severity.INFO: Status.ELIGIBLE,
}
IMPLIED_UNKNOWN = {
    Severity.EXCLUDE: Status.NEEDS_REVIEW,
    Severity.REVIEW: Status.NEEDS_REVIEW,
    Severity.CAUTION: Status.ELIGIBLE_WITH_CAUTIONS,
    Severity.INFO: Status.ELIGIBLE,
}


def one_rule(severity: str, when: dict[str, Any]) -> Any:
    """A rule set with one IV rule of this severity."""
    return parse_rules({
        "version": "t", "source": "tests", "parameters": {},
        "rules": [{"id": "the-rule", "routes": ["iv"], "severity": severity, "when": when,
                   "message": "m", "source": "s"}],
    })


# --- status logic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "fired_status", "unknown_status"),
    [
        ("exclude", Status.NOT_ELIGIBLE, Status.NEEDS_REVIEW),
        ("needs_review", Status.NEEDS_REVIEW, Status.NEEDS_REVIEW),
        ("caution", Status.ELIGIBLE_WITH_CAUTIONS, Status.ELIGIBLE_WITH_CAUTIONS),
        ("info", Status.ELIGIBLE, Status.ELIGIBLE),
    ],
)
def test_a_rule_that_fires_or_is_unknown_sets_the_status_its_severity_implies(
    severity, fired_status, unknown_status
):
    rules = one_rule(severity, {"fact": "pregnant", "is": True})
    fired = assess(Facts(pregnant=True), rules=rules, routes=[IV]).result(IV)
    open_ = assess(Facts(), rules=rules, routes=[IV]).result(IV)
    clear = assess(Facts(pregnant=False), rules=rules, routes=[IV]).result(IV)

    assert (fired.status, fired.fired, fired.unresolved) == (fired_status, ("the-rule",), ())
    assert open_.status is unknown_status
    assert open_.findings == () and [u.rule_id for u in open_.unresolved] == ["the-rule"]
    assert open_.missing_facts == ("pregnant",)
    assert (clear.status, clear.findings, clear.unresolved) == (Status.ELIGIBLE, (), ())


def test_statuses_rank_from_eligible_to_not_eligible_and_carry_labels():
    assert [s.rank for s in Status] == [0, 1, 2, 3]
    assert [s.label for s in Status] == ["Eligible", "Eligible with cautions", "Needs review", "Not eligible"]
    assert Severity.REVIEW.label == "Needs prescriber review" and IV.label == "IV infusion"


# --- missing facts -----------------------------------------------------------------------------


def test_nothing_known_needs_review_on_every_route_with_every_fact_the_route_reads_listed_missing():
    rules = builtin_rules()
    result = assess(Facts())
    for route in Route:
        route_result = result.result(route)
        assert route_result.status is Status.NEEDS_REVIEW
        assert set(route_result.missing_facts) == rules.facts_for(route)
        assert len(route_result.missing_facts) == len(set(route_result.missing_facts))
        assert route_result.fired == (("home-explicit-decision",) if route is HOME else ())


def test_a_missing_fact_is_never_read_as_no():
    result = assess(unknown("pregnant"))
    for route in (IV, IM, ESK):
        assert result.result(route).status is Status.NEEDS_REVIEW
        assert result.result(route).missing_facts == ("pregnant",)
        assert result.result(route).unresolved[0].rule_id == "pregnancy"
        assert result.result(route).unresolved[0].severity is Severity.EXCLUDE


def test_a_missing_fact_of_a_caution_rule_leaves_the_patient_eligible_with_cautions():
    iv = assess(unknown("bipolar_disorder")).result(IV)
    assert iv.status is Status.ELIGIBLE_WITH_CAUTIONS
    assert iv.findings == ()
    assert [u.rule_id for u in iv.unresolved] == ["bipolar-mania-risk"]
    assert iv.missing_facts == ("bipolar_disorder",)


def test_a_missing_fact_of_an_information_rule_is_listed_but_does_not_change_the_status():
    iv = assess(unknown("suicidal_ideation_recent")).result(IV)
    assert iv.status is Status.ELIGIBLE
    assert iv.missing_facts == ("suicidal_ideation_recent",)
    home = assess(unknown("suicidal_ideation_recent")).result(HOME)
    assert "home-suicidal-ideation" in {u.rule_id for u in home.unresolved}


def test_an_unknown_medication_list_needs_review_and_names_the_medication_classes():
    iv = assess(unknown("medication_classes")).result(IV)
    assert iv.status is Status.NEEDS_REVIEW  # the MAOI rule might fire
    assert iv.missing_facts == ("medication_classes",)
    assert {u.rule_id for u in iv.unresolved} == {
        "medication-benzodiazepine", "medication-lamotrigine", "medication-maoi",
        "medication-psychostimulant", "medication-sedative-hypnotic", "medication-opioid",
    }


def test_a_reviewed_medication_list_with_no_interacting_class_is_known_not_missing():
    iv = assess(all_clear(medication_classes=[])).result(IV)
    assert iv.status is Status.ELIGIBLE and iv.missing_facts == ()


def test_a_fired_exclusion_beats_any_number_of_unknowns():
    result = assess(Facts(pregnant=True))
    for route in Route:
        route_result = result.result(route)
        assert route_result.status is Status.NOT_ELIGIBLE
        assert route_result.fired[0] == "pregnancy"
        assert route_result.unresolved  # the open questions are still listed
        assert "pregnant" not in route_result.missing_facts


def test_unresolved_rules_name_only_the_facts_they_lack():
    unresolved = assess(Facts(cardiovascular_risk=True)).result(IV).unresolved
    ecg = next(u for u in unresolved if u.rule_id == "ecg-indicated")
    assert ecg.missing == ("ecg_reviewed",)
    assert ecg.severity is Severity.CAUTION and ecg.source and ecg.message


# --- three-valued conditions ----------------------------------------------------------------------

TRUE = {"fact": "pregnant", "is": True}
FALSE = {"fact": "pregnant", "is": False}
UNKNOWN = {"fact": "breastfeeding", "is": True}
KNOWN = Facts(pregnant=True)


@pytest.mark.parametrize(
    ("children", "any_result", "all_result"),
    [
        ([TRUE, UNKNOWN], True, None),
        ([FALSE, UNKNOWN], None, False),
        ([UNKNOWN, UNKNOWN], None, None),
        ([TRUE, TRUE], True, True),
        ([FALSE, FALSE], False, False),
        ([TRUE, FALSE], True, False),
    ],
)
def test_any_and_all_use_three_valued_logic(children, any_result, all_result):
    assert evaluate({"any": children}, KNOWN, {}) is any_result
    assert evaluate({"all": children}, KNOWN, {}) is all_result


def test_a_comparison_on_an_unknown_fact_is_unknown_and_always_is_true():
    assert evaluate({"fact": "age_years", "below": 18}, Facts(), {}) is None
    assert evaluate({"fact": "medication_classes", "includes": "maoi"}, Facts(), {}) is None
    assert evaluate({"fact": "hepatic_impairment", "in": ["severe"]}, Facts(), {}) is None
    assert evaluate({"always": True}, Facts(), {}) is True
    assert evaluate({"fact": "age_years", "at_least": {"param": "p"}}, Facts(age_years=30), {"p": 30}) is True


def test_one_raised_number_is_enough_to_exclude_when_the_other_is_unknown():
    iv = assess(unknown("diastolic_bp", base=all_clear(systolic_bp=170, diastolic_bp=80))).result(IV)
    assert iv.status is Status.NOT_ELIGIBLE
    assert "blood-pressure-uncontrolled-reading" in iv.fired
    assert "blood-pressure-uncontrolled-reading" not in {u.rule_id for u in iv.unresolved}


def test_half_a_normal_blood_pressure_leaves_both_pressure_rules_open_on_the_other_number():
    iv = assess(unknown("diastolic_bp", base=all_clear(systolic_bp=120, diastolic_bp=80))).result(IV)
    assert iv.status is Status.NEEDS_REVIEW
    assert {u.rule_id for u in iv.unresolved} == {
        "blood-pressure-uncontrolled-reading", "blood-pressure-raised-reading",
    }
    assert iv.missing_facts == ("diastolic_bp",)


def test_a_false_condition_of_an_all_settles_it_whatever_else_is_unknown():
    iv = assess(unknown("ecg_reviewed", base=all_clear(cardiovascular_risk=False))).result(IV)
    assert iv.status is Status.ELIGIBLE and iv.unresolved == ()


# --- routes, results and their JSON ------------------------------------------------------------


def test_routes_can_be_chosen_and_looked_up_by_name():
    result = assess(ALL_CLEAR, routes=["esketamine", Route.IV])
    assert [r.route for r in result.results] == [ESK, IV]
    assert result.result("esketamine").status is Status.ELIGIBLE
    with pytest.raises(KeyError):
        result.result(HOME)
    with pytest.raises(ValueError, match="oral"):
        assess(ALL_CLEAR, routes=["oral"])


def test_the_assessment_as_json_carries_version_parameters_and_every_finding_with_its_source():
    result = assess(all_clear(pregnant=True, medication_classes=["maoi", "benzodiazepine"]))
    document = json.loads(json.dumps(result.as_dict()))
    assert document["rules_version"] == builtin_rules().version
    assert document["parameters"]["bp_exclude_systolic"] == 160
    iv = document["routes"]["iv"]
    assert iv["status"] == "not_eligible"
    assert iv["findings"][0] == {
        "rule": "pregnancy", "severity": "exclude", "message": "Avoid ketamine and esketamine in pregnancy.",
        "source": builtin_rules().get("pregnancy").source, "verify": False, "values": {"pregnant": True},
    }
    benzo = next(f for f in iv["findings"] if f["rule"] == "medication-benzodiazepine")
    assert benzo["values"] == {"medication_classes": ["benzodiazepine", "maoi"]}
    assert iv["unresolved"] == [] and iv["missing_facts"] == []
    assert set(document["routes"]) == {"iv", "im", "sublingual_home", "esketamine"}


def test_the_json_of_an_open_question_names_its_missing_facts():
    iv = assess(unknown("pregnant")).as_dict()["routes"]["iv"]
    assert iv["status"] == "needs_review"
    assert iv["unresolved"][0]["rule"] == "pregnancy" and iv["unresolved"][0]["missing"] == ["pregnant"]
    assert iv["missing_facts"] == ["pregnant"]


# --- a clinic's parameters --------------------------------------------------------------------------


def test_a_clinic_that_lowers_the_systolic_limit_excludes_a_reading_the_default_only_reviews():
    facts = all_clear(systolic_bp=155, diastolic_bp=85)
    assert assess(facts).result(IV).status is Status.NEEDS_REVIEW
    stricter = assess(facts, parameters={"bp_exclude_systolic": 150})
    assert stricter.result(IV).status is Status.NOT_ELIGIBLE
    assert stricter.parameters["bp_exclude_systolic"] == 150
    assert stricter.parameters["bp_review_systolic"] == 140  # the rest keep their defaults
    assert stricter.as_dict()["parameters"]["bp_exclude_systolic"] == 150


def test_a_clinic_that_raises_the_adult_age_asks_review_for_a_19_year_old():
    assert assess(all_clear(age_years=19)).result(IV).status is Status.ELIGIBLE
    assert assess(all_clear(age_years=19), parameters={"adult_age": 21}).result(IV).status is (
        Status.NEEDS_REVIEW
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bp_exclude_sistolic": 150}, "parameter 'bp_exclude_sistolic': not a parameter of rules"),
        ({"bp_exclude_systolic": "150"}, "parameter 'bp_exclude_systolic': must be a finite number"),
        ({"bp_exclude_systolic": True}, "must be a finite number"),
        ({"bp_exclude_systolic": math.nan}, "must be a finite number"),
        ({"bp_exclude_systolic": math.inf}, "must be a finite number"),
    ],
)
def test_an_unknown_or_non_numeric_parameter_is_refused(overrides, message):
    with pytest.raises(RuleError, match=message):
        assess(ALL_CLEAR, parameters=overrides)


# --- facts validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"pregnant": "yes"}, "pregnant", "must be true, false or null"),
        ({"pregnant": 1}, "pregnant", "must be true, false or null"),
        ({"systolic_bp": 400, "diastolic_bp": 80}, "systolic_bp", "must be at most 300"),
        ({"systolic_bp": 20}, "systolic_bp", "must be at least 40"),
        ({"systolic_bp": 120.5}, "systolic_bp", "must be a whole number"),
        ({"systolic_bp": True}, "systolic_bp", "must be a whole number"),
        ({"systolic_bp": 120, "diastolic_bp": 120}, "diastolic_bp", "lower than the systolic"),
        ({"systolic_bp": 120, "diastolic_bp": 130}, "diastolic_bp", "lower than the systolic"),
        ({"age_years": -1}, "age_years", "must be at least 0"),
        ({"age_years": 131}, "age_years", "must be at most 130"),
        ({"hepatic_impairment": "bad"}, "hepatic_impairment", "must be one of none, mild, moderate, severe"),
        ({"medication_classes": ["maoi", "antihistamine"]}, "medication_classes",
         "unknown class 'antihistamine'"),
        ({"medication_classes": "maoi"}, "medication_classes", "must be a list of medication classes"),
    ],
)
def test_an_impossible_fact_is_refused_naming_the_field(values, field, message):
    with pytest.raises(FactError, match=message) as caught:
        Facts(**values)
    assert caught.value.field == field
    with pytest.raises(FactError) as from_json:
        facts_from_mapping(values)
    assert from_json.value.field == field


def test_facts_from_json_refuse_an_unknown_key_naming_it():
    with pytest.raises(FactError, match="is not a known fact") as caught:
        facts_from_mapping({"pregnant": False, "weight_kg": 70})
    assert caught.value.field == "weight_kg"
    with pytest.raises(FactError) as not_an_object:
        facts_from_mapping([("pregnant", False)])  # type: ignore[arg-type]
    assert not_an_object.value.field == "facts"


def test_facts_from_json_treat_absent_keys_as_unknown_and_freeze_the_medication_list():
    facts = facts_from_mapping({"age_years": 42, "medication_classes": ["maoi", "maoi"], "pregnant": None})
    assert facts.medication_classes == frozenset({"maoi"})
    assert facts.pregnant is None and facts.breastfeeding is None
    assert "pregnant" in facts.missing() and "age_years" not in facts.missing()


def test_facts_round_trip_through_their_json():
    facts = all_clear(medication_classes=["opioid", "benzodiazepine"])
    document = json.loads(json.dumps(facts.as_dict()))
    assert document["medication_classes"] == ["benzodiazepine", "opioid"]
    assert facts_from_mapping(document) == facts
    assert Facts().as_dict() == dict.fromkeys(FACT_SPECS)


def test_facts_are_frozen_and_read_by_name():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALL_CLEAR.pregnant = True  # type: ignore[misc]
    assert ALL_CLEAR.value("hepatic_impairment") == "none"
    with pytest.raises(KeyError):
        ALL_CLEAR.value("weight_kg")
    assert ALL_CLEAR.missing() == ()


def test_every_fact_is_described_with_its_question():
    assert [spec.name for spec in FACTS] == [f.name for f in dataclasses.fields(Facts)]
    for spec in FACTS:
        assert spec.label and spec.question, spec.name
        assert (spec.kind in ("choice", "set")) == bool(spec.choices), spec.name
    assert FACT_SPECS["hepatic_impairment"].choices == HEPATIC_LEVELS
    assert FACT_SPECS["medication_classes"].choices == MEDICATION_CLASSES


# --- properties -------------------------------------------------------------------------------------

BOOL_FACTS = [spec.name for spec in FACTS if spec.kind == "bool"]


FACT_NAMES = [spec.name for spec in FACTS]


@st.composite
def any_facts(draw: st.DrawFn, all_known: bool = False) -> Facts:
    """Valid facts: either the all-clear patient with a few facts changed and a few unknown (where
    single rules decide the status), or every fact random and any of them unknown."""
    if draw(st.booleans()):
        values = {name: getattr(ALL_CLEAR, name) for name in FACT_NAMES}
        for name in draw(st.sets(st.sampled_from(FACT_NAMES), max_size=4)):
            values[name] = draw(_value_of(name))
        unknown_names = draw(st.sets(st.sampled_from(FACT_NAMES), max_size=4))
    else:
        values = {name: draw(_value_of(name)) for name in FACT_NAMES}
        unknown_names = draw(st.sets(st.sampled_from(FACT_NAMES)))
    for name in set() if all_known else unknown_names:
        values[name] = None
    return _valid(values)


def _value_of(name: str) -> st.SearchStrategy[Any]:
    spec = FACT_SPECS[name]
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "choice":
        return st.sampled_from(spec.choices)
    if spec.kind == "set":
        return st.frozensets(st.sampled_from(spec.choices))
    # numbers near the rules' thresholds as often as anywhere
    near = {"age_years": [12, 17, 18, 19, 64, 65, 66], "systolic_bp": [139, 140, 159, 160],
            "diastolic_bp": [89, 90, 99, 100]}[name]
    return st.one_of(st.sampled_from(near), st.integers(spec.minimum, spec.maximum))


def _valid(values: dict[str, Any]) -> Facts:
    systolic, diastolic = values.get("systolic_bp"), values.get("diastolic_bp")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        values["diastolic_bp"] = max(20, systolic - 1) if systolic > 20 else None
    return Facts(**values)


@st.composite
def completion_of(draw: st.DrawFn, facts: Facts) -> Facts:
    """`facts` with every unknown fact filled in with a valid value."""
    values = {spec.name: getattr(facts, spec.name) for spec in FACTS}
    for name, value in list(values.items()):
        if value is None:
            values[name] = draw(_value_of(name))
    if values["diastolic_bp"] >= values["systolic_bp"]:
        if facts.diastolic_bp is None:
            values["diastolic_bp"] = values["systolic_bp"] - 1
        else:
            values["systolic_bp"] = min(300, values["diastolic_bp"] + draw(st.integers(1, 60)))
    return Facts(**values)


@settings(max_examples=150, deadline=None)
@given(facts=any_facts())
def test_the_status_is_exactly_the_worst_that_the_fired_and_open_rules_imply(facts):
    for result in assess(facts).results:
        implied = [IMPLIED_FIRED[f.severity] for f in result.findings]
        implied += [IMPLIED_UNKNOWN[u.severity] for u in result.unresolved]
        assert result.status is max(implied, key=lambda s: s.rank, default=Status.ELIGIBLE)
        for finding in result.findings:  # never better than any fired finding implies
            assert result.status.rank >= IMPLIED_FIRED[finding.severity].rank
        assert set(result.missing_facts) <= set(facts.missing())
        assert not set(result.fired) & {u.rule_id for u in result.unresolved}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_learning_a_missing_fact_never_loses_a_finding_nor_reveals_one_that_was_not_open(data):
    """Kleene logic is sound: whatever the missing facts turn out to be, the rules that fired
    still fire and every new finding was listed as open. So the status before was at least as
    severe as after, except that an open exclusion shows as needs review until it is known."""
    partial = data.draw(any_facts())
    complete = data.draw(completion_of(partial))
    before, after = assess(partial), assess(complete)
    for route in Route:
        was, now = before.result(route), after.result(route)
        opened = {u.rule_id for u in was.unresolved}
        assert set(was.fired) <= set(now.fired)
        assert set(now.fired) <= set(was.fired) | opened
        assert now.unresolved == ()
        assert was.status.rank >= min(now.status.rank, Status.NEEDS_REVIEW.rank)
        if was.status.rank < Status.NEEDS_REVIEW.rank:
            assert now.status.rank <= was.status.rank
        if now.status is Status.NOT_ELIGIBLE and was.status is not Status.NOT_ELIGIBLE:
            assert was.status is Status.NEEDS_REVIEW
            assert any(u.severity is Severity.EXCLUDE for u in was.unresolved)


@settings(max_examples=100, deadline=None)
@given(facts=any_facts(), extra=st.sampled_from(MEDICATION_CLASSES))
def test_adding_a_medication_class_never_improves_any_route(facts, extra):
    if facts.medication_classes is None:
        return
    more = dataclasses.replace(facts, medication_classes=facts.medication_classes | {extra})
    for was, now in zip(assess(facts).results, assess(more).results, strict=True):
        assert now.status.rank >= was.status.rank


@settings(max_examples=100, deadline=None)
@given(facts=any_facts(), rise=st.integers(1, 80))
def test_a_higher_blood_pressure_never_improves_any_route(facts, rise):
    if facts.systolic_bp is None or facts.systolic_bp + rise > 300:
        return
    higher = dataclasses.replace(facts, systolic_bp=facts.systolic_bp + rise)
    for was, now in zip(assess(facts).results, assess(higher).results, strict=True):
        assert now.status.rank >= was.status.rank


def _trigger_values() -> dict[str, set[bool]]:
    """For each yes/no fact, the values the built-in rules treat as a trigger."""
    found: dict[str, set[bool]] = {}

    def walk(node: Any) -> None:
        for key in ("any", "all"):
            for child in node.get(key, []):
                walk(child)
        if "is" in node and FACT_SPECS[node["fact"]].kind == "bool":
            found.setdefault(node["fact"], set()).add(node["is"])

    for rule in builtin_rules().rules:
        walk(rule.when)
    return found


TRIGGER_VALUES = _trigger_values()
ONE_WAY_FACTS = sorted(name for name, values in TRIGGER_VALUES.items() if len(values) == 1)


def test_every_yes_no_fact_triggers_its_rules_one_way_only():
    assert sorted(TRIGGER_VALUES) == sorted(BOOL_FACTS)
    assert sorted(BOOL_FACTS) == ONE_WAY_FACTS
    assert TRIGGER_VALUES["home_monitor_present"] == {False}
    assert TRIGGER_VALUES["pregnant"] == {True}


@settings(max_examples=150, deadline=None)
@given(facts=any_facts(), name=st.sampled_from(ONE_WAY_FACTS))
def test_turning_a_yes_no_fact_to_its_trigger_never_improves_any_route(facts, name):
    (trigger,) = TRIGGER_VALUES[name]
    calm = dataclasses.replace(facts, **{name: not trigger})
    alarmed = dataclasses.replace(facts, **{name: trigger})
    for was, now in zip(assess(calm).results, assess(alarmed).results, strict=True):
        assert now.status.rank >= was.status.rank


@settings(max_examples=100, deadline=None)
@given(facts=any_facts(all_known=True))
def test_when_every_fact_is_known_nothing_is_missing_and_home_is_never_plainly_eligible(facts):
    result = assess(facts)
    assert all(r.unresolved == () and r.missing_facts == () for r in result.results)
    assert result.result(HOME).status.rank >= Status.NEEDS_REVIEW.rank
