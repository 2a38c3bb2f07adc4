"""The front desk's leads: the worklist, one lead, status and notes, registering a lead as a patient."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.enquiries import leads as service
from ketaflow.enquiries.models import Lead, LeadStatus
from ketaflow.patients.models import Patient
from ketaflow.validation import NotFound, ValidationFailed
from tests.factories import PatientFactory, actor_of
from tests.integration.enquiries_factories import RISK_ANSWERS, LeadFactory, answers, received_at
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def words(response) -> str:
    return html.unescape(text_of(response))


@pytest.fixture
def desk(practice):
    return signed_in(practice.staff[Role.FRONT_DESK])


@pytest.fixture
def desk_actor(practice):
    return actor_of(practice.staff[Role.FRONT_DESK])


def lead_in(practice, **kwargs) -> Lead:
    return LeadFactory(organization=practice.org, **kwargs)


def audit(org, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=org, object_type="Lead", **filters).order_by("seq"))


# ---------- the worklist ----------


def test_the_worklist_puts_leads_to_call_today_first_then_newest_first(practice, desk):
    now = timezone.now()
    oldest = received_at(lead_in(practice, name="Olive Oldest"), now - timedelta(days=3))
    risky = received_at(lead_in(practice, name="Riley Risk", answers=RISK_ANSWERS), now - timedelta(days=2))
    newest = received_at(lead_in(practice, name="Nina Newest"), now - timedelta(hours=1))
    contacted_risk = received_at(
        lead_in(practice, name="Casey Called", answers=RISK_ANSWERS, status=LeadStatus.CONTACTED),
        now - timedelta(minutes=5),
    )
    text = words(desk.get("/leads/"))
    order = [text.index(name) for name in ("Riley Risk", "Casey Called", "Nina Newest", "Olive Oldest")]
    assert order == sorted(order)
    assert "1 lead to call today" in text
    assert text.count("Call today") == 1  # only the risky lead nobody has contacted yet
    assert "Talk to doctor first" in text and "Book a consultation" in text
    event = audit(practice.org, action="list")[-1]
    assert event.detail["shown"] == [str(lead.pk) for lead in (risky, contacted_risk, newest, oldest)]
    assert "Riley" not in str(event.detail)


def test_the_worklist_filters_by_status_and_counts_each(practice, desk):
    lead_in(practice, name="Nia New")
    lead_in(practice, name="Cole Closed", status=LeadStatus.CLOSED, closed_reason="Not reachable")
    lead_in(practice, name="Bea Booked", status=LeadStatus.BOOKED)
    open_text = words(desk.get("/leads/"))
    assert "Nia New" in open_text and "Bea Booked" in open_text and "Cole Closed" not in open_text
    assert "Open 2" in open_text and "Closed 1" in open_text and "All 3" in open_text
    closed_text = words(desk.get("/leads/?status=closed"))
    assert "Cole Closed" in closed_text and "Nia New" not in closed_text


def test_the_worklist_reads_each_leads_clinic_and_assignee_with_the_page_not_row_by_row(practice, desk):
    nurse, admin = practice.staff[Role.NURSE], practice.staff[Role.ADMIN]
    lead_in(practice, name="Ada Assigned", assigned_to=nurse, preferred_clinic=practice.clinic)
    with CaptureQueriesContext(connection) as two:
        desk.get("/leads/")
    for n in range(8):
        lead_in(practice, name=f"More Lead{n}", assigned_to=admin if n % 2 else nurse,
                preferred_clinic=practice.clinic, answers=RISK_ANSWERS)
    with CaptureQueriesContext(connection) as nine:
        text = words(desk.get("/leads/"))
    assert "More Lead7" in text and admin.display_name in text and nurse.display_name in text
    assert len(nine.captured_queries) == len(two.captured_queries)


def test_the_worklist_shows_no_other_organizations_leads(practice, stranger, desk):
    LeadFactory(organization=stranger.org, name="Zed Strangerlead")
    text = words(desk.get("/leads/?status=all"))
    assert "Zed Strangerlead" not in text
    assert "No leads here." in text


def test_a_role_without_demographics_cannot_open_the_worklist(practice, stranger):
    from tests.factories import StaffFactory

    nobody = StaffFactory(organization=practice.org, roles=[Role.OWNER])
    nobody.role_rows.all().delete()
    lead_in(practice, name="Hidden Person")
    response = signed_in(nobody).get("/leads/")
    assert response.status_code == 403
    assert "Hidden Person" not in words(response)


# ---------- one lead ----------


def test_a_lead_shows_answers_as_question_and_answer_with_the_outcome_and_reasons(practice, desk):
    given = answers(pregnancy="yes", conditions=["depression", "ptsd"])
    lead = lead_in(practice, name="Pat Example", answers=given)
    text = words(desk.get(f"/leads/{lead.pk}/"))
    assert "Pat Example" in text
    assert "Self-screen result: Talk to your doctor first" in text
    assert "Ketamine is usually avoided in pregnancy" in text
    assert "Are you pregnant, could you be pregnant, or are you planning a pregnancy soon? Yes" in text
    assert "What would you like help with? Choose all that apply. Depression, Trauma or PTSD" in text
    assert "(503) 555-" in text
    event = audit(practice.org, action="read")[-1]
    assert (event.object_id, event.detail) == (str(lead.pk), {"purpose": "detail"})


def test_a_lead_that_endorsed_risk_says_call_today(practice, desk):
    lead = lead_in(practice, answers=RISK_ANSWERS)
    assert "Call today." in words(desk.get(f"/leads/{lead.pk}/"))


def test_another_organizations_lead_is_not_found(practice, stranger, desk):
    theirs = LeadFactory(organization=stranger.org, name="Zed Strangerlead")
    for url in (f"/leads/{theirs.pk}/", f"/leads/{theirs.pk}/register/"):
        response = desk.get(url)
        assert response.status_code == 404, url
        assert "Zed Strangerlead" not in words(response)
    change = {"status": "closed", "closed_reason": "Hijacked", "notes": "x"}
    response = desk.post(f"/leads/{theirs.pk}/", change)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.notes) == (LeadStatus.NEW, "")
    assert not AuditEvent.objects.filter(organization=stranger.org, object_type="Lead").exists()


def test_front_desk_records_the_call_and_a_note_and_the_audit_names_only_the_fields(practice, desk):
    lead = lead_in(practice, name="Quinn Caller")
    helper = practice.staff[Role.NURSE]
    response = desk.post(f"/leads/{lead.pk}/", {
        "status": "contacted", "notes": "Left a voicemail for Quinn", "assigned_to_id": str(helper.pk),
        "closed_reason": "",
    })
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    assert (lead.notes, lead.assigned_to_id) == ("Left a voicemail for Quinn", helper.pk)
    assert lead.contacted_at is not None
    event = audit(practice.org, action="update")[-1]
    assert event.detail == {"fields": ["assigned_to_id", "contacted_at", "notes", "status"]}
    assert "Quinn" not in str(event.detail)
    assert "The lead is saved." in words(desk.get(f"/leads/{lead.pk}/"))


def test_closing_a_lead_needs_a_reason_and_nothing_changes_without_it(practice, desk):
    lead = lead_in(practice)
    response = desk.post(f"/leads/{lead.pk}/", {"status": "closed", "closed_reason": "", "notes": "Called"})
    assert response.status_code == 200
    assert field_error(response, "id_closed_reason") == "Say why the lead is closed."
    lead.refresh_from_db()
    assert (lead.status, lead.notes) == (LeadStatus.NEW, "")
    assert not audit(practice.org, action="update")


def test_a_therapist_may_read_leads_but_not_change_them(practice):
    therapist = signed_in(practice.staff[Role.THERAPIST])
    lead = lead_in(practice, name="Tara Readonly")
    page = therapist.get(f"/leads/{lead.pk}/")
    assert "Tara Readonly" in words(page) and "Follow-up" not in words(page)
    response = therapist.post(f"/leads/{lead.pk}/", {"status": "closed", "closed_reason": "x"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    assert therapist.get(f"/leads/{lead.pk}/register/").status_code == 403


# ---------- registering a lead as a patient ----------


def registration(practice, **changes) -> dict[str, str]:
    return {
        "legal_given_name": "Robin", "legal_family_name": "Examplewood", "date_of_birth": "1990-04-12",
        "home_clinic_id": str(practice.clinic.pk), "phone_mobile": "(503) 555-0177",
        "email": "robin.examplewood@example.test", "preferred_contact": "phone", "sex_at_birth": "unknown",
        **changes,
    }


def typed(practice, **changes) -> dict[str, object]:
    """The registration as a service takes it (a real date)."""
    return {**registration(practice, **changes), "date_of_birth": date(1990, 4, 12)}


def test_the_registration_page_starts_with_the_leads_details(practice, desk):
    lead = lead_in(practice, name="Robin Q Examplewood", phone="+15035550177", email="robin@example.test",
                   preferred_clinic=practice.clinic)
    page = desk.get(f"/leads/{lead.pk}/register/").content.decode()
    assert 'name="legal_given_name" value="Robin Q"' in page
    assert 'name="legal_family_name" value="Examplewood"' in page
    assert 'value="(503) 555-0177"' in page and 'value="robin@example.test"' in page
    assert f'<option value="{practice.clinic.pk}" selected>' in page


def test_registering_creates_the_patient_links_the_lead_and_opens_the_chart(practice, desk):
    lead = lead_in(practice, name="Robin Examplewood")
    response = desk.post(f"/leads/{lead.pk}/register/", registration(practice))
    patient = Patient.objects.get(legal_family_name="Examplewood")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    lead.refresh_from_db()
    assert (lead.patient_id, lead.status) == (patient.pk, LeadStatus.CONVERTED)
    assert lead.converted_at is not None
    assert patient.organization_id == practice.org.pk and patient.phone_mobile == "+15035550177"
    created = AuditEvent.objects.get(organization=practice.org, object_type="Patient", action="create")
    linked = audit(practice.org, action="update")[-1]
    assert linked.patient_id == patient.pk
    assert linked.detail == {"fields": ["converted_at", "patient", "status"]}
    assert linked.seq > created.seq
    detail = words(desk.get(f"/leads/{lead.pk}/"))
    assert "Open the patient's chart" in detail and "Register as patient" not in detail


def test_a_lead_is_registered_only_once(practice, desk, desk_actor):
    lead = lead_in(practice)
    service.convert_lead(desk_actor, lead.pk, typed(practice), confirm_not_duplicate=True)
    response = desk.get(f"/leads/{lead.pk}/register/")
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    with pytest.raises(ValidationFailed, match="already registered"):
        service.convert_lead(desk_actor, lead.pk, typed(practice, legal_given_name="Again"),
                             confirm_not_duplicate=True)
    assert Patient.objects.filter(legal_family_name="Examplewood").count() == 1


def test_a_possible_duplicate_pauses_registration_and_the_disclosure_is_audited(practice, desk):
    PatientFactory(home_clinic=practice.clinic, legal_given_name="Robin", legal_family_name="Examplewood",
                   date_of_birth="1990-04-12")
    lead = lead_in(practice)
    response = desk.post(f"/leads/{lead.pk}/register/", registration(practice))
    assert "This person may already be registered" in words(response)
    assert Patient.objects.filter(legal_family_name="Examplewood").count() == 1
    lead.refresh_from_db()
    assert lead.patient_id is None and lead.status == LeadStatus.NEW
    disclosed = AuditEvent.objects.filter(organization=practice.org, object_type="Patient", action="list")
    assert disclosed.filter(detail__purpose="duplicate_check").exists()
    confirmed = desk.post(f"/leads/{lead.pk}/register/",
                          registration(practice, confirm_not_duplicate="on", register_anyway="1"))
    assert confirmed.status_code == 302
    assert Patient.objects.filter(legal_family_name="Examplewood").count() == 2


def test_a_registration_error_is_shown_beside_its_field_and_nothing_is_written(practice, desk):
    lead = lead_in(practice)
    response = desk.post(f"/leads/{lead.pk}/register/", registration(practice, date_of_birth=""))
    assert field_error(response, "id_date_of_birth") == "This field is required."
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW
    assert not Patient.objects.filter(legal_family_name="Examplewood").exists()


def test_the_services_treat_another_organizations_lead_as_missing(practice, stranger, desk_actor):
    theirs = LeadFactory(organization=stranger.org)
    for call in (
        lambda: service.open_lead(desk_actor, theirs.pk),
        lambda: service.update_lead(desk_actor, theirs.pk, {"notes": "x"}),
        lambda: service.convert_lead(desk_actor, theirs.pk, typed(practice), confirm_not_duplicate=True),
    ):
        with pytest.raises(NotFound):
            call()
    assert not Patient.objects.filter(legal_family_name="Examplewood").exists()


def test_a_lead_cannot_be_assigned_to_another_organizations_staff(practice, stranger, desk_actor):
    lead = lead_in(practice)
    with pytest.raises(ValidationFailed) as caught:
        service.update_lead(desk_actor, lead.pk, {"assigned_to_id": str(stranger.staff[Role.OWNER].pk)})
    assert caught.value.errors[0].field == "assigned_to_id"


def test_the_lead_pages_carry_no_inline_script_style_or_event_handlers(practice, desk):
    import re

    lead = lead_in(practice, answers=RISK_ANSWERS)
    for url in ("/leads/", "/leads/?status=all", f"/leads/{lead.pk}/", f"/leads/{lead.pk}/register/"):
        markup = desk.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", markup), url
        assert not re.search(r"\sstyle=", markup), url
        assert not re.search(r"\son[a-z]+=", markup), url


def test_times_are_shown_in_the_clinics_time_zone(practice, desk):
    from datetime import UTC, datetime

    lead = received_at(lead_in(practice, name="Tia Timezone"), datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    assert "11/20/2026 11:00 AM" in words(desk.get("/leads/"))  # the clinic is in America/Denver
    assert "11/20/2026 11:00 AM" in words(desk.get(f"/leads/{lead.pk}/"))
