"""`ketaflow fhir export | import | reindex` as an operator runs them, against the demo installation."""

from __future__ import annotations

import json
from pathlib import Path

from ketaflow.demo.practice import ORGANIZATION_SLUG
from tests.e2e.conftest import Deployment, clean_environment, describe, ketaflow_command
from tests.e2e.test_cli import listed_commands

ORG = ("--organization", ORGANIZATION_SLUG)


def test_fhir_help_lists_export_import_and_reindex(tmp_path):
    result = ketaflow_command("fhir", "--help", env=clean_environment(KETAFLOW_DATA_DIR=str(tmp_path)))

    assert result.returncode == 0, describe(result)
    assert listed_commands(result.stdout) == {"export", "import", "reindex"}, result.stdout


def test_export_writes_one_ndjson_file_per_type_with_the_counts_it_prints(deployment: Deployment, tmp_path):
    out = tmp_path / "export"
    result = deployment.ok(
        "fhir", "export", *ORG, "--out", str(out), "--type", "Patient", "--type", "Observation"
    )

    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert set(printed) == {"Patient", "Observation"}, result.stdout
    for resource_type in ("Patient", "Observation"):
        lines = (out / f"{resource_type}.ndjson").read_text().splitlines()
        assert printed[resource_type].startswith(f"{len(lines)} resource(s)")
        assert {json.loads(line)["resourceType"] for line in lines} == {resource_type}


def test_export_refuses_a_type_the_server_does_not_serve(deployment: Deployment, tmp_path):
    result = deployment.run("fhir", "export", *ORG, "--out", str(tmp_path), "--type", "Claim")

    assert result.returncode != 0
    assert "Claim" in result.stderr


def test_import_of_an_ndjson_file_with_a_bad_line_writes_nothing_and_names_the_line(
    deployment: Deployment, tmp_path: Path
):
    good = {
        "resourceType": "Patient",
        "name": [{"family": "Importtest", "given": ["Ada"]}],
        "birthDate": "1980-02-03",
        "gender": "female",
    }
    bad = {
        "resourceType": "Patient",
        "name": [{"family": "Importtest", "given": ["Bo"]}],
        "birthDate": "not-a-date",
    }
    refused = tmp_path / "refused.ndjson"
    refused.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n")
    accepted = tmp_path / "accepted.ndjson"
    accepted.write_text(f"{json.dumps(good)}\n")

    first = deployment.run("fhir", "import", str(refused), *ORG)
    second = deployment.ok("fhir", "import", str(accepted), *ORG)
    export = deployment.ok("fhir", "export", *ORG, "--out", str(tmp_path / "out"), "--type", "Patient")

    assert first.returncode == 1, describe(first)
    assert "refused.ndjson:2" in first.stdout + first.stderr and "birthDate" in first.stdout + first.stderr
    assert "Patient" in second.stdout, second.stdout
    families = [
        json.loads(line)["name"][0].get("family")
        for line in (tmp_path / "out" / "Patient.ndjson").read_text().splitlines()
    ]
    assert families.count("Importtest") == 1, export.stdout


def test_reindex_after_the_demo_rewrites_nothing(deployment: Deployment):
    result = deployment.ok("fhir", "reindex", *ORG)

    assert f"{ORGANIZATION_SLUG}: 0 written" in result.stdout, result.stdout
