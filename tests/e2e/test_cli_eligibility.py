"""`ketaflow eligibility …` as a clinician, researcher or another tool runs it: real processes, no
database (an empty data directory)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ketaflow.clinical.eligibility import assess, builtin_rules, facts_from_mapping
from tests.e2e.conftest import REPO_ROOT, clean_environment, describe, ketaflow_command
from tests.e2e.test_cli import listed_commands
from tests.unit.eligibility_factories import ALL_CLEAR

ROUTE_LINE = re.compile(r"^(?P<label>[^\n\[]+) \[(?P<route>[a-z_]+)\]: (?P<status>.+)$", re.MULTILINE)


def offline(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return ketaflow_command(*args, env=clean_environment(KETAFLOW_DATA_DIR=str(tmp_path)))


def piped(*args: str, stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m ketaflow ARGS` with `stdin` on standard input."""
    return subprocess.run(
        [sys.executable, "-m", "ketaflow", *args], env=clean_environment(KETAFLOW_DATA_DIR=str(tmp_path)),
        cwd=REPO_ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )


def facts_file(tmp_path: Path, name: str = "facts.json", **changes: Any) -> Path:
    document = {**ALL_CLEAR.as_dict(), **changes}
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def statuses(output: str) -> dict[str, str]:
    return {m["route"]: m["status"] for m in ROUTE_LINE.finditer(output)}


def route_block(output: str, route: str) -> str:
    """The lines printed for one route."""
    start = output.rindex("\n", 0, output.index(f" [{route}]: ")) + 1
    following = ROUTE_LINE.search(output, output.index("\n", start))
    return output[start:following.start() if following else len(output)]


def test_help_lists_the_eligibility_commands(tmp_path):
    top = offline("--help", tmp_path=tmp_path)
    group = offline("eligibility", "--help", tmp_path=tmp_path)

    assert "eligibility" in listed_commands(top.stdout), top.stdout
    assert listed_commands(group.stdout) == {"rules", "assess"}, group.stdout


