"""The FHIR REST API: metadata, authentication, read, formats, role permissions, audit, and writes."""

from __future__ import annotations

import importlib.util
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from fhirclient.models.capabilitystatement import CapabilityStatement

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.fhir import projection
from ketaflow.fhir.models import StoredResource
from tests.integration.fhir_support import FhirClient, validate

pytestmark = pytest.mark.django_db

PATIENT = str(uuid.uuid4())
HEART_RATE = {
    "resourceType": "Observation",
    "id": "hr-1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": f"Patient/{PATIENT}"},
    "effectiveDateTime": "2024-03-02T09:00:00+00:00",
    "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
}
inbound_ready = pytest.mark.skipif(
    importlib.util.find_spec("ketaflow.fhir.inbound") is None, reason="the inbound package is not written yet"
)


@pytest.fixture
def nurse(practice, stranger):
    projection.store(practice.org.pk, "", [HEART_RATE])
    projection.store(stranger.org.pk, "", [{**HEART_RATE, "id": "theirs"}])
    return FhirClient(practice.staff[Role.NURSE])


def diagnostics(response: Any) -> str:
    outcome = validate(response.content)
    assert outcome.get_resource_type() == "OperationOutcome"
    return " ".join(issue.diagnostics or "" for issue in outcome.issue)


def test_metadata_needs_no_token_and_is_a_capability_statement_real_clients_accept(db):
    response = Client().get("/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    validate(body)
    statement = CapabilityStatement(body)  # fhirclient's R4 model: raises on anything it cannot read
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    assert statement.implementation.url == "http://testserver/fhir"
    rest = statement.rest[0]
    assert "Bearer" in rest.security.description
    observation = next(r for r in rest.resource if r.type == "Observation")
    params = {p.name: p.type for p in observation.searchParam}
    assert params["date"] == "date" and params["code"] == "token" and params["subject"] == "reference"
    assert {"read", "search-type"} <= {i.code for i in observation.interaction}
    assert rest.operation[0].definition.endswith("/OperationDefinition/export")


def test_a_request_without_a_token_gets_401_as_an_operation_outcome(practice):
    response = Client().get("/fhir/Observation/hr-1")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in diagnostics(response)


def test_read_returns_the_stored_body_with_its_version_as_etag(nurse, practice):
    response = nurse.get("Observation/hr-1")
    stored = StoredResource.objects.get(organization=practice.org, resource_id="hr-1")
    assert response.status_code == 200
    assert response.content == stored.body.encode()
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"].endswith("GMT")
    projection.store(practice.org.pk, "", [{**HEART_RATE, "status": "amended"}])
    again = nurse.get("Observation/hr-1")
    assert again["ETag"] == 'W/"2"' and validate(again.content).status == "amended"
    assert nurse.client.get("/fhir/Observation/hr-1", headers={"If-None-Match": 'W/"2"'}).status_code == 304


def test_another_organizations_resource_is_not_found(nurse):
    response = nurse.get("Observation/theirs")
    assert response.status_code == 404
    assert "Observation/theirs" in diagnostics(response)


def test_an_unserved_type_is_404(nurse):
    assert nurse.get("Basic").status_code == 404


def test_a_read_is_audited_with_the_patient(nurse, practice):
    nurse.get("Observation/hr-1")
    event = AuditEvent.objects.filter(organization=practice.org, action="read").latest("seq")
    assert (event.object_type, event.object_id, event.patient_id) == (
        "Observation",
        "hr-1",
        uuid.UUID(PATIENT),
    )


@pytest.mark.parametrize("request_kind", ["accept", "format"])
def test_xml_is_refused_with_406(nurse, request_kind):
    if request_kind == "accept":
        response = nurse.client.get("/fhir/Observation/hr-1", headers={"Accept": "application/fhir+xml"})
    else:
        response = nurse.get("Observation/hr-1", _format="xml")
    assert response.status_code == 406
    assert "JSON" in diagnostics(response)


def test_front_desk_may_read_patients_but_not_observations(practice, nurse):
    projection.store(practice.org.pk, "", [{"resourceType": "Patient", "id": PATIENT, "gender": "female"}])
    desk = FhirClient(practice.staff[Role.FRONT_DESK])
    refused = desk.get("Observation", patient=PATIENT)
    assert refused.status_code == 403
    assert "clinical.view" in diagnostics(refused)
    assert desk.get(f"Patient/{PATIENT}").status_code == 200
    assert nurse.get("Observation", patient=PATIENT).json()["total"] == 1


def test_delete_is_not_allowed(nurse):
    response = nurse.delete("Observation/hr-1")
    assert response.status_code == 405
    assert "DELETE" in diagnostics(response)


# --- writes (through the inbound services) -------------------------------------------------------------


def new_patient(**changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "Restwright", "given": ["Ione"]}],
        "gender": "female",
        "birthDate": "1984-02-29",
        **changes,
    }


@inbound_ready
def test_create_answers_201_with_location_etag_and_the_stored_resource(practice):
    client = FhirClient(practice.staff[Role.NURSE])
    response = client.post("Patient", new_patient())
    assert response.status_code == 201, response.content
    created = validate(response.content)
    assert created.name[0].family == "Restwright"
    assert response["Location"] == f"http://testserver/fhir/Patient/{created.id}/_history/1"
    assert response["ETag"] == 'W/"1"'
    assert client.get(f"Patient/{created.id}").content == response.content


@inbound_ready
def test_update_honours_if_match_and_checks_the_body_against_the_url(practice):
    client = FhirClient(practice.staff[Role.NURSE])
    created = client.post("Patient", new_patient()).json()
    url = f"Patient/{created['id']}"
    changed = {**created, "name": [{"family": "Restwright-Vale", "given": ["Ione"]}]}
    assert client.put(url, changed, **{"If-Match": 'W/"7"'}).status_code == 412
    response = client.put(url, changed, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.content
    assert response.json()["name"][0]["family"] == "Restwright-Vale" and response["ETag"] == 'W/"2"'
    wrong_id = client.put(url, {**changed, "id": "someone-else"})
    assert wrong_id.status_code == 400 and "Patient.id" in json.dumps(wrong_id.json())
    wrong_type = client.put(url, {**changed, "resourceType": "Practitioner"})
    assert wrong_type.status_code == 400 and "Patient.resourceType" in json.dumps(wrong_type.json())


@inbound_ready
def test_a_transaction_bundle_posted_to_the_base_is_carried_out(practice):
    client = FhirClient(practice.staff[Role.NURSE])
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:8e1c3a52-4f0e-4a8e-9d61-1f8f3b0a6c11",
                "resource": new_patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    response = client.post("", bundle)
    assert response.status_code == 200, response.content
    reply = validate(response.content)
    assert reply.type == "transaction-response"
    assert reply.entry[0].response.status.startswith("201")
    created_id = reply.entry[0].response.location.split("/")[1]
    assert validate(client.get(f"Patient/{created_id}").content).name[0].family == "Restwright"


def test_writes_to_a_read_only_type_get_405(practice):
    client = FhirClient(practice.staff[Role.OWNER])
    response = client.post("Group", {"resourceType": "Group", "type": "person", "actual": True})
    assert response.status_code == 405
    assert "create of Group" in diagnostics(response)
