"""The plans API: the library, dose calculations, and a plan's round trip from draft to review."""

from __future__ import annotations

import copy
import uuid

from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.clinical.protocols import builtin_protocols
from ketaflow.plans.models import TreatmentPlan
from tests.integration.eligibility_factories import chart_all_clear
from tests.integration.plans_factories import completed_session, days_ago, ready_patient, start_of, weigh
from tests.integration.test_api_support import API_TEST_MARKS, api_as, field_errors

pytestmark = API_TEST_MARKS


def plan_body(practice, **overrides):
    body = {
        "protocol_key": "iv-depression",
        "clinic_id": str(practice.clinic.pk),
        "condition": "trd",
        "start_date": timezone.localdate().isoformat(),
        "goals": "Synthetic: back to work",
    }
    return body | overrides


def test_the_library_lists_every_protocol_with_its_dose_numbers_and_verify_marks(practice):
    response = api_as(practice.staff[Role.NURSE]).get("/protocols")
    assert response.status_code == 200
    items = {p["key"]: p for p in response.json()["items"]}
    assert set(items) == {p.key for p in builtin_protocols()}
    iv = items["iv-depression"]
    assert iv["source"] == "shipped" and iv["route"] == "iv" and "Sanacora" in iv["citation"]
    numbers = {n["label"]: n for n in iv["dose"]}
    assert numbers["Dose per kg"] == {"label": "Dose per kg", "value": "0.5 mg/kg", "verify": False}
    assert numbers["Cap"]["verify"] is True


def test_a_clinic_version_is_saved_through_the_api_and_a_bad_value_names_its_field(practice):
    api = api_as(practice.staff[Role.PRESCRIBER])
    definition = copy.deepcopy(api.get("/protocols/iv-depression").json()["definition"])
    definition["dose"]["cap_mg"] = "0"
    response = api.post("/protocols/iv-depression/versions", {"definition": definition, "change_note": "x"})
    assert response.status_code == 422 and "dose.cap_mg" in field_errors(response)
    definition["dose"]["cap_mg"] = "90"
    response = api.post(
        "/protocols/iv-depression/versions", {"definition": definition, "change_note": "Cap at 90 mg"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == "clinic-1" and body["current_version"] == "clinic-1"
    assert [v["version"] for v in body["history"]] == ["clinic-1", "2026.11.1"]
    old = api.get("/protocols/iv-depression", {"version": "2026.11.1"}).json()
    assert old["definition"]["dose"]["cap_mg"] == "100"
    assert old["version"] == "2026.11.1" and old["current_version"] == "clinic-1"
    assert api.get("/protocols/iv-depression", {"version": "clinic-9"}).status_code == 404
    nurse = api_as(practice.staff[Role.NURSE])
    assert (
        nurse.post(
            "/protocols/iv-depression/versions", {"definition": definition, "change_note": "n"}
        ).status_code
        == 403
    )


def test_a_dose_calculation_returns_the_dose_and_its_arithmetic(practice):
    api = api_as(practice.staff[Role.NURSE])
    response = api.post("/dose-calculations", {"protocol_key": "iv-depression", "weight_kg": 82})
    assert response.status_code == 200
    body = response.json()
    assert body["mg"] == "41" and body["volume_ml"] == "4.1" and body["capped"] is False
    assert "0.5 mg/kg x 82.0 kg (actual body weight) = 41.0 mg" in body["arithmetic"]
    response = api.post("/dose-calculations", {"protocol_key": "iv-depression", "weight_kg": 20})
    assert (
        response.status_code == 422 and "outside the plausible range" in field_errors(response)["weight_kg"]
    )
    response = api.post("/dose-calculations", {"protocol_key": "iv-depression", "weight": 82})
    assert response.status_code == 422 and "weight" in field_errors(response)


def test_a_plan_round_trip_from_draft_to_signed_to_a_resolved_review(practice):
    ready_patient(practice)
    api = api_as(practice.staff[Role.PRESCRIBER])
    response = api.post(
        f"/patients/{practice.patient.pk}/plans", plan_body(practice, start_date=start_of(20).isoformat())
    )
    assert response.status_code == 201, response.content
    plan = response.json()
    assert plan["status"] == "draft" and plan["dose_mg"] == "41"
    assert plan["dose_changes"][0]["reason"] == "plan created"
    signed = api.post(f"/plans/{plan['id']}/sign").json()
    assert signed["status"] == "signed" and signed["consent_id"] and signed["eligibility_decision_id"]
    changed = api.post(
        f"/plans/{plan['id']}/dose",
        {"mg_per_kg": 0.75, "reason": "No response", "effective_on": timezone.localdate().isoformat()},
    )
    assert changed.status_code == 200 and changed.json()["dose_mg_per_kg"] == "0.75"
    stored = TreatmentPlan.objects.get(pk=plan["id"])
    for number, days in enumerate((19, 16, 12, 9, 5, 2), start=1):
        completed_session(practice, stored, days_ago(days), number)
    points = api.get(f"/plans/{plan['id']}").json()["review_points"]
    end = next(p for p in points if p["kind"] == "end_of_induction")
    resolved = api.post(
        f"/plans/{plan['id']}/review-points/{end['id']}/resolve", {"resolution": "Maintenance every 2 weeks"}
    )
    assert resolved.status_code == 200
    assert next(p for p in resolved.json()["review_points"] if p["id"] == end["id"])["status"] == "resolved"
    moved = api.post(
        f"/plans/{plan['id']}/phase",
        {"to_phase": "maintenance", "effective_on": timezone.localdate().isoformat()},
    )
    assert moved.json()["phase"] == "maintenance"
    listed = api.get(f"/patients/{practice.patient.pk}/plans").json()
    assert [p["id"] for p in listed["items"]] == [plan["id"]]
    item = listed["items"][0]
    assert [c["reason"] for c in item["dose_changes"]] == ["plan created", "No response"]
    assert [(c["from_phase"], c["to_phase"]) for c in item["phase_changes"]] == [("induction", "maintenance")]
    assert end["id"] in [p["id"] for p in item["review_points"]]


def test_signing_through_the_api_says_what_is_missing(practice):
    chart_all_clear(practice)
    weigh(practice.patient, "82")
    api = api_as(practice.staff[Role.PRESCRIBER])
    plan = api.post(f"/patients/{practice.patient.pk}/plans", plan_body(practice)).json()
    response = api.post(f"/plans/{plan['id']}/sign")
    assert response.status_code == 422
    assert set(field_errors(response)) == {"eligibility", "consent"}


def test_another_organizations_plans_are_not_found(practice, stranger):
    weigh(practice.patient, "82")
    api = api_as(practice.staff[Role.PRESCRIBER])
    plan = api.post(f"/patients/{practice.patient.pk}/plans", plan_body(practice)).json()
    outsider = api_as(stranger.staff[Role.PRESCRIBER])
    assert outsider.get(f"/plans/{plan['id']}").status_code == 404
    assert outsider.post(f"/plans/{plan['id']}/sign").status_code == 404
    assert outsider.get(f"/patients/{practice.patient.pk}/plans").status_code == 404
    body = plan_body(stranger)
    assert outsider.post(f"/patients/{practice.patient.pk}/plans", body).status_code == 404
    assert list(TreatmentPlan.objects.values_list("pk", flat=True)) == [uuid.UUID(plan["id"])]
    assert TreatmentPlan.objects.get().status == "draft"  # the outsider's sign changed nothing
