"""FHIR type-level search over the stored projection: filters, dates, sorting, paging, unknown parameters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.fhir import projection
from ketaflow.fhir.models import StoredResource
from tests.integration.fhir_support import FhirClient, validate

pytestmark = pytest.mark.django_db

LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PATIENT = str(uuid.uuid4())
OTHER_PATIENT = str(uuid.uuid4())


def observation(ident: str, patient: str, when: str, code: str, category: str, status: str = "final") -> dict:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": status,
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueInteger": 7,
    }


@pytest.fixture
def records(practice, stranger):
    """Four Observations of one patient over four days, one of another patient, and the stranger
    organization's Observation under the same patient id."""
    projection.store(
        practice.org.pk,
        "",
        [
            observation("o1", PATIENT, "2024-03-01T09:00:00+00:00", "44261-6", "survey"),
            observation("o2", PATIENT, "2024-03-02T09:00:00+00:00", "8867-4", "vital-signs"),
            observation("o3", PATIENT, "2024-03-03T23:30:00+00:00", "44261-6", "survey", status="amended"),
            observation("o4", PATIENT, "2024-03-04T09:00:00+00:00", "70274-6", "survey"),
            observation("o5", OTHER_PATIENT, "2024-03-02T10:00:00+00:00", "44261-6", "survey"),
            {
                "resourceType": "Patient",
                "id": PATIENT,
                "name": [{"family": "Quayle-Marsh", "given": ["Zephyrine"]}],
            },
            {"resourceType": "Patient", "id": OTHER_PATIENT, "name": [{"family": "Oduya", "given": ["Zed"]}]},
        ],
    )
    projection.store(
        stranger.org.pk,
        "",
        [
            observation("s1", PATIENT, "2024-03-02T09:00:00+00:00", "44261-6", "survey"),
        ],
    )
    return FhirClient(practice.staff[Role.NURSE])


def search(client: FhirClient, resource_type: str = "Observation", **params: Any) -> dict:
    response = client.get(resource_type, **params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = response.json()
    validate(bundle)
    return bundle


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def issue_of(response: Any) -> str:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return outcome["issue"][0]["diagnostics"]


def test_search_by_patient_returns_only_that_patients_resources_in_this_organization(records):
    bundle = search(records, patient=PATIENT, _sort="_id")
    assert ids(bundle) == ["o1", "o2", "o3", "o4"]
    assert bundle["total"] == 4 and bundle["type"] == "searchset"
    assert bundle["entry"][0]["fullUrl"] == "http://testserver/fhir/Observation/o1"
    assert search(records, subject=f"Patient/{OTHER_PATIENT}")["total"] == 1


def test_entries_carry_the_stored_resource_byte_for_byte(records, practice):
    response = records.get("Observation", _id="o2")
    stored = StoredResource.objects.get(organization=practice.org, resource_id="o2")
    assert f'"resource":{stored.body},'.encode() in response.content
    assert response.json()["entry"][0]["resource"]["meta"]["versionId"] == "1"


def test_a_reference_to_another_type_is_refused(records):
    response = records.get("Observation", subject="Group/abc")
    assert response.status_code == 400
    assert "subject" in issue_of(response)


def test_token_search_by_system_and_code_by_code_alone_and_by_alternatives(records):
    assert ids(search(records, code=f"{LOINC}|44261-6", patient=PATIENT, _sort="_id")) == ["o1", "o3"]
    assert ids(search(records, code="44261-6,70274-6", patient=PATIENT, _sort="_id")) == ["o1", "o3", "o4"]
    assert search(records, code="http://snomed.info/sct|44261-6")["total"] == 0
    assert ids(search(records, category="vital-signs", patient=PATIENT)) == ["o2"]
    assert ids(search(records, status="amended", patient=PATIENT)) == ["o3"]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["2024-03-02"], ["o2"]),
        (["ge2024-03-02", "le2024-03-03"], ["o2", "o3"]),
        (["gt2024-03-02"], ["o3", "o4"]),
        (["lt2024-03-02"], ["o1"]),
        (["2024-03"], ["o1", "o2", "o3", "o4"]),
        (["ge2024-03-03T23:00:00Z", "lt2024-03-04"], ["o3"]),
    ],
)
def test_date_search_follows_the_prefixes_at_the_precision_sent(records, dates, expected):
    assert ids(search(records, date=dates, patient=PATIENT, _sort="date")) == expected


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"date": "2024-13-45"}, "date"),
        ({"date": "ap2024-03-01"}, "date"),
        ({"_count": "-1"}, "_count"),
        ({"_sort": "status"}, "_sort"),
        ({"code:text": "phq"}, "code:text"),
        ({"_lastUpdated": "yesterday"}, "_lastUpdated"),
    ],
)
def test_a_malformed_parameter_gets_400_naming_it(records, params, named):
    response = records.get("Observation", **params)
    assert response.status_code == 400
    assert f"Search parameter {named}:" in issue_of(response)


