"""Who may reach which page: other organizations' ids, signed-out visitors, and the page frame.

The cross-tenant matrix walks every named URL in the page namespaces. A URL with a path argument
this file does not know fails the test, so each new page must be added to the matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.billing.models import BillingSettings, Estimate, Invoice, InvoiceLine, Payment, PriceItem
from ketaflow.clinics.models import Clinic, OpeningHours, Room
from ketaflow.consent.models import Consent, ConsentTemplate
from ketaflow.eligibility.models import EligibilityDecision, EligibilitySettings
from ketaflow.enquiries.models import Lead
from ketaflow.evaluation.models import Evaluation
from ketaflow.fhir.models import ExportJob
from ketaflow.intake.models import Intake
from ketaflow.ledger.models import Balance, Count, CountLine, Entry, Lot, Product, StorageLocation
from ketaflow.measurement.models import (
    Invitation,
    MeasureDue,
    MeasurementPlan,
    MeasurementSettings,
    Notification,
    QuestionnaireResponse,
    SafetyAlert,
    Treatment,
)
from ketaflow.measurement.responses import record_response
from ketaflow.patients.chart import all_tabs
from ketaflow.patients.medications import add_medication
from ketaflow.patients.models import Allergy, Condition, Medication, Patient, PatientAlert, VitalSigns
from ketaflow.plans.models import ClinicProtocol, DoseChange, PhaseChange, ReviewPoint, TreatmentPlan
from ketaflow.scheduling.models import (
    Appointment,
    AppointmentType,
    CalendarFeed,
    ClosedDay,
    Occupancy,
    SchedulingSettings,
    StaffHours,
    WaitlistEntry,
)
from ketaflow.sessions.models import (
    DoseEvent,
    DosePreparation,
    HomeSession,
    NoteAmendment,
    RemsEnrolment,
    RemsForm,
    RescueDose,
    SessionScore,
    SessionVitals,
    SideEffect,
    TreatmentSession,
    VitalAlert,
)
from tests.factories import (
    AlertFactory,
    AllergyFactory,
    ConditionFactory,
    PatientFactory,
    RoomFactory,
    StaffFactory,
    UserFactory,
    actor_of,
)
from tests.integration.consent_factories import signed
from tests.integration.enquiries_factories import LeadFactory
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of
from tests.integration.session_records import session_records
from tests.integration.treatment_records import treatment_records

pytestmark = PAGE_TEST_MARKS

PAGE_NAMESPACES = (
    "web", "accounts", "patients", "staff", "clinics", "audit", "measures", "enquiries", "intake",
    "evaluation", "eligibility", "consent", "plans", "scheduling", "billing", "sessions", "ledger",
    "fhir_pages",
)
# Path arguments that carry no record id; everything else names a record of the stranger.
NON_ID_KWARGS = frozenset({"tab", "route", "setting"})
# The patient-facing pages (the public self-screen, intake and consent links, the portal) take tokens
# or section names, not record ids, and are tested with their own flows.
PATIENT_FACING = re.compile(
    r"^(intake:(link|portal)|consent:p:|scheduling:(feed|portal_feed)$|sessions:home_)"
)


def evaluation_records(practice, label: str) -> dict[str, list[str]]:
    """A lead, a submitted intake, a medication, a signed consent and its template, for `practice`."""
    patient = practice.patient
    lead = LeadFactory(organization=practice.org, name=f"{label} Leadperson", notes=f"{label} lead note")
    intake = Intake.objects.create(
        organization=practice.org, patient=patient, status="submitted", submitted_at=timezone.now(),
        channel="in_person", answers={"medical": {"glaucoma": "yes"}},
    )
    medication = add_medication(actor_of(practice.staff[Role.NURSE]), patient.pk, name=f"{label}ine tonic")
    consent = signed(practice)
    return {
        "lead_id": [str(lead.pk)], "intake_id": [str(intake.pk)], "medication_id": [str(medication.pk)],
        "consent_id": [str(consent.pk)], "consent_template_id": [str(consent.template_id)],
        "route": ["iv"], "setting": ["clinic"],
    }


def export_records(practice) -> dict[str, list[str]]:
    """A completed FHIR export job of `practice` (its file is never reached across organizations)."""
    job = ExportJob.objects.create(organization=practice.org, level="system", request_url="x",
                                   status="completed",
                                   output=[{"type": "Patient", "file": "Patient.ndjson", "count": 1}])
    return {"job_id": [str(job.pk)], "file_name": ["Patient.ndjson"]}


def page_urls() -> list[tuple[str, tuple[str, ...]]]:
    """(namespaced name, path argument names) for every named URL in the page namespaces."""
    resolver = get_resolver()
    found = []
    for namespace in PAGE_NAMESPACES:
        _prefix, sub = resolver.namespace_dict[namespace]
        for name in sub.reverse_dict:
            if not isinstance(name, str):
                continue
            possibilities = sub.reverse_dict.getlist(name)[0][0]
            params = tuple(possibilities[0][1])
            if not PATIENT_FACING.match(f"{namespace}:{name}"):
                found.append((f"{namespace}:{name}", params))
    return sorted(set(found))


@dataclass
class StrangerRecords:
    """The other organization's records, each with text that must never reach our users."""

    values: dict[str, list[str]]
    secrets: list[str]


