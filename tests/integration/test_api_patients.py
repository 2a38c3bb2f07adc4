"""The patient registry over the API: register, search, read, change, archive, duplicates, bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.patients.models import Patient
from tests.factories import PatientFactory
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors, patient_body

pytestmark = API_TEST_MARKS


@pytest.fixture
def desk(practice):
    return api_as(practice.staff[Role.FRONT_DESK])


@pytest.fixture
def admin(practice):
    return api_as(practice.staff[Role.ADMIN])


def test_registering_a_patient_returns_it_with_e164_phones_and_the_home_clinic(practice, desk):
    response = desk.post("/patients", patient_body(practice.clinic, phone_home="503.555.0142"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["legal_family_name"] == "Quennell"
    assert body["date_of_birth"] == "1979-03-14"
    assert body["phone_mobile"] == "+15035550187"
    assert body["phone_home"] == "+15035550142"
    assert body["home_clinic"] == {"id": str(practice.clinic.pk), "name": practice.clinic.name}
    assert body["archived"] is False and body["archived_at"] is None
    assert body["mrn"]
    stored = Patient.objects.get(pk=body["id"])
    assert (stored.organization_id, stored.mrn, stored.phone_mobile) == (
        practice.org.pk,
        body["mrn"],
        "+15035550187",
    )


def test_the_patient_body_carries_no_clinical_fields(practice, desk):
    body = desk.get(f"/patients/{practice.patient.pk}").json()
    assert not {"allergy_status", "conditions", "allergies", "alerts", "search_text"} & set(body)


def test_registering_is_audited_as_a_create_naming_fields_not_values(practice, desk):
    response = desk.post("/patients", patient_body(practice.clinic))
    [event] = audit_rows(practice.org.pk, action="create", object_type="Patient")
    assert event.object_id == response.json()["id"]
    assert event.via == "api"
    assert "Quennell" not in str(event.detail)
    assert "legal_family_name" in event.detail["fields"]


def test_reading_a_patient_is_audited_with_its_purpose(practice, desk):
    response = desk.get(f"/patients/{practice.patient.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(practice.patient.pk)
    [event] = audit_rows(practice.org.pk, action="read")
    assert (event.patient_id, event.detail) == (practice.patient.pk, {"purpose": "demographics"})


def test_listing_patients_is_audited_with_the_ids_shown(practice, desk):
    response = desk.get("/patients")
    assert [p["id"] for p in response.json()["items"]] == [str(practice.patient.pk)]
    [event] = audit_rows(practice.org.pk, action="list", object_type="Patient")
    assert event.detail["shown"] == [str(practice.patient.pk)]


@pytest.fixture
def registry(practice):
    """Three more patients, so each search has something to leave out."""
    return {
        "alvarez": PatientFactory(
            home_clinic=practice.clinic,
            legal_given_name="Teodora",
            legal_family_name="Alvarez",
            date_of_birth="1990-01-02",
            mrn="KF-000777",
            phone_mobile="+15035550111",
        ),
        "brandt": PatientFactory(
            home_clinic=practice.clinic,
            legal_given_name="Osric",
            legal_family_name="Brandt",
            date_of_birth="1971-11-30",
            mrn="KF-000778",
            phone_mobile="+15035550122",
        ),
        "cole": PatientFactory(
            home_clinic=practice.clinic,
            legal_given_name="Wren",
            legal_family_name="Cole",
            date_of_birth="1990-01-02",
            mrn="KF-000779",
            phone_mobile="+15035550133",
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "alvarez"}, ["alvarez"]),
        ({"q": "Osric Brandt"}, ["brandt"]),
        ({"date_of_birth": "1990-01-02"}, ["alvarez", "cole"]),
        ({"mrn": "kf-000779"}, ["cole"]),
        ({"phone": "(503) 555-0122"}, ["brandt"]),
        ({"q": "503-555-0133"}, ["cole"]),
        ({"name": "cole", "date_of_birth": "1990-01-02"}, ["cole"]),
        ({"name": "nobody-by-this-name"}, []),
    ],
)
def test_patients_can_be_found_by_name_dob_mrn_and_phone(practice, desk, registry, params, expected):
    response = desk.get("/patients", params)
    assert response.status_code == 200, response.json()
    ids = [p["id"] for p in response.json()["items"]]
    assert ids == [str(registry[key].pk) for key in expected]
    assert response.json()["total"] == len(expected)


def test_the_list_is_paginated_with_links(practice, desk, registry):
    first = desk.get("/patients", {"page_size": 2}).json()
    assert (first["total"], first["page"], first["page_size"], first["pages"]) == (4, 1, 2, 2)
    assert len(first["items"]) == 2 and first["previous"] is None
    assert first["next"].startswith("http://testserver/api/v1/patients?") and "page=2" in first["next"]
    second = desk.client.get(first["next"]).json()
    assert second["page"] == 2 and second["next"] is None and "page=1" in second["previous"]
    seen = [p["id"] for p in first["items"] + second["items"]]
    assert len(set(seen)) == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 201}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"date_of_birth": "02/01/1990"}, "date_of_birth"),
        ({"clinic_id": "nope"}, "clinic_id"),
        ({"dob": "1990-01-02"}, "dob"),
    ],
)
def test_bad_search_parameters_get_422_naming_the_parameter(practice, desk, params, field):
    response = desk.get("/patients", params)
    assert response.status_code == 422
    assert field in field_errors(response)


def test_archived_patients_leave_the_list_unless_asked_for(practice, desk, admin, registry):
    archived = admin.post(f"/patients/{registry['brandt'].pk}/archive", {"reason": "Moved away"})
    assert archived.status_code == 200
    assert archived.json()["archived"] is True and archived.json()["archived_reason"] == "Moved away"
    listed = {p["id"] for p in desk.get("/patients").json()["items"]}
    assert str(registry["brandt"].pk) not in listed
    listed = {p["id"] for p in desk.get("/patients", {"include_archived": "true"}).json()["items"]}
    assert str(registry["brandt"].pk) in listed
    assert desk.get(f"/patients/{registry['brandt'].pk}").json()["archived"] is True


def test_an_archived_patient_can_be_restored(practice, admin):
    admin.post(f"/patients/{practice.patient.pk}/archive", {"reason": "Registered twice"})
    response = admin.post(f"/patients/{practice.patient.pk}/restore")
    assert response.status_code == 200
    assert response.json()["archived"] is False
    practice.patient.refresh_from_db()
    assert practice.patient.archived_at is None
    actions = [e.action for e in audit_rows(practice.org.pk, patient_id=practice.patient.pk)]
    assert actions == ["archive", "restore"]


def test_front_desk_cannot_archive_a_patient(practice, desk):
    response = desk.post(f"/patients/{practice.patient.pk}/archive", {"reason": "Moved away"})
    assert response.status_code == 403
    assert "patients.archive" in field_errors(response)[None]
    practice.patient.refresh_from_db()
    assert practice.patient.archived_at is None


def test_archiving_needs_a_reason_and_restoring_needs_an_archived_patient(practice, admin):
    response = admin.post(f"/patients/{practice.patient.pk}/archive", {"reason": "  "})
    assert response.status_code == 422 and "reason" in field_errors(response)
    response = admin.post(f"/patients/{practice.patient.pk}/restore")
    assert response.status_code == 422 and None in field_errors(response)
    practice.patient.refresh_from_db()
    assert practice.patient.archived_at is None


def test_patching_a_patient_changes_only_the_fields_sent(practice, desk):
    before = Patient.objects.get(pk=practice.patient.pk)
    response = desk.patch(
        f"/patients/{practice.patient.pk}", {"preferred_name": "Jo", "phone_home": "5035550142"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["preferred_name"] == "Jo"
    assert response.json()["phone_home"] == "+15035550142"
    after = Patient.objects.get(pk=practice.patient.pk)
    assert (after.legal_family_name, after.date_of_birth, after.mrn) == (
        before.legal_family_name,
        before.date_of_birth,
        before.mrn,
    )
    [event] = audit_rows(practice.org.pk, action="update")
    assert event.detail == {"fields": ["phone_home", "preferred_name"]}


def test_an_archived_patient_cannot_be_changed(practice, desk, admin):
    admin.post(f"/patients/{practice.patient.pk}/archive", {"reason": "Duplicate"})
    response = desk.patch(f"/patients/{practice.patient.pk}", {"preferred_name": "Jo"})
    assert response.status_code == 422
    assert "Restore" in field_errors(response)[None]


def test_a_possible_duplicate_gets_409_with_the_candidates_and_nothing_is_written(practice, desk):
    existing = practice.patient
    body = patient_body(
        practice.clinic,
        legal_given_name=existing.legal_given_name,
        legal_family_name=existing.legal_family_name,
        date_of_birth=existing.date_of_birth.isoformat(),
    )
    count = Patient.objects.count()
    response = desk.post("/patients", body)
    assert response.status_code == 409
    conflict = response.json()
    assert (
        conflict["errors"][0]["field"] is None and "confirm_not_duplicate" in conflict["errors"][0]["message"]
    )
    [candidate] = conflict["duplicates"]
    assert candidate["id"] == str(existing.pk) and candidate["mrn"] == existing.mrn
    assert candidate["name"] == existing.legal_name
    assert candidate["date_of_birth"] == existing.date_of_birth.isoformat()
    assert "same date of birth" in candidate["reasons"] and 0.6 <= candidate["score"] <= 1
    assert Patient.objects.count() == count
    assert not audit_rows(practice.org.pk, action="create")
    [shown] = audit_rows(practice.org.pk, action="list")
    assert shown.detail == {"shown": [str(existing.pk)], "purpose": "duplicate_check"}

    confirmed = desk.post("/patients", body | {"confirm_not_duplicate": True})
    assert confirmed.status_code == 201
    assert Patient.objects.count() == count + 1


def test_the_duplicate_check_finds_candidates_without_registering_anyone(practice, desk):
    existing = practice.patient
    count = Patient.objects.count()
    response = desk.get(
        "/patients/duplicates",
        {
            "legal_given_name": existing.legal_given_name,
            "legal_family_name": existing.legal_family_name,
            "phone_mobile": existing.phone_mobile,
        },
    )
    assert response.status_code == 200, response.json()
    assert [c["id"] for c in response.json()["items"]] == [str(existing.pk)]
    assert "same phone" in response.json()["items"][0]["reasons"]
    assert Patient.objects.count() == count
    response = desk.get(
        "/patients/duplicates", {"legal_given_name": "A", "legal_family_name": "B", "phone_mobile": "12345"}
    )
    assert response.status_code == 422 and "phone_mobile" in field_errors(response)


def _future() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


BAD_INPUT = [
    ("future date of birth", lambda p: {"date_of_birth": _future()}, "date_of_birth"),
    ("date in another order", lambda p: {"date_of_birth": "03/14/1979"}, "date_of_birth"),
    ("impossible date", lambda p: {"date_of_birth": "1979-02-30"}, "date_of_birth"),
    ("timestamp for a date", lambda p: {"date_of_birth": 290217600}, "date_of_birth"),
    ("malformed phone", lambda p: {"phone_mobile": "12345"}, "phone_mobile"),
    ("unknown clinic id", lambda p: {"home_clinic_id": str(uuid.uuid4())}, "home_clinic_id"),
    ("malformed clinic id", lambda p: {"home_clinic_id": "clinic-1"}, "home_clinic_id"),
    ("duplicate MRN", lambda p: {"mrn": p.patient.mrn}, "mrn"),
    ("unknown field", lambda p: {"favourite_colour": "teal"}, "favourite_colour"),
    ("number for a name", lambda p: {"legal_given_name": 42}, "legal_given_name"),
    ("bad choice", lambda p: {"sex_at_birth": "robot"}, "sex_at_birth"),
    ("bad email", lambda p: {"email": "not-an-email"}, "email"),
]


@pytest.mark.parametrize(("label", "change", "field"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_gets_422_naming_the_field_and_writes_nothing(practice, desk, label, change, field):
    body = patient_body(practice.clinic, **change(practice))
    patients, events = Patient.objects.count(), AuditEvent.objects.count()
    response = desk.post("/patients", body | {"confirm_not_duplicate": True})
    assert response.status_code == 422, response.json()
    assert field in field_errors(response), response.json()
    assert (Patient.objects.count(), AuditEvent.objects.count()) == (patients, events)


def test_a_missing_required_field_is_named(practice, desk):
    body = patient_body(practice.clinic)
    del body["legal_family_name"]
    response = desk.post("/patients", body)
    assert response.status_code == 422
    assert field_errors(response) == {"legal_family_name": "This field is required."}


def test_a_bad_change_names_the_field_and_leaves_the_patient_unchanged(practice, desk):
    response = desk.patch(f"/patients/{practice.patient.pk}", {"date_of_birth": _future(), "city": "Salem"})
    assert response.status_code == 422 and "date_of_birth" in field_errors(response)
    practice.patient.refresh_from_db()
    assert practice.patient.city == "" and not audit_rows(practice.org.pk, action="update")


def test_an_unknown_patient_gets_the_not_found_body(practice, desk):
    for patient_id in (uuid.uuid4(), "not-a-uuid"):
        response = desk.get(f"/patients/{patient_id}")
        assert response.status_code == 404
        assert response.json() == {"errors": [{"field": None, "message": "Not found."}]}
