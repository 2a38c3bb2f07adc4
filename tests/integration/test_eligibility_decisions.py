"""The signed decision record: overrides need a reason, signing again supersedes, and a decision
re-opens by itself (in the same transaction) when a fact it relied on changes, and only then."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.clinical.eligibility import Route, builtin_rules
from ketaflow.eligibility import recheck
from ketaflow.eligibility.decisions import current_decision, route_approved, sign_decision
from ketaflow.eligibility.models import EligibilityDecision, EligibilitySettings
from ketaflow.eligibility.recheck import (
    _chart_record_saved,
    _intake_changed,
    _patient_changed,
    _recheck_patient_id,
    recheck_decisions,
)
from ketaflow.eligibility.settings_service import update_settings
from ketaflow.evaluation.models import Evaluation
from ketaflow.intake.models import Intake
from ketaflow.measurement.models import Notification, QuestionnaireResponse
from ketaflow.patients.models import VitalSigns
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import ConditionFactory, actor_of
from tests.integration.eligibility_factories import (
    CLINICIAN_ALL_CLEAR,
    chart_all_clear,
    evaluation,
    medication,
    phq9,
    submitted_intake,
    vitals,
)
from tests.integration.intake_factories import CSSRS_LOW, answers, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def prescriber(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


@pytest.fixture
def patient(practice):
    return chart_all_clear(practice)


def decision_rows(patient):
    return list(EligibilityDecision.objects.filter(patient=patient).order_by("signed_at"))


def audit(org, object_type="EligibilityDecision", **filters):
    return list(AuditEvent.objects.filter(organization_id=org.pk, object_type=object_type, **filters)
                .order_by("seq"))


def field_of(failure: ValidationFailed) -> dict[str | None, str]:
    return {e.field: e.message for e in failure.errors}


# Signing and overriding --------------------------------------------------------------------------


def test_the_all_clear_chart_makes_the_iv_route_eligible_and_approving_it_needs_no_reason(practice, patient,
                                                                                        prescriber):
    signed = sign_decision(prescriber, patient.pk, "iv", decision="approve")
    assert (signed.assessed_status, signed.decision, signed.override_reason) == ("eligible", "approve", "")
    assert not signed.is_override
    assert current_decision(patient, Route.IV) == signed
    assert route_approved(patient, "iv")


def test_approving_a_not_eligible_route_without_a_reason_is_refused_and_nothing_is_stored(
    practice, patient, prescriber
):
    vitals(patient, 172, 104, ago=timedelta(minutes=5))
    with pytest.raises(ValidationFailed) as refused:
        sign_decision(prescriber, patient.pk, "iv", decision="approve", override_reason="   ")
    message = field_of(refused.value)["override_reason"]
    assert "approving a route assessed as not eligible" in message
    assert decision_rows(patient) == []
    assert audit(practice.org) == []


def test_approving_a_not_eligible_route_with_a_reason_stores_the_reason_and_the_snapshot(
    practice, patient, prescriber
):
    vitals(patient, 172, 104, ago=timedelta(minutes=5))
    reason = "Cardiology cleared treatment; BP re-checked at 138/86 after rest, white-coat pattern."
    signed = sign_decision(prescriber, patient.pk, "iv", decision="approve", override_reason=reason)
    stored = EligibilityDecision.objects.get(pk=signed.pk)
    assert stored.assessed_status == "not_eligible" and stored.is_override
    assert stored.override_reason == reason
    assert set(stored.facts) == set(builtin_rules().facts_for(Route.IV))
    assert stored.facts["systolic_bp"] == 172 and stored.facts["medication_classes"] == []
    assert stored.sources["systolic_bp"].startswith("BP 172/104 on ")
    assert stored.assessment["status"] == "not_eligible"
    assert "blood-pressure-uncontrolled-reading" in [f["rule"] for f in stored.assessment["findings"]]
    assert stored.parameters["bp_exclude_systolic"] == 160
    assert stored.rules_version == builtin_rules().version
    assert stored.signed_by_id == practice.staff[Role.PRESCRIBER].user_id
    assert stored.evidence["medications"] == [{"name": "Sertraline", "classes": [], "classified": True}]
    [event] = audit(practice.org, action="create")
    assert event.object_id == str(stored.pk) and event.patient_id == patient.pk
    assert event.detail["override"] is True and event.detail["assessed_status"] == "not_eligible"
    assert reason not in str(event.detail)  # free text never goes into the audit trail


def test_declining_an_eligible_route_needs_a_reason_and_declining_a_not_eligible_one_does_not(
    practice, patient, prescriber
):
    with pytest.raises(ValidationFailed) as refused:
        sign_decision(prescriber, patient.pk, "iv", decision="decline")
    assert "declining a route assessed as eligible" in field_of(refused.value)["override_reason"]
    assert decision_rows(patient) == []
    # Sublingual at home always needs an explicit decision (needs review): declining agrees with it.
    declined = sign_decision(prescriber, patient.pk, "sublingual_home", decision="decline")
    assert declined.assessed_status == "needs_review" and not declined.is_override


def test_a_nurse_cannot_sign_and_nothing_is_stored(practice, patient):
    nurse = actor_of(practice.staff[Role.NURSE])
    with pytest.raises(Forbidden):
        sign_decision(nurse, patient.pk, "iv", decision="approve")
    assert decision_rows(patient) == []


def test_another_organizations_patient_is_not_found(practice, stranger, prescriber):
    with pytest.raises(NotFound):
        sign_decision(prescriber, stranger.patient.pk, "iv", decision="approve", override_reason="x")
    assert not EligibilityDecision.objects.exists()


def test_an_unknown_route_or_decision_is_refused(practice, patient, prescriber):
    with pytest.raises(NotFound):
        sign_decision(prescriber, patient.pk, "oral", decision="approve")
    with pytest.raises(ValidationFailed) as refused:
        sign_decision(prescriber, patient.pk, "iv", decision="maybe")
    assert field_of(refused.value) == {"decision": "Choose approve or decline."}


def test_signing_against_an_assessment_that_changed_since_it_was_shown_is_refused(
    practice, patient, prescriber
):
    vitals(patient, 172, 104, ago=timedelta(minutes=1))  # after the prescriber looked: now not eligible
    with pytest.raises(ValidationFailed) as refused:
        sign_decision(prescriber, patient.pk, "iv", decision="approve", expected_status="eligible")
    assert "now not eligible" in field_of(refused.value)["assessed_status"]
    assert decision_rows(patient) == []


def test_signing_again_supersedes_the_decision_in_force(practice, patient, prescriber):
    first = sign_decision(prescriber, patient.pk, "iv", decision="approve")
    second = sign_decision(prescriber, patient.pk, "iv", decision="decline",
                           override_reason="Patient prefers to start with esketamine.")
    first.refresh_from_db()
    assert first.status == "superseded" and first.superseded_by_id == second.pk
    assert first.superseded_at == second.signed_at
    assert current_decision(patient, "iv") == second
    assert not route_approved(patient, "iv")
    update = audit(practice.org, action="update")
    assert [(e.object_id, e.detail["status"]) for e in update] == [(str(first.pk), "superseded")]
    assert audit(practice.org, action="create")[-1].detail["supersedes"] == [str(first.pk)]


def test_at_most_one_decision_per_route_is_in_force_in_the_database(practice, patient, prescriber):
    signed = sign_decision(prescriber, patient.pk, "iv", decision="approve")
    copy = {f.name: getattr(signed, f.name) for f in EligibilityDecision._meta.concrete_fields
            if f.name not in ("id", "recorded_at")}
    with pytest.raises(IntegrityError), transaction.atomic():
        EligibilityDecision.objects.create(**copy | {"status": "reopened"})
    EligibilityDecision.objects.create(**copy | {"status": "superseded"})  # history is unlimited
    EligibilityDecision.objects.create(**copy | {"route": "im"})  # another route is its own
    assert EligibilityDecision.objects.filter(patient=patient).count() == 3


# Re-opening ------------------------------------------------------------------------------------


def signed_iv(patient, prescriber):
    return sign_decision(prescriber, patient.pk, "iv", decision="approve")


def test_adding_an_maoi_reopens_the_decision_names_the_change_and_notifies_the_signer(practice, patient,
                                                                                      prescriber):
    decision = signed_iv(patient, prescriber)
    medication(practice, "phenelzine")
    decision.refresh_from_db()
    assert decision.status == "reopened" and decision.reopened_at is not None
    assert decision.reopen_changes == [
        {"fact": "medication_classes", "before": [], "after": ["maoi"], "note": "+ Phenelzine (MAOI)"}
    ]
    [event] = audit(practice.org, action="update")
    assert event.username == "system:recheck" and event.via == "recheck"
    assert event.detail == {"status": "reopened", "facts": ["medication_classes"]}
    [notice] = Notification.objects.filter(recipient_id=practice.staff[Role.PRESCRIBER].user_id)
    assert notice.title == f"Eligibility re-opened: IV infusion for {patient.mrn}"
    assert notice.link == f"/patients/{patient.pk}/eligibility/" and notice.read_at is None
    assert not route_approved(patient, "iv")
    assert current_decision(patient, "iv") == decision  # still in force, but re-opened


def test_a_new_diagnosis_reopens_the_decision(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    ConditionFactory(patient=patient, catalogue_id="schizophrenia", display="Schizophrenia",
                     icd10_code="F20.9")
    decision.refresh_from_db()
    assert decision.status == "reopened"
    assert decision.reopen_changes == [
        {"fact": "psychotic_disorder", "before": False, "after": True, "note": ""}
    ]


def test_a_new_blood_pressure_reading_reopens_the_decision(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    vitals(patient, 146, 92, ago=timedelta(minutes=1))
    decision.refresh_from_db()
    assert decision.status == "reopened"
    assert [(c["fact"], c["before"], c["after"]) for c in decision.reopen_changes] == [
        ("diastolic_bp", 78, 92), ("systolic_bp", 122, 146)
    ]


def test_a_reading_with_the_same_numbers_changes_nothing(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    vitals(patient, 122, 78, ago=timedelta(minutes=1))
    decision.refresh_from_db()
    assert decision.status == "signed"
    assert audit(practice.org, action="update") == []


def test_a_changed_evaluation_answer_reopens_the_decision(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    current = Evaluation.objects.get(patient=patient)
    current.facts = current.facts | {"substance_misuse_active": True}
    current.save()
    decision.refresh_from_db()
    assert decision.status == "reopened"
    assert decision.reopen_changes == [
        {"fact": "substance_misuse_active", "before": False, "after": True, "note": ""}
    ]


def test_a_home_only_fact_reopens_the_home_decision_and_leaves_the_iv_one_alone(
    practice, patient, prescriber
):
    assert "home_bp_cuff" not in builtin_rules().facts_for(Route.IV)
    iv = signed_iv(patient, prescriber)
    home = sign_decision(prescriber, patient.pk, "sublingual_home", decision="approve",
                         override_reason="Monitor and cuff confirmed at the visit.")
    current = Evaluation.objects.get(patient=patient)
    current.facts = current.facts | {"home_bp_cuff": False}
    current.save()
    iv.refresh_from_db()
    home.refresh_from_db()
    assert iv.status == "signed"
    assert home.status == "reopened"
    assert home.reopen_changes == [{"fact": "home_bp_cuff", "before": True, "after": False, "note": ""}]


def test_a_positive_phq9_item_nine_reopens_the_decision(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    phq9(practice, [1, 1, 0, 1, 0, 0, 1, 0, 1], ago=timedelta(minutes=5))
    decision.refresh_from_db()
    assert decision.status == "reopened"
    assert decision.reopen_changes[0]["fact"] == "suicidal_ideation_recent"


def test_a_changed_date_of_birth_reopens_the_decision(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    patient.date_of_birth = date(1958, 1, 2)
    patient.save()
    decision.refresh_from_db()
    assert decision.reopen_changes == [{"fact": "age_years", "before": 41, "after": 68, "note": ""}]


def test_a_submitted_intake_reopens_a_decision_when_it_answers_a_relied_on_fact(practice, prescriber):
    patient = practice.patient
    vitals(patient, 122, 78)
    evaluation(patient, {k: v for k, v in CLINICIAN_ALL_CLEAR.items() if k != "breastfeeding"})
    decision = sign_decision(prescriber, patient.pk, "iv", decision="approve",
                             override_reason="Breastfeeding to be asked at the first session.")
    submitted_intake(patient, {"pregnancy": {"breastfeeding": "yes"}})
    decision.refresh_from_db()
    assert decision.reopen_changes == [{"fact": "breastfeeding", "before": None, "after": True, "note": ""}]


def test_the_reopening_rolls_back_with_the_change_that_caused_it(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    with pytest.raises(RuntimeError), transaction.atomic():
        medication(practice, "phenelzine")
        raise RuntimeError("the medication save failed later in its transaction")
    decision.refresh_from_db()
    assert decision.status == "signed"
    assert not Notification.objects.exists()
    assert audit(practice.org, action="update") == []


def test_a_reopened_decision_is_not_reopened_again_and_signing_again_puts_one_in_force(practice, patient,
                                                                                     prescriber):
    decision = signed_iv(patient, prescriber)
    medication(practice, "phenelzine")
    vitals(patient, 150, 96, ago=timedelta(minutes=1))
    decision.refresh_from_db()
    assert [c["fact"] for c in decision.reopen_changes] == ["medication_classes"]  # the first change kept
    again = sign_decision(prescriber, patient.pk, "iv", decision="approve",
                          override_reason="MAOI to be tapered; BP reviewed with the patient.")
    assert again.assessed_status == "needs_review"
    decision.refresh_from_db()
    assert decision.status == "superseded"
    assert current_decision(patient, "iv") == again


def test_the_check_costs_one_query_for_a_patient_without_a_signed_decision(
    practice, django_assert_num_queries
):
    with django_assert_num_queries(1):
        _recheck_patient_id(practice.org.pk, practice.patient.pk)
    assert recheck_decisions(practice.patient) == []


def test_a_submitted_intake_rechecks_once_against_everything_it_wrote(practice, patient, prescriber):
    decision = signed_iv(patient, prescriber)
    listed = [{"name": "Xanax 0.5 mg", "dose": "at night"}, {"name": "Phenelzine", "dose": "15 mg"}]
    given = answers(mental_health={"cssrs": dict(CSSRS_LOW)}, medications={"medications": listed})
    submitted(practice, given)
    decision.refresh_from_db()
    assert decision.status == "reopened"
    assert decision.reopen_changes == [  # both medicines and the screen, not just the first write
        {"fact": "medication_classes", "before": [], "after": ["benzodiazepine", "maoi"],
         "note": "+ Phenelzine (MAOI), + Xanax 0.5 mg (Benzodiazepine)"},
        {"fact": "suicidal_ideation_recent", "before": False, "after": True, "note": ""},
    ]
    [event] = audit(practice.org, action="update")
    assert event.detail == {"status": "reopened", "facts": ["medication_classes", "suicidal_ideation_recent"]}
    assert Notification.objects.filter(recipient_id=practice.staff[Role.PRESCRIBER].user_id).count() == 1


def test_a_reading_taken_during_a_session_is_no_baseline_and_reopens_nothing(practice, patient, prescriber):
    from ketaflow.eligibility.decisions import assess_patient

    decision = signed_iv(patient, prescriber)
    VitalSigns.objects.create(organization_id=patient.organization_id, patient=patient,
                              context=VitalSigns.Context.SESSION, measured_at=timezone.now(),
                              systolic_bp=168, diastolic_bp=102)
    decision.refresh_from_db()
    assert decision.status == "signed"
    gathered = assess_patient(patient).gathered
    assert (gathered.facts.systolic_bp, gathered.facts.diastolic_bp) == (122, 78)
    assert gathered.sources["systolic_bp"].startswith("BP 122/78 on ")


def test_a_change_that_cannot_move_a_fact_costs_no_query_even_with_a_signed_decision(
    practice, patient, prescriber, django_assert_num_queries, monkeypatch
):
    signed_iv(patient, prescriber)
    mine = {"organization_id": patient.organization_id, "patient": patient}
    gad7 = QuestionnaireResponse(instrument_id="gad7", **mine)
    pulse_only = VitalSigns(heart_rate=72, measured_at=timezone.now(), **mine)
    in_session = VitalSigns(systolic_bp=170, diastolic_bp=104, context="session", measured_at=timezone.now(),
                            **mine)
    reviewed = Intake(status=Intake.Status.SUBMITTED, **mine)
    with django_assert_num_queries(0):
        _chart_record_saved(QuestionnaireResponse, gad7, created=True)
        _chart_record_saved(VitalSigns, pulse_only, created=True)
        _chart_record_saved(VitalSigns, in_session, created=True)
        _patient_changed(type(patient), patient, update_fields=["phone_mobile", "updated_at"])
        _intake_changed(Intake, reviewed, update_fields=["reviewed_at", "reviewed_by"])
    checked = []
    monkeypatch.setattr(recheck, "_recheck_patient_id", lambda _org, patient_id: checked.append(patient_id))
    evaluation_bp = VitalSigns(systolic_bp=150, diastolic_bp=95, measured_at=timezone.now(), **mine)
    phq9_row = QuestionnaireResponse(instrument_id="phq9", **mine)
    _chart_record_saved(QuestionnaireResponse, phq9_row, created=True)
    _chart_record_saved(VitalSigns, evaluation_bp, created=True)
    _chart_record_saved(VitalSigns, in_session, created=False)  # an edit: the old values may have counted
    _patient_changed(type(patient), patient, update_fields=["date_of_birth", "updated_at"])
    _patient_changed(type(patient), patient)
    _intake_changed(Intake, reviewed)
    assert checked == [patient.pk] * 6
    assert EligibilityDecision.objects.get(patient=patient).status == "signed"


# Settings -----------------------------------------------------------------------------------------


def test_a_lower_blood_pressure_threshold_changes_the_outcome_and_is_audited_with_old_and_new(
    practice, patient, prescriber
):
    from ketaflow.eligibility.decisions import assess_patient

    assert assess_patient(patient).assessment.result("iv").status.value == "eligible"
    update_settings(prescriber, parameters={"bp_review_systolic": 120})
    result = assess_patient(patient).assessment.result("iv")
    assert result.status.value == "needs_review"
    assert "blood-pressure-raised-reading" in result.fired
    [event] = audit(practice.org, "EligibilitySettings")
    assert event.action == "update"
    assert event.detail == {"changes": [{"field": "parameters.bp_review_systolic", "old": 140, "new": 120}]}
    config = EligibilitySettings.objects.get(organization=practice.org)
    assert config.parameters == {"bp_review_systolic": 120}


def test_setting_a_parameter_back_to_its_default_removes_the_override(practice, prescriber):
    update_settings(prescriber, parameters={"bp_review_systolic": 130}, screen_window_days=14)
    update_settings(prescriber, parameters={"bp_review_systolic": None})
    config = EligibilitySettings.objects.get(organization=practice.org)
    assert config.parameters == {} and config.screen_window_days == 14
    last = audit(practice.org, "EligibilitySettings")[-1]
    assert last.detail == {"changes": [{"field": "parameters.bp_review_systolic", "old": 130, "new": 140}]}


def test_settings_outside_sane_bounds_are_refused_field_by_field_and_nothing_is_saved(practice, prescriber):
    with pytest.raises(ValidationFailed) as refused:
        update_settings(prescriber, parameters={"bp_review_systolic": 1400, "made_up": 3},
                        vitals_window_days=0)
    assert field_of(refused.value) == {
        "parameters.bp_review_systolic": "Give a whole number from 100 to 200 mmHg.",
        "parameters.made_up": "made_up is not a parameter of the eligibility rules.",
        "vitals_window_days": "Give a whole number of days from 1 to 365.",
    }
    with pytest.raises(ValidationFailed) as crossed:
        update_settings(prescriber, parameters={"bp_review_systolic": 170})
    assert "Keep this below the systolic pressure read as uncontrolled hypertension (160 mmHg)" in (
        field_of(crossed.value)["parameters.bp_review_systolic"])
    assert audit(practice.org, "EligibilitySettings") == []
    assert not EligibilitySettings.objects.filter(organization=practice.org).exclude(parameters={}).exists()


def test_only_a_prescriber_changes_the_settings(practice):
    for role in (Role.NURSE, Role.OWNER, Role.ADMIN):
        with pytest.raises(Forbidden):
            update_settings(actor_of(practice.staff[role]), parameters={"bp_review_systolic": 130})


def test_the_system_actor_is_what_reopens(practice, patient, prescriber):
    signed_iv(patient, prescriber)
    medication(practice, "phenelzine")
    [event] = audit(practice.org, action="update")
    assert event.roles == Actor.system(practice.org.pk, "recheck").role_label
