"""The FHIR R4 API as real clients use it, against the live server (gunicorn) over the demo practice.

fhirpy (async) and SMART's fhirclient (sync, its own strict R4 models) create, read, update, search and
page; a Bulk Data client runs `$export` through the server's background runner and downloads the
NDJSON; errors arrive as OperationOutcomes. The token is made with the real CLI for `owner` (owner and
prescriber: demographics and clinical records, read and write). Every name written is synthetic.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import string
from contextlib import aclosing
from typing import Any

import pytest
import requests
from fhirclient.client import FHIRClient
from fhirclient.models.condition import Condition
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRServer
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from tests.e2e.conftest import DEMO_PATIENTS, Deployment, LiveServer
from tests.e2e.fhir_live import FHIR_JSON, FhirEndpoint, cli_token, run_export, validate_r4

USERNAME = "owner"
LOINC = "http://loinc.org"
HEART_RATE = "8867-4"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
GAD = "21897009"  # generalised anxiety disorder: in ketaflow's condition catalogue
VITAL_SIGNS = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
ACTIVE = {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
DEMO_MRN = "KF-000001"
PAGE = 5


@pytest.fixture(scope="module")
def fhir(deployment: Deployment, ketaflow_server: LiveServer) -> FhirEndpoint:
    return FhirEndpoint(f"{ketaflow_server.url}/fhir", cli_token(deployment, USERNAME))


def synthetic_family(stem: str) -> str:
    """A surname no demo patient has (letters only, so a name search matches it as one word)."""
    return stem + "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))


def total(fhir: FhirEndpoint, query: str) -> int:
    """Bundle.total of `<query>&_count=0` (no entries), fetched without any client library."""
    response = fhir.session().get(f"{fhir.base}/{query}", params={"_count": "0"}, timeout=30)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert "entry" not in bundle, bundle
    return int(bundle["total"])


# --- fhirpy (async) --------------------------------------------------------------------------------


def plain(data: Any) -> dict[str, Any]:
    """fhirpy's raw Bundle (dict subclasses holding resource objects) as plain JSON data."""
    return json.loads(json.dumps(data))


def fhirpy_client(fhir: FhirEndpoint, **headers: str) -> AsyncFHIRClient:
    return AsyncFHIRClient(fhir.base, authorization=fhir.authorization, extra_headers=headers or None)


def new_patient(client: AsyncFHIRClient, family: str) -> Any:
    return client.resource(
        "Patient", name=[{"family": family, "given": ["Odessa"]}], birthDate="1988-02-14", gender="female"
    )


def test_fhirpy_creates_reads_updates_and_finds_a_patient(fhir: FhirEndpoint):
    family = synthetic_family("Quarrington")

    async def scenario() -> tuple[dict[str, Any], ...]:
        client = fhirpy_client(fhir)
        patient = new_patient(client, family)
        await patient.save()
        created = patient.serialize()
        read = (await client.reference("Patient", patient.id).to_resource()).serialize()
        patient["birthDate"] = "1988-02-15"
        await patient.save()
        reread = (await client.reference("Patient", patient.id).to_resource()).serialize()
        found = await client.resources("Patient").search(name=family.lower()).fetch_all()
        return created, read, reread, *(f.serialize() for f in found)

    created, read, reread, *found = asyncio.run(scenario())

    assert read["id"] == created["id"]
    assert read["name"][0]["family"] == family
    assert (read["birthDate"], read["gender"]) == ("1988-02-14", "female")
    assert reread["birthDate"] == "1988-02-15"
    assert int(reread["meta"]["versionId"]) == int(read["meta"]["versionId"]) + 1
    assert [p["id"] for p in found] == [created["id"]]
    assert found[0]["meta"]["versionId"] == reread["meta"]["versionId"]
    for resource in (read, reread, *found):
        validate_r4(resource)


def heart_rate(client: AsyncFHIRClient, patient_id: str, beats: int) -> Any:
    return client.resource(
        "Observation",
        status="final",
        category=[{"coding": [VITAL_SIGNS]}],
        code={"coding": [{"system": LOINC, "code": HEART_RATE, "display": "Heart rate"}]},
        subject={"reference": f"Patient/{patient_id}"},
        effectiveDateTime="2026-03-02T15:30:00Z",
        valueQuantity={"value": beats, "unit": "beats/minute", "system": UCUM, "code": "/min"},
    )


def test_fhirpy_records_a_heart_rate_and_finds_it_by_patient_and_loinc_code(fhir: FhirEndpoint):
    async def scenario() -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        client = fhirpy_client(fhir)
        patient = new_patient(client, synthetic_family("Vantongeren"))
        await patient.save()
        observation = heart_rate(client, patient.id, 68)
        await observation.save()
        search = client.resources("Observation").search(patient=patient.id, code=f"{LOINC}|{HEART_RATE}")
        found = await search.fetch_all()
        return patient.id, observation.serialize(), [f.serialize() for f in found]

    patient_id, stored, found = asyncio.run(scenario())

    assert stored["subject"]["reference"] == f"Patient/{patient_id}"
    assert stored["valueQuantity"] == {"value": 68, "unit": "/min", "system": UCUM, "code": "/min"}
    assert {"system": LOINC, "code": HEART_RATE} in [
        {"system": c["system"], "code": c["code"]} for c in stored["code"]["coding"]
    ]
    assert [f["id"] for f in found] == [stored["id"]]
    assert found[0]["valueQuantity"]["value"] == 68
    validate_r4(found[0])