@pytest.fixture
def stranger_records(stranger) -> StrangerRecords:
    patient = stranger.patient
    patient.legal_family_name = "Zephyrstrange"
    patient.mrn = "ZZ-424242"
    patient.save()
    stranger.clinic.name = "Faraway Quokka Clinic"
    stranger.clinic.save()
    owner = stranger.staff[Role.OWNER]
    owner.user.username = "stranger.owner.kumquat"
    owner.user.save()
    room = RoomFactory(clinic=stranger.clinic, name="Quokka Chair")
    condition = ConditionFactory(patient=patient, note="Stranger condition note")
    allergy = AllergyFactory(patient=patient, substance="Kumquatine")
    alert = AlertFactory(patient=patient, message="Stranger alert marmalade")
    flagged = flagged_phq9(stranger)
    return StrangerRecords(
        values={
            "patient_id": [str(patient.pk)], "staff_id": [str(owner.pk)],
            "clinic_id": [str(stranger.clinic.pk)], "room_id": [str(room.pk)],
            "condition_id": [str(condition.pk)], "allergy_id": [str(allergy.pk)],
            "alert_id": [str(alert.pk)], "tab": [tab.slug for tab in all_tabs()],
            "response_id": [str(flagged.response.pk)], "safety_alert_id": [str(flagged.alert.pk)],
            **evaluation_records(stranger, "Quokka"),
            **treatment_records(stranger, "Quokka"),
            **session_records(stranger, "Quokka"),
            **export_records(stranger),
        },
        secrets=["Zephyrstrange", "ZZ-424242", "Faraway Quokka Clinic", "stranger.owner.kumquat",
                 "Quokka Chair", "Stranger condition note", "Kumquatine", "Stranger alert marmalade",
                 "Quokka Leadperson", "Quokkaplan", "Quokka lead note", "Quokkaine tonic",
                 "Quokkasession", "Quokka queasy", "Quokka cabinet", "Quokka-LOT",
                 str(patient.pk), str(owner.pk)],
    )


def flagged_phq9(practice):
    """A PHQ-9 with item 9 endorsed: a questionnaire response and the safety alert it raised."""
    answers = {"1": 2, "2": 2, "3": 1, "4": 1, "5": 1, "6": 1, "7": 1, "8": 0, "9": 1}
    return record_response(actor_of(practice.staff[Role.NURSE]), practice.patient.pk, "phq9", answers)


