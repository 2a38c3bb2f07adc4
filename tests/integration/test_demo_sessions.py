"""The demo's last month through the session services: the ledger, the chairside sessions, the REMS
forms and the at-home sessions, checked on one demo load (40 patients) shared by the module."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.services import actor_for
from ketaflow.audit.models import chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.clinical.controlled import EntryKind
from ketaflow.clinics.models import Organization
from ketaflow.demo.chairside import in_progress as dosing_now
from ketaflow.demo.ledger_stock import Stock
from ketaflow.demo.replay import Timeline
from ketaflow.demo.seat import Chair
from ketaflow.ledger.expiry import expiry_alerts
from ketaflow.ledger.models import Balance, Count, Entry
from ketaflow.ledger.reconciliation import flagged_sessions, ledger_check
from ketaflow.measurement.models import Notification, Treatment
from ketaflow.scheduling.models import Appointment
from ketaflow.sessions.models import (
    DosePreparation,
    NoteAmendment,
    RemsEnrolment,
    RemsForm,
    RescueDose,
    SessionVitals,
    TreatmentSession,
    VitalAlert,
)
from ketaflow.sessions.rems import rems_board
from tests.integration.demo_support import module_demo
from tests.integration.sessions_factories import booked_treatment, nurse, prescriber, stock

pytestmark = pytest.mark.django_db
PATIENTS = 40
Status = TreatmentSession.Status
DONE = (Status.DISCHARGED, Status.SIGNED)


demo = module_demo(PATIENTS)


def _actor(demo, username):
    member = StaffMember.objects.for_organization(demo.organization_id).get(user__username=username)
    return actor_for(member.user)


def test_ledger_reconciliation_after_a_month_of_demo_sessions(demo):
    org = demo.organization_id
    check = ledger_check(org)
    assert check.ok, check.problems
    sessions = TreatmentSession.objects.for_organization(org)
    assert check.sessions == sessions.filter(reconciliation__isnull=False).count() >= 10

    # Each lot in each place: receipts + transfers in - transfers out - administrations - waste
    # + adjustments is the balance on the shelf.
    moved: dict[tuple[object, object], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry in Entry.objects.for_organization(org):
        moved[(entry.lot_id, entry.location_id)][entry.kind] += entry.change_mg
    balances = Balance.objects.for_organization(org)
    assert balances.count() == len(moved) >= 6
    for balance in balances:
        kinds = moved[(balance.lot_id, balance.location_id)]
        expected = (
            kinds["receipt"]
            + kinds["transfer_in"]
            - abs(kinds["transfer_out"])
            - abs(kinds["administration"])
            - abs(kinds["waste"])
            + kinds["adjustment"]
        )
        assert expected == balance.quantity_mg >= 0

    receipts = Entry.objects.for_organization(org).filter(kind=EntryKind.RECEIPT.value)
    assert receipts.count() == 6
    assert {r.supplier for r in receipts} == {"Synthetic Pharma Supply"}
    assert all(r.invoice_number.startswith("SPS-") for r in receipts)
    first_session = sessions.order_by("checked_in_at").first().checked_in_at
    assert max(r.occurred_at for r in receipts) < first_session
    transfer = Entry.objects.for_organization(org).filter(kind__startswith="transfer")
    assert sorted(transfer.values_list("kind", flat=True)) == ["transfer_in", "transfer_out"]
    assert len({t.location_id for t in transfer}) == 2 and len({t.transfer for t in transfer}) == 1
    for wasted in Entry.objects.for_organization(org).filter(kind__in=["waste", "adjustment"]):
        assert wasted.witness_id and wasted.witness_id != wasted.recorded_by_id and wasted.reason

    # Every dose drawn is an administration of its session, from the lot and place it names.
    preparations = DosePreparation.objects.for_organization(org).select_related("ledger_entry")
    assert preparations.count() >= 10
    for preparation in preparations:
        entry = preparation.ledger_entry
        assert entry.kind == EntryKind.ADMINISTRATION.value and entry.session_id == preparation.session_id
        assert (-entry.change_mg, entry.lot_id, entry.location_id) == (
            preparation.drawn_mg,
            preparation.lot_id,
            preparation.location_id,
        )
    midazolam = (
        RescueDose.objects.for_organization(org).filter(controlled=True).select_related("ledger_entry")
    )
    assert [r.drug_key for r in midazolam] == ["midazolam"]
    assert midazolam[0].ledger_entry.session_id == midazolam[0].session_id and midazolam[0].alert_id

    # Every session's dose is accounted for but one, which the ledger's flagged list shows.
    checked = sessions.filter(reconciliation__isnull=False)
    unreconciled = [s for s in checked if not s.reconciled]
    assert len(unreconciled) == 1
    flagged = flagged_sessions(_actor(demo, "nurse"))
    assert [f.session.pk for f in flagged] == [unreconciled[0].pk]
    assert flagged[0].unaccounted_mg > Decimal("0.5") and "neither given nor wasted" in flagged[0].message
    assert Entry.objects.filter(kind="waste", session__in=checked).count() >= 2

    # One periodic count found a difference, reconciled with a reason and a witness; the biennial
    # inventory agreed with every balance. A short-dated lot shows in the expiry alerts.
    periodic = Count.objects.for_organization(org).get(kind=Count.Kind.PERIODIC)
    line = periodic.lines.exclude(difference_mg=0).get()
    assert periodic.status == Count.Status.RECONCILED and line.difference_mg == Decimal(-50)
    assert line.resolution and line.adjustment.witness_id not in (None, line.adjustment.recorded_by_id)
    biennial = Count.objects.for_organization(org).get(kind=Count.Kind.BIENNIAL)
    assert biennial.status == Count.Status.RECONCILED and not biennial.lines.exclude(difference_mg=0)
    alerts = expiry_alerts(org, timezone.localdate())
    assert [a.row.lot.product.drug for a in alerts] == ["midazolam"]
    assert not alerts[0].expired and alerts[0].days_left <= 60


def test_demo_sessions_go_from_check_in_to_a_signed_note_with_nothing_after_now(demo):
    org, now = demo.organization_id, timezone.now()
    sessions = list(
        TreatmentSession.objects.for_organization(org)
        .filter(setting=TreatmentSession.Setting.CLINIC)
        .select_related("appointment__treatment")
    )
    done = [s for s in sessions if s.status in DONE]
    assert len(done) >= 10 and {s.route for s in done} >= {"iv", "esketamine"}
    assert len(done) + sum(s.status == Status.DOSING for s in sessions) == len(sessions)
    for session in done:
        appointment = session.appointment
        assert appointment.status == Appointment.Status.COMPLETED
        assert appointment.treatment.status == Treatment.Status.GIVEN
        assert session.checked_in_at == appointment.starts_at == appointment.treatment.occurred_at
        assert session.readiness["ready"] or (session.override_reason and session.override_by_id)
        assert all(
            p.verified_by_id not in (None, p.recorded_by_id)
            for p in DosePreparation.objects.filter(session=session)
        )
        phases = set(SessionVitals.objects.filter(session=session).values_list("phase", flat=True))
        assert phases == {"pre_dose", "dosing", "recovery"}
        assert session.dosing_started_at <= session.dosing_ended_at < session.discharged_at
        observed = session.dosing_started_at if session.route == "esketamine" else session.dosing_ended_at
        minimum = session.monitoring["min_observation_min"]
        assert session.discharged_at - observed >= timedelta(minutes=minimum)
        assert session.aldrete_total >= 9 and session.escort_handover_name and session.note
        assert session.discharged_at <= appointment.ends_at <= now
    assert not VitalAlert.objects.for_organization(org).filter(responded_at__isnull=True).exists()
    assert VitalAlert.objects.for_organization(org).count() >= 3
    overridden = [s for s in done if s.override_reason]
    assert len(overridden) == 1 and "Benefit outweighs the risk" in overridden[0].override_reason

    # Most notes are signed by a prescriber; one was amended, keeping the signed text.
    signed = [s for s in done if s.status == Status.SIGNED]
    assert len(signed) >= len(done) * 0.7 and all(s.signed_by_id and s.signed_at <= now for s in signed)
    amendment = NoteAmendment.objects.for_organization(org).get()
    assert amendment.reason and amendment.note.startswith(amendment.previous_note)
    assert len(amendment.note) > len(amendment.previous_note)
    assert amendment.session.note == amendment.note

    # Nothing is dated after the load; today's visits still to come are left booked for a live
    # session, but for one started early and dosing now when two or more were to come.
    assert not TreatmentSession.objects.filter(checked_in_at__gt=now).exists()
    assert not Entry.objects.filter(occurred_at__gt=now).exists()
    assert not SessionVitals.objects.filter(measured_at__gt=now).exists()
    loaded = Organization.objects.get(pk=org).created_at
    assert not Appointment.objects.filter(status=Appointment.Status.BOOKED, starts_at__lt=loaded).exists()
    dosing = [s for s in sessions if s.status == Status.DOSING]
    assert len(dosing) == demo.sessions.get("sessions in progress", 0) <= 1
    for session in dosing:
        assert session.appointment.status == Appointment.Status.ARRIVED and session.dosing_started_at < now

    counted = {
        k: v for k, v in demo.sessions.items() if k.startswith("sessions ") and k != "sessions flagged"
    }
    statuses = TreatmentSession.objects.for_organization(org).values_list("status", flat=True)
    assert sum(v for k, v in counted.items() if k != "sessions in progress") == len(statuses)
    assert demo.sessions["ledger entries"] == Entry.objects.for_organization(org).count()
    assert verify_chain(chain_key(org)).ok


def test_demo_rems_forms_are_due_overdue_and_submitted_with_every_field_answered(demo):
    org = demo.organization_id
    esketamine = TreatmentSession.objects.for_organization(org).filter(route="esketamine", status__in=DONE)
    assert esketamine.count() >= 3
    enrolled = dict(RemsEnrolment.objects.for_organization(org).values_list("patient_id", "enrolled_on"))
    for session in esketamine:
        assert enrolled[session.patient_id] < session.dosing_started_at.date()
    forms = list(RemsForm.objects.for_organization(org).select_related("session__clinic"))
    assert {f.session_id for f in forms} == {s.pk for s in esketamine}
    for form in forms:
        zone = ZoneInfo(form.session.clinic.timezone)
        assert form.due_on == form.session.dosing_started_at.astimezone(zone).date() + timedelta(days=7)
        assert form.fields["fields"] and not [f["key"] for f in form.fields["fields"] if f["missing"]]
        if form.status == RemsForm.Status.SUBMITTED:
            assert form.submitted_by_id and form.confirmation.startswith("SYN-")
            assert form.session.discharged_at < form.submitted_at <= timezone.now()
    today = timezone.localdate(timezone=ZoneInfo(forms[0].session.clinic.timezone))
    board = rems_board(_actor(demo, "nurse"), today)
    assert board.overdue and board.due and board.submitted and not board.missing_enrolments


def test_the_home_patient_completed_sessions_was_blocked_once_and_missed_a_check_in(demo):
    org = demo.organization_id
    home = list(
        TreatmentSession.objects.for_organization(org)
        .filter(setting=TreatmentSession.Setting.HOME)
        .select_related("home")
        .order_by("checked_in_at")
    )
    assert [s.status for s in home] == [Status.DISCHARGED, Status.DISCHARGED, Status.BLOCKED, Status.RECOVERY]
    for finished in home[:2]:
        assert finished.home.monitor_attested_at and finished.home.dose_taken_mg == finished.planned_mg
        assert finished.home.checked_in_at > finished.home.dose_taken_at and finished.home.feeling is not None
    blocked, missed = home[2], home[3]
    assert not blocked.readiness["ready"] and blocked.home.dose_taken_at is None
    assert missed.home.checked_in_at is None and missed.home.missed_alerted_at > missed.home.check_in_due_at
    titles = Notification.objects.for_organization(org).filter(patient_id=missed.patient_id)
    assert any(t.title.startswith("Home session blocked: blood pressure 152/96") for t in titles)
    assert any(t.title.startswith("Missed home check-in") for t in titles)
    assert demo.sessions["home sessions blocked"] == 1 and demo.sessions["home check-ins alerted"] == 1


def test_the_live_session_is_checked_in_prepared_checked_and_dosing_now_with_its_readings(practice):
    """The demo's session in progress (a visit of today started 25 minutes ago), run on its own."""
    now = timezone.now()
    appointment = booked_treatment(practice, "iv")
    Appointment.objects.filter(pk=appointment.pk).update(starts_at=now - timedelta(minutes=25))
    product, location, _ = stock(practice, "ketamine")
    chair = Chair(
        {"nurse": nurse(practice), "np": prescriber(practice)},
        Stock(locations={practice.clinic.pk: location}, products={"ketamine": product}),
        random.Random(1),
    )
    timeline = Timeline(until=now)
    timeline.add(now - timedelta(minutes=25), dosing_now(chair, appointment, 0, now))
    timeline.run()
    session = TreatmentSession.objects.get(appointment=appointment)
    assert session.status == Status.DOSING and session.checked_in_at == now - timedelta(minutes=25)
    assert now - timedelta(minutes=14) < session.dosing_started_at < now
    assert SessionVitals.objects.filter(session=session, phase="dosing").count() == 2
    assert DosePreparation.objects.get(session=session).verified_by_id == prescriber(practice).user_id
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.ARRIVED and timezone.now() >= now