def test_fhirpy_pages_the_demo_observations_through_next_links(fhir: FhirEndpoint):
    async def scenario() -> tuple[dict[str, Any], list[str], int]:
        search = fhirpy_client(fhir).resources("Observation").limit(PAGE)
        first_page = plain(await search.fetch_raw())
        seen: list[str] = []
        async with aclosing(aiter(search)) as observations:  # fhirpy follows Bundle.link "next"
            async for observation in observations:
                seen.append(observation.id)
                if len(seen) == 3 * PAGE:
                    break
        return first_page, seen, await search.count()

    first_page, seen, counted = asyncio.run(scenario())
    first_ids = [entry["resource"]["id"] for entry in first_page["entry"]]

    assert len(first_ids) == PAGE
    assert seen[:PAGE] == first_ids
    assert len(set(seen)) == 3 * PAGE, "pages overlap"
    assert "next" in {link["relation"] for link in first_page["link"]}
    assert counted == first_page["total"] == total(fhir, "Observation")
    assert counted > 1000  # the demo's vitals and questionnaire items, not just a page
    for entry in first_page["entry"]:
        validate_r4(entry["resource"])


# --- SMART fhirclient (sync, R4 models) -------------------------------------------------------------


def smart_server(fhir: FhirEndpoint) -> FHIRServer:
    """fhirclient connected to the base; the bearer token rides on its requests session."""
    smart = FHIRClient(settings={"app_id": "ketaflow-e2e", "api_base": fhir.base})
    smart.server.session.headers["Authorization"] = fhir.authorization
    assert smart.prepare()  # fetches /metadata and parses it with fhirclient's CapabilityStatement
    return smart.server


def test_fhirclient_parses_the_capability_statement_and_reads_a_demo_patient(fhir: FhirEndpoint):
    server = smart_server(fhir)
    capability = server.capabilityStatement
    resources = {resource.type: resource for resource in capability.rest[0].resource}
    patient_search = {param.name for param in resources["Patient"].searchParam}

    found = list(Patient.where(struct={"identifier": DEMO_MRN}).perform_resources_iter(server))
    patient = Patient.read(found[0].id, server)

    assert capability.fhirVersion == "4.0.1"
    assert {"Patient", "Observation", "Condition", "Encounter"} <= resources.keys()
    assert {i.code for i in resources["Patient"].interaction} >= {"read", "search-type", "create", "update"}
    assert {"name", "birthdate", "identifier"} <= patient_search
    assert [p.id for p in found] == [patient.id]
    assert DEMO_MRN in [identifier.value for identifier in patient.identifier]
    assert patient.name[0].family and patient.birthDate.isostring
    validate_r4(patient.as_json())


def test_fhirclient_follows_next_links_through_every_patient(fhir: FhirEndpoint):
    server = smart_server(fhir)
    expected = total(fhir, "Patient")

    # perform_iter reads each Bundle.link "next" URL with server.request_json, into fhirclient's Bundle
    pages = list(Patient.where(struct={"_count": str(PAGE)}).perform_iter(server))
    ids = [entry.resource.id for page in pages for entry in page.entry or []]

    assert expected >= DEMO_PATIENTS
    assert len(pages) == math.ceil(expected / PAGE)
    assert all(page.total == expected for page in pages)
    assert len(ids) == len(set(ids)) == expected
    assert all(isinstance(entry.resource, Patient) for page in pages for entry in page.entry or [])
    assert server.request_json("Patient?_count=0")["total"] == expected


def test_fhirclient_creates_a_patient_and_a_coded_condition(fhir: FhirEndpoint):
    server = smart_server(fhir)
    family = synthetic_family("Brightwater")
    demographics = {
        "name": [{"family": family, "given": ["Tobiah"]}],
        "birthDate": "1979-08-30",
        "gender": "male",
    }
    patient = Patient.read(Patient({"resourceType": "Patient", **demographics}).create(server)["id"], server)
    condition = Condition(
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [ACTIVE]},
            "code": {"coding": [{"system": SNOMED, "code": GAD, "display": "Generalised anxiety disorder"}]},
            "subject": {"reference": f"Patient/{patient.id}"},
            "onsetDateTime": "2024-02-01",
        }
    )

    stored = Condition.read(condition.create(server)["id"], server)
    search = Condition.where(struct={"patient": patient.id, "code": f"{SNOMED}|{GAD}"})
    found = list(search.perform_resources_iter(server))

    assert patient.name[0].family == family
    assert (patient.birthDate.isostring, patient.gender) == ("1979-08-30", "male")
    assert stored.subject.reference == f"Patient/{patient.id}"
    assert (SNOMED, GAD) in [(coding.system, coding.code) for coding in stored.code.coding]
    assert stored.clinicalStatus.coding[0].code == "active"
    assert stored.onsetDateTime.isostring.startswith("2024-02-01")
    assert [c.id for c in found] == [stored.id]
    validate_r4(stored.as_json())