def test_sorting_by_date_ascending_and_descending(records):
    assert ids(search(records, patient=PATIENT, _sort="date")) == ["o1", "o2", "o3", "o4"]
    assert ids(search(records, patient=PATIENT, _sort="-date")) == ["o4", "o3", "o2", "o1"]


def test_last_updated_filters_and_sorts_by_when_the_resource_last_changed(records, practice):
    StoredResource.objects.filter(organization=practice.org, resource_id="o3").update(
        last_updated=dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC)
    )
    assert ids(search(records, patient=PATIENT, _lastUpdated="lt2024-01-06")) == ["o3"]
    assert ids(search(records, patient=PATIENT, _lastUpdated="2024-01-05")) == ["o3"]
    assert "o3" not in ids(search(records, patient=PATIENT, _lastUpdated="gt2024-01-05"))
    assert ids(search(records, patient=PATIENT, _sort="_lastUpdated"))[0] == "o3"
    assert ids(search(records, patient=PATIENT))[-1] == "o3"  # default: newest change first


def test_paging_follows_next_links_to_the_end_with_an_accurate_total(records):
    bundle = search(records, patient=PATIENT, _count="3", _sort="date")
    seen = ids(bundle)
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["self"].startswith("http://testserver/fhir/Observation?")
    assert "previous" not in links
    while "next" in links:
        response = records.client.get(links["next"])
        assert response.status_code == 200
        bundle = validate(response.content).model_dump(mode="json", exclude_none=True)
        assert bundle["total"] == 4
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert seen == ["o1", "o2", "o3", "o4"]
    assert "_offset=3" in links["self"] and "previous" in links


def test_count_zero_and_summary_count_give_the_total_without_entries(records):
    for params in ({"_count": "0"}, {"_summary": "count"}):
        bundle = search(records, patient=PATIENT, **params)
        assert bundle["total"] == 4 and "entry" not in bundle


def test_an_unknown_parameter_is_ignored_with_a_warning_unless_strict_handling_is_asked(records):
    bundle = search(records, patient=PATIENT, shoe_size="9")
    assert len(ids(bundle)) == 4
    outcome = bundle["entry"][0]
    assert outcome["search"]["mode"] == "outcome"
    assert outcome["resource"]["issue"][0]["severity"] == "warning"
    assert "shoe_size" in outcome["resource"]["issue"][0]["diagnostics"]
    assert "shoe_size" not in next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    strict = records.client.get(
        "/fhir/Observation", {"patient": PATIENT, "shoe_size": "9"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert "shoe_size" in issue_of(strict)


def test_string_search_matches_word_prefixes_regardless_of_case(records):
    assert ids(search(records, "Patient", name="ZEPH")) == [PATIENT]
    assert ids(search(records, "Patient", family="marsh")) == [PATIENT]
    assert set(ids(search(records, "Patient", given="ze"))) >= {PATIENT, OTHER_PATIENT}
    assert search(records, "Patient", name="zephyrinex")["total"] == 0


def test_search_by_form_post_matches_the_get_search(records):
    response = records.client.post(
        "/fhir/Observation/_search",
        f"patient={PATIENT}&code=44261-6",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert sorted(ids(response.json())) == ["o1", "o3"]


def test_each_search_is_audited_once_with_parameter_names_and_count_but_no_values(records, practice):
    search(records, patient=PATIENT, code="44261-6")
    event = AuditEvent.objects.filter(organization=practice.org, action="list").latest("seq")
    assert event.object_type == "Observation"
    assert event.detail == {"params": ["code", "patient"], "count": 2, "total": 2}
    assert event.patient_id == uuid.UUID(PATIENT)
    assert "44261-6" not in str(event.detail)
