"""Consent services: requesting, signing, countersigning, withdrawing, and whether a route may start."""

from __future__ import annotations

import base64

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent import services, signing
from ketaflow.consent.models import Consent
from ketaflow.consent.services import ConsentRequired, current_consent, require_current_consent
from ketaflow.consent.signing import name_matches
from ketaflow.consent.text import text_hash
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.consent_factories import (
    DEVICE,
    legal_name,
    png_bytes,
    png_data_url,
    requested,
    signed,
    signing_for,
)

pytestmark = pytest.mark.django_db


def errors_of(excinfo) -> dict[str | None, str]:
    return {e.field: e.message for e in excinfo.value.errors}


def nurse(practice):
    return actor_of(practice.staff[Role.NURSE])


def prescriber(practice):
    return actor_of(practice.staff[Role.PRESCRIBER])


# ---------- requesting ----------


def test_a_request_pins_the_current_template_version_and_is_audited(practice):
    consent = requested(practice, "esketamine")
    assert consent.status == Consent.Status.REQUESTED
    assert (consent.route, consent.setting) == ("esketamine", "clinic")
    assert consent.template.version == 1 and consent.template.route == "esketamine"
    assert consent.requested_by_id == practice.staff[Role.NURSE].user_id
    event = AuditEvent.objects.get(object_type="Consent", object_id=str(consent.pk), action="create")
    assert event.patient_id == practice.patient.pk
    assert event.detail == {"event": "requested", "route": "esketamine", "setting": "clinic",
                            "template_id": str(consent.template_id), "version": 1}


def test_sublingual_is_consented_at_home_and_a_route_cannot_take_another_setting(practice):
    home = services.request_consent(nurse(practice), practice.patient.pk, "sublingual_home")
    assert home.setting == "home"
    with pytest.raises(ValidationFailed) as excinfo:
        services.request_consent(nurse(practice), practice.patient.pk, "iv", "home")
    assert "clinic" in errors_of(excinfo)["setting"]
    with pytest.raises(ValidationFailed) as excinfo:
        services.request_consent(nurse(practice), practice.patient.pk, "ketamine_by_post")
    assert "route" in errors_of(excinfo)
    assert Consent.objects.filter(patient=practice.patient).count() == 1


def test_a_new_request_for_a_route_waits_until_the_open_one_is_countersigned_or_withdrawn(practice):
    first = requested(practice, "iv")
    with pytest.raises(ValidationFailed) as excinfo:
        requested(practice, "iv")
    assert "already waiting for the patient's signature" in errors_of(excinfo)["route"]
    requested(practice, "im")  # another route is independent
    signing.sign_on_tablet(nurse(practice), first.pk, signing_for(first), DEVICE)
    with pytest.raises(ValidationFailed) as excinfo:
        requested(practice, "iv")
    assert "waiting for a clinician's countersignature" in errors_of(excinfo)["route"]
    services.countersign(prescriber(practice), first.pk)
    again = requested(practice, "iv")  # re-consent, e.g. on a newer version, while the first stays current
    assert again.pk != first.pk and again.status == Consent.Status.REQUESTED
    assert current_consent(practice.patient, "iv") == first


def test_front_desk_cannot_request_and_a_strangers_patient_is_not_found(practice, stranger):
    with pytest.raises(Forbidden):
        services.request_consent(actor_of(practice.staff[Role.FRONT_DESK]), practice.patient.pk, "iv")
    with pytest.raises(NotFound):
        services.request_consent(nurse(practice), stranger.patient.pk, "iv")
    assert not Consent.objects.exists()


def test_an_archived_patient_gets_no_new_request(practice):
    practice.patient.archived_at = timezone.now()
    practice.patient.save()
    with pytest.raises(ValidationFailed, match="archived"):
        requested(practice)


# ---------- signing ----------