def test_eligibility_rules_lists_every_rule_with_its_routes_severity_and_verify_mark(tmp_path):
    result = offline("eligibility", "rules", tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    assert re.match(r"id\s+routes\s+severity\s+verify$", lines[0])
    rules = builtin_rules()
    for rule in rules.rules:
        assert re.search(rf"^{re.escape(rule.id)}\s+\S+\s+{rule.severity.value}", result.stdout, re.MULTILINE)
    assert re.search(r"^pregnancy\s+iv,im,sublingual_home,esketamine\s+exclude$", result.stdout, re.MULTILINE)
    assert re.search(r"^medication-maoi\s+iv,im,sublingual_home,esketamine\s+needs_review\s+verify$",
                     result.stdout, re.MULTILINE)
    assert re.search(r"^esketamine-arteriovenous-malformation\s+esketamine\s+exclude$", result.stdout,
                     re.MULTILINE)
    assert f"{len(rules.rules)} rules, version {rules.version}" in result.stdout
    assert "  bp_exclude_systolic = 160 mmHg  verify" in result.stdout


def test_eligibility_rules_as_json_carries_each_rule_with_its_condition_and_source(tmp_path):
    result = offline("eligibility", "rules", "--json", tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    document = json.loads(result.stdout)
    rules = builtin_rules()
    assert document["version"] == rules.version
    assert [rule["id"] for rule in document["rules"]] == [rule.id for rule in rules.rules]
    pregnancy = next(rule for rule in document["rules"] if rule["id"] == "pregnancy")
    assert pregnancy["routes"] == ["iv", "im", "sublingual_home", "esketamine"]
    assert pregnancy["when"] == {"fact": "pregnant", "is": True}
    assert pregnancy["condition"] == "pregnant is true"
    assert pregnancy["source"] == rules.get("pregnancy").source
    assert document["parameters"]["adult_age"]["default"] == 18


def test_eligibility_assess_prints_each_route_with_fired_rules_their_sources_and_missing_facts(tmp_path):
    path = facts_file(tmp_path, pregnant=True, bipolar_disorder=None)
    result = offline("eligibility", "assess", str(path), tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith(f"Eligibility under rules version {builtin_rules().version}\n")
    assert statuses(result.stdout) == {
        "iv": "Not eligible", "im": "Not eligible", "sublingual_home": "Not eligible",
        "esketamine": "Not eligible",
    }
    iv = route_block(result.stdout, "iv")
    assert "IV infusion [iv]: Not eligible" in iv
    assert "  fired  exclude  pregnancy: Avoid ketamine and esketamine in pregnancy.\n" in iv
    assert "         source: Cohen SP et al., ASRA/AAPM/ASA consensus" in iv
    assert "  open   caution  bipolar-mania-risk: missing bipolar_disorder\n" in iv
    assert "  missing facts: bipolar_disorder\n" in iv


def test_eligibility_assess_reads_facts_from_standard_input_and_reports_what_is_missing(tmp_path):
    result = piped("eligibility", "assess", "-", "--route", "iv", stdin='{"age_years": 16}',
                   tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    assert statuses(result.stdout) == {"iv": "Needs review"}
    assert "  fired  needs_review  age-under-adult: An adolescent" in result.stdout
    missing = re.search(r"^  missing facts: (.+)$", result.stdout, re.MULTILINE)
    assert missing is not None
    assert {"pregnant", "systolic_bp", "medication_classes"} <= set(missing.group(1).split(", "))
    assert "age_years" not in missing.group(1)


def test_eligibility_assess_as_json_is_the_libraries_assessment(tmp_path):
    path = facts_file(tmp_path, systolic_bp=145, diastolic_bp=85, medication_classes=["maoi"])
    result = offline("eligibility", "assess", str(path), "--json", tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    expected = assess(facts_from_mapping(json.loads(path.read_text()))).as_dict()
    assert json.loads(result.stdout) == expected
    assert json.loads(result.stdout)["routes"]["iv"]["status"] == "needs_review"


def test_a_clinic_parameter_on_the_command_line_changes_the_outcome(tmp_path):
    path = facts_file(tmp_path, systolic_bp=155, diastolic_bp=85)
    default = offline("eligibility", "assess", str(path), "--route", "iv", tmp_path=tmp_path)
    stricter = offline("eligibility", "assess", str(path), "--route", "iv",
                       "--param", "bp_exclude_systolic=150", tmp_path=tmp_path)

    assert statuses(default.stdout) == {"iv": "Needs review"}, describe(default)
    assert statuses(stricter.stdout) == {"iv": "Not eligible"}, describe(stricter)
    assert "(parameters changed: bp_exclude_systolic=150)" in stricter.stdout


def test_an_impossible_fact_exits_2_naming_the_field(tmp_path):
    path = facts_file(tmp_path, systolic_bp=400, diastolic_bp=80)
    result = offline("eligibility", "assess", str(path), tmp_path=tmp_path)

    assert result.returncode == 2, describe(result)
    assert "Error: fact systolic_bp: must be at most 300" in result.stderr
    assert result.stdout == ""


def test_an_unknown_fact_a_yes_no_given_as_text_or_bad_json_exits_2(tmp_path):
    unknown = facts_file(tmp_path, "unknown.json", weight_kg=70)
    as_text = facts_file(tmp_path, "text.json", pregnant="yes")
    broken = tmp_path / "broken.json"
    broken.write_text('{"age_years": 40,', encoding="utf-8")

    unknown_result = offline("eligibility", "assess", str(unknown), tmp_path=tmp_path)
    text_result = offline("eligibility", "assess", str(as_text), tmp_path=tmp_path)
    broken_result = offline("eligibility", "assess", str(broken), tmp_path=tmp_path)

    assert unknown_result.returncode == 2 and "fact weight_kg: is not a known fact" in unknown_result.stderr
    assert text_result.returncode == 2 and "fact pregnant: must be true, false or null" in text_result.stderr
    assert broken_result.returncode == 2 and "is not valid JSON" in broken_result.stderr


def test_an_unknown_parameter_exits_2_naming_it(tmp_path):
    path = facts_file(tmp_path)
    unknown = offline("eligibility", "assess", str(path), "--param", "bp_limit=150", tmp_path=tmp_path)
    not_a_number = offline("eligibility", "assess", str(path), "--param", "adult_age=old", tmp_path=tmp_path)

    assert unknown.returncode == 2 and "parameter 'bp_limit': not a parameter" in unknown.stderr
    assert not_a_number.returncode == 2 and "give NAME=NUMBER" in not_a_number.stderr


def test_a_clinic_rules_document_is_checked_and_used_and_a_broken_one_is_refused_by_rule(tmp_path):
    document = json.loads((REPO_ROOT / "src/ketaflow/clinical/data/eligibility_rules.json").read_text())
    document["version"] = "clinic.1"
    document["rules"] = [rule for rule in document["rules"] if rule["id"] != "age-under-adult"]
    own = tmp_path / "own-rules.json"
    own.write_text(json.dumps(document), encoding="utf-8")
    document["rules"][0]["routes"] = ["oral"]
    broken = tmp_path / "broken-rules.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    adolescent = facts_file(tmp_path, age_years=16)

    listed = offline("eligibility", "rules", "--rules", str(own), tmp_path=tmp_path)
    assessed = offline("eligibility", "assess", str(adolescent), "--rules", str(own), "--route", "iv",
                       tmp_path=tmp_path)
    refused = offline("eligibility", "rules", "--rules", str(broken), tmp_path=tmp_path)

    assert listed.returncode == 0 and "version clinic.1" in listed.stdout, describe(listed)
    assert "age-under-adult" not in listed.stdout
    assert statuses(assessed.stdout) == {"iv": "Eligible"}, describe(assessed)
    assert refused.returncode == 1
    assert "rule 'esketamine-aneurysmal-vascular-disease': 'oral' is not a valid Route" in refused.stderr
