"""The demo's measurement-based care, checked on a small practice (80 patients) with the clinical core."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import Action, AuditEvent, chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.clinical.instruments import get_instrument, score
from ketaflow.clinical.outcomes import Measurement, OutcomeRules, assess_outcome
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.demo.loader import DemoSummary
from ketaflow.demo.measures import MeasureGenerator
from ketaflow.demo.patients import PatientGenerator
from ketaflow.demo.pools import build_pools
from ketaflow.demo.regions import REGIONS
from ketaflow.intake.models import Intake
from ketaflow.measurement.library import instruments_for
from ketaflow.measurement.models import (
    MeasureDue,
    MeasurementPlan,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    ScoreObservation,
    Stage,
    Treatment,
)
from ketaflow.measurement.responses import answer_rows
from ketaflow.measurement.schedule import due_measures, refresh_due
from ketaflow.patients.models import Condition, Patient
from ketaflow.plans.models import TreatmentPlan
from ketaflow.sessions.models import SessionScore
from tests.integration.demo_support import module_demo

pytestmark = pytest.mark.django_db
PATIENTS = 80
SEED = 2026
PHQ9_RULES = OutcomeRules().for_instrument(get_instrument("phq9"))


demo = module_demo(PATIENTS, SEED)


def _staff(summary: DemoSummary, username: str) -> StaffMember:
    return StaffMember.objects.for_organization(summary.organization_id).get(user__username=username)


def _phq9(summary: DemoSummary) -> dict[object, list[Measurement]]:
    found: dict[object, list[Measurement]] = defaultdict(list)
    rows = ScoreObservation.objects.for_organization(summary.organization_id).filter(
        instrument_id="phq9", kind=ScoreObservation.Kind.TOTAL, is_current=True
    ).order_by("effective_at")
    for patient_id, at, value in rows.values_list("patient_id", "effective_at", "value"):
        found[patient_id].append(Measurement(at, value))
    return found


def _given(summary: DemoSummary) -> dict[object, list[datetime]]:
    found: dict[object, list[datetime]] = defaultdict(list)
    rows = Treatment.objects.for_organization(summary.organization_id).filter(
        status=Treatment.Status.GIVEN
    ).order_by("occurred_at")
    for patient_id, at in rows.values_list("patient_id", "occurred_at"):
        found[patient_id].append(at)
    return found


def test_every_stored_total_band_and_flag_is_the_scorers_result_for_the_stored_answers(demo):
    responses = QuestionnaireResponse.objects.for_organization(demo.organization_id).prefetch_related(
        "observations")
    instruments = set()
    for response in responses:
        answers = {row["item"]: row["value"] for row in response.answers}
        result = score(response.instrument_id, answers)
        instrument = get_instrument(response.instrument_id)
        assert result.complete
        assert response.answers == answer_rows(instrument, result.answers)
        assert response.safety_flags == list(result.safety_flags)
        assert response.findings == list(result.findings)
        observed = {o.key: o for o in response.observations.all()}
        assert observed["total"].value == result.total
        assert observed["total"].band == (result.band or "")
        assert observed["total"].effective_at == response.authored_at
        assert {k: o.value for k, o in observed.items() if k != "total"} == dict(result.subscores)
        instruments.add(response.instrument_id)
    assert {"phq9", "gad7", "cssrs_screener", "pcl5", "peg"} <= instruments


def test_nothing_is_dated_after_now_and_every_baseline_precedes_the_first_treatment(demo):
    now = timezone.now()
    org = demo.organization_id
    assert not QuestionnaireResponse.objects.for_organization(org).filter(authored_at__gt=now).exists()
    assert not Treatment.objects.for_organization(org).filter(
        status=Treatment.Status.GIVEN, occurred_at__gt=now).exists()
    assert not Treatment.objects.for_organization(org).filter(
        status=Treatment.Status.SCHEDULED, occurred_at__lt=now - timedelta(minutes=5)).exists()
    oldest = QuestionnaireResponse.objects.for_organization(org).order_by("authored_at").first()
    assert oldest.authored_at > now - timedelta(days=19 * 31)
    measured, given = _phq9(demo), _given(demo)
    assert given
    for patient_id, treatments in given.items():
        assert measured[patient_id][0].taken_at < treatments[0]
    for patient_id, points in measured.items():
        if not given.get(patient_id):  # new enquiries, and those who chose not to start: a baseline only
            stage = MeasurementPlan.objects.get(patient_id=patient_id).stage
            # A showcase patient's signed plan starts induction before its first session is given.
            starting = TreatmentPlan.objects.filter(patient_id=patient_id, status="signed").exists()
            allowed = {Stage.EVALUATION, Stage.DISCONTINUED} | ({Stage.INDUCTION} if starting else set())
            assert len(points) == 1 and stage in allowed


def test_trd_baselines_are_mostly_moderately_severe_or_severe(demo):
    measured = _phq9(demo)
    trd = Condition.objects.for_organization(demo.organization_id).filter(catalogue_id="trd")
    baselines = [measured[c.patient_id][0].total for c in trd if c.patient_id in measured]
    assert len(baselines) >= 10
    assert sum(15 <= b <= 24 for b in baselines) / len(baselines) >= 0.6


def test_after_induction_response_and_remission_rates_lie_near_the_published_ones(demo):
    measured, given = _phq9(demo), _given(demo)
    responded = remitted = finished = 0
    for patient_id, treatments in given.items():
        if len(treatments) < 6:
            continue
        sixth = treatments[5]
        after = [m for m in measured[patient_id] if m.taken_at > sixth]
        if not after:
            continue
        upto = [m for m in measured[patient_id] if m.taken_at <= after[0].taken_at]
        outcome = assess_outcome("phq9", upto, treatments[:6], PHQ9_RULES)
        finished += 1
        responded += bool(outcome.response.value)
        remitted += bool(outcome.remission.value)
    assert finished >= 30
    assert 0.35 <= responded / finished <= 0.70, (responded, finished)
    assert 0.15 <= remitted / finished <= 0.45, (remitted, finished)


def test_the_demo_holds_relapses_and_non_responders_judged_by_the_outcome_core(demo):
    measured, given = _phq9(demo), _given(demo)
    outcomes = [assess_outcome("phq9", measured[pk], times, PHQ9_RULES) for pk, times in given.items()]
    relapsed = [o for o in outcomes if o.relapse.value]
    assert relapsed and all("in a row above" in o.relapse.reason for o in relapsed)
    non_responders = [o for o in outcomes if o.non_response.value]
    assert non_responders and all(o.treatments_given >= 3 for o in non_responders)
    assert any(o.relapse.value is False for o in outcomes)  # responders still responding


def test_a_few_safety_alerts_mostly_acknowledged_and_one_open_for_the_nurse_practitioner(demo):
    org = demo.organization_id
    alerts = list(SafetyAlert.objects.for_organization(org).select_related("response"))
    patients = {a.patient_id for a in alerts}
    assert 1 <= len(patients) <= 0.08 * PATIENTS
    flagged = QuestionnaireResponse.objects.for_organization(org).exclude(safety_flags=[])
    assert sorted(str(r.pk) for r in flagged) == sorted(str(a.response_id) for a in alerts)
    np = _staff(demo, "np")
    open_alerts = [a for a in alerts if a.status == SafetyAlert.Status.OPEN]
    assert any(a.assigned_to_id == np.pk for a in open_alerts)
    assert len(open_alerts) < len(alerts) or len(alerts) <= 2
    for alert in alerts:
        assert [f["name"] for f in alert.flags] == alert.response.safety_flags
        assert alert.raised_at == alert.response.authored_at
        plan = MeasurementPlan.objects.get(patient_id=alert.patient_id)
        assert alert.assigned_to_id == plan.responsible_clinician_id
        if alert.status == SafetyAlert.Status.ACKNOWLEDGED:
            assert alert.action in SafetyAlert.Action.values and alert.action_note
            assert alert.raised_at < alert.acknowledged_at <= timezone.now()
            assert alert.acknowledged_by_id == alert.assigned_to.user_id
        else:
            assert not alert.action and alert.acknowledged_at is None
    unread = Notification.objects.for_organization(org).filter(
        recipient=np.user, read_at__isnull=True, safety_alert__isnull=False
    )
    assert unread.exists()
    for note in unread:
        assert note.safety_alert.status == SafetyAlert.Status.OPEN
        assert note.link == f"/measures/alerts/{note.safety_alert_id}/"
        assert note.title.endswith(note.patient.mrn)


def test_due_and_overdue_lists_have_entries_and_the_nurse_practitioner_has_several(demo):
    np = _staff(demo, "np")
    actor = Actor(user_id=np.user_id, username="np", organization_id=demo.organization_id,
                  roles=frozenset({Role.PRESCRIBER}), staff_id=np.pk)
    due_now = list(due_measures(actor, overdue=False))
    overdue = list(due_measures(actor, overdue=True))
    assert due_now and overdue
    plans = MeasurementPlan.objects.filter(responsible_clinician=np)
    np_patients = set(plans.values_list("patient_id", flat=True))
    assert len({row.patient_id for row in due_now + overdue} & np_patients) >= 3


def test_open_due_rows_are_exactly_what_refresh_due_computes(demo):
    org = demo.organization_id
    library = set(instruments_for(org))  # the schedule also names Y-BOCS, which the demo has not loaded

    def open_rows(patient: Patient) -> set[tuple[str, datetime, str]]:
        rows = MeasureDue.objects.for_organization(org).filter(
            patient=patient, status=MeasureDue.Status.OPEN, instrument_id__in=library)
        return {(r.instrument_id, r.due_at, r.reason) for r in rows}

    patients = list(Patient.objects.for_organization(org))
    before = {p.pk: open_rows(p) for p in patients}
    assert sum(len(rows) for rows in before.values()) >= PATIENTS
    with transaction.atomic():
        for patient in patients:
            refresh_due(patient)
    assert {p.pk: open_rows(p) for p in patients} == before


def test_the_audit_event_of_each_patient_counts_its_responses_treatments_and_alerts(demo):
    org = demo.organization_id
    creates = AuditEvent.objects.filter(chain=chain_key(org), action=Action.CREATE, object_type="Patient")
    assert creates.count() == PATIENTS
    # A patient who submitted the intake in the evaluation showcase also answered its C-SSRS screen.
    submitted = Intake.objects.filter(status=Intake.Status.SUBMITTED)
    with_intake = set(submitted.values_list("patient_id", flat=True))
    assert len(with_intake) == demo.evaluations["intakes submitted"]
    plans_from = TreatmentPlan.objects.filter(organization_id=org).earliest("recorded_at").recorded_at
    # (CADSS-6 and MOAA/S scored in the replayed treatment sessions are the sessions' own.)
    responses = QuestionnaireResponse.objects.exclude(pk__in=SessionScore.objects.values("response_id"))
    for event in creates:
        pk = event.patient_id
        intake_screen = 1 if pk in with_intake else 0
        assert event.detail.get("responses", 0) + intake_screen == responses.filter(patient_id=pk).count()
        # Treatments booked once the plans exist (the showcase series, cancelled visits) have events of
        # their own.
        written_with_patient = Treatment.objects.filter(patient_id=pk, recorded_at__lt=plans_from)
        assert event.detail.get("treatments", 0) == written_with_patient.count()
        assert event.detail.get("safety_alerts", 0) == SafetyAlert.objects.filter(patient_id=pk).count()
    assert demo.measures["responses"] + len(with_intake) == responses.count()
    intake_screens = QuestionnaireResponse.objects.filter(
        patient_id__in=with_intake, instrument_id="cssrs_screener",
        authored_at__gte=min(intake.started_at for intake in submitted),
    )
    assert intake_screens.count() == len(with_intake)
    generated = ScoreObservation.objects.filter(response__in=responses).exclude(response__in=intake_screens)
    assert demo.measures["observations"] == generated.count()
    assert demo.measures["plans"] == MeasurementPlan.objects.count() >= PATIENTS * 0.9
    # An intake screen that answers an open C-SSRS due row completes it and opens the next one.
    answered_by_intake = MeasureDue.objects.filter(response__in=intake_screens)
    assert all(row.status == MeasureDue.Status.COMPLETED for row in answered_by_intake)
    # (Due rows opened once the plans moved treatments into free slots are the plans' own; so are
    # those the replayed sessions opened on the day each visit was completed, before the load.)
    loaded = Organization.objects.get(pk=org).created_at
    before_plans = MeasureDue.objects.filter(created_at__gte=loaded, created_at__lt=plans_from)
    assert demo.measures["due"] + answered_by_intake.count() == before_plans.count()
    assert verify_chain(chain_key(org)).ok


def test_plans_cover_every_stage_with_clinic_prescribers_as_responsible_clinicians(demo):
    org = demo.organization_id
    plans = list(MeasurementPlan.objects.for_organization(org).select_related(
        "patient", "responsible_clinician__user"))
    assert {p.stage for p in plans} == {Stage.EVALUATION, Stage.INDUCTION, Stage.MAINTENANCE, Stage.COMPLETED,
                                        Stage.DISCONTINUED}
    portland = Clinic.objects.get(name=REGIONS[0].clinic_name)
    usernames = [p.responsible_clinician.user.username for p in plans
                 if p.patient.home_clinic_id == portland.pk]
    assert usernames.count("np") > 0.6 * len(usernames)
    assert set(usernames) <= {"np", "owner"}
    induction = [p for p in plans if p.stage == Stage.INDUCTION]
    booked = Treatment.objects.filter(patient_id__in=[p.patient_id for p in induction],
                                      status=Treatment.Status.SCHEDULED)
    assert booked.exists()


def test_the_same_seed_and_moment_draw_the_same_journeys(demo):
    clinics = [Clinic.objects.get(name=region.clinic_name) for region in REGIONS]
    staff = list(StaffMember.objects.for_organization(demo.organization_id).select_related("user"))
    now = timezone.now()

    def journeys(seed: int) -> list[object]:
        patients = PatientGenerator(seed, build_pools(seed), [c.pk for c in clinics], timezone.localdate())
        measures = MeasureGenerator(seed, demo.organization_id, clinics, staff, now)
        return [measures.journey(next(patients)) for _ in range(30)]

    first = journeys(SEED)
    assert first == journeys(SEED)
    assert first != journeys(SEED + 1)