# --- Bulk Data $export (the server's background runner) ---------------------------------------------


def test_system_export_runs_in_the_background_and_its_files_match_the_manifest(fhir: FhirEndpoint):
    run, files = run_export(fhir, "$export")
    manifest = run.manifest
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    unauthenticated = requests.get(manifest["output"][0]["url"], timeout=30)

    assert manifest["request"] == f"{fhir.base}/$export"
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert all(run.progress) and all(run.retry_after), "a 202 without X-Progress or Retry-After"
    assert {"Patient", "Observation", "Condition", "Encounter", "Questionnaire"} <= counts.keys()
    assert counts["Patient"] == total(fhir, "Patient")
    for item in manifest["output"]:
        resources = files[item["type"]]
        assert len(resources) == item["count"], item["type"]
        assert {resource["resourceType"] for resource in resources} == {item["type"]}
        assert len({resource["id"] for resource in resources}) == item["count"], item["type"]
        validate_r4(resources[0])
        validate_r4(resources[-1])
    assert unauthenticated.status_code == 401


def test_group_export_holds_only_that_clinics_patients(fhir: FhirEndpoint):
    groups = fhir.session().get(f"{fhir.base}/Group", timeout=30).json()
    first, second = sorted(entry["resource"]["id"] for entry in groups["entry"])

    run, files = run_export(fhir, f"Group/{first}/$export?_type=Patient,Observation")
    _, others = run_export(fhir, f"Group/{second}/$export?_type=Patient")
    members = {patient["id"] for patient in files["Patient"]}
    other_members = {patient["id"] for patient in others["Patient"]}
    subjects = {obs["subject"]["reference"].removeprefix("Patient/") for obs in files["Observation"]}

    assert run.manifest["request"].startswith(f"{fhir.base}/Group/{first}/$export")
    assert members and other_members
    assert members.isdisjoint(other_members)
    assert len(members) + len(other_members) <= total(fhir, "Patient")
    assert subjects and subjects <= members
    validate_r4(files["Patient"][0])


# --- Errors ------------------------------------------------------------------------------------------


def test_an_invalid_birth_date_is_refused_with_an_outcome_naming_the_element(fhir: FhirEndpoint):
    family = synthetic_family("Invalidson")
    response = fhir.session().post(
        f"{fhir.base}/Patient",
        json={"resourceType": "Patient", "name": [{"family": family}], "birthDate": "not-a-date"},
        headers={"Content-Type": FHIR_JSON},
        timeout=30,
    )
    outcome = response.json()

    assert response.status_code in (400, 422), response.text
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    assert outcome["resourceType"] == "OperationOutcome"
    assert any("Patient.birthDate" in issue.get("expression", []) for issue in outcome["issue"])
    assert all(issue["severity"] == "error" for issue in outcome["issue"])
    assert total(fhir, f"Patient?family={family.lower()}") == 0
    validate_r4(outcome)


def test_an_unknown_search_parameter_is_refused_when_strict_and_reported_when_lenient(fhir: FhirEndpoint):
    strict = fhir.session().get(
        f"{fhir.base}/Patient",
        params={"favourite-colour": "teal"},
        headers={"Prefer": "handling=strict"},
        timeout=30,
    )

    async def lenient() -> tuple[dict[str, Any], list[str]]:
        search = fhirpy_client(fhir).resources("Patient").search(**{"favourite-colour": "teal"}).limit(PAGE)
        return plain(await search.fetch_raw()), [p.resourceType for p in await search.fetch()]

    async def strict_fhirpy() -> dict[str, Any]:
        search = fhirpy_client(fhir, Prefer="handling=strict").resources("Patient")
        with pytest.raises(OperationOutcome) as refused:
            await search.search(**{"favourite-colour": "teal"}).fetch()
        return refused.value.resource

    bundle, types = asyncio.run(lenient())
    refused = asyncio.run(strict_fhirpy())
    warning = bundle["entry"][0]

    assert strict.status_code == 400, strict.text
    assert "favourite-colour" in strict.json()["issue"][0]["diagnostics"]
    assert "favourite-colour" in refused["issue"][0]["diagnostics"]
    assert warning["search"]["mode"] == "outcome"
    assert warning["resource"]["issue"][0]["severity"] == "warning"
    assert "favourite-colour" in warning["resource"]["issue"][0]["diagnostics"]
    assert types == ["Patient"] * PAGE
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "favourite-colour" not in self_link
    validate_r4(bundle)
