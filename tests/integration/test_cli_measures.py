"""`ketaflow instruments …` and `ketaflow measures …` against the test database (click's CliRunner).

The same commands run as real processes against a demo installation in tests/e2e/test_cli_measures.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.core import mail
from django.utils import timezone

from ketaflow import cli
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.cli import main
from ketaflow.measurement import schedule
from ketaflow.measurement.models import ClinicInstrument, MeasureDue, MeasurementPlan, Reminder
from ketaflow.patients.models import ContactMethod
from tests.factories import PatientFactory, actor_of

YBOCS_TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ybocs-template.json"


@pytest.fixture(autouse=True)
def django_already_set_up(monkeypatch):
    """pytest-django set Django up; setting it up again inside CliRunner would point the logging
    handlers at CliRunner's temporary streams, closed once the command returns."""
    monkeypatch.setattr(cli, "_django", lambda mode=None: None)


def ketaflow(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_instruments_load_stores_the_definition_for_the_organization_as_the_cli(practice):
    result = ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", practice.org.slug)

    assert result.exit_code == 0, result.output
    assert f"Loaded ybocs version 1.0.0 for {practice.org.name}." in result.output
    row = ClinicInstrument.objects.get()
    assert (row.organization_id, row.instrument_id, row.loaded_by_id) == (practice.org.id, "ybocs", None)
    event = AuditEvent.objects.get(object_type="ClinicInstrument")
    assert (event.username, event.via) == ("system:cli", "cli")


def test_instruments_load_refuses_a_second_copy_and_an_unknown_organization(practice, tmp_path):
    ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", practice.org.slug)

    again = ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", practice.org.slug)
    nowhere = ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", "no-such-practice")

    assert again.exit_code == 1 and "already loaded; raise the version" in again.output
    assert nowhere.exit_code == 1 and "no organization with the slug 'no-such-practice'" in nowhere.output
    assert ClinicInstrument.objects.count() == 1


def test_instruments_list_with_an_organization_adds_its_own_definitions(practice, stranger):
    ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", practice.org.slug)

    ours = ketaflow("instruments", "list", "--organization", practice.org.slug)
    theirs = ketaflow("instruments", "list", "--organization", stranger.org.slug)
    builtin = ketaflow("instruments", "list")

    assert re.search(r"^ybocs\s+1\.0\.0\s+Yale-Brown .*\(clinic's own\)\s+clinician\s+0-40\s+Copyrighted",
                     ours.output, re.MULTILINE), ours.output
    assert "ybocs" not in theirs.output and "ybocs" not in builtin.output
    assert re.search(r"^phq9\s+1\.0\.0\s+Patient Health Questionnaire-9\s+patient\s+0-27\s+Free to",
                     theirs.output, re.MULTILINE), theirs.output


def test_instruments_score_can_score_an_organizations_own_definition(practice):
    ketaflow("instruments", "load", str(YBOCS_TEMPLATE), "--organization", practice.org.slug)

    result = ketaflow("instruments", "score", "ybocs", "--organization", practice.org.slug,
                      "2", "2", "2", "2", "2", "1", "1", "1", "1", "2")

    assert result.exit_code == 0, result.output
    assert "total: 16 (range 0-40)" in result.output and "band: moderate" in result.output


def emailed_patient(practice):
    return PatientFactory(home_clinic=practice.clinic, email="patient@example.test",
                          preferred_contact=ContactMethod.EMAIL)


def test_measures_remind_sends_the_due_reminders_and_prints_what_it_did(practice, stranger):
    actor = actor_of(practice.staff[Role.PRESCRIBER])
    schedule.set_plan(actor, emailed_patient(practice).pk, stage="evaluation")
    unreachable = PatientFactory(home_clinic=practice.clinic, email="", phone_mobile="")
    schedule.set_plan(actor, unreachable.pk, stage="evaluation")

    first = ketaflow("measures", "remind")
    again = ketaflow("measures", "remind", "--organization", practice.org.slug)

    assert first.exit_code == 0, first.output
    assert f"{practice.org.slug}: 2 patients, 1 sent, 0 failed, 1 skipped" in first.output
    assert f"{stranger.org.slug}: 0 patients, 0 sent, 0 failed, 0 skipped" in first.output
    assert len(mail.outbox) == 1 and "/q/" in mail.outbox[0].body
    assert again.output.strip() == f"{practice.org.slug}: 0 patients, 0 sent, 0 failed, 0 skipped"
    assert Reminder.objects.count() == 2


def test_measures_remind_exits_1_when_a_reminder_failed_to_send(practice, settings):
    settings.KETAFLOW_SMS_BACKEND = "tests.integration.test_reminders.RefusingSMSBackend"
    patient = PatientFactory(home_clinic=practice.clinic, preferred_contact=ContactMethod.SMS)
    schedule.set_plan(actor_of(practice.staff[Role.PRESCRIBER]), patient.pk, stage="evaluation")

    result = CliRunner().invoke(main, ["measures", "remind", "--organization", practice.org.slug])

    assert result.exit_code == 1
    assert f"{practice.org.slug}: 1 patients, 0 sent, 1 failed, 0 skipped" in result.output
    assert "1 reminder(s) failed to send" in result.output


def test_measures_refresh_recomputes_the_due_rows_of_every_patient_with_a_plan(practice, stranger):
    actor = actor_of(practice.staff[Role.PRESCRIBER])
    planned = [PatientFactory(home_clinic=practice.clinic) for _ in range(3)]
    for patient in planned:
        schedule.set_plan(actor, patient.pk, stage="evaluation")
    MeasureDue.objects.all().delete()  # as if the schedule data changed since
    started = timezone.now()
    MeasurementPlan.objects.update(stage_started_at=started)

    result = ketaflow("measures", "refresh", "--organization", practice.org.slug)

    assert result.exit_code == 0, result.output
    assert f"{practice.org.slug}: due measures refreshed for 3 patients" in result.output
    due = MeasureDue.objects.filter(status="open")
    assert {row.patient_id for row in due} == {p.pk for p in planned}
    assert {row.instrument_id for row in due} == {"phq9", "gad7", "cssrs_screener"}
    assert all(row.due_at == started for row in due)
    assert not MeasureDue.objects.filter(patient=practice.patient).exists()  # no plan, nothing due


def test_measures_refresh_without_an_organization_covers_every_one(practice, stranger):
    result = ketaflow("measures", "refresh")

    assert result.exit_code == 0, result.output
    for org in (practice.org, stranger.org):
        assert f"{org.slug}: due measures refreshed for 0 patients" in result.output


@pytest.mark.parametrize("command", ["remind", "refresh"])
def test_measures_commands_refuse_an_unknown_organization(db, command):
    result = CliRunner().invoke(main, ["measures", command, "--organization", "nowhere"])

    assert result.exit_code == 1
    assert "no organization with the slug 'nowhere'" in result.output


def test_instruments_check_accepts_the_ybocs_template_without_a_database():
    result = ketaflow("instruments", "check", str(YBOCS_TEMPLATE))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "OK ybocs version 1.0.0: 10 items, total 0-40 (sum), clinician-rated"


def test_instruments_check_names_the_problem_and_exits_1(tmp_path):
    broken = json.loads(YBOCS_TEMPLATE.read_text())
    broken["bands"] = broken["bands"][:2]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    not_json = tmp_path / "notes.json"
    not_json.write_text("{ id: ybocs")

    result = CliRunner().invoke(main, ["instruments", "check", str(path)])
    garbled = CliRunner().invoke(main, ["instruments", "check", str(not_json)])

    assert result.exit_code == 1
    assert "instrument ybocs: bands: must cover the whole range 0-40" in result.output
    assert garbled.exit_code == 1 and "is not valid JSON" in garbled.output
