"""The OpenAPI schema and docs page, and the one error shape every failure shares."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client

from ketaflow.accounts.roles import Role
from ketaflow.api.app import api
from ketaflow.patients.models import Patient
from tests.integration.test_api_support import API_TEST_MARKS, V1, api_as, field_errors, patient_body

pytestmark = API_TEST_MARKS

PAGE_KEYS = {"items", "total", "page", "page_size", "pages", "next", "previous"}


def served_schema() -> Any:
    """The schema as clients see it (JSON: status codes become string keys)."""
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/"), default=str))


def test_the_schema_is_served_and_lists_the_endpoints(db):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert (schema["info"]["title"], schema["info"]["version"]) == ("ketaflow API", "1")
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/patients", "post"),
        ("/api/v1/patients/{patient_id}", "patch"),
        ("/api/v1/patients/{patient_id}/conditions", "get"),
        ("/api/v1/alerts/{alert_id}/resolve", "post"),
        ("/api/v1/staff", "post"),
        ("/api/v1/clinics/{clinic_id}/rooms/{room_id}", "patch"),
        ("/api/v1/audit-events", "get"),
        ("/api/v1/me", "get"),
    ]:
        assert method in paths[path], (method, path)
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "StaffSession"}
    assert schema == served_schema()


def test_every_list_has_the_same_page_shape_and_every_operation_documents_its_errors(db):
    schema = served_schema()
    components = schema["components"]["schemas"]
    lists = 0
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            assert op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorsOut"
            )
            assert "422" in op["responses"] and "401" in op["responses"]
            ok = (
                op["responses"]
                .get("200", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            name = ok.get("$ref", "").rsplit("/", 1)[-1]
            if name.endswith("Page"):
                lists += 1
                assert set(components[name]["properties"]) == PAGE_KEYS, (method, path)
                assert components[name]["properties"]["items"]["type"] == "array"
    assert lists >= 8


def test_the_docs_page_loads_swagger_from_this_server_only(db):
    response = Client().get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>ketaflow API</title>" in html and 'id="swagger-ui"' in html
    assert '"url": "/api/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/api/docs/assets/") for s in sources), sources
    assert not re.search(r"<script>(?!\s*</script>)", html), "inline script would be blocked by the CSP"
    for source in sources:
        asset = Client().get(source)
        assert asset.status_code == 200, source
        assert b"".join(asset.streaming_content)
    assert Client().get("/api/docs/assets/..%2Fmain.py").status_code == 404


def test_unknown_api_urls_get_the_json_not_found_body(db):
    for url in ("/api/", "/api/v1/", "/api/v1/nothing-here", "/api/v2/patients"):
        response = Client().get(url)
        assert response.status_code == 404, url
        assert response.json() == {"errors": [{"field": None, "message": "Not found."}]}


def test_malformed_json_gets_400_in_the_error_shape(practice):
    desk = api_as(practice.staff[Role.FRONT_DESK])
    response = desk.client.post(f"{V1}/patients", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert field_errors(response) == {None: "The request body is not valid JSON."}


def test_a_json_array_where_an_object_belongs_gets_422(practice):
    desk = api_as(practice.staff[Role.FRONT_DESK])
    response = desk.post("/patients", [patient_body(practice.clinic)])
    assert response.status_code == 422
    assert field_errors(response) == {None: "Send a JSON object."}
    assert not Patient.objects.filter(legal_family_name="Quennell").exists()


def test_every_request_validation_error_names_its_field_without_the_body_prefix(practice):
    desk = api_as(practice.staff[Role.FRONT_DESK])
    body = patient_body(practice.clinic, date_of_birth="1979/03/14", legal_given_name=None, shoe_size=9)
    del body["legal_family_name"]
    response = desk.post("/patients", body)
    assert response.status_code == 422
    assert field_errors(response) == {
        "date_of_birth": "Enter a date as YYYY-MM-DD.",
        "legal_given_name": "Input should be a valid string",
        "legal_family_name": "This field is required.",
        "shoe_size": "This field is not allowed here.",
    }


def test_an_unexpected_failure_gets_500_in_the_error_shape_and_logs_no_request_data(
    practice, monkeypatch, caplog
):
    def explode(actor, data, **kwargs):
        raise RuntimeError(f"cannot save {data['legal_family_name']} born {data['date_of_birth']}")

    monkeypatch.setattr("ketaflow.patients.services.register_patient", explode)
    response = api_as(practice.staff[Role.FRONT_DESK]).post("/patients", patient_body(practice.clinic))
    assert response.status_code == 500
    assert field_errors(response) == {None: "Something went wrong on the server."}
    assert "RuntimeError" in caplog.text and "explode" in caplog.text
    assert "Quennell" not in caplog.text and "1979" not in caplog.text
