"""`ketaflow instruments …` and `ketaflow measures …` as an operator or researcher runs them: real
processes, against a demo installation where they need a database."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ketaflow.demo.practice import ORGANIZATION_SLUG
from tests.e2e.conftest import REPO_ROOT, Deployment, clean_environment, describe, ketaflow_command
from tests.e2e.test_cli import listed_commands

YBOCS_TEMPLATE = REPO_ROOT / "docs" / "examples" / "ybocs-template.json"
REMIND_LINE = re.compile(
    rf"^{re.escape(ORGANIZATION_SLUG)}: \d+ patients, \d+ sent, 0 failed, \d+ skipped$", re.MULTILINE
)


def offline(*args: str, tmp_path: Path):
    """A command that needs no database, run with an empty data directory."""
    return ketaflow_command(*args, env=clean_environment(KETAFLOW_DATA_DIR=str(tmp_path)))


def test_help_lists_the_instrument_and_measure_commands(tmp_path):
    top = offline("--help", tmp_path=tmp_path)
    instruments = offline("instruments", "--help", tmp_path=tmp_path)
    measures = offline("measures", "--help", tmp_path=tmp_path)

    assert {"instruments", "measures"} <= listed_commands(top.stdout), top.stdout
    assert listed_commands(instruments.stdout) == {"list", "check", "load", "score"}, instruments.stdout
    assert listed_commands(measures.stdout) == {"remind", "refresh"}, measures.stdout


def test_instruments_list_shows_each_built_in_with_its_range_and_licence(tmp_path):
    result = offline("instruments", "list", tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    assert re.match(r"id\s+version\s+name\s+respondent\s+range\s+licence$", lines[0])
    assert len(lines) == 1 + 11
    assert re.search(r"^phq9\s+1\.0\.0\s+Patient Health Questionnaire-9\s+patient\s+0-27\s+Free to",
                     result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^madrs\s+.*\s+clinician\s+0-60\s+", result.stdout, re.MULTILINE), result.stdout


def test_instruments_score_prints_the_total_band_and_safety_flag(tmp_path):
    result = offline("instruments", "score", "phq9", "1", "1", "2", "1", "0", "1", "1", "0", "2",
                     tmp_path=tmp_path)

    assert result.returncode == 0, describe(result)
    assert "total: 9 (range 0-27)" in result.stdout
    assert "band: mild" in result.stdout
    assert "SAFETY FLAG phq9_item9_self_harm: PHQ-9 item 9 endorsed" in result.stdout


def test_instruments_score_prints_pcl5_clusters_and_findings_and_takes_answers_by_item(tmp_path):
    pcl5 = offline("instruments", "score", "pcl5", *["2"] * 20, tmp_path=tmp_path)
    partial = offline("instruments", "score", "phq9", "1=0", "2=1", "9=0", tmp_path=tmp_path)

    assert pcl5.returncode == 0, describe(pcl5)
    assert "subscores: B 10, C 4, D 14, E 12" in pcl5.stdout
    assert "finding: provisional_ptsd_diagnosis:" in pcl5.stdout
    assert "finding: probable_ptsd:" in pcl5.stdout
    assert "safety flags: none" in pcl5.stdout
    assert partial.returncode == 0, describe(partial)
    assert "not scored, incomplete (no answer to item 3, 4, 5, 6, 7, 8)" in partial.stdout


def test_instruments_score_refuses_an_out_of_range_answer_or_an_unknown_instrument(tmp_path):
    bad = offline("instruments", "score", "phq9", "1", "9", tmp_path=tmp_path)
    unknown = offline("instruments", "score", "bdi", "1", tmp_path=tmp_path)

    assert bad.returncode == 1
    assert "phq9: item 2 answer 9 is out of range (0, 1, 2, 3)" in bad.stderr
    assert unknown.returncode == 1 and "unknown instrument 'bdi'" in unknown.stderr


def test_instruments_check_passes_the_template_and_names_the_problem_in_a_broken_file(tmp_path):
    broken = json.loads(YBOCS_TEMPLATE.read_text())
    del broken["items"][3]["text"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))

    good = offline("instruments", "check", str(YBOCS_TEMPLATE), tmp_path=tmp_path)
    bad = offline("instruments", "check", str(path), tmp_path=tmp_path)

    assert good.returncode == 0, describe(good)
    assert good.stdout.startswith("OK ybocs version 1.0.0: 10 items, total 0-40")
    assert bad.returncode == 1
    assert "instrument ybocs: item 4: text is required" in bad.stderr


def test_a_clinic_definition_loaded_on_the_command_line_is_listed_and_scored(
    deployment: Deployment, tmp_path: Path,
):
    document = {**json.loads(YBOCS_TEMPLATE.read_text()), "id": "e2e_ocd_scale", "short_name": "E2E-OCD"}
    path = tmp_path / "e2e_ocd_scale.json"
    path.write_text(json.dumps(document))

    loaded = deployment.ok("instruments", "load", str(path), "--organization", ORGANIZATION_SLUG)
    listed = deployment.ok("instruments", "list", "--organization", ORGANIZATION_SLUG)
    scored = deployment.ok("instruments", "score", "e2e_ocd_scale", "--organization", ORGANIZATION_SLUG,
                           *["3"] * 10)
    again = deployment.run("instruments", "load", str(path), "--organization", ORGANIZATION_SLUG)

    assert "Loaded e2e_ocd_scale version 1.0.0" in loaded.stdout
    assert re.search(r"^e2e_ocd_scale\s+1\.0\.0\s+.*\(clinic's own\)\s+clinician\s+0-40", listed.stdout,
                     re.MULTILINE), listed.stdout
    assert "total: 30 (range 0-40)" in scored.stdout and "band: severe" in scored.stdout
    assert again.returncode == 1 and "already loaded" in again.stderr


def test_measures_refresh_and_remind_run_on_the_demo_practice(deployment: Deployment):
    refreshed = deployment.ok("measures", "refresh")
    reminded = deployment.ok("measures", "remind", "--organization", ORGANIZATION_SLUG)
    unknown = deployment.run("measures", "remind", "--organization", "no-such-practice")

    assert re.search(rf"^{re.escape(ORGANIZATION_SLUG)}: due measures refreshed for \d+ patients$",
                     refreshed.stdout, re.MULTILINE), describe(refreshed)
    assert REMIND_LINE.search(reminded.stdout), describe(reminded)
    assert unknown.returncode == 1 and "no organization with the slug" in unknown.stderr
