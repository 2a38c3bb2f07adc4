"""The measurement services as every caller uses them: responses, safety alerts, schedules, links,
clinic instruments and tenancy. (Pages and the API have their own tests.)"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.clinical.instruments import builtin_instruments
from ketaflow.measurement import library, links, responses, safety, schedule
from ketaflow.measurement.library import settings_for
from ketaflow.measurement.models import (
    INSTRUMENT_CODE_SYSTEM,
    LOINC,
    ClinicInstrument,
    Invitation,
    MeasureDue,
    MeasurementPlan,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
    Treatment,
)
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import ClinicFactory, PatientFactory, StaffFactory, actor_of

REPO_ROOT = Path(__file__).resolve().parents[2]
YBOCS_TEMPLATE = REPO_ROOT / "docs" / "examples" / "ybocs-template.json"

PHQ9_MILD_NO_RISK = [1, 1, 2, 1, 0, 1, 1, 1, 0]  # total 8, item 9 = 0
PHQ9_ITEM9 = [1, 1, 2, 1, 0, 1, 1, 0, 2]  # total 9, item 9 = 2
CSSRS_LOW = [1, 0, None, None, None, 0, None]  # a wish to be dead only
CSSRS_MODERATE = [1, 1, 1, 0, 0, 0, None]  # ideation with a method
CSSRS_HIGH = [1, 1, 1, 1, 1, 0, None]  # ideation with a plan or intent
QIDS_ITEM12 = [1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]


@pytest.fixture
def prescriber(practice):
    return practice.staff[Role.PRESCRIBER]


@pytest.fixture
def actor(prescriber):
    return actor_of(prescriber)


def observations(response):
    return {o.key: o for o in ScoreObservation.objects.filter(response=response)}


# --- Responses: answers, codes and observations -------------------------------------------------

def test_a_phq9_response_keeps_every_answer_with_its_loinc_code_and_label(practice, actor):
    recorded = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    stored = QuestionnaireResponse.objects.get(pk=recorded.response.pk)
    rows = {row["item"]: row for row in stored.answers}
    assert stored.patient_id == practice.patient.pk
    assert stored.instrument_id == "phq9" and stored.instrument_version == "1.0.0"
    assert stored.source == QuestionnaireResponse.Source.CLINICIAN
    assert sorted(rows, key=int) == [str(i) for i in range(1, 10)]  # item 10 was not answered
    assert rows["1"]["code"] == "44250-9"
    assert rows["3"] == {"item": "3", "code": "44259-0", "value": 2, "display": rows["3"]["display"]}
    assert rows["3"]["display"]  # the option's label, e.g. "More than half the days"
    assert all(row["code"] for row in rows.values())


def test_a_phq9_response_has_a_loinc_coded_total_observation_with_its_band(practice, actor):
    recorded = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    total = observations(recorded.response)["total"]
    assert (total.code_system, total.code) == (LOINC, "44261-6")
    assert total.value == 8
    assert total.band == "mild"
    assert total.kind == ScoreObservation.Kind.TOTAL
    assert total.effective_at == recorded.response.authored_at
    assert total.is_current


def test_a_pcl5_response_has_a_subscore_observation_for_each_dsm5_cluster(practice, actor):
    answers = [*[3, 2, 1, 0, 4], *[2, 2], *[1, 1, 1, 1, 1, 1, 1], *[0, 0, 3, 4, 4, 4]]  # B, C, D, E
    recorded = responses.record_response(actor, practice.patient.pk, "pcl5", answers)

    found = observations(recorded.response)
    assert found["total"].code == "101698-9" and found["total"].value == 36
    assert found["total"].band == "probable ptsd"
    subscores = {key: o for key, o in found.items() if o.kind == ScoreObservation.Kind.SUBSCORE}
    assert {key: o.value for key, o in subscores.items()} == {"B": 10, "C": 4, "D": 7, "E": 15}
    assert all(o.code_system == INSTRUMENT_CODE_SYSTEM and o.code == f"pcl5-{key}"
               for key, o in subscores.items())
    assert recorded.response.findings == ["probable_ptsd"]  # D has no item at 2+: no DSM-5 pattern


def test_a_cssrs_screener_response_has_a_loinc_coded_risk_level_observation(practice, actor):
    recorded = responses.record_response(actor, practice.patient.pk, "cssrs_screener", CSSRS_MODERATE)

    risk = observations(recorded.response)["total"]
    assert (risk.code_system, risk.code) == (LOINC, "93374-7")
    assert risk.value == 2
    assert risk.band == "moderate"
    assert "risk level" in risk.display


def test_an_incomplete_response_is_refused_naming_each_missing_item_and_nothing_is_stored(practice, actor):
    with pytest.raises(ValidationFailed) as refused:
        responses.record_response(actor, practice.patient.pk, "phq9", [1, 1, 1, None, 1, 1, 1, None, 0])

    assert {e.field for e in refused.value.errors} == {"answers.4", "answers.8"}
    assert not QuestionnaireResponse.objects.exists()


def test_an_out_of_range_answer_is_refused_naming_the_item(practice, actor):
    with pytest.raises(ValidationFailed) as refused:
        responses.record_response(actor, practice.patient.pk, "phq9", [1, 1, 1, 1, 7, 1, 1, 1, 0])

    assert [e.field for e in refused.value.errors] == ["answers.5"]


def test_a_front_desk_user_cannot_record_a_response(practice):
    with pytest.raises(Forbidden):
        responses.record_response(actor_of(practice.staff[Role.FRONT_DESK]), practice.patient.pk, "phq9",
                                  PHQ9_MILD_NO_RISK)


def test_a_response_entered_in_error_leaves_the_trajectory_but_stays_on_file(practice, actor):
    recorded = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    responses.mark_entered_in_error(actor, recorded.response.pk, "wrong patient's form")

    stored = QuestionnaireResponse.objects.get(pk=recorded.response.pk)
    assert stored.status == QuestionnaireResponse.Status.ENTERED_IN_ERROR
    assert not ScoreObservation.objects.filter(response=stored, is_current=True).exists()
    with pytest.raises(ValidationFailed):
        responses.mark_entered_in_error(actor, recorded.response.pk, "again")


# --- Safety alerts -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("instrument_id", "answers", "flag"),
    [
        ("phq9", PHQ9_ITEM9, "phq9_item9_self_harm"),
        ("qids_sr16", QIDS_ITEM12, "qids_item12_suicidal_ideation"),
        ("cssrs_screener", CSSRS_MODERATE, "cssrs_moderate_risk"),
        ("cssrs_screener", CSSRS_HIGH, "cssrs_high_risk"),
    ],
)
def test_a_safety_answer_raises_an_open_alert(practice, actor, instrument_id, answers, flag):
    recorded = responses.record_response(actor, practice.patient.pk, instrument_id, answers)

    alert = SafetyAlert.objects.get()
    assert recorded.alert == alert
    assert alert.status == SafetyAlert.Status.OPEN
    assert alert.patient_id == practice.patient.pk and alert.response_id == recorded.response.pk
    assert [f["name"] for f in alert.flags] == [flag]
    assert alert.flags[0]["message"]
    assert recorded.response.safety_flags == [flag]


@pytest.mark.parametrize(
    ("instrument_id", "answers"),
    [("phq9", PHQ9_MILD_NO_RISK), ("cssrs_screener", CSSRS_LOW),
     ("qids_sr16", [1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0])],
)
def test_no_alert_without_a_safety_answer_and_never_for_cssrs_low_risk(
    practice, actor, instrument_id, answers,
):
    recorded = responses.record_response(actor, practice.patient.pk, instrument_id, answers)

    assert recorded.alert is None
    assert not SafetyAlert.objects.exists()
    assert not Notification.objects.exists()
    if instrument_id == "cssrs_screener":
        assert observations(recorded.response)["total"].band == "low"


def test_an_alert_goes_to_the_responsible_clinician_by_notification_and_an_email_naming_no_patient(
    practice, actor, prescriber, django_capture_on_commit_callbacks,
):
    patient = practice.patient
    schedule.set_plan(actor, patient.pk, stage="evaluation", responsible_clinician_id=prescriber.pk)

    with django_capture_on_commit_callbacks(execute=True):
        recorded = responses.record_response(actor, patient.pk, "phq9", PHQ9_ITEM9)

    alert = recorded.alert
    assert alert is not None and alert.assigned_to == prescriber
    notification = Notification.objects.get()
    assert notification.recipient_id == prescriber.user_id
    assert notification.safety_alert == alert
    assert notification.link == f"/measures/alerts/{alert.pk}/"
    assert notification.read_at is None
    assert [m.to for m in mail.outbox] == [[prescriber.user.email]]
    message = mail.outbox[0]
    text = f"{message.subject}\n{message.body}"
    assert f"/measures/alerts/{alert.pk}/" in message.body
    for private in (patient.legal_given_name, patient.legal_family_name, patient.mrn):
        assert private not in text


def test_with_no_responsible_clinician_every_active_prescriber_at_the_home_clinic_is_notified(
    practice, actor, prescriber, django_capture_on_commit_callbacks,
):
    org, clinic = practice.org, practice.clinic
    prescriber.clinics.add(clinic)
    colleague = StaffFactory(organization=org, roles=[Role.PRESCRIBER])
    colleague.clinics.add(clinic)
    away = StaffFactory(organization=org, roles=[Role.PRESCRIBER])
    away.clinics.add(ClinicFactory(organization=org))
    gone = StaffFactory(organization=org, roles=[Role.PRESCRIBER])
    gone.clinics.add(clinic)
    gone.user.is_active = False
    gone.user.save()
    nurse = practice.staff[Role.NURSE]
    nurse.clinics.add(clinic)

    with django_capture_on_commit_callbacks(execute=True):
        recorded = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9)

    assert recorded.alert is not None and recorded.alert.assigned_to is None
    notified = set(Notification.objects.values_list("recipient_id", flat=True))
    assert notified == {prescriber.user_id, colleague.user_id}
    assert sorted(mail.outbox[0].to) == sorted([prescriber.user.email, colleague.user.email])


def test_with_no_prescriber_at_the_home_clinic_every_active_prescriber_of_the_organization_is_notified(
    practice, actor, prescriber,
):
    responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9)

    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {prescriber.user_id}


def test_acknowledging_an_alert_needs_a_listed_action_and_a_note(practice, actor):
    alert = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9).alert
    assert alert is not None

    with pytest.raises(ValidationFailed) as refused:
        safety.acknowledge_alert(actor, alert.pk, action="", note="  ")
    with pytest.raises(ValidationFailed) as unknown_action:
        safety.acknowledge_alert(actor, alert.pk, action="ignored", note="Called the patient.")

    assert {e.field for e in refused.value.errors} == {"action", "note"}
    assert [e.field for e in unknown_action.value.errors] == ["action"]
    assert SafetyAlert.objects.get().status == SafetyAlert.Status.OPEN


def test_acknowledging_an_alert_closes_it_reads_its_notifications_and_is_audited(practice, actor, prescriber):
    schedule.set_plan(actor, practice.patient.pk, stage="evaluation", responsible_clinician_id=prescriber.pk)
    alert = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9).alert
    assert alert is not None
    action = SafetyAlert.Action.CONTACTED_SAFETY_PLAN

    safety.acknowledge_alert(actor, alert.pk, action=action, note="Phoned; safety plan reviewed.")

    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.ACKNOWLEDGED
    assert alert.action == action and alert.action_note == "Phoned; safety plan reviewed."
    assert alert.acknowledged_by_id == prescriber.user_id and alert.acknowledged_at is not None
    assert not safety.unread_notifications(actor).exists()
    event = AuditEvent.objects.filter(object_type="SafetyAlert", action="update").get()
    assert event.object_id == str(alert.pk)
    assert event.patient_id == practice.patient.pk
    assert event.user_id == prescriber.user_id
    assert event.detail == {"status": "acknowledged", "action": action}
    with pytest.raises(ValidationFailed):
        safety.acknowledge_alert(actor, alert.pk, action=action, note="twice")


def test_a_response_is_stored_whole_or_not_at_all(practice, actor, prescriber):
    schedule.set_plan(actor, practice.patient.pk, stage="evaluation", responsible_clinician_id=prescriber.pk)
    due_before = list(MeasureDue.objects.values_list("instrument_id", "status"))
    events_before = AuditEvent.objects.count()

    with mock.patch.object(safety, "raise_alert", side_effect=RuntimeError("mail server on fire")), \
            pytest.raises(RuntimeError):
        responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9)

    assert not QuestionnaireResponse.objects.exists()
    assert not ScoreObservation.objects.exists()
    assert not SafetyAlert.objects.exists()
    assert list(MeasureDue.objects.values_list("instrument_id", "status")) == due_before
    assert AuditEvent.objects.count() == events_before


# --- Schedules --------------------------------------------------------------------------------------

def open_due(patient):
    return {row.instrument_id: row for row in MeasureDue.objects.filter(patient=patient, status="open")}


def test_an_evaluation_plan_makes_the_baseline_measures_due_now(practice, actor):
    before = timezone.now()

    plan = schedule.set_plan(actor, practice.patient.pk, stage="evaluation")

    due = open_due(practice.patient)
    assert set(due) == {"phq9", "gad7", "cssrs_screener"}  # the schedule's always + evaluation extras
    assert all(before <= row.due_at <= timezone.now() for row in due.values())
    assert all("at the start of the stage" in row.reason for row in due.values())
    assert MeasurementPlan.objects.get().pk == plan.pk
    assert AuditEvent.objects.filter(object_type="MeasurementPlan", object_id=str(plan.pk)).exists()


def test_a_plan_with_its_own_instruments_asks_for_those_only(practice, actor):
    schedule.set_plan(actor, practice.patient.pk, stage="evaluation", instruments=["pcl5", "madrs"])

    assert set(open_due(practice.patient)) == {"pcl5", "madrs"}


def test_a_plan_refuses_an_unknown_stage_instrument_or_clinician(practice, actor, stranger):
    with pytest.raises(ValidationFailed) as refused:
        schedule.set_plan(actor, practice.patient.pk, stage="forever", instruments=["nope"],
                          responsible_clinician_id=stranger.staff[Role.PRESCRIBER].pk)

    assert {e.field for e in refused.value.errors} == {"stage", "instruments", "responsible_clinician_id"}
    assert not MeasurementPlan.objects.exists()


def test_a_response_closes_its_due_row_and_maintenance_schedules_the_next_a_week_later(practice, actor):
    patient = practice.patient
    schedule.set_plan(actor, patient.pk, stage="maintenance")
    first = open_due(patient)["phq9"]

    recorded = responses.record_response(actor, patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    first.refresh_from_db()
    assert first.status == MeasureDue.Status.COMPLETED
    assert first.response_id == recorded.response.pk and first.closed_at is not None
    following = open_due(patient)["phq9"]
    assert following.due_at == recorded.response.authored_at + timedelta(days=7)
    assert "7 days after the last one" in following.reason
    assert open_due(patient)["gad7"].pk != following.pk  # the other instruments stay due


def test_an_evaluation_measure_once_completed_is_not_due_again(practice, actor):
    schedule.set_plan(actor, practice.patient.pk, stage="evaluation")

    responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    assert "phq9" not in open_due(practice.patient)


def test_a_due_measure_becomes_overdue_after_the_configured_days(practice, actor):
    patient = practice.patient
    schedule.set_plan(actor, patient.pk, stage="evaluation")
    MeasurementPlan.objects.update(stage_started_at=timezone.now() - timedelta(days=3))
    schedule.refresh_due(patient)

    overdue = {row.instrument_id for row in schedule.due_measures(actor, overdue=True)}
    due_now = {row.instrument_id for row in schedule.due_measures(actor, overdue=False)}
    assert overdue == {"phq9", "gad7", "cssrs_screener"} and due_now == set()

    settings = settings_for(practice.org.id)
    settings.overdue_after_days = 5
    settings.save()
    overdue = {row.instrument_id for row in schedule.due_measures(actor, overdue=True)}
    due_now = {row.instrument_id for row in schedule.due_measures(actor, overdue=False)}
    assert overdue == set() and due_now == {"phq9", "gad7", "cssrs_screener"}


def test_a_scheduled_treatment_sets_the_induction_measures_due_a_day_before_it(practice, actor):
    patient = practice.patient
    schedule.set_plan(actor, patient.pk, stage="induction")
    assert "no treatment booked" in open_due(patient)["phq9"].reason
    booked = (timezone.now() + timedelta(days=3)).replace(microsecond=0)

    treatment = schedule.record_treatment(actor, patient.pk, occurred_at=booked,
                                          status=Treatment.Status.SCHEDULED)

    assert treatment.status == Treatment.Status.SCHEDULED
    due = open_due(patient)["phq9"]
    assert due.due_at == booked - timedelta(hours=24)
    assert "before the treatment" in due.reason


def test_a_treatment_given_cannot_be_in_the_future(practice, actor):
    with pytest.raises(ValidationFailed) as refused:
        schedule.record_treatment(actor, practice.patient.pk, occurred_at=timezone.now() + timedelta(days=1))

    assert [e.field for e in refused.value.errors] == ["occurred_at"]
    assert not Treatment.objects.exists()


# --- Links ------------------------------------------------------------------------------------------

def test_a_link_opens_and_its_submission_stores_responses_from_the_link_then_it_is_spent(practice, actor):
    patient = practice.patient
    issued = links.issue_link(actor, patient.pk, ["phq9", "gad7"], channel=Invitation.Channel.EMAIL)

    invitation, instruments = links.open_link(issued.token)
    assert invitation.patient_id == patient.pk
    assert [i.id for i in instruments] == ["phq9", "gad7"]
    assert issued.path == f"/q/{issued.token}/"
    assert Invitation.objects.get().token_hash != issued.token  # only the hash is kept

    recorded = links.submit_link(issued.token, {"phq9": PHQ9_MILD_NO_RISK, "gad7": [1, 0, 1, 0, 1, 0, 1]})

    assert [r.response.instrument_id for r in recorded] == ["phq9", "gad7"]
    stored = QuestionnaireResponse.objects.filter(patient=patient)
    assert {r.source for r in stored} == {QuestionnaireResponse.Source.LINK}
    assert {r.invitation_id for r in stored} == {issued.invitation.pk}
    assert Invitation.objects.get().used_at is not None
    with pytest.raises(links.LinkUnavailable):
        links.open_link(issued.token)
    with pytest.raises(links.LinkUnavailable):
        links.submit_link(issued.token, {"phq9": PHQ9_MILD_NO_RISK, "gad7": [0] * 7})
    assert QuestionnaireResponse.objects.count() == 2


def test_a_link_submission_with_a_missing_answer_stores_nothing_and_leaves_the_link_usable(practice, actor):
    issued = links.issue_link(actor, practice.patient.pk, ["phq9", "gad7"])

    with pytest.raises(ValidationFailed) as refused:
        links.submit_link(issued.token, {"phq9": PHQ9_MILD_NO_RISK, "gad7": [1, 0, 1, None, 1, 0, 1]})

    assert [e.field for e in refused.value.errors] == ["gad7.4"]
    assert not QuestionnaireResponse.objects.exists()
    assert links.open_link(issued.token)[0].used_at is None


def test_a_safety_answer_through_a_link_raises_an_alert_recorded_as_the_patient(practice, actor):
    issued = links.issue_link(actor, practice.patient.pk, ["phq9"])

    recorded = links.submit_link(issued.token, {"phq9": PHQ9_ITEM9})

    assert recorded[0].alert is not None
    event = AuditEvent.objects.filter(object_type="SafetyAlert").get()
    assert (event.username, event.via, event.user_id) == ("patient:patient-link", "link", None)


def test_an_unfinished_link_submission_that_endorses_item_nine_still_raises_the_alert_at_once(
    practice, actor, prescriber
):
    schedule.set_plan(actor, practice.patient.pk, stage="evaluation", responsible_clinician_id=prescriber.pk)
    issued = links.issue_link(actor, practice.patient.pk, ["phq9"])

    with pytest.raises(ValidationFailed) as refused:
        links.submit_link(issued.token, {"phq9": [None, None, 1, 1, None, None, None, None, 2]})

    assert "phq9.1" in {e.field for e in refused.value.errors}
    kept = QuestionnaireResponse.objects.get()
    assert kept.status == QuestionnaireResponse.Status.IN_PROGRESS
    assert kept.safety_flags == ["phq9_item9_self_harm"]
    assert not ScoreObservation.objects.exists(), "unfinished answers are never scored"
    alert = SafetyAlert.objects.get()
    assert (alert.status, alert.assigned_to_id, alert.response_id) == ("open", prescriber.pk, kept.pk)
    assert links.open_link(issued.token)[0].used_at is None, "the patient can still finish"

    finished = links.submit_link(issued.token, {"phq9": [1, 1, 1, 1, 0, 1, 0, 0, 2]})

    assert finished[0].alert == alert, "finishing does not raise a second alert for the same answer"
    assert SafetyAlert.objects.count() == 1


def test_a_clinician_entry_left_unfinished_with_a_safety_answer_raises_the_alert(practice, actor):
    with pytest.raises(ValidationFailed):
        responses.record_response(actor, practice.patient.pk, "qids_sr16", {"12": 2})

    alert = SafetyAlert.objects.get()
    assert [flag["name"] for flag in alert.flags] == ["qids_item12_suicidal_ideation"]


def test_an_expired_an_unknown_or_an_empty_link_is_unavailable(practice, actor):
    issued = links.issue_link(actor, practice.patient.pk, ["phq9"])
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    for token in (issued.token, "not-a-token", "", "x" * 500):
        with pytest.raises(links.LinkUnavailable):
            links.open_link(token)
    with pytest.raises(links.LinkUnavailable):
        links.submit_link(issued.token, {"phq9": PHQ9_MILD_NO_RISK})
    assert not QuestionnaireResponse.objects.exists()


@pytest.mark.parametrize("instrument_id", ["madrs", "ymrs", "moaas"])
def test_a_link_is_refused_for_a_clinician_rated_instrument(practice, actor, instrument_id):
    with pytest.raises(ValidationFailed) as refused:
        links.issue_link(actor, practice.patient.pk, ["phq9", instrument_id])

    assert [e.field for e in refused.value.errors] == ["instruments"]
    assert "not answered by the patient" in refused.value.errors[0].message
    assert not Invitation.objects.exists()


# --- Clinic instruments -----------------------------------------------------------------------------

def ybocs_document() -> dict:
    return json.loads(YBOCS_TEMPLATE.read_text(encoding="utf-8"))


def test_a_clinic_loads_its_licensed_ybocs_and_records_a_response_with_it(practice, actor):
    owner = actor_of(practice.staff[Role.OWNER])

    row = library.load_clinic_instrument(owner, ybocs_document())
    recorded = responses.record_response(actor, practice.patient.pk, "ybocs", [2, 2, 2, 2, 2, 1, 1, 1, 1, 2])

    assert (row.instrument_id, row.version, row.is_active) == ("ybocs", "1.0.0", True)
    assert recorded.score.total == 16 and recorded.score.band == "moderate"
    total = observations(recorded.response)["total"]
    assert (total.code_system, total.code, total.value) == (INSTRUMENT_CODE_SYSTEM, "ybocs-total", 16)
    assert AuditEvent.objects.filter(object_type="ClinicInstrument", object_id=str(row.pk)).exists()


def test_a_clinic_instrument_is_its_organizations_alone(practice, stranger):
    library.load_clinic_instrument(actor_of(practice.staff[Role.OWNER]), ybocs_document())

    assert "ybocs" in library.instruments_for(practice.org.id)
    assert "ybocs" not in library.instruments_for(stranger.org.id)
    with pytest.raises(NotFound):
        responses.record_response(actor_of(stranger.staff[Role.PRESCRIBER]), stranger.patient.pk, "ybocs",
                                  [0] * 10)


def test_a_newer_version_replaces_the_active_definition_and_the_same_version_is_refused(practice):
    owner = actor_of(practice.staff[Role.OWNER])
    library.load_clinic_instrument(owner, ybocs_document())

    with pytest.raises(ValidationFailed) as again:
        library.load_clinic_instrument(owner, ybocs_document())
    library.load_clinic_instrument(owner, {**ybocs_document(), "version": "1.1.0"})

    assert [e.field for e in again.value.errors] == ["version"]
    assert library.instrument_for(practice.org.id, "ybocs").version == "1.1.0"
    active = ClinicInstrument.objects.filter(is_active=True)
    assert list(active.values_list("version", flat=True)) == ["1.1.0"]


def test_a_clinic_definition_cannot_reuse_a_built_in_id(practice):
    phq9 = json.loads((REPO_ROOT / "src/ketaflow/clinical/instruments/data/phq9.json").read_text())
    phq9["version"] = "9.9.9"

    with pytest.raises(ValidationFailed) as refused:
        library.load_clinic_instrument(actor_of(practice.staff[Role.OWNER]), phq9)

    assert [e.field for e in refused.value.errors] == ["id"]
    assert not ClinicInstrument.objects.exists()
    assert library.instrument_for(practice.org.id, "phq9") is builtin_instruments()["phq9"]


def test_an_invalid_clinic_definition_is_refused_naming_the_problem(practice):
    broken = {**ybocs_document(), "bands": [{"min": 0, "max": 7, "label": "subclinical"}]}

    with pytest.raises(ValidationFailed) as refused:
        library.load_clinic_instrument(actor_of(practice.staff[Role.OWNER]), broken)

    assert refused.value.errors[0].field == "document"
    assert "bands" in refused.value.errors[0].message


def test_only_a_clinic_manager_loads_instruments(practice):
    with pytest.raises(Forbidden):
        library.load_clinic_instrument(actor_of(practice.staff[Role.PRESCRIBER]), ybocs_document())


# --- Tenancy ----------------------------------------------------------------------------------------

def _their_records(stranger):
    """A response, an alert and a patient of another organization."""
    their = actor_of(stranger.staff[Role.PRESCRIBER])
    recorded = responses.record_response(their, stranger.patient.pk, "phq9", PHQ9_ITEM9)
    assert recorded.alert is not None
    return stranger.patient.pk, recorded.response.pk, recorded.alert.pk


CROSS_TENANT_CALLS = {
    "record_response": lambda a, p, r, al: responses.record_response(a, p, "phq9", PHQ9_MILD_NO_RISK),
    "mark_entered_in_error": lambda a, p, r, al: responses.mark_entered_in_error(a, r, "mistake"),
    "set_plan": lambda a, p, r, al: schedule.set_plan(a, p, stage="evaluation"),
    "record_treatment": lambda a, p, r, al: schedule.record_treatment(
        a, p, occurred_at=timezone.now() - timedelta(days=1)),
    "issue_link": lambda a, p, r, al: links.issue_link(a, p, ["phq9"]),
    "open_alert": lambda a, p, r, al: safety.open_alert(a, al),
    "acknowledge_alert": lambda a, p, r, al: safety.acknowledge_alert(
        a, al, action=SafetyAlert.Action.CONTACTED_NO_ACUTE_RISK, note="Called."),
}


@pytest.mark.parametrize("service", sorted(CROSS_TENANT_CALLS))
def test_another_organizations_records_are_not_found_by_every_service(practice, actor, stranger, service):
    patient_id, response_id, alert_id = _their_records(stranger)
    counts = (QuestionnaireResponse.objects.count(), MeasurementPlan.objects.count(),
              Treatment.objects.count(), Invitation.objects.count())

    with pytest.raises(NotFound):
        CROSS_TENANT_CALLS[service](actor, patient_id, response_id, alert_id)

    assert counts == (QuestionnaireResponse.objects.count(), MeasurementPlan.objects.count(),
                      Treatment.objects.count(), Invitation.objects.count())
    alert = SafetyAlert.objects.get(pk=alert_id)
    assert alert.status == SafetyAlert.Status.OPEN
    assert QuestionnaireResponse.objects.get(pk=response_id).status == QuestionnaireResponse.Status.COMPLETED


def test_alert_lists_and_notifications_hold_only_our_organizations(practice, actor, stranger):
    _their_records(stranger)
    ours = responses.record_response(actor, practice.patient.pk, "phq9", PHQ9_ITEM9).alert

    assert list(safety.alerts_for(actor)) == [ours]
    assert {n.patient_id for n in safety.unread_notifications(actor)} == {practice.patient.pk}
    assert SafetyAlert.objects.count() == 2


def test_a_patient_of_another_clinic_in_our_organization_is_found(practice, actor):
    other_clinic_patient = PatientFactory(home_clinic=ClinicFactory(organization=practice.org))

    recorded = responses.record_response(actor, other_clinic_patient.pk, "phq9", PHQ9_MILD_NO_RISK)

    assert recorded.response.patient_id == other_clinic_patient.pk