def test_signing_on_a_tablet_stores_name_time_address_device_version_hash_and_the_witness(practice):
    consent = requested(practice)
    before = timezone.now()
    long_agent = "Mozilla/5.0 " + "x" * 400
    signed_now = signing.sign_on_tablet(
        nurse(practice), consent.pk, signing_for(consent, typed_name=f"  {legal_name(practice.patient)} "),
        signing.Device("198.51.100.23", long_agent),
    )
    row = Consent.objects.get(pk=signed_now.pk)
    assert row.status == Consent.Status.SIGNED
    assert row.typed_name == legal_name(practice.patient)
    assert row.signed_at >= before
    assert row.ip_address == "198.51.100.23"
    assert row.user_agent == long_agent[:300]
    assert row.channel == Consent.Channel.TABLET
    assert row.witnessed_by_id == practice.staff[Role.NURSE].user_id
    assert row.text_hash == text_hash(row.template) and len(row.text_hash) == 64
    assert bytes(row.signature_png) == png_bytes()
    assert row.template.version == 1
    event = AuditEvent.objects.get(object_id=str(row.pk), detail__event="signed")
    assert event.user_id == practice.staff[Role.NURSE].user_id  # the device owner acts; the patient signs
    assert event.detail == {"event": "signed", "signer": "patient", "channel": "tablet", "route": "iv",
                            "version": 1, "signature_image": True,
                            "witness_user_id": practice.staff[Role.NURSE].user_id}


def test_a_drawn_signature_is_optional(practice):
    consent = requested(practice)
    signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent, signature=""), DEVICE)
    consent.refresh_from_db()
    assert consent.status == Consent.Status.SIGNED and consent.signature_png is None


def test_the_typed_name_matches_the_legal_name_ignoring_case_spaces_and_the_middle_name(practice):
    patient = practice.patient
    patient.legal_given_name, patient.legal_middle_name, patient.legal_family_name = "Mary Ann", "Jo", "Quill"
    assert name_matches(patient, "mary ann quill")
    assert name_matches(patient, "MARYANN   QUILL")
    assert name_matches(patient, "Mary Ann Jo Quill")
    assert name_matches(patient, "Mary Ann Quill.")
    assert not name_matches(patient, "Quill Mary Ann")
    assert not name_matches(patient, "Mary Quill")
    assert not name_matches(patient, "M. A. Quill")


def test_every_signing_problem_is_named_at_once_and_nothing_is_saved(practice):
    consent = requested(practice)
    bad = signing_for(consent, typed_name="", signature="data:image/gif;base64,R0lGODlh", agreed=False,
                      text_hash="0" * 64)
    with pytest.raises(ValidationFailed) as excinfo:
        signing.sign_on_tablet(nurse(practice), consent.pk, bad, DEVICE)
    errors = errors_of(excinfo)
    assert set(errors) == {"typed_name", "signature", "agree", "text_hash"}
    assert errors["typed_name"] == "Type your full name to sign."
    assert "agree" in errors["agree"]
    assert "nothing was signed" in errors["text_hash"]
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REQUESTED
    stored = (consent.typed_name, consent.signed_at, consent.text_hash, consent.ip_address)
    assert stored == ("", None, "", None)
    assert not AuditEvent.objects.filter(object_id=str(consent.pk), detail__event="signed").exists()


def test_a_name_that_is_not_the_patients_is_refused(practice):
    consent = requested(practice)
    with pytest.raises(ValidationFailed) as excinfo:
        signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent, typed_name="Pat Nobody"),
                                DEVICE)
    assert errors_of(excinfo) == {
        "typed_name": "Type your name as it is on your record: your legal first and last name."
    }


@pytest.mark.parametrize("signature, why", [
    ("data:image/png;base64,not base64!!", "could not be read"),
    ("data:image/png;base64,R0lGODlhAQABAAAAACw=", "not a PNG"),
    ("https://example.test/signature.png", "not received as an image"),
    (png_data_url(5000, 2), "impossible size"),
])
def test_a_signature_that_is_not_a_real_png_is_refused(practice, signature, why):
    consent = requested(practice)
    with pytest.raises(ValidationFailed) as excinfo:
        signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent, signature=signature),
                                DEVICE)
    assert why in errors_of(excinfo)["signature"]


def test_a_signature_over_200_kb_is_refused(practice):
    consent = requested(practice)
    big = png_bytes() + b"\x00" * (201 * 1024)
    data_url = "data:image/png;base64," + base64.b64encode(big).decode()
    with pytest.raises(ValidationFailed) as excinfo:
        signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent, signature=data_url), DEVICE)
    assert "too large" in errors_of(excinfo)["signature"]


def test_a_hash_of_other_text_is_refused_even_with_everything_else_right(practice):
    consent = requested(practice)
    edited = type("Wording", (), {"title": consent.template.title, "body": consent.template.body + "."})
    tampered = text_hash(edited)
    with pytest.raises(ValidationFailed) as excinfo:
        signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent, text_hash=tampered), DEVICE)
    assert set(errors_of(excinfo)) == {"text_hash"}


