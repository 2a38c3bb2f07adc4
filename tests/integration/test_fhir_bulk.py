"""FHIR Bulk Data export: kick-off at each level, status and manifest, NDJSON files, filters,
refusals, tenancy, cancelling, progress, and the CLI's export to a directory."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import Action, AuditEvent
from ketaflow.fhir import projection
from ketaflow.fhir.bulk import runner
from ketaflow.fhir.bulk.directory import export_to_directory
from ketaflow.fhir.bulk.jobs import job_dir
from ketaflow.fhir.bulk.writer import write_export
from ketaflow.fhir.models import ExportJob, StoredResource
from tests.factories import ClinicFactory, PatientFactory
from tests.integration.fhir_support import FhirClient, validate

ASYNC = {"Prefer": "respond-async"}


@dataclass
class Planted:
    near: str  # our patient at the practice's clinic
    far: str  # our patient at another clinic of ours
    outsider: str  # the stranger organization's patient


def patient(patient_id: str, family: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "name": [{"family": family}],
        "gender": "female",
        "birthDate": "1985-06-15",
    }


def heart_rate(obs_id: str, patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2024-05-06T10:00:00+00:00",
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.KETAFLOW_DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def planted(practice, stranger) -> Planted:
    other_clinic = ClinicFactory(organization=practice.org)
    near, far = str(practice.patient.pk), str(PatientFactory(home_clinic=other_clinic).pk)
    outsider = str(stranger.patient.pk)
    projection.store(
        practice.org.pk,
        "",
        [
            patient(near, "Nearpatient"),
            patient(far, "Farpatient"),
            heart_rate("hr-near-1", near),
            heart_rate("hr-near-2", near),
            heart_rate("hr-far-1", far),
            {"resourceType": "Practitioner", "id": "pr-1", "name": [{"family": "Testdoc"}]},
        ],
    )
    projection.store(stranger.org.pk, "", [patient(outsider, "Outsider"), heart_rate("hr-out-1", outsider)])
    return Planted(near, far, outsider)


@pytest.fixture
def fhir(practice) -> FhirClient:
    return FhirClient(practice.staff[Role.PRESCRIBER])


def kick_off(fhir: FhirClient, path: str = "$export", **params: str) -> str:
    """Start an export; returns the status path (relative to /fhir/)."""
    response = fhir.client.get(f"/fhir/{path}", params, headers=ASYNC)
    assert response.status_code == 202, response.content
    return response["Content-Location"].split("/fhir/", 1)[1]


def manifest(fhir: FhirClient, status_path: str) -> dict[str, Any]:
    response = fhir.get(status_path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def files(fhir: FhirClient, status_path: str) -> dict[str, list[str]]:
    """Every output file of a completed job: type -> its lines, each checked as valid R4."""
    out: dict[str, list[str]] = {}
    for item in manifest(fhir, status_path)["output"]:
        response = fhir.client.get(item["url"], headers={"Accept": "application/fhir+ndjson"})
        assert response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()  # consuming it closes the file
        assert len(lines) == item["count"]
        for line in lines:
            validate(line)
        out[item["type"]] = lines
    return out


def stored_bodies(org_id: Any, resource_type: str, **filters: Any) -> list[str]:
    rows = StoredResource.objects.filter(organization_id=org_id, resource_type=resource_type, **filters)
    return list(rows.order_by("pk").values_list("body", flat=True))


def ids(lines: list[str]) -> set[str]:
    return {json.loads(line)["id"] for line in lines}


def test_system_export_writes_our_stored_resources_as_ndjson_and_never_the_strangers(fhir, planted, practice):
    status = kick_off(fhir)
    body = manifest(fhir, status)
    assert body["requiresAccessToken"] is True and body["error"] == []
    assert body["request"].endswith("/fhir/$export") and body["transactionTime"]
    written = files(fhir, status)
    assert {"Patient", "Observation", "Practitioner"} <= set(written)
    for resource_type, lines in written.items():
        assert lines == stored_bodies(practice.org.pk, resource_type)  # exactly the stored text, in order
    assert {planted.outsider, "hr-out-1"}.isdisjoint(
        ids([line for lines in written.values() for line in lines])
    )
    event = AuditEvent.objects.get(organization=practice.org, action=Action.EXPORT, object_type="FhirExport")
    assert event.detail["level"] == "system" and "Nearpatient" not in json.dumps(event.detail)


def test_patient_export_holds_the_patient_compartment_only(fhir, planted):
    written = files(fhir, kick_off(fhir, "Patient/$export"))
    assert "Practitioner" not in written
    assert ids(written["Patient"]) == {planted.near, planted.far}
    assert ids(written["Observation"]) == {"hr-near-1", "hr-near-2", "hr-far-1"}


def test_group_export_holds_only_the_patients_of_that_clinic(fhir, planted, practice):
    written = files(fhir, kick_off(fhir, f"Group/{practice.clinic.pk}/$export"))
    assert ids(written["Patient"]) == {planted.near}
    assert ids(written["Observation"]) == {"hr-near-1", "hr-near-2"}


def test_group_of_another_organization_is_not_found(fhir, planted, stranger):
    response = fhir.client.get(f"/fhir/Group/{stranger.clinic.pk}/$export", headers=ASYNC)
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not ExportJob.objects.exists()


def test_type_parameter_limits_the_export_to_the_types_named(fhir, planted):
    written = files(fhir, kick_off(fhir, _type="Observation"))
    assert list(written) == ["Observation"]
    assert ids(written["Observation"]) == {"hr-near-1", "hr-near-2", "hr-far-1"}


def test_a_posted_since_exports_only_what_changed_from_that_instant(fhir, planted, practice):
    long_ago = timezone.now() - dt.timedelta(days=30)
    StoredResource.objects.filter(organization=practice.org).exclude(resource_id="hr-far-1").update(
        last_updated=long_ago
    )
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Observation,Patient"},
            {"name": "_since", "valueInstant": since},
        ],
    }
    response = fhir.post("$export", parameters, Prefer="respond-async")
    assert response.status_code == 202, response.content
    written = files(fhir, response["Content-Location"].split("/fhir/", 1)[1])
    assert written == {"Observation": stored_bodies(practice.org.pk, "Observation", resource_id="hr-far-1")}


@pytest.mark.parametrize(
    ("path", "params", "headers", "named"),
    [
        ("$export", {}, {}, "Prefer: respond-async"),
        ("$export", {"_type": "Observation,Spaceship"}, ASYNC, "Spaceship"),
        ("Patient/$export", {"_type": "Practitioner"}, ASYNC, "Practitioner"),
        ("$export", {"_outputFormat": "text/csv"}, ASYNC, "text/csv"),
        ("$export", {"_since": "last tuesday"}, ASYNC, "last tuesday"),
        ("$export", {"_typeFilter": "Observation?code=8867-4"}, ASYNC, "_typeFilter"),
    ],
)
def test_a_bad_kick_off_is_refused_with_an_operation_outcome_naming_the_fault(
    fhir, practice, path, params, headers, named
):
    response = fhir.client.get(f"/fhir/{path}", params, headers=headers)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and named in outcome["issue"][0]["diagnostics"]
    assert not ExportJob.objects.exists()


def test_exporting_needs_the_right_to_read_every_type(practice, planted):
    front_desk = FhirClient(practice.staff[Role.FRONT_DESK])
    response = front_desk.client.get("/fhir/$export", headers=ASYNC)
    assert response.status_code == 403 and "clinical.view" in response.json()["issue"][0]["diagnostics"]
    assert ids(files(front_desk, kick_off(front_desk, _type="Patient"))["Patient"]) == {
        planted.near,
        planted.far,
    }


def test_another_organizations_job_and_files_are_not_found(fhir, planted, stranger):
    status = kick_off(fhir)
    file_url = manifest(fhir, status)["output"][0]["url"]
    outsider = FhirClient(stranger.staff[Role.PRESCRIBER])
    assert outsider.get(status).status_code == 404
    assert outsider.client.get(file_url).status_code == 404
    assert outsider.client.delete(f"/fhir/{status}").status_code == 404


def test_deleting_a_job_cancels_it_and_removes_its_files(fhir, planted):
    status = kick_off(fhir)
    job = ExportJob.objects.get()
    assert any(job_dir(job.pk).iterdir())
    assert fhir.delete(status).status_code == 202
    assert not job_dir(job.pk).exists()
    assert fhir.get(status).status_code == 404


def test_a_running_job_reports_its_progress_and_a_dead_one_is_reported_failed(fhir, practice):
    now = timezone.now()
    job = ExportJob.objects.create(
        organization=practice.org,
        level="system",
        request_url="http://testserver/fhir/$export",
        status=ExportJob.Status.RUNNING,
        transaction_time=now,
        progress={"type": "Observation", "done": 40_000, "total": 120_000, "at": now.isoformat()},
    )
    response = fhir.get(f"bulk/status/{job.pk}")
    assert response.status_code == 202 and response["Retry-After"]
    assert response["X-Progress"] == "Observation: 40,000 of 120,000 resources"
    ExportJob.objects.filter(pk=job.pk).update(
        progress={**job.progress, "at": (now - dt.timedelta(minutes=11)).isoformat()}
    )
    response = fhir.get(f"bulk/status/{job.pk}")
    assert response.status_code == 500 and "process" in response.json()["issue"][0]["diagnostics"]


def test_a_failed_export_reports_the_error_type_only_and_leaves_no_files(fhir, practice, monkeypatch, caplog):
    family = "Nearpatient"

    def broken(scope, out_dir, progress=None):
        (out_dir / "Patient.ndjson").parent.mkdir(parents=True)
        (out_dir / "Patient.ndjson").write_text("partial")
        raise OSError(f"No space left writing {family}")  # a message quoting data must not be logged

    monkeypatch.setattr(runner, "write_export", broken)
    response = fhir.get(kick_off(fhir))
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert response.status_code == 500 and "OSError" in diagnostics and "Nearpatient" not in diagnostics
    assert "OSError" in caplog.text and "Nearpatient" not in caplog.text
    assert not job_dir(ExportJob.objects.get().pk).exists()


def test_a_job_cancelled_while_running_stops_and_leaves_no_files(fhir, planted, monkeypatch):
    def cancelled_first(scope, out_dir, progress=None):
        ExportJob.objects.update(status=ExportJob.Status.CANCELLED)
        return write_export(scope, out_dir, progress)

    monkeypatch.setattr(runner, "write_export", cancelled_first)
    status = kick_off(fhir)
    assert fhir.get(status).status_code == 404
    assert not job_dir(ExportJob.objects.get().pk).exists()


def test_export_to_directory_writes_the_same_ndjson_files(planted, practice, tmp_path):
    seen: list[tuple[str, int, int]] = []
    written = export_to_directory(
        practice.org.pk,
        tmp_path / "out",
        level="group",
        group_id=str(practice.clinic.pk),
        types=["Observation"],
        progress=lambda *report: seen.append(report),
    )
    assert [(f.type, f.path.name, f.count) for f in written] == [("Observation", "Observation.ndjson", 2)]
    lines = written[0].path.read_text().splitlines()
    assert ids(lines) == {"hr-near-1", "hr-near-2"} and seen == [("Observation", 0, 2)]
    assert set(lines) <= set(stored_bodies(practice.org.pk, "Observation"))


@pytest.mark.django_db(transaction=True)
def test_thread_mode_runs_the_export_in_the_background(settings, practice, planted):
    if connection.vendor != "postgresql":  # SQLite's flush would DELETE the append-only audit rows
        pytest.skip("needs committed data another connection can read, and a flush that TRUNCATEs")
    settings.KETAFLOW_FHIR_EXPORT_INLINE = False
    fhir = FhirClient(practice.staff[Role.PRESCRIBER])
    status = kick_off(fhir, _type="Observation")
    for thread in threading.enumerate():  # started when the kick-off's transaction committed
        if thread.name.startswith("fhir-export-"):
            thread.join(timeout=30)
    assert ids(files(fhir, status)["Observation"]) == {"hr-near-1", "hr-near-2", "hr-far-1"}
