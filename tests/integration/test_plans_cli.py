"""`ketaflow plans protocols` and `ketaflow plans dose`: the library and a dose with its arithmetic."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ketaflow.plans.commands import plans


def test_the_protocols_command_lists_each_key_with_its_version_route_and_dose():
    result = CliRunner().invoke(plans, ["protocols"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["key", "version", "route", "dose"]
    iv = next(line for line in lines if line.startswith("iv-depression "))
    assert iv.split()[1:3] == ["2026.11.1", "iv"] and iv.endswith("0.5 mg/kg, cap 100 mg")


def test_the_dose_command_prints_the_dose_and_every_line_of_arithmetic():
    result = CliRunner().invoke(plans, ["dose", "--protocol", "iv-depression", "--weight", "82"])
    assert result.exit_code == 0
    assert "Dose: 41 mg in 104.1 mL over 40 min" in result.output
    assert "  0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg" in result.output


def test_the_dose_command_names_the_bad_value_and_exits_1():
    result = CliRunner().invoke(plans, ["dose", "--protocol", "iv-depression", "--weight", "20"])
    assert result.exit_code == 1
    assert "weight_kg: 20.0 kg is outside the plausible range 35-250 kg" in result.output


@pytest.mark.django_db
def test_the_protocols_command_lists_an_organizations_library_and_refuses_an_unknown_one(practice):
    result = CliRunner().invoke(plans, ["protocols", "--organization", practice.org.slug])
    assert result.exit_code == 0 and "sublingual-home" in result.output
    missing = CliRunner().invoke(plans, ["protocols", "--organization", "no-such-practice"])
    assert missing.exit_code == 1 and "No organization 'no-such-practice'" in missing.output