def test_a_consent_is_signed_once(practice):
    consent = signed(practice)
    with pytest.raises(ValidationFailed, match="already signed"):
        signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent), DEVICE)


def test_front_desk_cannot_hand_over_a_tablet(practice):
    consent = requested(practice)
    with pytest.raises(Forbidden):
        signing.sign_on_tablet(actor_of(practice.staff[Role.FRONT_DESK]), consent.pk, signing_for(consent),
                                DEVICE)


# ---------- countersigning ----------


def test_countersigning_makes_the_consent_current_and_records_who(practice):
    consent = signed(practice)
    assert current_consent(practice.patient, "iv") is None
    services.countersign(prescriber(practice), consent.pk)
    consent.refresh_from_db()
    assert consent.countersigned_by_id == practice.staff[Role.PRESCRIBER].user_id
    assert consent.countersigned_at is not None
    assert current_consent(practice.patient, "iv") == consent
    event = AuditEvent.objects.get(object_id=str(consent.pk), detail__event="countersigned")
    assert event.detail["same_as_witness"] is False


def test_the_staff_member_who_handed_over_the_tablet_may_countersign_and_that_is_recorded(practice):
    consent = signed(practice)
    services.countersign(nurse(practice), consent.pk)
    consent.refresh_from_db()
    assert consent.countersigned_by_id == consent.witnessed_by_id == practice.staff[Role.NURSE].user_id
    assert AuditEvent.objects.get(object_id=str(consent.pk), detail__event="countersigned").detail[
        "same_as_witness"] is True


def test_only_a_signed_consent_is_countersigned_and_only_once(practice):
    waiting = requested(practice)
    with pytest.raises(ValidationFailed, match="not signed"):
        services.countersign(prescriber(practice), waiting.pk)
    done = signed(practice, "im", countersigned=True)
    with pytest.raises(ValidationFailed, match="already countersigned"):
        services.countersign(prescriber(practice), done.pk)
    gone = signed(practice, "esketamine")
    services.withdraw_by_staff(nurse(practice), gone.pk, "Patient changed their mind at reception")
    with pytest.raises(ValidationFailed, match="withdrawn"):
        services.countersign(prescriber(practice), gone.pk)
    with pytest.raises(Forbidden):
        services.countersign(actor_of(practice.staff[Role.FRONT_DESK]), done.pk)