def snapshot(org) -> dict[str, object]:
    """Everything a page could change in an organization, to compare before and after."""
    staff = StaffMember.objects.filter(organization=org).select_related("user").order_by("pk")
    return {
        "patients": [model_to_dict(p) for p in Patient.objects.filter(organization=org).order_by("pk")],
        "clinics": [model_to_dict(c) for c in Clinic.objects.filter(organization=org).order_by("pk")],
        "hours": list(OpeningHours.objects.filter(organization=org).values().order_by("pk")),
        "rooms": list(Room.objects.filter(organization=org).values().order_by("pk")),
        "staff": [(model_to_dict(s, exclude=["clinics"]), model_to_dict(s.user, exclude=["groups",
                   "user_permissions", "last_login"]), sorted(s.roles)) for s in staff],
        "devices": TOTPDevice.objects.filter(user__organization=org).count(),
        "conditions": list(Condition.objects.filter(organization=org).values().order_by("pk")),
        "allergies": list(Allergy.objects.filter(organization=org).values().order_by("pk")),
        "alerts": list(PatientAlert.objects.filter(organization=org).values().order_by("pk")),
        **{model.__name__: list(model.objects.filter(organization=org).values().order_by("pk"))
           for model in (QuestionnaireResponse, SafetyAlert, Notification, MeasurementPlan, Treatment,
                         Invitation, MeasureDue, MeasurementSettings, Lead, Intake, Evaluation, Medication,
                         VitalSigns, EligibilityDecision, EligibilitySettings, Consent, ConsentTemplate,
                         ClinicProtocol, TreatmentPlan, DoseChange, PhaseChange, ReviewPoint, AppointmentType,
                         Appointment, Occupancy, WaitlistEntry, CalendarFeed, StaffHours, ClosedDay,
                         SchedulingSettings, PriceItem, BillingSettings, Estimate, Invoice, InvoiceLine,
                         Payment, TreatmentSession, DosePreparation, DoseEvent, SessionVitals, VitalAlert,
                         SideEffect, RescueDose, SessionScore, NoteAmendment, RemsEnrolment, RemsForm,
                         HomeSession, Product, StorageLocation, Lot, Balance, Entry, Count, CountLine)},
        "audit": AuditEvent.objects.filter(organization=org).count(),
    }


def expand(name: str, params: tuple[str, ...], values: dict[str, list[str]]) -> list[str]:
    unknown = [p for p in params if p not in values]
    if unknown:
        pytest.fail(f"{name} takes {unknown}: add a stranger's value for it to the cross-tenant matrix")
    urls = [{}]
    for param in params:
        urls = [kwargs | {param: value} for kwargs in urls for value in values[param]]
    return [reverse(name, kwargs=kwargs) for kwargs in urls]


def test_the_matrix_covers_the_pages_of_every_namespace():
    names = {name for name, _params in page_urls()}
    for expected in ("web:home", "accounts:login", "patients:chart", "patients:tab", "staff:edit",
                     "clinics:room_edit", "audit:search", "patients:alert_resolve"):
        assert expected in names


def test_no_page_shows_or_changes_another_organizations_records(practice, stranger, stranger_records):
    boss = StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER])
    before = snapshot(stranger.org)
    checked = 0
    for name, params in page_urls():
        carries_id = any(p not in NON_ID_KWARGS for p in params)
        for url in expand(name, params, stranger_records.values):
            statuses = {}
            for method in ("get", "post"):
                response = getattr(signed_in(boss), method)(url)
                statuses[method] = response.status_code
                body = response.content.decode()
                for secret in stranger_records.secrets:
                    assert secret not in body, f"{method.upper()} {url} ({name}) shows {secret!r}"
                assert response.status_code < 500, f"{method.upper()} {url} failed"
                if carries_id:
                    assert response.status_code in (404, 405), (
                        f"{method.upper()} {url} ({name}) gave {response.status_code}, not 404"
                    )
                else:
                    assert response.status_code != 404, f"{method.upper()} {url} ({name}) is missing"
                checked += 1
            if carries_id:
                assert 404 in statuses.values(), f"{url} ({name}) never answered 404: {statuses}"
            assert snapshot(stranger.org) == before, f"{url} ({name}) changed the stranger's records"
    assert checked > 60


