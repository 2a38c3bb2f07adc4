"""The built-in eligibility rules, one by one, and the guards on a rules document.

Pure: no database. Every rule in `data/eligibility_rules.json` has a hand-written trigger in
TRIGGERS below (the all-clear patient with one thing changed) and the rules it brings along; a rule
added to the data without a row here fails `test_every_built_in_rule_has_a_firing_case`.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ketaflow.clinical.eligibility import (
    FACT_SPECS,
    Facts,
    Parameter,
    Route,
    Rule,
    RuleError,
    Severity,
    Status,
    assess,
    builtin_rules,
    describe_condition,
    parse_rules,
)
from tests.unit.eligibility_factories import ALL_CLEAR, all_clear

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "src" / "ketaflow" / "clinical" / "data" / "eligibility_rules.json"
ELIGIBILITY_DOC = ROOT / "docs" / "eligibility.md"

IV, IM, HOME, ESK = Route.IV, Route.IM, Route.SUBLINGUAL_HOME, Route.ESKETAMINE
ALWAYS = "home-explicit-decision"
IMPLIED = {
    Severity.EXCLUDE: Status.NOT_ELIGIBLE,
    Severity.REVIEW: Status.NEEDS_REVIEW,
    Severity.CAUTION: Status.ELIGIBLE_WITH_CAUTIONS,
    Severity.INFO: Status.ELIGIBLE,
}

# rule id -> (the change to the all-clear patient that makes it fire, other rules the same change fires)
TRIGGERS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "esketamine-aneurysmal-vascular-disease": (
        {"aneurysmal_vascular_disease": True}, ("ketamine-vascular-lesion",)),
    "esketamine-arteriovenous-malformation": (
        {"arteriovenous_malformation": True}, ("ketamine-vascular-lesion",)),
    "esketamine-intracerebral-haemorrhage": (
        {"intracerebral_haemorrhage_history": True}, ("ketamine-vascular-lesion",)),
    "ketamine-hypersensitivity": ({"ketamine_hypersensitivity": True}, ()),
    "ketamine-vascular-lesion": (
        {"arteriovenous_malformation": True}, ("esketamine-arteriovenous-malformation",)),
    "blood-pressure-uncontrolled-reading": (
        {"systolic_bp": 165, "diastolic_bp": 95}, ("blood-pressure-raised-reading",)),
    "blood-pressure-raised-reading": ({"systolic_bp": 145, "diastolic_bp": 85}, ()),
    "hypertension-uncontrolled": ({"hypertension_uncontrolled": True}, ()),
    "cardiovascular-disease-poorly-controlled": (
        {"cardiovascular_disease_poorly_controlled": True}, ("esketamine-cardiovascular-disease",)),
    "esketamine-cardiovascular-disease": (
        {"cardiovascular_disease_poorly_controlled": True}, ("cardiovascular-disease-poorly-controlled",)),
    "ecg-indicated": ({"cardiovascular_risk": True, "ecg_reviewed": False}, ()),
    "pregnancy": ({"pregnant": True}, ()),
    "breastfeeding": ({"breastfeeding": True}, ()),
    "active-psychosis": ({"active_psychosis": True}, ()),
    "psychotic-disorder": ({"psychotic_disorder": True}, ()),
    "bipolar-mania-risk": ({"bipolar_disorder": True}, ()),
    "hepatic-disease-severe": ({"hepatic_impairment": "severe"}, ()),
    "hepatic-disease-moderate": ({"hepatic_impairment": "moderate"}, ()),
    "liver-tests-indicated": ({"hepatic_impairment": "mild", "liver_tests_reviewed": False}, ()),
    "raised-intracranial-pressure": ({"raised_intracranial_pressure": True}, ()),
    "raised-intraocular-pressure": ({"raised_intraocular_pressure": True}, ()),
    "substance-misuse-active": ({"substance_misuse_active": True}, ("home-substance-misuse",)),
    "home-substance-misuse": ({"alcohol_misuse_active": True}, ("alcohol-misuse-active",)),
    "alcohol-misuse-active": ({"alcohol_misuse_active": True}, ("home-substance-misuse",)),
    "urine-drug-screen-indicated": (
        {"substance_misuse_active": True, "urine_drug_screen_reviewed": False},
        ("substance-misuse-active", "home-substance-misuse"),
    ),
    "medication-benzodiazepine": (
        {"medication_classes": ["benzodiazepine"]}, ("home-sedating-medication",)),
    "medication-lamotrigine": ({"medication_classes": ["lamotrigine"]}, ()),
    "medication-maoi": ({"medication_classes": ["maoi"]}, ()),
    "medication-psychostimulant": ({"medication_classes": ["psychostimulant"]}, ()),
    "medication-sedative-hypnotic": (
        {"medication_classes": ["sedative_hypnotic"]}, ("home-sedating-medication",)),
    "home-sedating-medication": ({"medication_classes": ["opioid"]}, ("medication-opioid",)),
    "medication-opioid": ({"medication_classes": ["opioid"]}, ("home-sedating-medication",)),
    "medication-unclassified": ({"unclassified_medications": True}, ()),
    "age-under-adult": ({"age_years": 16}, ()),
    "age-older-adult": ({"age_years": 70}, ()),
    "suicidal-ideation-recent": ({"suicidal_ideation_recent": True}, ("home-suicidal-ideation",)),
    ALWAYS: ({}, ()),
    "home-monitor-present": ({"home_monitor_present": False}, ()),
    "home-blood-pressure-cuff": ({"home_bp_cuff": False}, ()),
    "home-suicidal-ideation": ({"suicidal_ideation_recent": True}, ("suicidal-ideation-recent",)),
    "home-clinically-unstable": ({"clinically_stable": False}, ()),
}
RULE_IDS = [rule.id for rule in builtin_rules().rules]


def statuses(facts: Facts) -> dict[Route, Status]:
    return {result.route: result.status for result in assess(facts).results}


def fired(facts: Facts) -> dict[Route, tuple[str, ...]]:
    return {result.route: result.fired for result in assess(facts).results}


# --- the data file -----------------------------------------------------------------------------


def test_every_built_in_rule_has_a_firing_case():
    assert set(RULE_IDS) == set(TRIGGERS), "add a trigger row for each new rule (and remove old ones)"


def test_the_built_in_rules_cover_every_topic_the_issue_names():
    ids = set(RULE_IDS)
    required = {
        "esketamine label contraindications": {
            "esketamine-aneurysmal-vascular-disease", "esketamine-arteriovenous-malformation",
            "esketamine-intracerebral-haemorrhage", "ketamine-hypersensitivity",
        },
        "hypertension and cardiovascular disease": {
            "blood-pressure-uncontrolled-reading", "hypertension-uncontrolled",
            "cardiovascular-disease-poorly-controlled",
        },
        "pregnancy": {"pregnancy"},
        "psychosis and bipolar disorder": {"active-psychosis", "psychotic-disorder", "bipolar-mania-risk"},
        "hepatic disease": {"hepatic-disease-severe", "hepatic-disease-moderate"},
        "intracranial and intraocular pressure": {
            "raised-intracranial-pressure", "raised-intraocular-pressure",
        },
        "substance and alcohol misuse": {"substance-misuse-active", "alcohol-misuse-active"},
        "interacting medications": {
            "medication-benzodiazepine", "medication-lamotrigine", "medication-maoi",
            "medication-psychostimulant", "medication-sedative-hypnotic",
        },
        "age groups": {"age-under-adult", "age-older-adult"},
        "home requirements": {
            "home-monitor-present", "home-blood-pressure-cuff", "home-suicidal-ideation",
            "home-clinically-unstable",
        },
    }
    for topic, rule_ids in required.items():
        assert rule_ids <= ids, f"{topic}: missing {sorted(rule_ids - ids)}"


def test_the_built_in_rules_are_versioned_and_every_rule_names_its_source_and_message():
    rules = builtin_rules()
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", rules.version)
    for rule in rules.rules:
        assert rule.message.strip() and rule.source.strip(), rule.id
        cites_reference = "clinical reference §" in rule.source.lower()
        ketaflows_own = rule.source.startswith("ketaflow:")
        assert cites_reference or ketaflows_own or rule.verify, (
            f"{rule.id}: a source outside the clinical reference is marked verify"
        )


def test_every_parameter_has_a_unit_and_a_source_and_is_marked_for_the_clinic_to_verify():
    parameters = builtin_rules().parameters
    assert set(parameters) == {
        "bp_review_systolic", "bp_review_diastolic", "bp_exclude_systolic", "bp_exclude_diastolic",
        "adult_age", "older_adult_age",
    }
    for parameter in parameters.values():
        assert parameter.unit and parameter.source and parameter.label
        assert parameter.verify is True, parameter.name
    assert parameters["bp_exclude_systolic"].default > parameters["bp_review_systolic"].default
    assert parameters["bp_exclude_diastolic"].default > parameters["bp_review_diastolic"].default


def test_every_route_has_rules_and_the_esketamine_label_rules_apply_to_esketamine_only():
    rules = builtin_rules()
    for route in Route:
        assert rules.for_route(route), route
    for rule_id in ("esketamine-aneurysmal-vascular-disease", "esketamine-arteriovenous-malformation",
                    "esketamine-intracerebral-haemorrhage", "esketamine-cardiovascular-disease"):
        assert rules.get(rule_id).routes == {ESK}
    assert all(rule.routes == {HOME} for rule in rules.rules if rule.id.startswith("home-"))


def test_the_facts_a_route_relies_on_leave_out_the_facts_only_other_routes_read():
    rules = builtin_rules()
    assert "home_monitor_present" in rules.facts_for(HOME)
    assert "home_monitor_present" not in rules.facts_for(IV)
    assert "clinically_stable" not in rules.facts_for(ESK)
    assert {"pregnant", "systolic_bp", "diastolic_bp", "medication_classes"} <= rules.facts_for(IV)
    assert rules.get("ecg-indicated").facts == ("cardiovascular_risk", "ecg_reviewed")
    assert rules.get(ALWAYS).facts == ()
    with pytest.raises(KeyError):
        rules.get("no-such-rule")


# --- every rule, fired and not fired -------------------------------------------------------------


def test_the_all_clear_patient_is_eligible_for_every_clinic_route_and_needs_review_only_at_home():
    result = assess(ALL_CLEAR)
    for route in (IV, IM, ESK):
        assert result.result(route).status is Status.ELIGIBLE
        assert result.result(route).findings == () and result.result(route).unresolved == ()
    home = result.result(HOME)
    assert home.status is Status.NEEDS_REVIEW
    assert home.fired == (ALWAYS,) and home.unresolved == ()


@pytest.mark.parametrize("rule_id", [r for r in RULE_IDS if r != ALWAYS])
def test_a_rule_does_not_fire_on_the_all_clear_patient(rule_id):
    result = assess(ALL_CLEAR)
    for route_result in result.results:
        assert rule_id not in route_result.fired
        assert rule_id not in {u.rule_id for u in route_result.unresolved}


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_a_rule_fires_on_exactly_its_routes_with_the_status_its_severity_implies(rule_id):
    rules = builtin_rules()
    rule = rules.get(rule_id)
    changes, also = TRIGGERS[rule_id]
    assert set(changes) <= set(rule.facts), "the trigger changes a fact the rule reads"
    facts = all_clear(**changes)
    result = assess(facts)
    baseline = assess(ALL_CLEAR)
    for route in Route:
        route_result = result.result(route)
        expected_rules = {rule_id, *also} | set(baseline.result(route).fired)
        expected_fired = {r for r in expected_rules if rules.get(r).applies_to(route)}
        assert set(route_result.fired) == expected_fired, route
        assert route_result.unresolved == ()
        expected_status = max(
            (IMPLIED[rules.get(r).severity] for r in expected_fired), key=lambda s: s.rank,
            default=Status.ELIGIBLE,
        )
        assert route_result.status is expected_status, route
        if route in rule.routes:
            assert route_result.status.rank >= IMPLIED[rule.severity].rank
            finding = next(f for f in route_result.findings if f.rule_id == rule_id)
            assert (finding.severity, finding.message, finding.source, finding.verify) == (
                rule.severity, rule.message, rule.source, rule.verify,
            )
            assert dict(finding.values) == {name: facts.value(name) for name in rule.facts}


def test_the_home_decision_rule_fires_even_when_nothing_is_known():
    home = assess(Facts(), routes=[HOME]).result(HOME)
    assert ALWAYS in home.fired
    assert home.status is Status.NEEDS_REVIEW


# --- the clinically important rules, spelt out ---------------------------------------------------


def test_pregnancy_excludes_every_route_citing_its_source():
    result = assess(all_clear(pregnant=True))
    for route in Route:
        route_result = result.result(route)
        assert route_result.status is Status.NOT_ELIGIBLE
        assert route_result.fired[0] == "pregnancy"
        assert "Cohen" in route_result.findings[0].source


def test_not_pregnant_leaves_the_clinic_routes_eligible():
    assert statuses(all_clear(pregnant=False))[IV] is Status.ELIGIBLE


def test_an_aneurysm_excludes_esketamine_only_and_asks_a_prescriber_to_weigh_racemic_ketamine():
    found = statuses(all_clear(aneurysmal_vascular_disease=True))
    assert found[ESK] is Status.NOT_ELIGIBLE
    assert found[IV] is found[IM] is Status.NEEDS_REVIEW
    assert fired(all_clear(aneurysmal_vascular_disease=True))[IV] == ("ketamine-vascular-lesion",)
    esketamine = assess(all_clear(aneurysmal_vascular_disease=True)).result(ESK).findings[0]
    assert "Spravato" in esketamine.source and esketamine.verify is False


def test_hypersensitivity_to_ketamine_excludes_every_route():
    assert set(statuses(all_clear(ketamine_hypersensitivity=True)).values()) == {Status.NOT_ELIGIBLE}


def test_an_maoi_needs_prescriber_review_on_every_route():
    found = statuses(all_clear(medication_classes=["maoi"]))
    assert set(found.values()) == {Status.NEEDS_REVIEW}
    assert all("medication-maoi" in names for names in fired(all_clear(medication_classes=["maoi"])).values())


def test_a_benzodiazepine_is_a_caution_in_clinic_and_needs_review_at_home():
    facts = all_clear(medication_classes=["benzodiazepine"])
    assert statuses(facts)[IV] is Status.ELIGIBLE_WITH_CAUTIONS
    assert statuses(facts)[HOME] is Status.NEEDS_REVIEW
    assert set(fired(facts)[HOME]) == {"home-explicit-decision", "home-sedating-medication",
                                       "medication-benzodiazepine"}


def test_lamotrigine_psychostimulants_and_sedative_hypnotics_are_cautions_in_clinic():
    for medication_class in ("lamotrigine", "psychostimulant", "sedative_hypnotic", "opioid"):
        assert statuses(all_clear(medication_classes=[medication_class]))[IV] is (
            Status.ELIGIBLE_WITH_CAUTIONS
        ), medication_class


def test_a_blood_pressure_of_165_over_95_excludes_every_route():
    result = assess(all_clear(systolic_bp=165, diastolic_bp=95))
    assert {r.status for r in result.results} == {Status.NOT_ELIGIBLE}
    finding = result.result(IV).findings[0]
    assert finding.rule_id == "blood-pressure-uncontrolled-reading"
    assert dict(finding.values) == {"systolic_bp": 165, "diastolic_bp": 95}


def test_a_blood_pressure_of_145_over_85_needs_review_but_does_not_exclude():
    result = assess(all_clear(systolic_bp=145, diastolic_bp=85))
    assert result.result(IV).status is Status.NEEDS_REVIEW
    assert result.result(IV).fired == ("blood-pressure-raised-reading",)


def test_a_blood_pressure_of_130_over_80_fires_neither_blood_pressure_rule():
    assert fired(all_clear(systolic_bp=130, diastolic_bp=80))[IV] == ()
    assert statuses(all_clear(systolic_bp=130, diastolic_bp=80))[ESK] is Status.ELIGIBLE


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (160, 80, Status.NOT_ELIGIBLE),  # at the systolic limit
        (159, 80, Status.NEEDS_REVIEW),
        (125, 100, Status.NOT_ELIGIBLE),  # the diastolic alone
        (125, 99, Status.NEEDS_REVIEW),
        (140, 80, Status.NEEDS_REVIEW),  # at the review line
        (139, 89, Status.ELIGIBLE),
        (130, 90, Status.NEEDS_REVIEW),
    ],
)
def test_blood_pressure_limits_are_inclusive_on_either_number(systolic, diastolic, expected):
    assert statuses(all_clear(systolic_bp=systolic, diastolic_bp=diastolic))[IV] is expected


def test_uncontrolled_hypertension_excludes_even_with_a_normal_reading():
    assert set(statuses(all_clear(hypertension_uncontrolled=True)).values()) == {Status.NOT_ELIGIBLE}


def test_poorly_controlled_cardiovascular_disease_excludes_ketamine_and_needs_review_for_esketamine():
    found = statuses(all_clear(cardiovascular_disease_poorly_controlled=True))
    assert found[IV] is found[IM] is found[HOME] is Status.NOT_ELIGIBLE
    assert found[ESK] is Status.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("age", "expected"),
    [(16, Status.NEEDS_REVIEW), (17, Status.NEEDS_REVIEW), (18, Status.ELIGIBLE), (64, Status.ELIGIBLE),
     (65, Status.ELIGIBLE_WITH_CAUTIONS), (70, Status.ELIGIBLE_WITH_CAUTIONS)],
)
def test_adolescents_need_review_and_65_and_over_changes_dosing(age, expected):
    found = statuses(all_clear(age_years=age))
    assert found[IV] is found[ESK] is expected


def test_age_70_is_a_caution_that_names_the_older_adult_rule():
    finding = assess(all_clear(age_years=70)).result(ESK).findings[0]
    assert finding.rule_id == "age-older-adult"
    assert "28 mg" in finding.message and dict(finding.values) == {"age_years": 70}


def test_home_treatment_is_never_plainly_eligible():
    for facts in (ALL_CLEAR, all_clear(age_years=30), Facts()):
        home = assess(facts).result(HOME)
        assert home.status is not Status.ELIGIBLE
        assert home.status is not Status.ELIGIBLE_WITH_CAUTIONS


def test_home_treatment_without_a_monitor_present_is_not_eligible_but_clinic_routes_are():
    found = statuses(all_clear(home_monitor_present=False))
    assert found[HOME] is Status.NOT_ELIGIBLE
    assert found[IV] is Status.ELIGIBLE


def test_home_treatment_without_a_blood_pressure_cuff_or_when_unstable_is_not_eligible():
    assert statuses(all_clear(home_bp_cuff=False))[HOME] is Status.NOT_ELIGIBLE
    assert statuses(all_clear(clinically_stable=False))[HOME] is Status.NOT_ELIGIBLE


def test_recent_suicidal_ideation_excludes_home_supply_and_is_information_in_clinic():
    result = assess(all_clear(suicidal_ideation_recent=True))
    assert result.result(HOME).status is Status.NOT_ELIGIBLE
    iv = result.result(IV)
    assert iv.status is Status.ELIGIBLE
    assert iv.findings[0].rule_id == "suicidal-ideation-recent"
    assert iv.findings[0].severity is Severity.INFO


def test_active_psychosis_excludes_and_a_psychotic_disorder_needs_review():
    assert set(statuses(all_clear(active_psychosis=True)).values()) == {Status.NOT_ELIGIBLE}
    assert set(statuses(all_clear(psychotic_disorder=True)).values()) == {Status.NEEDS_REVIEW}


def test_bipolar_disorder_is_a_caution_for_mania():
    result = assess(all_clear(bipolar_disorder=True))
    assert result.result(IV).status is Status.ELIGIBLE_WITH_CAUTIONS
    assert "mania" in result.result(IV).findings[0].message


def test_severe_liver_disease_excludes_and_moderate_is_a_caution():
    assert set(statuses(all_clear(hepatic_impairment="severe")).values()) == {Status.NOT_ELIGIBLE}
    assert statuses(all_clear(hepatic_impairment="moderate"))[IV] is Status.ELIGIBLE_WITH_CAUTIONS
    assert fired(all_clear(hepatic_impairment="mild"))[IV] == ()


def test_liver_disease_without_reviewed_liver_tests_asks_for_them():
    assert fired(all_clear(hepatic_impairment="moderate", liver_tests_reviewed=False))[IV] == (
        "hepatic-disease-moderate", "liver-tests-indicated",
    )
    assert fired(all_clear(hepatic_impairment="none", liver_tests_reviewed=False))[IV] == ()


def test_raised_intracranial_or_intraocular_pressure_is_a_caution():
    assert statuses(all_clear(raised_intracranial_pressure=True))[IV] is Status.ELIGIBLE_WITH_CAUTIONS
    assert statuses(all_clear(raised_intraocular_pressure=True))[ESK] is Status.ELIGIBLE_WITH_CAUTIONS


def test_active_substance_or_alcohol_misuse_needs_review_in_clinic_and_excludes_home():
    for change in ({"substance_misuse_active": True}, {"alcohol_misuse_active": True}):
        found = statuses(all_clear(**change))
        assert found[IV] is found[ESK] is Status.NEEDS_REVIEW, change
        assert found[HOME] is Status.NOT_ELIGIBLE, change


def test_a_medication_outside_the_catalogue_is_a_caution_to_check_by_hand():
    finding = assess(all_clear(unclassified_medications=True)).result(IV).findings[0]
    assert finding.rule_id == "medication-unclassified" and "by hand" in finding.message


def test_findings_are_listed_most_severe_first():
    result = assess(all_clear(pregnant=True, bipolar_disorder=True, psychotic_disorder=True,
                              suicidal_ideation_recent=True))
    assert [f.severity for f in result.result(IV).findings] == [
        Severity.EXCLUDE, Severity.REVIEW, Severity.CAUTION, Severity.INFO,
    ]


# --- a rules document that must not be used -------------------------------------------------------


def minimal_document(**rule: Any) -> dict[str, Any]:
    """A valid one-rule document; keyword arguments replace fields of the rule."""
    item = {
        "id": "test-rule", "routes": ["iv"], "severity": "exclude",
        "when": {"fact": "pregnant", "is": True}, "message": "A message.", "source": "A source.",
        "verify": False,
    }
    item.update(rule)
    return {
        "version": "1", "source": "tests",
        "parameters": {
            "limit": {"default": 100, "unit": "mmHg", "label": "L", "source": "S", "verify": True},
        },
        "rules": [item],
    }


def test_a_minimal_document_parses_into_one_rule():
    rules = parse_rules(minimal_document())
    assert rules.version == "1"
    assert rules.rules == (Rule("test-rule", frozenset({IV}), Severity.EXCLUDE,
                                {"fact": "pregnant", "is": True}, "A message.", "A source.", False,
                                ("pregnant",)),)
    assert rules.parameters["limit"] == Parameter("limit", 100, "mmHg", "L", "S", True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": {"fact": "weight", "is": True}}, "rule 'test-rule': unknown fact 'weight'"),
        ({"routes": ["iv", "oral"]}, "rule 'test-rule': 'oral' is not a valid Route"),
        ({"routes": []}, "rule 'test-rule': routes must list at least one route"),
        ({"severity": "forbidden"}, "rule 'test-rule': 'forbidden' is not a valid Severity"),
        ({"when": {"fact": "systolic_bp", "at_least": {"param": "nope"}}},
         "rule 'test-rule': unknown parameter reference"),
        ({"when": {"fact": "systolic_bp", "at_least": {"param": "limit", "x": 1}}},
         "rule 'test-rule': unknown parameter reference"),
        ({"when": {"fact": "pregnant", "in": [True]}}, "rule 'test-rule': in needs a choice fact"),
        ({"when": {"fact": "hepatic_impairment", "in": ["awful"]}}, "in needs a choice fact"),
        ({"when": {"fact": "hepatic_impairment", "in": []}}, "rule 'test-rule': in needs a choice fact"),
        ({"when": {"fact": "hepatic_impairment", "is": "awful"}}, "'awful' is not a choice of"),
        ({"when": {"fact": "pregnant", "at_least": 1}}, "rule 'test-rule': at_least needs a numeric fact"),
        ({"when": {"fact": "pregnant", "is": "yes"}}, "rule 'test-rule': fact 'pregnant' is true or false"),
        ({"when": {"fact": "age_years", "is": 40}}, "rule 'test-rule': use at_least/below or includes"),
        ({"when": {"fact": "age_years", "below": float("nan")}}, "rule 'test-rule': must be a finite number"),
        ({"when": {"fact": "age_years", "below": True}}, "rule 'test-rule': must be a finite number"),
        ({"when": {"fact": "medication_classes", "includes": "antihistamine"}},
         "rule 'test-rule': includes needs a set fact and one of its choices"),
        ({"when": {"fact": "pregnant", "includes": "maoi"}}, "rule 'test-rule': includes needs a set fact"),
        ({"when": {"fact": "pregnant", "is": True, "below": 3}}, "fact 'pregnant' needs exactly one of"),
        ({"when": {"fact": "pregnant"}}, "fact 'pregnant' needs exactly one of"),
        ({"when": {"any": []}}, "rule 'test-rule': any must be the only key and list conditions"),
        ({"when": {"all": {"fact": "pregnant", "is": True}}}, "rule 'test-rule': all must be the only key"),
        ({"when": {"any": [{"fact": "pregnant", "is": True}], "fact": "pregnant"}}, "any must be the only"),
        ({"when": {"any": [{"fact": "nope", "is": True}]}}, "rule 'test-rule': unknown fact 'nope'"),
        ({"when": {"always": False}}, "rule 'test-rule': always must be true"),
        ({"when": None}, "rule 'test-rule': a condition must be an object"),
        ({"when": {"fact": ["pregnant"], "is": True}}, "rule 'test-rule': unknown fact"),
        ({"message": ""}, "rule 'test-rule': message must be non-empty text"),
        ({"source": None}, "rule 'test-rule': source must be non-empty text"),
        ({"verify": "no"}, "rule 'test-rule': verify must be true or false"),
        ({"id": "Test Rule"}, "rule #0: id must be lower-case letters, digits and hyphens"),
        ({"id": "test-rule\n"}, "rule #0: id must be lower-case"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_problem(change, message):
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_rules(minimal_document(**change))


def test_a_duplicate_rule_id_is_refused():
    document = minimal_document()
    document["rules"].append(copy.deepcopy(document["rules"][0]))
    with pytest.raises(RuleError, match="rule 'test-rule': duplicate id"):
        parse_rules(document)


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ({"default": "100", "unit": "mmHg", "label": "L", "source": "S"}, "default must be a finite number"),
        ({"default": float("inf"), "unit": "mmHg", "label": "L", "source": "S"}, "must be a finite number"),
        ({"default": True, "unit": "mmHg", "label": "L", "source": "S"}, "must be a finite number"),
        ({"default": 1, "label": "L", "source": "S"}, "unit must be non-empty text"),
        ({"default": 1, "unit": "u", "label": "L", "source": "S", "verify": 1}, "verify must be true or"),
        ("100", "must be an object"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it(parameter, message):
    document = minimal_document()
    document["parameters"]["limit"] = parameter
    with pytest.raises(RuleError, match=rf"parameter 'limit': .*{re.escape(message)}"):
        parse_rules(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "rules document: must be an object"),
        ({"version": "1", "source": "s", "rules": []}, "rules must be a non-empty list"),
        ({"source": "s", "rules": [{}]}, "rules document: version must be non-empty text"),
        ({"version": "1", "source": "s", "parameters": [], "rules": [{}]}, "parameters: must be an object"),
        ({"version": "1", "source": "s", "rules": ["pregnancy"]}, "rule #0: must be an object"),
    ],
)
def test_a_bad_document_is_refused(document, message):
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_rules(document)


def test_the_shipped_file_parses_the_same_as_the_built_in_rules():
    document = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    assert parse_rules(document) == builtin_rules()


def test_a_parsed_rule_set_is_not_changed_by_later_edits_to_its_document():
    document = minimal_document()
    rules = parse_rules(document)
    document["rules"][0]["when"]["is"] = False
    assert rules.rules[0].when == {"fact": "pregnant", "is": True}
    assert assess(Facts(pregnant=True), rules=rules, routes=[IV]).result(IV).status is Status.NOT_ELIGIBLE


def test_a_clinic_rule_set_assesses_with_its_own_rules_and_parameters():
    rules = parse_rules(minimal_document(
        when={"fact": "systolic_bp", "at_least": {"param": "limit"}}, severity="needs_review",
    ))
    at_limit = assess(Facts(systolic_bp=100, diastolic_bp=60), rules=rules)
    assert at_limit.result(IV).status is Status.NEEDS_REVIEW
    result = assess(Facts(systolic_bp=99, diastolic_bp=60), rules=rules)
    assert [r.route for r in result.results] == list(Route)
    assert result.result(IV).status is Status.ELIGIBLE
    assert result.result(HOME).status is Status.ELIGIBLE  # this document has no home rules
    assert result.rules_version == "1" and result.parameters == {"limit": 100}


# --- a condition in words, and the guide's rule table ----------------------------------------------


def test_a_condition_reads_in_words_with_its_parameter_defaults():
    rules = builtin_rules()
    assert describe_condition(rules.get("blood-pressure-uncontrolled-reading").when, rules.parameters) == (
        "systolic_bp ≥ bp_exclude_systolic (default 160 mmHg) or "
        "diastolic_bp ≥ bp_exclude_diastolic (default 100 mmHg)"
    )
    assert describe_condition(rules.get("liver-tests-indicated").when) == (
        "hepatic_impairment is one of mild, moderate, severe and liver_tests_reviewed is false"
    )
    assert describe_condition({"all": [{"any": [{"fact": "pregnant", "is": True},
                                                 {"fact": "age_years", "below": 12}]},
                                        {"fact": "medication_classes", "includes": "maoi"}]}) == (
        "(pregnant is true or age_years < 12) and medication_classes includes maoi"
    )
    assert describe_condition({"always": True}) == "always"


ROUTE_SHORT = {IV: "IV", IM: "IM", HOME: "home", ESK: "esketamine"}


def rule_row(rule: Rule, parameters: dict[str, Parameter]) -> str:
    """The rule's row in docs/eligibility.md's rule table (regenerate the table with this)."""
    routes = ", ".join(ROUTE_SHORT[route] for route in Route if route in rule.routes)
    condition = describe_condition(rule.when, parameters).replace("|", "\\|")
    verify = "verify" if rule.verify else ""
    return f"| `{rule.id}` | {routes} | {rule.severity.value} | {condition} | {rule.source} | {verify} |"


def parameter_row(parameter: Parameter) -> str:
    verify = "verify" if parameter.verify else ""
    return (f"| `{parameter.name}` | {parameter.default:g} | {parameter.unit} | {parameter.label} | "
            f"{parameter.source} | {verify} |")


def test_the_eligibility_guide_lists_every_rule_as_the_data_has_it():
    text = ELIGIBILITY_DOC.read_text(encoding="utf-8")
    rules = builtin_rules()
    missing = [rule.id for rule in rules.rules if rule_row(rule, dict(rules.parameters)) not in text]
    assert not missing, f"regenerate the rule table in docs/eligibility.md; stale rows: {missing}"
    assert f"version {rules.version}" in text


def test_the_eligibility_guide_lists_every_parameter_and_every_fact():
    text = ELIGIBILITY_DOC.read_text(encoding="utf-8")
    for parameter in builtin_rules().parameters.values():
        assert parameter_row(parameter) in text, parameter.name
    for name in FACT_SPECS:
        assert f"| `{name}` |" in text, name


def test_the_eligibility_guide_example_runs():
    text = ELIGIBILITY_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/eligibility.md has a python example"
    exec(compile(blocks[0], str(ELIGIBILITY_DOC), "exec"), {})
