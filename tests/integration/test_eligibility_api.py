"""Eligibility through the API: the stateless assessment, a patient's eligibility, signing and history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.eligibility.models import EligibilityDecision, EligibilitySettings
from tests.integration.eligibility_factories import chart_all_clear, medication, vitals
from tests.integration.test_api_support import API_TEST_MARKS, api_as, audit_rows, field_errors

pytestmark = API_TEST_MARKS

CLEAR_FACTS = {
    "age_years": 40, "pregnant": False, "breastfeeding": False, "systolic_bp": 122, "diastolic_bp": 78,
    "hypertension_uncontrolled": False, "cardiovascular_disease_poorly_controlled": False,
    "cardiovascular_risk": False, "aneurysmal_vascular_disease": False, "arteriovenous_malformation": False,
    "intracerebral_haemorrhage_history": False, "ketamine_hypersensitivity": False,
    "hepatic_impairment": "none", "raised_intracranial_pressure": False, "raised_intraocular_pressure": False,
    "active_psychosis": False, "psychotic_disorder": False, "bipolar_disorder": False,
    "substance_misuse_active": False, "alcohol_misuse_active": False, "medication_classes": [],
    "unclassified_medications": False, "suicidal_ideation_recent": False,
}


@pytest.fixture
def prescriber(practice):
    return api_as(practice.staff[Role.PRESCRIBER])


@pytest.fixture
def nurse(practice):
    return api_as(practice.staff[Role.NURSE])


def eligibility(practice):
    return f"/patients/{practice.patient.pk}/eligibility"


# Stateless assessment -----------------------------------------------------------------------------


def test_assess_returns_every_route_with_findings_sources_and_the_parameters_used(practice, nurse):
    response = nurse.post("/eligibility/assess", {"facts": CLEAR_FACTS | {"medication_classes": ["maoi"]}})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body["routes"]) == {"iv", "im", "sublingual_home", "esketamine"}
    iv = body["routes"]["iv"]
    assert iv["status"] == "needs_review"
    [maoi] = [f for f in iv["findings"] if f["rule"] == "medication-maoi"]
    assert maoi["values"] == {"medication_classes": ["maoi"]}
    assert maoi["source"].startswith("Clinical reference §3, medication interactions") and maoi["verify"]
    review = next(p for p in body["parameters"] if p["name"] == "bp_review_systolic")
    assert review == {"name": "bp_review_systolic", "value": 140, "default": 140, "unit": "mmHg",
                      "label": "Systolic pressure that asks for prescriber review",
                      "source": review["source"], "verify": True, "clinic_setting": False}
    # Nothing about a patient was read or written (the token's own issue is the only event).
    events = AuditEvent.objects.filter(organization_id=practice.org.pk)
    assert not events.exclude(object_type="ApiToken").exists()


def test_assess_reports_a_missing_fact_as_missing_never_as_no(practice, nurse):
    body = nurse.post("/eligibility/assess", {"facts": {"age_years": 40}, "routes": ["esketamine"]}).json()
    assert list(body["routes"]) == ["esketamine"]
    result = body["routes"]["esketamine"]
    assert result["status"] == "needs_review"
    assert "pregnant" in result["missing_facts"] and "aneurysmal_vascular_disease" in result["missing_facts"]


def test_assess_uses_the_organizations_parameters(practice, nurse):
    EligibilitySettings.objects.create(organization=practice.org, parameters={"bp_review_systolic": 120})
    body = nurse.post("/eligibility/assess", {"facts": CLEAR_FACTS, "routes": ["iv"]}).json()
    assert body["routes"]["iv"]["status"] == "needs_review"
    assert [f["rule"] for f in body["routes"]["iv"]["findings"]] == ["blood-pressure-raised-reading"]
    assert next(p for p in body["parameters"] if p["name"] == "bp_review_systolic")["clinic_setting"] is True


@pytest.mark.parametrize(("facts", "field", "message"), [
    ({"systolic_bp": "high"}, "facts.systolic_bp",
     "Systolic blood pressure (mmHg): must be a whole number or null."),
    ({"systolic_bp": 120, "diastolic_bp": 130}, "facts.diastolic_bp",
     "Diastolic blood pressure (mmHg): must be lower than the systolic pressure."),
    ({"medication_classes": ["ssri"]}, "facts.medication_classes",
     "Interacting medication classes: unknown class 'ssri'; known: benzodiazepine, lamotrigine, maoi, "
     "psychostimulant, sedative_hypnotic, opioid."),
    ({"favourite_colour": "blue"}, "facts.favourite_colour", "Not a known fact; see docs/eligibility.md."),
])
def test_a_bad_fact_is_a_422_naming_it(practice, nurse, facts, field, message):
    response = nurse.post("/eligibility/assess", {"facts": facts})
    assert response.status_code == 422
    assert field_errors(response) == {field: message}


def test_assess_refuses_an_unknown_route_and_front_desk(practice, nurse):
    response = nurse.post("/eligibility/assess", {"facts": {}, "routes": ["oral"]})
    assert response.status_code == 422 and "routes[0]" in field_errors(response)
    desk = api_as(practice.staff[Role.FRONT_DESK])
    assert desk.post("/eligibility/assess", {"facts": {}}).status_code == 403


# A patient's eligibility ------------------------------------------------------------------------


def test_a_patients_eligibility_gives_facts_with_sources_each_route_and_decisions_and_is_audited(
    practice, nurse
):
    chart_all_clear(practice)
    response = nurse.get(eligibility(practice))
    assert response.status_code == 200
    body = response.json()
    facts = {f["name"]: f for f in body["facts"]}
    assert facts["systolic_bp"]["value"] == 122 and facts["systolic_bp"]["source"].startswith("BP 122/78 on ")
    assert facts["medication_classes"]["value"] == []
    assert facts["age_years"] == {"name": "age_years", "label": "Age", "value": 41,
                                  "source": "date of birth 1985-06-15", "question": "Date of birth"}
    assert body["routes"]["iv"]["status"] == "eligible"
    assert body["decisions"] == {"iv": None, "im": None, "sublingual_home": None, "esketamine": None}
    [read] = audit_rows(practice.org.pk, action="read", object_type="Patient")
    assert read.patient_id == practice.patient.pk and read.detail == {"purpose": "eligibility"}


def test_front_desk_gets_403_and_no_read_is_recorded(practice):
    desk = api_as(practice.staff[Role.FRONT_DESK])
    assert desk.get(eligibility(practice)).status_code == 403
    assert audit_rows(practice.org.pk, action="read") == []


# Signing ----------------------------------------------------------------------------------------


def test_signing_without_the_override_reason_is_a_422_and_nothing_is_stored(practice, prescriber):
    chart_all_clear(practice)
    vitals(practice.patient, 172, 104, ago=timedelta(minutes=5))
    response = prescriber.post(f"{eligibility(practice)}/iv/decisions", {"decision": "approve"})
    assert response.status_code == 422
    errors = field_errors(response)
    assert list(errors) == ["override_reason"]
    assert "approving a route assessed as not eligible" in errors["override_reason"]
    assert not EligibilityDecision.objects.exists()
    assert audit_rows(practice.org.pk, object_type="EligibilityDecision") == []


def test_signing_with_a_reason_returns_the_stored_decision_with_its_snapshot(practice, prescriber):
    chart_all_clear(practice)
    vitals(practice.patient, 172, 104, ago=timedelta(minutes=5))
    response = prescriber.post(f"{eligibility(practice)}/iv/decisions", {
        "decision": "approve", "override_reason": "Home readings controlled; cardiology agrees.",
        "assessed_status": "not_eligible",
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    stored = EligibilityDecision.objects.get()
    assert body["id"] == str(stored.pk)
    assert (body["route"], body["status"], body["decision"], body["assessed_status"], body["override"]) == (
        "iv", "signed", "approve", "not_eligible", True)
    assert body["override_reason"] == "Home readings controlled; cardiology agrees."
    assert body["facts"]["systolic_bp"] == 172 and body["sources"]["systolic_bp"].startswith("BP 172/104")
    assert body["assessment"]["status"] == "not_eligible"
    assert body["signed_by"] == practice.staff[Role.PRESCRIBER].user.get_full_name()
    [created] = audit_rows(practice.org.pk, action="create", object_type="EligibilityDecision")
    assert created.detail["override"] is True


def test_a_changed_assessment_since_it_was_seen_is_a_422(practice, prescriber):
    chart_all_clear(practice)
    response = prescriber.post(f"{eligibility(practice)}/iv/decisions",
                               {"decision": "approve", "assessed_status": "needs_review"})
    assert response.status_code == 422
    assert "it is now eligible" in field_errors(response)["assessed_status"]


def test_a_nurse_cannot_sign(practice, nurse):
    chart_all_clear(practice)
    assert nurse.post(f"{eligibility(practice)}/iv/decisions", {"decision": "approve"}).status_code == 403
    assert not EligibilityDecision.objects.exists()


def test_an_unknown_route_is_not_found_and_a_bad_decision_is_a_422(practice, prescriber):
    unknown = prescriber.post(f"{eligibility(practice)}/oral/decisions", {"decision": "approve"})
    assert unknown.status_code == 404
    response = prescriber.post(f"{eligibility(practice)}/iv/decisions", {"decision": "perhaps"})
    assert response.status_code == 422 and "decision" in field_errors(response)


def test_the_history_lists_every_decision_newest_first_with_reopenings_and_is_audited(practice, prescriber):
    chart_all_clear(practice)
    base = eligibility(practice)
    assert prescriber.post(f"{base}/iv/decisions", {"decision": "approve"}).status_code == 201
    medication(practice, "phenelzine")
    assert prescriber.post(f"{base}/esketamine/decisions", {
        "decision": "decline", "override_reason": "MAOI first."}).status_code == 201
    body = prescriber.get(f"{base}/decisions").json()
    assert body["total"] == 2 and [d["route"] for d in body["items"]] == ["esketamine", "iv"]
    iv = body["items"][1]
    assert iv["status"] == "reopened"
    assert iv["reopen_changes"] == [{"fact": "medication_classes", "before": [], "after": ["maoi"],
                                     "note": "+ Phenelzine (MAOI)"}]
    only_iv = prescriber.get(f"{base}/decisions", {"route": "iv"}).json()
    assert [d["route"] for d in only_iv["items"]] == ["iv"]
    reads = audit_rows(practice.org.pk, action="read", object_type="Patient")
    assert [r.detail["purpose"] for r in reads] == ["eligibility decisions", "eligibility decisions"]
    current = prescriber.get(base).json()["decisions"]
    assert current["iv"]["status"] == "reopened" and current["esketamine"]["decision"] == "decline"
    assert prescriber.get(f"{base}/decisions", {"routee": "iv"}).status_code == 422


def test_another_organizations_patient_is_not_found_everywhere(practice, stranger, prescriber):
    for method, path, body in (
        ("get", f"/patients/{stranger.patient.pk}/eligibility", None),
        ("get", f"/patients/{stranger.patient.pk}/eligibility/decisions", None),
        ("post", f"/patients/{stranger.patient.pk}/eligibility/iv/decisions",
         {"decision": "approve", "override_reason": "x"}),
    ):
        response = prescriber.get(path) if method == "get" else prescriber.post(path, body)
        assert response.status_code == 404, path
        assert response.json() == {"errors": [{"field": None, "message": "Not found."}]}
    assert not EligibilityDecision.objects.exists()
    assert [e.object_type for e in audit_rows(stranger.org.pk)] == []