def test_signed_out_visitors_are_sent_to_sign_in_from_every_staff_page(practice):
    open_pages = {"accounts:login", "accounts:logout"}
    patient = practice.patient
    flagged = flagged_phq9(practice)
    values = {
        "patient_id": [str(patient.pk)], "staff_id": [str(practice.staff[Role.NURSE].pk)],
        "clinic_id": [str(practice.clinic.pk)], "room_id": [str(RoomFactory(clinic=practice.clinic).pk)],
        "condition_id": [str(ConditionFactory(patient=patient).pk)],
        "allergy_id": [str(AllergyFactory(patient=patient).pk)],
        "alert_id": [str(AlertFactory(patient=patient).pk)], "tab": ["summary"],
        "response_id": [str(flagged.response.pk)], "safety_alert_id": [str(flagged.alert.pk)],
        **evaluation_records(practice, "Ours"),
        **treatment_records(practice, "Ours"),
        **session_records(practice, "Ours"),
        **export_records(practice),
    }
    for name, params in page_urls():
        if name in open_pages:
            continue
        for url in expand(name, params, values):
            response = Client().get(url)
            if response.status_code == 405:
                continue
            assert response.status_code == 302, f"{url} answered {response.status_code}"
            assert response["Location"].startswith("/account/login/"), url


def test_an_htmx_request_after_the_session_ended_redirects_the_whole_page(practice):
    response = Client().get("/patients/", {"q": "x"}, headers={"HX-Request": "true",
                                                               "HX-Target": "patient-results"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/account/login/")


def test_a_user_who_is_not_staff_sees_the_no_access_page(db):
    client = Client()
    client.force_login(UserFactory(organization=None))
    response = client.get("/patients/")
    assert response.status_code == 403
    assert "This account has no access to a practice" in text_of(response)


def test_a_missing_page_uses_the_ketaflow_404_page(practice):
    response = signed_in(practice.staff[Role.NURSE]).get("/patients/not-a-page/")
    assert response.status_code == 404
    assert "There is no such page or record in your practice." in text_of(response)


def test_a_forbidden_page_explains_the_role_limit(practice):
    response = signed_in(practice.staff[Role.FRONT_DESK]).get("/audit/")
    assert response.status_code == 403
    assert "Your role does not allow this" in text_of(response)


@pytest.mark.parametrize("role, shown, hidden", [
    (Role.OWNER, ["Patients", "Staff", "Settings", "Audit"], []),
    (Role.NURSE, ["Patients"], ["Staff", "Settings", "Audit"]),
    (Role.FRONT_DESK, ["Patients"], ["Staff", "Settings", "Audit"]),
])
def test_the_navigation_shows_only_what_the_role_may_open(practice, role, shown, hidden):
    html = signed_in(practice.staff[role]).get("/").content.decode()
    nav = html.split('<nav class="site-nav"')[1].split("</nav>")[0]
    for label in shown:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_the_frame_has_skip_link_practice_name_account_menu_csrf_header_and_idle_timeout(practice):
    html = signed_in(practice.staff[Role.NURSE]).get("/").content.decode()
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in html
    assert practice.org.name in html
    assert ">Change password</a>" in html
    assert re.search(r'<form method="post" action="/account/logout/">.*?>Sign out</button>', html, re.S)
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]+\"\}'", html)
    assert 'data-idle-timeout="900"' in html
    assert '<input type="hidden" name="reason" value="idle">' in html
    assert "<meta name=\"htmx-config\" content='{\"includeIndicatorStyles\":false" in html


def test_the_home_page_greets_and_counts_active_patients(practice):
    PatientFactory(home_clinic=practice.clinic, archived_at=timezone.now())
    nurse = practice.staff[Role.NURSE]
    text = text_of(signed_in(nurse).get("/"))
    assert f"Hello, {nurse.user.first_name}" in text
    assert "Active patients 1" in text
    assert "Search patients" in text


