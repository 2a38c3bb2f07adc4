"""Spravato REMS: the monitoring form filled from an esketamine session at discharge, its PDF, the
board (overdue, due, submitted, patients not enrolled), enrolment and submission, and the walls."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.patients.medications import add_medication
from ketaflow.plans.measures import clinic_today
from ketaflow.scheduling.calendar import today_in
from ketaflow.sessions.doses import record_event
from ketaflow.sessions.effects import record_side_effect
from ketaflow.sessions.models import RemsEnrolment, RemsForm, TreatmentSession
from ketaflow.sessions.recovery import discharge, score_aldrete
from ketaflow.sessions.rems import enrol, open_form, rems_board, submit_form
from ketaflow.sessions.rems_pdf import rems_form_pdf
from ketaflow.sessions.scores import score_in_session
from ketaflow.sessions.vitals import record_vitals
from ketaflow.validation import NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of
from tests.integration.plans_factories import signed_plan
from tests.integration.sessions_factories import NORMAL_VITALS, dosing_session, nurse
from tests.integration.test_consent_versioning import pdf_text

pytestmark = PAGE_TEST_MARKS

PASSING = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "oxygen_saturation": 2}

def discharged_esketamine(practice) -> TreatmentSession:
    """An esketamine session (pre-dose 124/78): the first device 150 min ago, the rest 5 min apart,
    readings at 15, 38 and 100 min, MOAA/S 4, CADSS-6 3, lorazepam on the medication list, a passing
    Aldrete, then discharge (which creates the REMS form)."""
    first = timezone.now() - timedelta(minutes=150)
    session = dosing_session(practice, "esketamine", started=first)
    at, given = first, Decimal("28")
    while given < session.planned_mg:
        at += timedelta(minutes=5)
        record_event(nurse(practice), session.pk, kind="give", at=at, amount_mg=Decimal("28"))
        given += 28
    readings = {15: (150, 92, 95), 38: (146, 88, 96), 100: (128, 80, 98)}
    for minute, (systolic, diastolic, spo2) in readings.items():
        values = NORMAL_VITALS | {
            "systolic_bp": systolic,
            "diastolic_bp": diastolic,
            "oxygen_saturation": spo2,
        }
        record_vitals(nurse(practice), session.pk, values, measured_at=first + timedelta(minutes=minute))
    score_in_session(nurse(practice), session.pk, "moaas", {"1": 4})
    score_in_session(nurse(practice), session.pk, "cadss6", {"1": 1, "2": 0, "3": 2, "4": 0, "5": 0, "6": 0})
    record_side_effect(nurse(practice), session.pk, kind="nausea", severity="mild")
    add_medication(
        actor_of(practice.staff[Role.PRESCRIBER]),
        practice.patient.pk,
        name="",
        catalogue_id="lorazepam",
        dose="0.5 mg at night",
        source="clinician",
    )
    record_event(nurse(practice), session.pk, kind="stop", at=at + timedelta(minutes=1))
    score_aldrete(nurse(practice), session.pk, PASSING)
    return discharge(nurse(practice), session.pk, escort_handover_name="Sam Synthetic")


def test_an_esketamine_discharge_fills_the_rems_form_and_its_pdf_holds_every_field(practice):
    session = discharged_esketamine(practice)
    form = RemsForm.objects.get(session=session)
    answers = {f["key"]: f["value"] for f in form.fields["fields"]}
    lot = session.preparations.get().lot.lot_number
    devices = int(session.planned_mg / 28)
    treated_on = session.dosing_started_at.astimezone(ZoneInfo(practice.clinic.timezone)).date()
    assert form.status == "due" and form.due_on == treated_on + timedelta(days=7)
    assert answers["patient_name"] == practice.patient.legal_name
    assert answers["date_of_birth"] == f"{practice.patient.date_of_birth:%d %b %Y}"
    assert (answers["benzodiazepines"], answers["maois"]) == ("Yes", "No")
    assert answers["monitoring_provider"].startswith(practice.clinic.name)
    assert answers["prescriber"] == practice.staff[Role.PRESCRIBER].user.get_full_name()
    assert answers["dose"] == ("56 mg" if devices == 2 else "84 mg")
    assert answers["lot_number"] == lot
    assert answers["monitoring_minutes"] in ("150 min", "151 min")
    assert answers["vitals_ok_before"] == "Yes" and answers["vitals_ok_end"] == "Yes"
    assert (answers["bp_before"], answers["bp_40_min"], answers["bp_end"]) == (
        "124/78 mmHg",
        "146/88 mmHg",
        "128/80 mmHg",
    )
    assert (answers["sedation"], answers["dissociation"], answers["respiratory_depression"]) == (
        "Yes",
        "Yes",
        "No",
    )
    assert answers["ready_to_leave"].endswith("min after the first device)")
    assert not [f["key"] for f in form.fields["fields"] if f["missing"]]

    document = rems_form_pdf(actor_of(practice.staff[Role.NURSE]), form.pk)
    assert document.content.startswith(b"%PDF") and practice.patient.mrn in document.filename
    text = pdf_text(document.content).replace("- ", "-")  # a label wrapped at its hyphen
    for item in form.fields["fields"]:
        assert f"{item['label']} {item['value']}" in text, item["key"]
    assert "Spravato REMS Patient Monitoring Form" in text and "Not yet submitted" in text
    assert AuditEvent.objects.filter(object_type="RemsForm", object_id=str(form.pk), action="export").exists()


def _form(practice, plan, *, due_in_days: int, status: str = "due") -> RemsForm:
    """A REMS form row on its own minimal session (the board reads forms, not sessions)."""
    now = timezone.now()
    session = TreatmentSession.objects.create(
        organization=practice.org,
        patient=practice.patient,
        plan=plan,
        clinic=practice.clinic,
        route="esketamine",
        status="discharged",
        checked_in_at=now - timedelta(days=7 - due_in_days),
        protocol_label="Esketamine",
        monitoring={},
        planned_mg=Decimal("56"),
        dose_summary="56 mg",
    )
    return RemsForm.objects.create(
        organization=practice.org,
        patient=practice.patient,
        session=session,
        fields={"fields": []},
        due_on=today_in(practice.clinic) + timedelta(days=due_in_days),
        status=status,
        submitted_at=now if status == "submitted" else None,
    )


def test_the_board_splits_overdue_from_due_and_lists_patients_not_enrolled(practice, client_as):
    plan = signed_plan(practice, "esketamine")
    overdue, due, submitted = (
        _form(practice, plan, due_in_days=-2),
        _form(practice, plan, due_in_days=3),
        _form(practice, plan, due_in_days=1, status="submitted"),
    )
    board = rems_board(nurse(practice), today_in(practice.clinic))
    assert (board.overdue, board.due, board.submitted) == ([overdue], [due], [submitted])
    assert [m.patient for m in board.missing_enrolments] == [practice.patient]

    page = client_as(Role.NURSE).get(reverse("sessions:rems_board"))
    text = text_of(page)
    assert page.status_code == 200
    assert "Overdue (1)" in text and "Due within 7 days (1)" in text and "Not enrolled yet (1)" in text
    html = page.content.decode()
    assert all(html.count(f'data-rems-form="{f.pk}"') == 1 for f in (overdue, due, submitted))
    assert html.index(str(overdue.pk)) < html.index('id="due-title"') < html.index(str(due.pk))
    assert f"Submitted {timezone.localtime(submitted.submitted_at):%d %b %Y}" in text
    assert reverse("sessions:rems_enrol", kwargs={"patient_id": practice.patient.pk}) in page.content.decode()

    enrol(nurse(practice), practice.patient.pk, enrolled_on=clinic_today(practice.patient))
    assert rems_board(nurse(practice), today_in(practice.clinic)).missing_enrolments == []
    listed = AuditEvent.objects.filter(object_type="RemsForm", action="list", detail__purpose="rems-board")
    assert listed.count() == 3 and listed.first().detail["overdue"] == 1


def test_enrolment_is_recorded_once_from_the_patient_page(practice, client_as):
    url = reverse("sessions:rems_enrol", kwargs={"patient_id": practice.patient.pk})
    assert client_as(Role.ADMIN).get(url).status_code == 403  # no charting right
    client = client_as(Role.NURSE)
    today = clinic_today(practice.patient)
    future = client.post(url, {"enrolled_on": f"{today + timedelta(days=2):%Y-%m-%d}"})
    assert future.status_code == 422 and "cannot be in the future" in text_of(future)
    done = client.post(
        url, {"enrolled_on": f"{today:%Y-%m-%d}", "rems_patient_id": "REMS-42"}, follow=True
    )
    assert "The REMS enrolment is recorded." in text_of(done) and "REMS patient ID REMS-42" in text_of(done)
    enrolment = RemsEnrolment.objects.get(patient=practice.patient)
    assert (
        enrolment.rems_patient_id == "REMS-42"
        and enrolment.recorded_by_id == practice.staff[Role.NURSE].user_id
    )
    with pytest.raises(ValidationFailed, match="already enrolled"):
        enrol(nurse(practice), practice.patient.pk, enrolled_on=clinic_today(practice.patient))
    assert AuditEvent.objects.filter(object_type="RemsEnrolment", action="create").count() == 1


def test_a_form_is_shown_then_submitted_once_with_its_confirmation(practice, client_as):
    form = _form(practice, signed_plan(practice, "esketamine"), due_in_days=-1)
    form.fields = {
        "source": "Synthetic source",
        "fields": [
            {
                "key": "dose",
                "section": "Dose",
                "label": "Dose",
                "value": "56 mg",
                "detail": "2 device(s)",
                "missing": False,
            },
            {
                "key": "sex",
                "section": "Patient",
                "label": "Sex",
                "value": "Not recorded",
                "detail": "",
                "missing": True,
            },
        ],
    }
    form.save()
    client = client_as(Role.NURSE)
    url = reverse("sessions:rems_form", kwargs={"form_id": form.pk})
    text = text_of(client.get(url))
    assert "Overdue since" in text and "Dose 56 mg 2 device(s)" in text
    assert "The record does not answer: Sex." in text and "Mark as submitted to the REMS" in text
    assert "Mark as submitted" not in text_of(
        client_as(Role.FRONT_DESK).get(url)
    )  # no clinical view: 403 page
    submit = reverse("sessions:rems_submit", kwargs={"form_id": form.pk})
    done = client.post(submit, {"confirmation": "CONF-1234"}, follow=True)
    assert "The REMS form is marked submitted." in text_of(done) and "REMS confirmation CONF-1234" in text_of(
        done
    )
    form.refresh_from_db()
    assert (form.status, form.confirmation, form.submitted_by_id) == (
        "submitted",
        "CONF-1234",
        practice.staff[Role.NURSE].user_id,
    )
    again = client.post(submit, {"confirmation": ""})
    assert again.status_code == 422 and "already submitted" in text_of(again)
    assert AuditEvent.objects.filter(object_id=str(form.pk), detail__event="submitted").count() == 1


def test_another_organizations_form_is_not_found(practice, stranger):
    form = _form(practice, signed_plan(practice, "esketamine"), due_in_days=3)
    outsider = nurse(stranger)
    for attempt in (
        lambda: open_form(outsider, form.pk),
        lambda: submit_form(outsider, form.pk),
        lambda: rems_form_pdf(outsider, form.pk),
    ):
        with pytest.raises(NotFound):
            attempt()
    client = signed_in(stranger.staff[Role.NURSE])
    assert client.get(reverse("sessions:rems_form", kwargs={"form_id": form.pk})).status_code == 404
    assert client.get(reverse("sessions:rems_pdf", kwargs={"form_id": form.pk})).status_code == 404
    assert rems_board(outsider, timezone.localdate()).due == []
    form.refresh_from_db()
    assert form.status == "due"
