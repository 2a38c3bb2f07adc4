"""The patient's consent pages in the portal: the home card, the list, reading and signing, the PDF
copy, withdrawing, and the walls around them."""

from __future__ import annotations

from django.test import Client

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent.models import Consent
from ketaflow.consent.text import text_hash
from ketaflow.portal.models import PortalAccount
from tests.factories import PatientFactory
from tests.integration.consent_factories import legal_name, png_data_url, portal_patient, requested, signed
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of
from tests.integration.test_consent_versioning import pdf_text

pytestmark = PAGE_TEST_MARKS


def sign_data(consent, **overrides) -> dict[str, str]:
    data = {"typed_name": legal_name(consent.patient), "signature": png_data_url(), "agree": "on",
            "text_hash": text_hash(consent.template)}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_portal_home_says_there_is_a_consent_form_to_sign(practice):
    client = portal_patient(practice)
    assert "consent form" not in text_of(client.get("/portal/"))  # nothing requested: no card
    requested(practice, "iv")
    home = client.get("/portal/")
    assert "You have a consent form to sign" in text_of(home)
    assert 'href="/consent/p/"' in home.content.decode()
    card = AuditEvent.objects.get(detail__purpose="portal:card")
    assert card.patient_id == practice.patient.pk and card.detail["waiting"] == 1 and card.via == "portal"


def test_the_patient_reads_and_signs_in_the_portal(practice):
    consent = requested(practice, "esketamine")
    client = portal_patient(practice)
    listing = client.get("/consent/p/")
    assert "To sign Consent to esketamine nasal spray treatment Version 1" in text_of(listing)
    page = client.get(f"/consent/p/{consent.pk}/")
    text = text_of(page)
    assert "at least 2 hours after the dose" in text
    assert '<label for="id_typed_name">Type your full name' in page.content.decode()
    assert "Sign the consent form" in text and "Need help now?" in text
    assert "data-keepalive-url" not in page.content.decode()  # a staff-only endpoint
    done = client.post(f"/consent/p/{consent.pk}/", sign_data(consent), REMOTE_ADDR="198.51.100.9",
                       HTTP_USER_AGENT="SyntheticPhone/2.0", follow=True)
    assert done.redirect_chain[-1][0] == "/consent/p/"
    assert "Thank you: your consent form is signed." in text_of(done)
    assert "waiting for your clinic to countersign" in text_of(done)
    consent.refresh_from_db()
    assert consent.status == "signed" and consent.channel == "portal" and consent.witnessed_by_id is None
    assert consent.ip_address == "198.51.100.9" and consent.user_agent == "SyntheticPhone/2.0"
    event = AuditEvent.objects.get(object_id=str(consent.pk), detail__event="signed")
    assert event.via == "portal" and event.username == "patient:portal"
    assert event.user_id == PortalAccount.objects.get(patient=practice.patient).user_id


def test_portal_signing_errors_are_shown_and_nothing_is_saved(practice):
    consent = requested(practice)
    client = portal_patient(practice)
    response = client.post(f"/consent/p/{consent.pk}/", sign_data(consent, typed_name="", agree=None))
    assert response.status_code == 200
    assert field_error(response, "id_typed_name") == "Type your full name to sign."
    assert "Tick the box to confirm" in text_of(response)
    assert Consent.objects.get(pk=consent.pk).status == "requested"


def test_the_patient_downloads_a_copy_once_signed(practice):
    consent = requested(practice)
    client = portal_patient(practice)
    assert client.get(f"/consent/p/{consent.pk}/pdf/").status_code == 404  # not signed yet
    client.post(f"/consent/p/{consent.pk}/", sign_data(consent))
    response = client.get(f"/consent/p/{consent.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Consent to ketamine treatment by IV infusion" in text
    assert legal_name(practice.patient) in text and "Patient portal" in text
    assert "Not countersigned." in text
    export = AuditEvent.objects.get(object_id=str(consent.pk), action="export")
    assert export.via == "portal"


def test_the_patient_withdraws_consent_in_the_portal(practice):
    consent = signed(practice, countersigned=True)
    client = portal_patient(practice)
    listing = text_of(client.get("/consent/p/"))
    assert "countersigned by your clinic" in listing and "Withdraw my consent" in listing
    page = client.get(f"/consent/p/{consent.pk}/withdraw/")
    assert "Withdraw your consent" in text_of(page)
    done = client.post(f"/consent/p/{consent.pk}/withdraw/", {"reason": ""}, follow=True)
    assert "Your withdrawal is recorded" in text_of(done)
    consent.refresh_from_db()
    assert consent.status == "withdrawn" and consent.withdrawn_via == "portal"
    assert consent.withdrawn_recorded_by_id is None and consent.withdrawal_reason == ""
    staff_view = signed_in(practice.staff[Role.NURSE]).get(f"/patients/{practice.patient.pk}/consent/")
    assert "by the patient in the portal" in text_of(staff_view)


def test_the_patient_may_decline_a_form_before_signing(practice):
    consent = requested(practice)
    client = portal_patient(practice)
    assert "Decline this consent form" in text_of(client.get(f"/consent/p/{consent.pk}/withdraw/"))
    client.post(f"/consent/p/{consent.pk}/withdraw/", {"reason": "I want to talk to my doctor first"})
    consent.refresh_from_db()
    assert consent.status == "withdrawn" and consent.signed_at is None
    assert consent.withdrawal_reason == "I want to talk to my doctor first"


def test_another_patients_consent_is_not_found_in_the_portal(practice, stranger):
    neighbour = PatientFactory(home_clinic=practice.clinic, legal_family_name="Neighbourly")
    theirs = requested(practice, patient=neighbour)
    foreign = signed(stranger)
    client = portal_patient(practice)
    for consent in (theirs, foreign):
        for url in (f"/consent/p/{consent.pk}/", f"/consent/p/{consent.pk}/pdf/",
                    f"/consent/p/{consent.pk}/withdraw/"):
            response = client.get(url)
            assert response.status_code == 404, url
        assert client.post(f"/consent/p/{consent.pk}/", sign_data(consent)).status_code == 404
        assert client.post(f"/consent/p/{consent.pk}/withdraw/", {"reason": "x"}).status_code == 404
    assert "Neighbourly" not in text_of(client.get("/consent/p/"))
    assert Consent.objects.get(pk=theirs.pk).status == "requested"
    assert Consent.objects.get(pk=foreign.pk).status == "signed"


def test_staff_pages_stay_closed_to_a_patient_and_patient_pages_to_staff(practice):
    consent = requested(practice)
    patient = portal_patient(practice)
    for url in ("/consent/templates/", f"/consent/{consent.pk}/tablet/", f"/consent/{consent.pk}/pdf/"):
        response = patient.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/", url
    staff = signed_in(practice.staff[Role.NURSE]).get("/consent/p/")
    assert staff.status_code == 403
    signed_out = Client().get("/consent/p/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/portal/login/")