def test_no_page_carries_inline_script_style_or_event_handlers(practice):
    client = signed_in(StaffFactory(organization=practice.org, roles=[Role.OWNER, Role.PRESCRIBER]))
    flagged = flagged_phq9(practice)
    pages = ["/", "/patients/", "/patients/new/", f"/patients/{practice.patient.pk}/",
             f"/patients/{practice.patient.pk}/problems/", f"/patients/{practice.patient.pk}/edit/",
             "/staff/", "/staff/new/", "/settings/", f"/settings/clinics/{practice.clinic.pk}/hours/",
             "/audit/", "/account/password/", "/account/two-factor/setup/",
             f"/patients/{practice.patient.pk}/measures/",
             f"/measures/patients/{practice.patient.pk}/enter/?instrument=phq9",
             f"/measures/responses/{flagged.response.pk}/", f"/measures/alerts/{flagged.alert.pk}/",
             "/measures/", "/measures/?tab=overdue", "/measures/?tab=alerts", "/measures/settings/",
             "/sessions/", "/sessions/rems/", "/sessions/settings/", "/ledger/"]
    for url in pages:
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {url}"
        assert not re.search(r"\sstyle=", html), f"inline style on {url}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler on {url}"


# ---------- Sign-in pages ----------

def test_the_login_page_has_labelled_fields_and_signs_in(practice):
    page = Client().get("/account/login/").content.decode()
    assert '<label for="id_username">Username' in page
    assert '<label for="id_password">Password' in page
    assert ">Sign in</button>" in page
    nurse = practice.staff[Role.NURSE]
    response = Client().post("/account/login/", {"username": nurse.user.username,
                                                 "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_signing_out_after_idle_says_why(practice):
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post("/account/logout/", {"reason": "idle"}, follow=True)
    assert "You were signed out after a period of inactivity." in text_of(response)
    assert client.get("/patients/").status_code == 302


def test_two_factor_setup_shows_the_steps_qr_code_and_secret(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.two_factor_exempt = False
    nurse.user.save()
    client = signed_in(nurse)
    assert client.get("/patients/")["Location"] == "/account/two-factor/setup/"
    response = client.get("/account/two-factor/setup/")
    html = response.content.decode()
    assert "<svg" in html
    assert re.search(r'id="totp-secret">[A-Z2-7 ]{20,}<', html)
    assert '<label for="id_code">6-digit code' in html
    assert ">Turn on two-factor</button>" in html
    refused = client.post("/account/two-factor/setup/", {"code": "000000"})
    assert "That code did not match" in text_of(refused)


def test_two_factor_verify_asks_for_the_code(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.two_factor_exempt = False
    nurse.user.save()
    TOTPDevice.objects.create(user=nurse.user, name="phone", confirmed=True)
    client = signed_in(nurse)
    response = client.get("/account/two-factor/verify/")
    assert '<label for="id_code">6-digit code' in response.content.decode()
    assert ">Verify</button>" in response.content.decode()


def test_a_forced_password_change_explains_why_and_then_lets_the_user_in(practice):
    nurse = practice.staff[Role.NURSE]
    nurse.user.must_change_password = True
    nurse.user.save()
    client = signed_in(nurse)
    page = client.get("/account/password/")
    html = page.content.decode()
    for field, label in [("current_password", "Current password"), ("new_password", "New password"),
                         ("confirm_password", "Confirm password")]:
        assert f'<label for="id_{field}">{label}' in html
    assert "You need a new password before you carry on." in text_of(page)
    mismatch = client.post("/account/password/", {"current_password": "correct-horse-battery",
                                                  "new_password": "a-long-new-passphrase-1",
                                                  "confirm_password": "something-else-entirely"})
    assert "The two new passwords do not match." in text_of(mismatch)
    done = client.post("/account/password/", {"current_password": "correct-horse-battery",
                                              "new_password": "a-long-new-passphrase-1",
                                              "confirm_password": "a-long-new-passphrase-1"}, follow=True)
    assert "Your password is changed." in text_of(done)


def test_the_lockout_page_says_to_wait_fifteen_minutes(practice):
    nurse = practice.staff[Role.NURSE]
    client = Client()
    for _ in range(5):
        client.post("/account/login/", {"username": nurse.user.username, "password": "wrong-password"})
    response = client.post("/account/login/", {"username": nurse.user.username, "password": "wrong-password"})
    text = text_of(response)
    assert "Too many sign-in attempts" in text
    assert "Try again in 15 minutes." in text
