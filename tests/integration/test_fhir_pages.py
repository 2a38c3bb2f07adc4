"""The Data exchange (FHIR) staff page: connection facts, exports started and downloaded without a
token, organization scoping, role refusals, and imports of uploaded files with their results."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import Action, AuditEvent
from ketaflow.fhir import forms
from ketaflow.fhir.bulk import jobs, runner
from ketaflow.fhir.bulk.scope import build_scope
from ketaflow.fhir.models import ExportJob, StoredResource
from ketaflow.fhir.values import LOINC, UCUM
from ketaflow.patients.models import Patient
from tests.factories import ClinicFactory, PatientFactory, StaffFactory
from tests.integration.fhir_support import validate
from tests.integration.pages import signed_in, text_of

pytestmark = pytest.mark.django_db

PAGE = "/settings/fhir/"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.KETAFLOW_DATA_DIR = tmp_path / "data"
    return settings.KETAFLOW_DATA_DIR


@pytest.fixture
def boss(practice):
    """A physician owner: runs the practice and may read every kind of record."""
    return signed_in(StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER]))


def only_job(org: Any) -> ExportJob:
    (job,) = ExportJob.objects.filter(organization=org)
    return job


def downloaded_lines(client: Any, job: ExportJob, resource_type: str) -> list[str]:
    response = client.get(f"{PAGE}exports/{job.pk}/files/{resource_type}.ndjson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+ndjson"
    return b"".join(response.streaming_content).decode().splitlines()


def upload(client: Any, name: str, resources: list[dict[str, Any]]) -> Any:
    content = "".join(json.dumps(resource) + "\n" for resource in resources).encode()
    return client.post(f"{PAGE}import/", {"uploads": [SimpleUploadedFile(name, content)]})


def test_the_page_gives_the_base_url_version_and_how_to_get_a_token(client_as, practice):
    text = text_of(client_as(Role.FRONT_DESK).get(PAGE))
    assert "Server address http://testserver/fhir " in text
    assert "http://testserver/fhir/metadata" in text
    assert "R4 (4.0.1)" in text and "JSON only" in text
    assert f"ketaflow token create {practice.staff[Role.FRONT_DESK].user.username}" in text
    assert f"Group/{practice.clinic.pk}" in text


def test_an_owner_exports_the_whole_practice_and_downloads_the_stored_bodies(boss, practice):
    response = boss.post(f"{PAGE}exports/", {"scope": "practice"})
    assert response.status_code == 302
    job = only_job(practice.org)
    assert (job.status, job.level, job.request_url) == (
        "completed",
        "system",
        "http://testserver/fhir/$export",
    )
    text = text_of(boss.get(PAGE))
    assert "The whole practice Every kind Completed" in text
    assert "Patient.ndjson 1 " in text
    lines = downloaded_lines(boss, job, "Patient")
    stored = StoredResource.objects.filter(organization=practice.org, resource_type="Patient")
    assert lines == list(stored.order_by("pk").values_list("body", flat=True))
    for line in lines:
        validate(line)
    (event,) = AuditEvent.objects.filter(object_type="FhirExportFile")
    assert (event.action, event.object_id, event.detail) == (
        Action.EXPORT,
        str(job.pk),
        {"type": "Patient", "count": 1},
    )


def test_a_clinic_export_holds_only_that_clinics_patients_and_no_practice_records(boss, practice):
    other = ClinicFactory(organization=practice.org, name="Hillside")
    far = PatientFactory(home_clinic=other)
    refused = boss.post(f"{PAGE}exports/", {"scope": str(other.pk), "types": ["Practitioner"]})
    assert refused.status_code == 422
    assert "export holds patient records only: clear Staff (Practitioner)." in text_of(refused)
    assert not ExportJob.objects.exists()
    boss.post(f"{PAGE}exports/", {"scope": str(other.pk), "types": ["Patient", "Condition"]})
    job = only_job(practice.org)
    assert (job.level, job.group_id, job.types) == ("group", str(other.pk), ["Patient", "Condition"])
    assert [json.loads(line)["id"] for line in downloaded_lines(boss, job, "Patient")] == [str(far.pk)]
    assert "Patients of Hillside Patient, Condition Completed" in text_of(boss.get(PAGE))


def test_another_organizations_export_and_its_file_are_not_found(boss, stranger):
    actor = Actor.system(stranger.org.pk)
    job = jobs.create_job(actor, build_scope(stranger.org.pk, "system"), "http://elsewhere/fhir/$export")
    runner.run(job.pk)
    assert boss.get(f"{PAGE}exports/{job.pk}/files/Patient.ndjson").status_code == 404
    assert boss.post(f"{PAGE}exports/{job.pk}/delete/").status_code == 404
    assert str(job.pk) not in boss.get(PAGE).content.decode()
    job.refresh_from_db()
    assert job.status == "completed" and jobs.job_dir(job.pk).is_dir()


def test_a_role_that_may_not_read_clinical_records_sees_why_and_cannot_export(client_as, practice):
    owner = client_as(Role.OWNER)  # an owner without a clinical role
    text = text_of(owner.get(PAGE))
    assert "Your role cannot start an export." in text
    assert "Your role may not read completed questionnaires, vital signs and scores, diagnoses" in text
    assert "Start the export" not in text
    refused = owner.post(f"{PAGE}exports/", {"scope": "practice"})
    assert refused.status_code == 403
    assert "Your role may not read: completed questionnaires" in text_of(refused)
    assert not ExportJob.objects.exists()


def test_the_export_list_polls_only_while_an_export_runs_and_shows_its_progress(boss, practice):
    job = jobs.create_job(Actor.system(practice.org.pk), build_scope(practice.org.pk, "system"), "x")
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", progress={"type": "Observation", "done": 40000, "total": 120000}
    )
    html = boss.get(f"{PAGE}exports/recent/").content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "Observation: 40,000 of 120,000 resources" in html
    ExportJob.objects.filter(pk=job.pk).update(status="completed", output=[])
    html = boss.get(f"{PAGE}exports/recent/").content.decode()
    assert "hx-trigger" not in html and "No records matched." in html


def test_uploading_two_patients_creates_them_and_shows_the_counts(client_as, monkeypatch):
    patients = [
        {
            "resourceType": "Patient",
            "id": f"src-{n}",
            "name": [{"family": f"Uploadson{n}", "given": ["Ada"]}],
            "gender": "female",
            "birthDate": f"1980-02-0{n}",
        }
        for n in (1, 2)
    ]
    before, owner = Patient.objects.count(), client_as(Role.OWNER)
    monkeypatch.setattr(forms, "MAX_RESOURCES", 1)
    too_many = upload(owner, "clinic-export.ndjson", patients)
    assert (too_many.status_code, Patient.objects.count()) == (422, before)
    assert "These files hold 2 records; this page imports up to 1 at a time." in text_of(too_many)
    monkeypatch.undo()
    response = upload(owner, "clinic-export.ndjson", patients)
    assert Patient.objects.count() == before + 2
    text = text_of(response)
    assert "The file was imported." in text
    assert "clinic-export.ndjson Patient 2 created" in text


def test_an_upload_with_a_bad_line_writes_nothing_and_names_the_line_and_element(client_as):
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Badfile", "given": ["Bo"]}],
        "birthDate": "1975-01-01",
    }
    pulse = {
        "resourceType": "Observation",
        "id": "hr1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
        "effectiveDateTime": "2024-06-01",
        "valueQuantity": {"value": "x", "unit": "/min", "system": UCUM, "code": "/min"},
    }
    before = Patient.objects.count()
    response = upload(client_as(Role.PRESCRIBER), "vitals.ndjson", [patient, pulse])
    assert Patient.objects.count() == before
    text = text_of(response)
    assert "Nothing was imported" in text
    assert "Where vitals.ndjson:2 Field Observation.valueQuantity.value" in text


def test_an_upload_the_role_may_not_write_is_refused_with_the_reason(client_as):
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/nobody"},
        "code": {"text": "Low mood"},
    }
    text = text_of(upload(client_as(Role.FRONT_DESK), "problems.ndjson", [condition]))
    assert "Your role may not import Condition" in text
    assert "Where problems.ndjson:1" in text
    assert "Your role does not allow you to write Condition (clinical.edit)" in text
