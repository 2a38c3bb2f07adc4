"""Problems, allergies and alerts under a patient, and who may see and change them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.patients.models import Allergy, Condition, PatientAlert
from tests.factories import AlertFactory, AllergyFactory, ConditionFactory
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS


@pytest.fixture
def nurse(practice):
    return api_as(practice.staff[Role.NURSE])


@pytest.fixture
def desk(practice):
    return api_as(practice.staff[Role.FRONT_DESK])


def test_a_nurse_adds_a_coded_condition_and_the_write_is_audited(practice, nurse):
    response = nurse.post(
        f"/patients/{practice.patient.pk}/conditions",
        {"catalogue_id": "trd", "onset_date": "2019-05-01", "note": "Two SSRIs failed"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["catalogue_id"], body["status"], body["onset_date"]) == ("trd", "active", "2019-05-01")
    assert body["snomed_code"] and body["icd10_code"] and body["patient_id"] == str(practice.patient.pk)
    [event] = audit_rows(practice.org.pk, action="create", object_type="Condition")
    assert (event.object_id, event.patient_id) == (body["id"], practice.patient.pk)


def test_listing_conditions_is_audited_as_a_read_with_its_purpose(practice, nurse):
    active = ConditionFactory(patient=practice.patient)
    ConditionFactory(
        patient=practice.patient,
        catalogue_id="gad",
        display="Generalized anxiety disorder",
        status=Condition.Status.RESOLVED,
    )
    response = nurse.get(f"/patients/{practice.patient.pk}/conditions")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["items"]] == [str(active.pk)]
    assert response.json()["total"] == 1
    [event] = audit_rows(practice.org.pk, action="read")
    assert (event.patient_id, event.detail) == (practice.patient.pk, {"purpose": "conditions"})
    everything = nurse.get(f"/patients/{practice.patient.pk}/conditions", {"include_inactive": "true"})
    assert everything.json()["total"] == 2


def test_a_condition_status_can_be_changed(practice, nurse):
    condition = ConditionFactory(patient=practice.patient)
    response = nurse.patch(f"/conditions/{condition.pk}", {"status": "remission"})
    assert response.status_code == 200 and response.json()["status"] == "remission"
    condition.refresh_from_db()
    assert condition.status == "remission"
    response = nurse.patch(f"/conditions/{condition.pk}", {"status": "cured"})
    assert response.status_code == 422 and "status" in field_errors(response)
    condition.refresh_from_db()
    assert condition.status == "remission"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"catalogue_id": "not-in-the-catalogue"}, "catalogue_id"),
        ({"catalogue_id": "mdd", "onset_date": "tomorrow"}, "onset_date"),
        ({"catalogue_id": "mdd", "severity": "high"}, "severity"),
        ({}, "catalogue_id"),
    ],
)
def test_a_bad_condition_is_refused_naming_the_field(practice, nurse, body, field):
    response = nurse.post(f"/patients/{practice.patient.pk}/conditions", body)
    assert response.status_code == 422 and field in field_errors(response)
    assert not Condition.objects.exists() and not audit_rows(practice.org.pk, action="create")


def test_a_future_onset_is_refused(practice, nurse):
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = nurse.post(
        f"/patients/{practice.patient.pk}/conditions", {"catalogue_id": "mdd", "onset_date": future}
    )
    assert response.status_code == 422 and "onset_date" in field_errors(response)


def test_the_condition_catalogue_lists_coded_conditions(practice, nurse):
    body = nurse.get("/condition-catalogue").json()
    mdd = next(c for c in body["items"] if c["id"] == "mdd")
    assert body["version"] and mdd["snomed"].isdigit() and mdd["icd10"].startswith("F")


def test_allergies_are_added_listed_and_deactivated(practice, nurse):
    response = nurse.post(
        f"/patients/{practice.patient.pk}/allergies",
        {"substance": "Sulfa drugs", "reaction": "Rash", "severity": "moderate"},
    )
    assert response.status_code == 201, response.json()
    allergy_id = response.json()["id"]
    listed = nurse.get(f"/patients/{practice.patient.pk}/allergies").json()
    assert [(a["substance"], a["is_active"]) for a in listed["items"]] == [("Sulfa drugs", True)]
    response = nurse.post(f"/allergies/{allergy_id}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert nurse.get(f"/patients/{practice.patient.pk}/allergies").json()["items"] == []
    assert Allergy.objects.get(pk=allergy_id).is_active is False
    reads = [e.detail for e in audit_rows(practice.org.pk, action="read")]
    assert reads == [{"purpose": "allergies"}, {"purpose": "allergies"}]


def test_no_known_allergies_is_refused_while_an_allergy_is_active(practice, nurse):
    allergy = AllergyFactory(patient=practice.patient)
    response = nurse.post(f"/patients/{practice.patient.pk}/no-known-allergies")
    assert response.status_code == 422 and "allergy_status" in field_errors(response)
    nurse.post(f"/allergies/{allergy.pk}/deactivate")
    response = nurse.post(f"/patients/{practice.patient.pk}/no-known-allergies")
    assert response.status_code == 200
    assert response.json() == {"patient_id": str(practice.patient.pk), "allergy_status": "nkda"}


def test_an_allergy_with_a_bad_category_is_refused(practice, nurse):
    response = nurse.post(
        f"/patients/{practice.patient.pk}/allergies", {"substance": "Latex", "category": "drug"}
    )
    assert response.status_code == 422 and "category" in field_errors(response)
    assert not Allergy.objects.exists()


@pytest.mark.parametrize("kind", ["conditions", "allergies"])
def test_front_desk_cannot_read_clinical_lists_and_no_read_is_recorded(practice, desk, kind):
    ConditionFactory(patient=practice.patient)
    AllergyFactory(patient=practice.patient)
    response = desk.get(f"/patients/{practice.patient.pk}/{kind}")
    assert response.status_code == 403
    assert "clinical.view" in field_errors(response)[None]
    assert "Penicillin" not in response.content.decode() and "depressive" not in response.content.decode()
    assert not audit_rows(practice.org.pk, action="read")


def test_front_desk_cannot_add_clinical_records(practice, desk):
    response = desk.post(f"/patients/{practice.patient.pk}/allergies", {"substance": "Latex"})
    assert response.status_code == 403
    response = desk.post(
        f"/patients/{practice.patient.pk}/alerts", {"category": "safety", "message": "Falls"}
    )
    assert response.status_code == 403
    assert not Allergy.objects.exists() and not PatientAlert.objects.exists()


def test_front_desk_sees_administrative_alerts_only(practice, desk, nurse):
    admin_alert = AlertFactory(patient=practice.patient)
    safety = AlertFactory(patient=practice.patient, category="safety", message="Falls risk after dosing")
    seen = desk.get(f"/patients/{practice.patient.pk}/alerts")
    assert seen.status_code == 200
    assert [a["id"] for a in seen.json()["items"]] == [str(admin_alert.pk)]
    assert "Falls" not in seen.content.decode()
    assert {a["id"] for a in nurse.get(f"/patients/{practice.patient.pk}/alerts").json()["items"]} == {
        str(admin_alert.pk),
        str(safety.pk),
    }
    response = desk.post(f"/alerts/{safety.pk}/resolve")
    assert response.status_code == 403
    safety.refresh_from_db()
    assert safety.is_active


def test_alerts_are_added_and_resolved(practice, desk):
    response = desk.post(
        f"/patients/{practice.patient.pk}/alerts",
        {"category": "administrative", "message": "Prefers text messages"},
    )
    assert response.status_code == 201, response.json()
    alert_id = response.json()["id"]
    response = desk.post(f"/alerts/{alert_id}/resolve")
    assert response.status_code == 200
    assert response.json()["is_active"] is False and response.json()["resolved_at"]
    assert desk.get(f"/patients/{practice.patient.pk}/alerts").json()["items"] == []
    shown = desk.get(f"/patients/{practice.patient.pk}/alerts", {"include_inactive": "1"}).json()["items"]
    assert [a["id"] for a in shown] == [alert_id]
