"""Staff consent pages: the chart's Consent tab, reviewing and countersigning, withdrawing, the PDF,
and signing on a clinic tablet."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent.models import Consent
from ketaflow.consent.text import text_hash
from tests.integration.consent_factories import legal_name, png_bytes, png_data_url, requested, signed
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def tab_url(patient) -> str:
    return f"/patients/{patient.pk}/consent/"


def sign_form(consent, **overrides) -> dict[str, str]:
    data = {
        "typed_name": legal_name(consent.patient),
        "signature": png_data_url(),
        "agree": "on",
        "text_hash": text_hash(consent.template),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---------- the chart tab ----------


def test_the_consent_tab_shows_each_route_with_its_state_and_the_next_step(practice):
    signed(practice, "iv", countersigned=True)
    signed(practice, "im")
    requested(practice, "esketamine")
    response = signed_in(practice.staff[Role.NURSE]).get(tab_url(practice.patient))
    assert response.status_code == 200
    text = text_of(response)
    assert "IV infusion in the clinic Current" in text
    assert "Intramuscular in the clinic Signed, awaiting countersignature" in text
    assert ("Esketamine nasal spray in the clinic Requested (version 1), waiting for the patient&#x27;s "
            "signature") in text
    assert "Sublingual at home No consent" in text
    assert "Request Sublingual at home consent (version 1)" in text
    assert "Request Esketamine nasal spray consent" not in text  # one is already waiting
    assert "Request Intramuscular consent" not in text  # a signature awaits countersignature
    assert "Request IV infusion consent (version 1)" in text  # re-consent is possible
    assert "Sign on this tablet" in text and "Review and countersign" in text
    assert "A route can start only with a current consent" in text


def test_the_consent_tab_reads_every_route_and_consent_at_once_however_many_there_are(practice):
    signed(practice, "iv", countersigned=True)
    client = signed_in(practice.staff[Role.PRESCRIBER])
    with CaptureQueriesContext(connection) as one:
        client.get(tab_url(practice.patient))
    signed(practice, "im", countersigned=True)
    signed(practice, "esketamine")
    requested(practice, "sublingual_home")
    with CaptureQueriesContext(connection) as four:
        text = text_of(client.get(tab_url(practice.patient)))
    assert "Intramuscular in the clinic Current" in text and "Review and countersign" in text
    assert len(four.captured_queries) == len(one.captured_queries)


def test_front_desk_does_not_get_the_consent_tab(practice):
    client = signed_in(practice.staff[Role.FRONT_DESK])
    chart = client.get(f"/patients/{practice.patient.pk}/")
    assert f'href="/patients/{practice.patient.pk}/consent/"' not in chart.content.decode()
    assert client.get(tab_url(practice.patient)).status_code == 403


def test_a_nurse_requests_a_consent_from_the_tab(practice):
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/patients/{practice.patient.pk}/request/",
                           {"route": "iv", "setting": "clinic"}, follow=True)
    assert response.redirect_chain[-1][0] == tab_url(practice.patient)
    assert "IV infusion consent requested (version 1)" in text_of(response)
    consent = Consent.objects.get(patient=practice.patient)
    assert (consent.route, consent.status, consent.template.version) == ("iv", "requested", 1)


def test_a_refused_request_says_why_and_saves_nothing(practice):
    requested(practice, "iv")
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/patients/{practice.patient.pk}/request/", {"route": "iv"}, follow=True)
    assert "No consent was requested: A consent for IV infusion (version 1) is already waiting" in (
        text_of(response))
    assert Consent.objects.filter(patient=practice.patient).count() == 1


def test_reviewing_a_signed_consent_shows_what_was_signed_and_countersigning_makes_it_current(practice):
    consent = signed(practice)
    client = signed_in(practice.staff[Role.PRESCRIBER])
    review = client.get(f"/consent/{consent.pk}/")
    text = text_of(review)
    assert consent.template.title in text
    assert f"Typed name {legal_name(practice.patient)}" in text
    assert "IP address 203.0.113.7" in text
    assert consent.text_hash in text
    assert "Sample wording: have it reviewed before clinical use." in text  # the text itself
    assert 'src="data:image/png;base64,' in review.content.decode()
    assert "Countersign this consent" in text
    reads = AuditEvent.objects.filter(object_id=str(consent.pk), action="read", detail__purpose="review")
    assert reads.exists()

    done = client.post(f"/consent/{consent.pk}/countersign/", follow=True)
    assert done.redirect_chain[-1][0] == tab_url(practice.patient)
    assert "The consent is countersigned and now current." in text_of(done)
    assert "IV infusion in the clinic Current" in text_of(done)
    consent.refresh_from_db()
    assert consent.countersigned_by_id == practice.staff[Role.PRESCRIBER].user_id


def test_countersigning_twice_shows_the_reason_and_changes_nothing(practice):
    consent = signed(practice, countersigned=True)
    first = Consent.objects.get(pk=consent.pk).countersigned_at
    response = signed_in(practice.staff[Role.NURSE]).post(f"/consent/{consent.pk}/countersign/")
    assert response.status_code == 200
    assert "This consent is already countersigned." in text_of(response)
    assert Consent.objects.get(pk=consent.pk).countersigned_at == first


def test_withdrawing_from_the_tab_needs_a_reason_shown_beside_the_field(practice):
    consent = signed(practice, countersigned=True)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/{consent.pk}/withdraw/", {"reason": ""})
    assert response.status_code == 200
    assert "Say why" in field_error(response, "id_reason")
    assert Consent.objects.get(pk=consent.pk).status == "signed"
    done = client.post(f"/consent/{consent.pk}/withdraw/", {"reason": "Patient phoned to withdraw"},
                       follow=True)
    assert "The withdrawal is recorded: IV infusion cannot start without a new consent." in text_of(done)
    assert "IV infusion in the clinic Withdrawn" in text_of(done)
    assert Consent.objects.get(pk=consent.pk).withdrawal_reason == "Patient phoned to withdraw"


def test_staff_download_the_consent_pdf_from_the_chart(practice):
    consent = signed(practice, countersigned=True)
    response = signed_in(practice.staff[Role.THERAPIST]).get(f"/consent/{consent.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    filename = f"consent-{practice.patient.mrn}-iv-v1.pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(object_id=str(consent.pk), action="export").exists()


def test_another_organizations_consent_is_not_found_on_any_staff_page(practice, stranger):
    theirs = signed(stranger)
    client = signed_in(practice.staff[Role.OWNER])
    boss = signed_in(practice.staff[Role.PRESCRIBER])
    for url in (f"/consent/{theirs.pk}/", f"/consent/{theirs.pk}/pdf/", f"/consent/{theirs.pk}/tablet/",
                f"/consent/{theirs.pk}/tablet/done/"):
        response = boss.get(url)
        assert response.status_code == 404, url
        assert stranger.patient.legal_family_name not in response.content.decode()
    for url in (f"/consent/{theirs.pk}/countersign/", f"/consent/{theirs.pk}/withdraw/",
                f"/consent/{theirs.pk}/tablet/", f"/consent/patients/{stranger.patient.pk}/request/"):
        assert boss.post(url, {"reason": "Hijack", "route": "iv"}).status_code == 404, url
    assert client.get(f"/consent/{theirs.pk}/").status_code == 403  # the owner alone has no clinical view
    theirs.refresh_from_db()
    assert theirs.status == "signed" and theirs.countersigned_at is None
    assert Consent.objects.filter(patient=stranger.patient).count() == 1


# ---------- signing on a clinic tablet ----------


def test_the_tablet_page_is_the_patient_frame_with_the_text_and_a_labelled_signing_form(practice):
    consent = requested(practice)
    response = signed_in(practice.staff[Role.NURSE]).get(f"/consent/{consent.pk}/tablet/")
    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    assert 'class="patient-page"' in html and 'class="site-nav"' not in html  # no staff navigation
    assert consent.template.title in text and "Common side effects" in text
    assert '<label for="id_typed_name">Type your full name' in html
    assert 'id="id_agree"' in html and "I have read this consent form and I agree to it" in text
    assert 'data-signature-pad' in html and "Clear the signature" in text
    assert '<button type="submit" class="button--block">Sign the consent form</button>' in html
    assert f'value="{text_hash(consent.template)}"' in html
    assert "/static/consent/signature.js" in html and "<script>" not in html  # no inline script (CSP)
    assert 'data-keepalive-url="/keepalive/"' in html  # reading keeps the staff session from timing out
    assert "988" in text  # crisis resources in the frame


def test_signing_on_the_tablet_shows_the_hand_back_screen(practice):
    consent = requested(practice)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/{consent.pk}/tablet/", sign_form(consent),
                           HTTP_USER_AGENT="SyntheticTablet/1.0", REMOTE_ADDR="192.0.2.44", follow=True)
    assert response.redirect_chain[-1][0] == f"/consent/{consent.pk}/tablet/done/"
    assert "Thank you — please hand the device back" in text_of(response)
    consent.refresh_from_db()
    assert consent.status == "signed" and consent.channel == "tablet"
    assert consent.ip_address == "192.0.2.44" and consent.user_agent == "SyntheticTablet/1.0"
    assert bytes(consent.signature_png) == png_bytes()
    assert consent.witnessed_by_id == practice.staff[Role.NURSE].user_id


def test_tablet_signing_errors_are_shown_by_their_fields_and_nothing_is_saved(practice):
    consent = requested(practice)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/{consent.pk}/tablet/",
                           sign_form(consent, typed_name="Someone Else", agree=None, signature="data:,x"))
    assert response.status_code == 200
    text = text_of(response)
    assert "The form is not signed yet" in text
    assert "legal first and last name" in field_error(response, "id_typed_name")
    assert "Tick the box" in text
    assert "Drawn signature: The drawn signature was not received as an image" in text
    assert Consent.objects.get(pk=consent.pk).status == "requested"


def test_a_tampered_text_hash_is_refused_and_the_page_offers_the_real_text_again(practice):
    consent = requested(practice)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.post(f"/consent/{consent.pk}/tablet/", sign_form(consent, text_hash="f" * 64))
    assert "The consent text is not the one this page showed, so nothing was signed." in text_of(response)
    assert f'value="{text_hash(consent.template)}"' in response.content.decode()
    assert Consent.objects.get(pk=consent.pk).signed_at is None


def test_a_signed_consent_cannot_be_signed_again_on_the_tablet(practice):
    consent = signed(practice)
    client = signed_in(practice.staff[Role.NURSE])
    response = client.get(f"/consent/{consent.pk}/tablet/", follow=True)
    assert response.redirect_chain[-1][0] == tab_url(practice.patient)
    assert "no longer waiting for a signature" in text_of(response)


def test_front_desk_cannot_open_the_tablet_page(practice):
    consent = requested(practice)
    response = signed_in(practice.staff[Role.FRONT_DESK]).get(f"/consent/{consent.pk}/tablet/")
    assert response.status_code == 403
    assert consent.template.title not in response.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(practice):
    from django.test import Client

    consent = requested(practice)
    for url in (f"/consent/{consent.pk}/tablet/", f"/consent/{consent.pk}/", "/consent/templates/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/account/login/"), url


def test_the_consent_text_is_escaped_never_rendered_as_markup(practice):
    from ketaflow.consent.template_versions import create_version
    from tests.factories import actor_of

    create_version(actor_of(practice.staff[Role.PRESCRIBER]), "iv", "clinic", title="IV <b>consent</b>",
                   body="# Heading <i>x</i>\n\n<script>alert(1)</script> and <img src=x onerror=alert(2)>",
                   note="Test of escaping")
    consent = requested(practice)
    html = signed_in(practice.staff[Role.NURSE]).get(f"/consent/{consent.pk}/tablet/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "IV &lt;b&gt;consent&lt;/b&gt;" in html
    assert re.search(r"<h2 class=\"consent-text__heading\">Heading &lt;i&gt;x&lt;/i&gt;</h2>", html)