def test_countersigning_emails_the_patient_the_pdf_after_the_commit(
    practice, django_capture_on_commit_callbacks
):
    practice.patient.email = "avery.copy@example.test"
    practice.patient.save()
    consent = signed(practice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.countersign(prescriber(practice), consent.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["avery.copy@example.test"]
    assert practice.clinic.name in message.body
    assert practice.patient.legal_family_name not in message.body  # the details are in the attachment only
    (filename, content, mimetype), = message.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    assert filename == f"consent-{practice.patient.mrn}-iv-v1.pdf"
    consent.refresh_from_db()
    assert consent.copy_emailed_at is not None
    export = AuditEvent.objects.get(object_id=str(consent.pk), action="export")
    assert export.detail["delivery"] == "email"


def test_a_failed_email_leaves_the_countersignature_in_place(practice, django_capture_on_commit_callbacks,
                                                           monkeypatch, caplog):
    practice.patient.email = "avery.copy@example.test"
    practice.patient.save()
    consent = signed(practice)

    def refuse(self, *args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        services.countersign(prescriber(practice), consent.pk)
    consent.refresh_from_db()
    assert consent.is_current and consent.copy_emailed_at is None
    assert "consent copy email failed (OSError)" in caplog.text
    assert practice.patient.legal_family_name not in caplog.text
    assert not AuditEvent.objects.filter(object_id=str(consent.pk), action="export").exists()


def test_without_an_email_address_nothing_is_sent(practice, django_capture_on_commit_callbacks):
    consent = signed(practice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.countersign(prescriber(practice), consent.pk)
    assert callbacks == [] and mail.outbox == []


# ---------- withdrawal ----------


def test_staff_must_give_a_reason_to_record_a_withdrawal(practice):
    consent = signed(practice, countersigned=True)
    with pytest.raises(ValidationFailed) as excinfo:
        services.withdraw_by_staff(nurse(practice), consent.pk, "   ")
    assert "reason" in errors_of(excinfo)
    consent.refresh_from_db()
    assert consent.is_current


def test_withdrawing_a_signed_consent_withdraws_consent_to_the_route(practice):
    old = signed(practice, countersigned=True)
    new = signed(practice)  # a newer signature, not yet countersigned
    other = signed(practice, "im", countersigned=True)
    services.withdraw_by_staff(nurse(practice), new.pk, "Told the nurse by phone she no longer wants IV")
    for row in (old, new):
        row.refresh_from_db()
        assert row.status == Consent.Status.WITHDRAWN
        assert row.withdrawn_via == "staff"
        assert row.withdrawn_recorded_by_id == practice.staff[Role.NURSE].user_id
        assert row.withdrawal_reason == "Told the nurse by phone she no longer wants IV"
    assert current_consent(practice.patient, "iv") is None
    assert current_consent(practice.patient, "im") == other
    events = AuditEvent.objects.filter(object_type="Consent", detail__event="withdrawn")
    assert {e.object_id for e in events} == {str(old.pk), str(new.pk)}
    assert all(e.detail["reason_given"] is True and "phone" not in str(e.detail) for e in events)


def test_withdrawing_a_request_cancels_only_that_request(practice):
    current = signed(practice, countersigned=True)
    waiting = requested(practice)
    services.withdraw_by_staff(nurse(practice), waiting.pk, "Sent by mistake")
    waiting.refresh_from_db()
    assert waiting.status == Consent.Status.WITHDRAWN and waiting.signed_at is None
    assert current_consent(practice.patient, "iv") == current
    with pytest.raises(ValidationFailed, match="already withdrawn"):
        services.withdraw_by_staff(nurse(practice), waiting.pk, "again")


# ---------- whether a route may start ----------


def test_a_route_may_start_only_with_a_signed_countersigned_unwithdrawn_consent(practice):
    patient = practice.patient
    with pytest.raises(ConsentRequired) as excinfo:
        require_current_consent(patient, "iv")
    assert isinstance(excinfo.value, ValidationFailed)
    assert errors_of(excinfo) == {"route": (
        "There is no current consent for IV infusion: the patient must sign the consent form and a clinician "
        "countersign it before this route can start.")}
    assert excinfo.value.route == "iv"

    consent = requested(practice)
    assert current_consent(patient, "iv") is None  # requested
    signing.sign_on_tablet(nurse(practice), consent.pk, signing_for(consent), DEVICE)
    assert current_consent(patient, "iv") is None  # signed, not countersigned
    with pytest.raises(ConsentRequired):
        require_current_consent(patient, "iv")
    services.countersign(prescriber(practice), consent.pk)
    assert require_current_consent(patient, "iv") == consent  # current
    with pytest.raises(ConsentRequired, match="Esketamine nasal spray"):
        require_current_consent(patient, "esketamine")  # another route is not covered
    services.withdraw_by_staff(nurse(practice), consent.pk, "Patient withdrew at the front desk")
    assert current_consent(patient, "iv") is None  # withdrawn
    with pytest.raises(ConsentRequired):
        require_current_consent(patient, "iv")


def test_another_organizations_consent_is_not_found_by_any_service(practice, stranger):
    theirs = signed(stranger)
    ours = nurse(practice)
    for call in (
        lambda: services.open_consent(ours, theirs.pk),
        lambda: services.countersign(actor_of(practice.staff[Role.PRESCRIBER]), theirs.pk),
        lambda: services.withdraw_by_staff(ours, theirs.pk, "Hijack"),
        lambda: signing.sign_on_tablet(ours, theirs.pk, signing_for(theirs), DEVICE),
        lambda: services.open_consent(ours, "not-a-uuid"),
    ):
        with pytest.raises(NotFound):
            call()
    theirs.refresh_from_db()
    assert theirs.status == Consent.Status.SIGNED and theirs.countersigned_at is None
    assert current_consent(practice.patient, "iv") is None


def test_no_audit_event_carries_the_typed_name_the_reason_or_the_text(practice):
    consent = signed(practice, countersigned=True)
    services.withdraw_by_staff(nurse(practice), consent.pk, "Worried about dissociation")
    details = " ".join(str(e.detail) for e in AuditEvent.objects.filter(organization=practice.org))
    assert practice.patient.legal_family_name not in details
    assert "dissociation" not in details.lower()
    assert consent.template.title not in details
