"""The intake's services: issuing, saving sections, submitting all or nothing, safety, facts, review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.intake import submission
from ketaflow.intake.facts import intake_facts
from ketaflow.intake.models import Intake
from ketaflow.intake.services import (
    LINK_LIFETIME_DAYS,
    IntakeUnavailable,
    latest_submitted_intake,
    mark_reviewed,
    open_intake,
    respondent_for_token,
    save_section,
)
from ketaflow.intake.submission import submit_intake
from ketaflow.measurement.models import QuestionnaireResponse, SafetyAlert
from ketaflow.patients.models import Allergy, AllergyStatus, Medication, Patient, PatientAlert
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.intake_factories import (
    ANSWERS,
    CSSRS_HIGH,
    CSSRS_LOW,
    answer_all,
    answers,
    issue,
    submitted,
)

pytestmark = pytest.mark.django_db


def events(action: str, object_type: str, **detail) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(action=action, object_type=object_type)
    return [e for e in rows if all(e.detail.get(k) == v for k, v in detail.items())]


# ---------- issuing ----------


def test_front_desk_issues_an_intake_whose_link_works_for_seven_days_and_is_stored_as_a_hash(practice):
    issued = issue(practice, "in_person", Role.FRONT_DESK)
    intake = Intake.objects.get(pk=issued.intake.pk)
    assert issued.path == f"/intake/{issued.token}/"
    assert intake.status == Intake.Status.INVITED and intake.patient == practice.patient
    assert issued.token not in intake.token_hash and len(intake.token_hash) == 64
    assert LINK_LIFETIME_DAYS == 7
    assert timedelta(days=6, hours=23) < intake.expires_at - timezone.now() <= timedelta(days=7)
    event = events("create", "Intake")[0]
    assert (
        event.detail == {"channel": "in_person", "event": "issued"}
        and event.patient_id == practice.patient.pk
    )


def test_issuing_again_renews_the_link_of_the_open_intake(practice):
    first = issue(practice)
    second = issue(practice, "email" if practice.patient.email else "in_person")
    assert first.intake.pk == second.intake.pk and Intake.objects.count() == 1
    with pytest.raises(IntakeUnavailable):
        respondent_for_token(first.token)
    assert respondent_for_token(second.token).intake.pk == first.intake.pk
    assert events("update", "Intake", event="link renewed")


def test_email_and_text_need_the_contact_on_file(practice):
    practice.patient.email, practice.patient.phone_mobile = "", ""
    practice.patient.save()
    with pytest.raises(ValidationFailed) as email:
        issue(practice, "email")
    with pytest.raises(ValidationFailed) as sms:
        issue(practice, "sms")
    assert email.value.errors[0].field == "channel" and "no email address" in email.value.errors[0].message
    assert "no mobile number" in sms.value.errors[0].message
    with pytest.raises(ValidationFailed, match="Choose email"):
        issue(practice, "carrier pigeon")
    assert not Intake.objects.exists()


def test_text_messages_not_set_up_are_refused_by_the_service_and_nothing_is_stored(practice, settings):
    settings.KETAFLOW_SMS_BACKEND = ""
    with pytest.raises(ValidationFailed) as refused:
        issue(practice, "sms")
    [error] = refused.value.errors
    assert error.field == "channel"
    assert error.message.startswith("Text messages are not set up for this clinic")
    assert not Intake.objects.exists() and not events("create", "Intake")


def test_another_organizations_patient_is_not_found(practice, stranger):
    from ketaflow.intake.services import issue_intake

    with pytest.raises(NotFound):
        issue_intake(actor_of(practice.staff[Role.NURSE]), stranger.patient.pk, channel="in_person")


# ---------- the link and section saves ----------


def test_an_expired_link_and_a_submitted_intakes_link_are_unavailable(practice):
    issued = issue(practice)
    Intake.objects.filter(pk=issued.intake.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(IntakeUnavailable):
        respondent_for_token(issued.token)
    with pytest.raises(IntakeUnavailable):
        respondent_for_token("not-a-token")


def test_a_saved_section_survives_and_marks_the_intake_in_progress(practice):
    issued = issue(practice)
    save_section(respondent_for_token(issued.token), "medical", dict(ANSWERS["medical"]))
    intake = Intake.objects.get(pk=issued.intake.pk)
    assert intake.status == Intake.Status.IN_PROGRESS and intake.started_at is not None
    assert intake.answers["medical"]["glaucoma"] == "yes"
    assert intake.answers["medical"]["home_bp_systolic"] == 128
    event = events("update", "Intake", section="medical")[0]
    assert event.username == "patient:patient-intake" and event.via == "intake"
    assert "glaucoma" not in str(event.detail)


def test_a_refused_section_stores_nothing(practice):
    issued = issue(practice)
    with pytest.raises(ValidationFailed) as caught:
        save_section(
            respondent_for_token(issued.token),
            "medical",
            {"home_bp_systolic": "400", "home_bp_diastolic": "80"},
        )
    assert caught.value.errors[0].field == "medical.home_bp_systolic"
    intake = Intake.objects.get(pk=issued.intake.pk)
    assert intake.answers == {} and intake.status == Intake.Status.INVITED


def test_pregnancy_is_not_a_section_for_a_male_record(practice):
    practice.patient.sex_at_birth = "male"
    practice.patient.save()
    issued = issue(practice)
    with pytest.raises(NotFound):
        save_section(respondent_for_token(issued.token), "pregnancy", {"pregnant": "no"})


# ---------- submitting ----------


def test_submit_writes_contacts_medications_allergies_and_the_screen_and_spends_the_link(practice):
    intake = submitted(practice)
    patient = Patient.objects.get(pk=practice.patient.pk)
    assert intake.status == Intake.Status.SUBMITTED and intake.submitted_at and intake.token_hash is None
    assert patient.phone_mobile == "+15035550199" and patient.email == "quinn.intake@example.test"
    assert (
        patient.emergency_contact_name == "Sam Example" and patient.allergy_status == AllergyStatus.RECORDED
    )
    medications = {m.name: m for m in Medication.objects.filter(patient=patient)}
    xanax = medications["Xanax 0.5 mg"]
    assert (xanax.catalogue_id, xanax.classes, xanax.source) == ("alprazolam", ["benzodiazepine"], "patient")
    assert xanax.dose == "at night" and medications["Sertraline"].catalogue_id == "sertraline"
    allergy = Allergy.objects.get(patient=patient)
    assert (allergy.substance, allergy.reaction, allergy.category) == ("Penicillin", "Hives", "medication")
    screen = QuestionnaireResponse.objects.get(patient=patient, instrument_id="cssrs_screener")
    assert intake.cssrs_response == screen and screen.source == "link" and screen.status == "completed"
    assert not SafetyAlert.objects.exists() and not PatientAlert.objects.exists()
    assert sorted(intake.created_records["medications"]) == sorted(str(m.pk) for m in medications.values())
    assert intake.created_records["allergies"] == [str(allergy.pk)]


def test_submit_is_audited_as_the_patient_naming_fields_never_values(practice):
    submitted(practice)
    updates = events("update", "Patient", via="intake")
    contact = next(e for e in updates if "phone_mobile" in e.detail["fields"])
    assert {"email", "emergency_contact_name", "preferred_contact"} <= set(contact.detail["fields"])
    assert "+15035550199" not in str(contact.detail) and contact.username == "patient:patient-intake"
    assert any(e.detail["fields"] == ["allergy_status"] for e in updates)
    assert len(events("create", "Medication")) == 2 and len(events("create", "Allergy")) == 1
    done = events("update", "Intake", event="submitted")[0]
    assert done.detail["medications"] == 2 and done.detail["allergies"] == 1
    assert "Xanax" not in str(done.detail)


def test_a_failure_midway_through_submit_writes_nothing(practice, monkeypatch):
    issued = issue(practice)
    answer_all(issued.token)
    before = Patient.objects.get(pk=practice.patient.pk)

    def broken(*args, **kwargs):
        raise ValidationFailed.single("medications.allergies[0].substance", "refused")

    monkeypatch.setattr(submission, "create_allergy", broken)
    with pytest.raises(ValidationFailed):
        submit_intake(respondent_for_token(issued.token))
    after = Patient.objects.get(pk=practice.patient.pk)
    assert after.phone_mobile == before.phone_mobile and after.email == before.email
    assert not Medication.objects.exists() and not Allergy.objects.exists()
    assert not QuestionnaireResponse.objects.exists()
    intake = Intake.objects.get(pk=issued.intake.pk)
    assert intake.status == Intake.Status.IN_PROGRESS and intake.token_hash is not None
    assert not events("update", "Intake", event="submitted") and not events("create", "Medication")


def test_stored_answers_that_no_longer_pass_are_named_and_nothing_is_written(practice):
    issued = issue(practice)
    answer_all(issued.token)
    intake = Intake.objects.get(pk=issued.intake.pk)
    tampered = dict(intake.answers)
    tampered["medications"] = {
        **tampered["medications"],
        "allergies": [{"substance": "Latex", "reaction": "x" * 201}],
    }
    Intake.objects.filter(pk=intake.pk).update(answers=tampered)
    with pytest.raises(ValidationFailed) as caught:
        submit_intake(respondent_for_token(issued.token))
    assert caught.value.errors[0].field == "medications.allergies[0].reaction"
    assert not Medication.objects.exists() and not Allergy.objects.exists()


def test_submit_names_every_section_not_yet_answered(practice):
    issued = issue(practice)
    answer_all(issued.token, skip=("home", "goals"))
    with pytest.raises(ValidationFailed) as caught:
        submit_intake(respondent_for_token(issued.token))
    assert [e.field for e in caught.value.errors] == ["home", "goals"]


def test_a_record_changed_to_male_makes_a_saved_pregnancy_yes_a_contradiction_at_submit(practice):
    issued = issue(practice)
    answer_all(issued.token, answers(pregnancy={"pregnant": "yes"}))
    Patient.objects.filter(pk=practice.patient.pk).update(sex_at_birth="male")
    respondent = respondent_for_token(issued.token)
    # the pregnancy page is no longer asked, so it is not checked or kept
    intake = submit_intake(respondent)
    assert "pregnancy" not in intake.answers and intake_facts(intake)["pregnant"] is None


def test_medicines_and_allergies_already_on_the_chart_are_not_added_twice(practice):
    nurse = actor_of(practice.staff[Role.NURSE])
    from ketaflow.patients.medications import add_medication
    from ketaflow.patients.records import add_allergy

    add_medication(nurse, practice.patient.pk, catalogue_id="alprazolam", dose="0.5 mg")
    add_allergy(nurse, practice.patient.pk, substance="penicillin")
    intake = submitted(practice)
    assert Medication.objects.filter(catalogue_id="alprazolam").count() == 1
    assert Allergy.objects.count() == 1 and intake.created_records["allergies"] == []
    assert len(intake.created_records["medications"]) == 1  # sertraline only


def test_no_known_allergies_leaves_the_allergy_status_for_a_clinician_to_confirm(practice):
    submitted(practice, answers(medications={"allergies": [], "no_known_allergies": True}))
    assert Patient.objects.get(pk=practice.patient.pk).allergy_status == AllergyStatus.UNKNOWN


# ---------- safety ----------


def test_a_high_risk_screen_raises_the_standard_safety_alert_when_the_page_is_saved(practice):
    issued = issue(practice)
    raw = answers(mental_health={"cssrs": dict(CSSRS_HIGH)})["mental_health"]
    save_section(respondent_for_token(issued.token), "mental_health", raw)
    alert = SafetyAlert.objects.get(patient=practice.patient)
    assert alert.instrument_id == "cssrs_screener" and alert.flags[0]["name"] == "cssrs_high_risk"
    kept = alert.response
    assert kept.status == QuestionnaireResponse.Status.IN_PROGRESS and kept.source == "link"
    # saving the same answers again does not alert again
    save_section(respondent_for_token(issued.token), "mental_health", raw)
    assert SafetyAlert.objects.count() == 1 and QuestionnaireResponse.objects.count() == 1


def test_submitting_a_high_risk_screen_stores_it_scored_without_a_second_alert(practice):
    intake = submitted(practice, answers(mental_health={"cssrs": dict(CSSRS_HIGH)}))
    assert SafetyAlert.objects.count() == 1
    completed = QuestionnaireResponse.objects.get(status="completed")
    assert completed == intake.cssrs_response and completed.safety_flags == ["cssrs_high_risk"]
    assert not PatientAlert.objects.exists()


def test_unfinished_screen_answers_that_endorse_risk_are_kept_and_alerted_though_the_page_is_refused(
    practice,
):
    issued = issue(practice)
    raw = {"cssrs": {"1": 1, "2": 1, "3": 1}}  # moderate so far; items 4 to 6 unanswered
    with pytest.raises(ValidationFailed):
        save_section(respondent_for_token(issued.token), "mental_health", raw)
    assert SafetyAlert.objects.get().flags[0]["name"] == "cssrs_moderate_risk"
    assert Intake.objects.get(pk=issued.intake.pk).answers == {}


def test_a_yes_to_wishing_to_be_dead_below_the_alert_levels_flags_the_chart_on_submit(practice):
    submitted(practice, answers(mental_health={"cssrs": dict(CSSRS_LOW)}))
    assert not SafetyAlert.objects.exists()
    alert = PatientAlert.objects.get(patient=practice.patient)
    assert alert.category == "safety" and "thoughts of suicide" in alert.message and alert.is_active


# ---------- reading: latest, facts, review ----------


def test_latest_submitted_intake_and_its_facts(practice):
    assert latest_submitted_intake(practice.patient) is None
    intake = submitted(practice, answers(pregnancy={"pregnant": "unsure"}))
    assert latest_submitted_intake(practice.patient) == intake
    facts = intake_facts(intake)
    assert facts["raised_intraocular_pressure"] is True  # glaucoma yes
    assert facts["bipolar_disorder"] is False
    assert facts["psychotic_disorder"] is None  # not sure
    assert facts["arteriovenous_malformation"] is None  # not sure
    assert facts["pregnant"] is None and facts["home_bp_cuff"] is None
    assert facts["home_monitor_present"] is True and facts["ketamine_hypersensitivity"] is False


def test_opening_an_intake_is_audited_and_needs_clinical_access(practice, stranger):
    intake = submitted(practice)
    nurse = actor_of(practice.staff[Role.NURSE])
    assert open_intake(nurse, intake.pk).pk == intake.pk
    assert events("read", "Intake", purpose="intake")[0].patient_id == practice.patient.pk
    with pytest.raises(Forbidden):
        open_intake(actor_of(practice.staff[Role.FRONT_DESK]), intake.pk)
    with pytest.raises(NotFound):
        open_intake(actor_of(stranger.staff[Role.NURSE]), intake.pk)


def test_marking_reviewed_records_who_and_when_once(practice):
    intake = submitted(practice)
    nurse = practice.staff[Role.NURSE]
    reviewed = mark_reviewed(actor_of(nurse), intake.pk)
    assert reviewed.reviewed_by_id == nurse.user_id and reviewed.reviewed_at is not None
    assert events("update", "Intake", event="reviewed")
    with pytest.raises(ValidationFailed, match="already"):
        mark_reviewed(actor_of(nurse), intake.pk)
    with pytest.raises(Forbidden):
        mark_reviewed(actor_of(practice.staff[Role.FRONT_DESK]), intake.pk)


def test_an_open_intake_cannot_be_marked_reviewed(practice):
    issued = issue(practice)
    with pytest.raises(ValidationFailed, match="Only a submitted"):
        mark_reviewed(actor_of(practice.staff[Role.NURSE]), issued.intake.pk)


def test_a_new_intake_after_a_submitted_one_supersedes_it_once_submitted(practice):
    first = submitted(practice)
    second = submitted(practice, answers(medical={"glaucoma": "no"}))
    assert first.pk != second.pk and latest_submitted_intake(practice.patient) == second
    assert intake_facts(second)["raised_intraocular_pressure"] is False


def test_only_the_contact_details_the_patient_changed_are_kept_and_applied(practice):
    issued = issue(practice)
    unchanged = {"phone_mobile": practice.patient.phone_mobile, "email": "", "city": "Salem"}
    save_section(respondent_for_token(issued.token), "about", unchanged)
    assert Intake.objects.get(pk=issued.intake.pk).answers["about"] == {"city": "Salem"}
    Patient.objects.filter(pk=practice.patient.pk).update(email="front.desk.fixed@example.test")
    answer_all(issued.token, skip=("about",))
    submit_intake(respondent_for_token(issued.token))
    patient = Patient.objects.get(pk=practice.patient.pk)
    assert patient.city == "Salem" and patient.email == "front.desk.fixed@example.test"
    update = next(e for e in events("update", "Patient", via="intake") if "city" in e.detail["fields"])
    assert update.detail["fields"] == ["city"]
