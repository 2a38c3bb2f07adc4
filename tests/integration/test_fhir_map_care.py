"""The FHIR projection of plans, consent, appointments and treatment sessions: what a FHIR client reads
after each clinical write, with every reference resolving to a stored resource."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.consent import services as consents
from ketaflow.consent import signing
from ketaflow.consent.text import document_text
from ketaflow.fhir import values
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.projection import reindex
from ketaflow.plans.changes import change_dose, move_phase
from ketaflow.portal.models import PortalAccount
from ketaflow.scheduling import services as scheduling
from ketaflow.sessions.checkin import cancel_session
from ketaflow.sessions.doses import record_event
from ketaflow.sessions.effects import give_rescue
from ketaflow.sessions.home import attest_monitor, record_dose_taken, start_home_session
from tests.factories import actor_of
from tests.integration import sessions_factories as chair
from tests.integration.consent_factories import DEVICE, portal_patient, requested, signed, signing_for
from tests.integration.fhir_support import stored, stored_one, validate
from tests.integration.plans_factories import signed_plan
from tests.integration.scheduling_factories import at, bookable, next_weekday
from tests.integration.scheduling_factories import signed_plan as plan_row

pytestmark = pytest.mark.django_db


def references(node: Any) -> list[str]:
    """Every literal reference in a resource body."""
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["reference"]] if isinstance(node.get("reference"), str) else []
    return own + [r for value in node.values() for r in references(value)]


def sound(org_id: Any, resource_type: str, resource_id: str) -> dict[str, Any]:
    """The stored body, after checking it is valid R4 and each reference names a stored resource."""
    body = stored_one(org_id, resource_type, resource_id)
    validate(body)
    missing = [
        r
        for r in references(body)
        if not StoredResource.objects.filter(
            organization_id=org_id, resource_type=r.split("/")[0], resource_id=r.split("/")[1]
        ).exists()
    ]
    assert missing == []
    return body


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


def prescriber(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


def test_a_signed_plan_is_an_active_care_plan_by_its_prescriber_for_its_medication_request(practice):
    plan = signed_plan(practice)
    body = sound(practice.org.pk, "CarePlan", str(plan.pk))
    assert (body["status"], body["intent"], body["title"]) == ("active", "plan", plan.protocol_name)
    assert {code for c in body["category"] for code in codes(c)} == {
        (f"{values.KETAFLOW}/CodeSystem/care-plan-category", "ketamine-treatment"),
        (f"{values.KETAFLOW}/CodeSystem/treatment-route", "iv"),
    }
    assert body["subject"] == {"reference": f"Patient/{practice.patient.pk}"}
    assert body["author"] == {"reference": f"Practitioner/{practice.staff[Role.PRESCRIBER].pk}"}
    assert body["activity"] == [{"reference": {"reference": f"MedicationRequest/{plan.pk}-rx"}}]
    assert body["supportingInfo"] == [{"reference": f"Consent/{plan.consent_id}"}]
    assert body["period"] == {"start": plan.start_date.isoformat()}
    assert "Treatment-resistant depression" in body["description"] and plan.goals in body["description"]
    assert body["note"][0]["text"].startswith("Phase: induction since")


def test_the_plans_medication_request_orders_iv_ketamine_at_the_plan_dose(practice):
    plan = signed_plan(practice)
    body = sound(practice.org.pk, "MedicationRequest", f"{plan.pk}-rx")
    assert (body["status"], body["intent"]) == ("active", "order")
    assert body["medicationCodeableConcept"]["coding"] == [
        {"system": values.RXNORM, "code": "6130", "display": "ketamine"}
    ]
    assert codes(body["reasonCode"][0]) == {(values.SNOMED, "370143000"), (values.ICD10, "F33.2")}
    assert body["authoredOn"] == values.instant(plan.signed_at)
    assert body["requester"] == {"reference": f"Practitioner/{practice.staff[Role.PRESCRIBER].pk}"}
    [dosage] = body["dosageInstruction"]
    assert codes(dosage["route"]) == {(values.SNOMED, "47625008")}
    assert dosage["doseAndRate"] == [{"doseQuantity": values.quantity(plan.dose_mg, "mg")}]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 41  # 0.5 mg/kg at 82 kg
    assert dosage["text"] == plan.dose_summary
    assert dosage["timing"]["code"]["text"].startswith(
        "Induction: weeks 1-3, twice weekly; then maintenance:"
    )


def test_a_dose_change_gives_the_medication_request_a_new_version_with_the_new_dose(practice):
    plan = signed_plan(practice)
    before = stored_one(practice.org.pk, "MedicationRequest", f"{plan.pk}-rx")["meta"]["versionId"]
    change_dose(
        prescriber(practice),
        plan.pk,
        mg_per_kg="0.75",
        reason="Tolerated, not yet responding",
        effective_on=timezone.localdate(),
    )
    body = sound(practice.org.pk, "MedicationRequest", f"{plan.pk}-rx")
    assert int(body["meta"]["versionId"]) == int(before) + 1
    plan.refresh_from_db()
    assert (
        body["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 62
    )  # 0.75 mg/kg at 82 kg
    assert body["dosageInstruction"][0]["text"] == plan.dose_summary


def test_a_discontinued_plan_is_a_revoked_care_plan_and_a_stopped_request_with_the_reason(practice):
    plan = signed_plan(practice)
    today = timezone.localdate()
    move_phase(
        prescriber(practice),
        plan.pk,
        to_phase="discontinued",
        reason="Moved out of state",
        effective_on=today,
    )
    care = sound(practice.org.pk, "CarePlan", str(plan.pk))
    assert care["status"] == "revoked"
    assert care["period"]["end"] == today.isoformat()
    request = sound(practice.org.pk, "MedicationRequest", f"{plan.pk}-rx")
    assert request["status"] == "stopped" and request["statusReason"] == {"text": "Moved out of state"}


def test_an_esketamine_plan_requests_the_nasal_spray_by_the_nasal_route(practice):
    plan = signed_plan(practice, "esketamine")
    body = sound(practice.org.pk, "MedicationRequest", f"{plan.pk}-rx")
    assert codes(body["medicationCodeableConcept"]) == {
        (values.RXNORM, "2201623"),
        (values.RXNORM, "2201625"),
    }
    assert codes(body["dosageInstruction"][0]["route"]) == {(values.SNOMED, "46713006")}


def test_a_consent_reads_proposed_then_active_once_signed_then_inactive_when_withdrawn(practice):
    consent = requested(practice)
    body = sound(practice.org.pk, "Consent", str(consent.pk))
    assert body["status"] == "proposed" and "provision" not in body and "sourceAttachment" not in body
    assert body["dateTime"] == values.instant(consent.requested_at)
    nurse = actor_of(practice.staff[Role.NURSE])
    consent = signing.sign_on_tablet(nurse, consent.pk, signing_for(consent), DEVICE)
    body = sound(practice.org.pk, "Consent", str(consent.pk))
    assert body["status"] == "active" and "verification" not in body
    assert body["provision"] == {"type": "permit", "period": {"start": values.instant(consent.signed_at)}}
    withdrawn = consents.withdraw_by_staff(nurse, consent.pk, "Patient changed their mind (synthetic)")
    body = sound(practice.org.pk, "Consent", str(consent.pk))
    assert body["status"] == "inactive"
    assert body["provision"]["period"]["end"] == values.instant(withdrawn.withdrawn_at)


def test_a_countersigned_consent_is_a_treatment_consent_with_the_signed_texts_hash(practice):
    consent = signed(practice, countersigned=True)
    body = sound(practice.org.pk, "Consent", str(consent.pk))
    assert codes(body["scope"]) == {(values.CONSENT_SCOPE, "treatment")}
    assert codes(body["category"][0]) == {(values.LOINC, "59284-0")}
    assert body["patient"] == body["performer"][0] == {"reference": f"Patient/{practice.patient.pk}"}
    assert body["organization"] == [{"reference": f"Organization/{practice.org.pk}"}]
    assert body["verification"] == [
        {"verified": True, "verificationDate": values.instant(consent.countersigned_at)}
    ]
    template = consent.template
    text = document_text(template).encode()
    assert body["sourceAttachment"] == {
        "contentType": "text/plain; charset=utf-8",
        "size": len(text),
        "hash": base64.b64encode(hashlib.sha1(text).digest()).decode(),
        "title": f"{template.title} (version {template.version})",
    }
    assert body["policyRule"] == {"text": f"{template.title}, version {template.version}"}


def book_treatment(practice):
    bookable(practice)
    plan = plan_row(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    starts = at(practice, next_weekday(1), 10)
    return scheduling.book(
        nurse,
        practice.patient.pk,
        clinic_id=practice.clinic.pk,
        type_key="iv",
        starts_at=starts,
        plan_id=plan.pk,
        notes="Prefers the window chair",
    )


def test_a_booked_treatment_reads_booked_with_its_type_times_patient_clinic_and_plan(practice):
    appointment = book_treatment(practice)
    body = sound(practice.org.pk, "Appointment", str(appointment.pk))
    assert body["status"] == "booked"
    assert codes(body["serviceType"][0]) == {(f"{values.KETAFLOW}/CodeSystem/appointment-type", "iv")}
    assert body["start"] == values.instant(appointment.starts_at)
    assert body["end"] == values.instant(appointment.ends_at)
    assert body["minutesDuration"] == (appointment.ends_at - appointment.starts_at).seconds // 60
    assert body["supportingInformation"] == [{"reference": f"CarePlan/{appointment.plan_id}"}]
    assert body["comment"] == "Prefers the window chair"
    actors = [p["actor"]["reference"] for p in body["participant"]]
    assert actors[0] == f"Patient/{practice.patient.pk}" and actors[-1] == f"Location/{practice.clinic.pk}"
    assert all(p["status"] == "accepted" for p in body["participant"])


def test_a_booked_appointment_lists_its_booked_staff_as_practitioners(practice):
    appointment = book_treatment(practice)
    body = stored_one(practice.org.pk, "Appointment", str(appointment.pk))
    staff = {f"Practitioner/{row.staff_id}" for row in appointment.staff_rows.all()}
    assert staff and staff <= {p["actor"]["reference"] for p in body["participant"]}


def test_a_cancelled_appointment_reads_cancelled_with_its_reason_and_its_staff(practice):
    appointment = book_treatment(practice)
    scheduling.cancel(actor_of(practice.staff[Role.NURSE]), appointment.pk, reason="Patient has a cold")
    body = sound(practice.org.pk, "Appointment", str(appointment.pk))
    assert body["status"] == "cancelled" and body["cancelationReason"] == {"text": "Patient has a cold"}
    staff = {f"Practitioner/{row.staff_id}" for row in appointment.staff_rows.all()}
    assert staff and staff <= {p["actor"]["reference"] for p in body["participant"]}


def test_a_checked_in_session_is_an_arrived_clinic_encounter_with_no_dose_yet(practice):
    session = chair.checked_in(practice)
    body = sound(practice.org.pk, "Encounter", str(session.pk))
    assert body["status"] == "arrived"
    assert body["class"] == {"system": values.ACT_CODE, "code": "AMB", "display": "ambulatory"}
    assert body["type"][0]["text"] == session.protocol_label
    assert body["appointment"] == [{"reference": f"Appointment/{session.appointment_id}"}]
    assert body["location"] == [{"location": {"reference": f"Location/{practice.clinic.pk}"}}]
    assert body["period"] == {"start": values.instant(session.checked_in_at)}
    admitter = {"reference": f"Practitioner/{practice.staff[Role.NURSE].pk}"}
    assert any(
        p["individual"] == admitter and p["type"][0]["coding"][0]["code"] == "ADM"
        for p in body["participant"]
    )
    assert stored(practice.org.pk, "MedicationAdministration") == []


def test_a_session_called_off_is_a_cancelled_encounter_with_the_reason(practice):
    session = chair.checked_in(practice)
    cancel_session(chair.nurse(practice), session.pk, reason="Blood pressure high on arrival")
    body = sound(practice.org.pk, "Encounter", str(session.pk))
    assert body["status"] == "cancelled"
    assert body["extension"] == [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/encounter-reasonCancelled",
            "valueCodeableConcept": {"text": "Blood pressure high on arrival"},
        }
    ]


def test_a_running_infusion_is_in_progress_at_the_planned_dose_and_on_hold_when_paused(practice):
    session = chair.dosing_session(practice)
    dose_id = f"{session.pk}-dose"
    body = sound(practice.org.pk, "MedicationAdministration", dose_id)
    assert body["status"] == "in-progress"
    assert body["effectivePeriod"] == {"start": values.instant(session.dosing_started_at)}
    assert body["dosage"]["dose"] == values.quantity(session.planned_mg, "mg")
    assert body["dosage"]["rateQuantity"] == values.quantity(150, "mL/h")
    assert sound(practice.org.pk, "Encounter", str(session.pk))["status"] == "in-progress"
    record_event(chair.nurse(practice), session.pk, kind="pause", at=timezone.now())
    assert sound(practice.org.pk, "MedicationAdministration", dose_id)["status"] == "on-hold"


def test_a_stopped_infusion_is_a_completed_administration_of_the_delivered_dose(practice):
    session = chair.stopped_session(practice)
    body = sound(practice.org.pk, "MedicationAdministration", f"{session.pk}-dose")
    assert body["status"] == "completed"
    assert codes(body["medicationCodeableConcept"]) == {(values.RXNORM, "6130")}
    assert body["context"] == {"reference": f"Encounter/{session.pk}"}
    assert body["request"] == {"reference": f"MedicationRequest/{session.plan_id}-rx"}
    assert body["effectivePeriod"] == values.period(session.dosing_started_at, session.dosing_ended_at)
    assert body["dosage"]["dose"] == values.quantity(session.delivered_mg, "mg")
    assert body["dosage"]["rateQuantity"] == values.quantity(150, "mL/h")
    assert codes(body["dosage"]["route"]) == {(values.SNOMED, "47625008")}
    lot = session.preparations.get().lot
    assert body["note"] == [{"text": f"Lot {lot.lot_number} (expires {lot.expires_on.isoformat()})"}]
    roles = {(p["function"]["coding"][0]["code"], p["actor"]["reference"]) for p in body["performer"]}
    assert ("performer", f"Practitioner/{practice.staff[Role.NURSE].pk}") in roles
    assert ("verifier", f"Practitioner/{chair.second_nurse(practice).pk}") in roles
    mine = (
        "CarePlan",
        "MedicationRequest",
        "Consent",
        "Appointment",
        "Encounter",
        "MedicationAdministration",
    )
    before = {(b["resourceType"], b["id"]): b for kind in mine for b in stored(practice.org.pk, kind)}
    for resource in before.values():
        validate(resource)
    reindex(practice.org.pk)  # the bulk path builds the same bodies, so no version moves
    after = {(b["resourceType"], b["id"]): b for kind in mine for b in stored(practice.org.pk, kind)}
    assert after == before


def test_a_rescue_medication_is_its_own_administration_in_the_encounter(practice):
    session = chair.dosing_session(practice)
    given = give_rescue(
        chair.nurse(practice), session.pk, drug_key="ondansetron", dose_mg="4", route="iv", reason="Nausea"
    )
    body = sound(practice.org.pk, "MedicationAdministration", str(given.pk))
    assert body["status"] == "completed"
    assert body["medicationCodeableConcept"] == {
        "coding": [{"system": values.RXNORM, "code": "26225"}],
        "text": "Ondansetron",
    }
    assert body["context"] == {"reference": f"Encounter/{session.pk}"}
    assert body["effectiveDateTime"] == values.instant(given.given_at)
    assert body["dosage"]["dose"] == values.quantity(4, "mg")
    assert codes(body["dosage"]["route"]) == {(values.SNOMED, "47625008")}
    assert body["reasonCode"] == [{"text": "Nausea"}]
    assert body["performer"][0]["actor"] == {"reference": f"Practitioner/{practice.staff[Role.NURSE].pk}"}


def test_a_dose_taken_at_home_is_a_self_administered_moment_in_a_home_health_encounter(practice):
    plan = signed_plan(practice, "sublingual_home")
    portal_patient(practice)
    account = PortalAccount.objects.get(patient=practice.patient)
    session = start_home_session(account, None, systolic_bp=124, diastolic_bp=78)
    attest_monitor(account, session.pk, monitor_name="Jordan Partner")
    record_dose_taken(account, session.pk, dose_mg=plan.dose_mg)
    session.refresh_from_db()
    encounter = sound(practice.org.pk, "Encounter", str(session.pk))
    assert (
        encounter["class"]["code"] == "HH" and "location" not in encounter and "appointment" not in encounter
    )
    body = sound(practice.org.pk, "MedicationAdministration", f"{session.pk}-dose")
    assert body["effectiveDateTime"] == values.instant(session.dosing_started_at)
    assert body["performer"] == [{"actor": {"reference": f"Patient/{practice.patient.pk}"}}]
    assert codes(body["dosage"]["route"]) == {(values.SNOMED, "37839007")}
    assert body["dosage"]["dose"] == values.quantity(plan.dose_mg, "mg")
