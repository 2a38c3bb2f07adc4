"""The consent PDF: the exact text signed with its version and hash, the signature, times in the clinic's
time zone, the countersignature and any withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest
from django.utils import timezone
from pypdf import PdfReader

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent import services
from ketaflow.consent.models import Consent
from ketaflow.consent.pdf import consent_html, consent_pdf
from ketaflow.validation import Forbidden
from tests.factories import actor_of
from tests.integration.consent_factories import legal_name, requested, signed
from tests.integration.pages import PAGE_TEST_MARKS
from tests.integration.test_consent_versioning import pdf_text

pytestmark = PAGE_TEST_MARKS


def test_the_pdf_holds_the_text_version_hash_signature_countersignature_and_withdrawal(practice):
    consent = signed(practice, "iv", countersigned=True)
    # A known moment: 14:05 UTC is 07:05 in the clinic's zone (America/Denver, MST in January).
    Consent.objects.filter(pk=consent.pk).update(signed_at=datetime(2026, 1, 12, 14, 5, tzinfo=UTC))
    services.withdraw_by_staff(actor_of(practice.staff[Role.NURSE]), consent.pk, "Patient moved away")
    document = consent_pdf(actor_of(practice.staff[Role.PRESCRIBER]), consent.pk)
    assert document.filename == f"consent-{practice.patient.mrn}-iv-v1.pdf"
    assert document.content.startswith(b"%PDF")
    text = pdf_text(document.content)
    consent.refresh_from_db()
    assert "Consent to ketamine treatment by IV infusion" in text
    assert "Sample wording: have it reviewed before clinical use." in text
    assert "Someone else must take you home" in text and "Common side effects" in text
    assert "Version 1 of" in text
    assert consent.text_hash in text.replace(" ", "")
    assert f"Typed name {legal_name(practice.patient)}" in text
    assert "12 Jan 2026 07:05:00 MST" in text
    assert "Clinic tablet, handed over by" in text and "IP address 203.0.113.7" in text
    prescriber = practice.staff[Role.PRESCRIBER].user.get_full_name()
    assert f"Countersigned by {prescriber}" in text
    assert "Withdrawn" in text and "Reason Patient moved away" in text
    assert practice.patient.mrn in text

    images = [image for page in PdfReader(BytesIO(document.content)).pages for image in page.images]
    assert images and len({image.data for image in images}) == 1  # the drawn signature, and nothing else


def test_an_unsigned_consent_pdf_says_it_is_not_signed(practice):
    consent = requested(practice, "sublingual_home")
    text = pdf_text(consent_pdf(actor_of(practice.staff[Role.NURSE]), consent.pk).content)
    assert "The text to be signed" in text and "treatment monitor" in text
    assert "Not signed yet: requested on" in text and "Not countersigned." in text


def test_the_pdf_html_shows_times_in_the_patients_clinic_zone(practice):
    practice.clinic.timezone = "Pacific/Auckland"
    practice.clinic.save()
    consent = signed(practice)
    Consent.objects.filter(pk=consent.pk).update(signed_at=datetime(2026, 6, 1, 22, 30, tzinfo=UTC))
    consent = Consent.objects.select_related("patient__home_clinic", "template").get(pk=consent.pk)
    html = consent_html(consent, now=timezone.now())
    assert "2 Jun 2026 10:30:00 NZST" in html
    assert "Pacific/Auckland" in html


def test_producing_the_pdf_is_an_audited_export_and_needs_clinical_view(practice):
    consent = signed(practice)
    consent_pdf(actor_of(practice.staff[Role.THERAPIST]), consent.pk)
    event = AuditEvent.objects.get(object_id=str(consent.pk), action="export")
    assert event.detail == {"format": "pdf", "document": "consent", "version": 1}
    assert AuditEvent.objects.filter(object_id=str(consent.pk), action="read", detail__purpose="pdf").exists()
    with pytest.raises(Forbidden):
        consent_pdf(actor_of(practice.staff[Role.FRONT_DESK]), consent.pk)


def test_the_pdf_letterhead_gives_the_clinics_whole_address_and_its_phone_as_people_write_it(practice):
    clinic = practice.clinic
    clinic.address_line1, clinic.address_line2 = "12 Example Street", "Suite 4B"
    clinic.region, clinic.postal_code, clinic.phone = "OR", "97201", "+15035550142"
    clinic.save()
    consent = signed(practice)
    consent = Consent.objects.select_related("patient__home_clinic", "template").get(pk=consent.pk)
    html = consent_html(consent, now=timezone.now())
    assert "12 Example Street, Suite 4B, Springfield, OR, 97201" in html
    assert "Tel (503) 555-0142" in html
