"""Consent versioning: sample wording on first use, immutable versions, new versions that never touch
what a patient already signed, and the template settings pages."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent import template_versions as versions
from ketaflow.consent.models import Consent, ConsentTemplate, ImmutableRow
from ketaflow.consent.pdf import consent_pdf
from ketaflow.consent.text import text_hash
from ketaflow.consent.wording import SAMPLE_MARK
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.consent_factories import requested, signed
from tests.integration.pages import PAGE_TEST_MARKS, field_error, signed_in, text_of

pytestmark = PAGE_TEST_MARKS

NEW_BODY = (
    "# What happens\nA nurse places a cannula; the infusion lasts about 50 minutes.\n\n"
    "# Your choice\nYou may withdraw at any time."
)


def pdf_text(content: bytes) -> str:
    try:
        from pypdf import PdfReader
    except ImportError:
        tool = shutil.which("pdftotext")
        if tool is None:
            pytest.skip("needs pypdf or pdftotext (poppler-utils) to read the PDF's text")
        done = subprocess.run([tool, "-layout", "-", "-"], input=content, capture_output=True, check=True)
        return " ".join(done.stdout.decode().split())
    return " ".join("\n".join(p.extract_text() for p in PdfReader(BytesIO(content)).pages).split())


def admin(practice):
    return actor_of(practice.staff[Role.ADMIN])


def new_version(practice, route="iv", setting="clinic", **overrides):
    values = {"title": "IV ketamine consent (reviewed)", "body": NEW_BODY, "note": "Reviewed by counsel"}
    values.update(overrides)
    return versions.create_version(admin(practice), route, setting, **values)


# ---------- seeding and immutability ----------


def test_first_use_seeds_marked_sample_wording_for_every_route_and_setting(practice):
    current = versions.current_templates(admin(practice))
    assert [(t.route, t.setting, t.version) for t in current] == [
        ("iv", "clinic", 1), ("im", "clinic", 1), ("sublingual_home", "home", 1), ("esketamine", "clinic", 1),
    ]
    assert all(t.is_sample and t.body.startswith(SAMPLE_MARK) for t in current)
    by_route = {t.route: t.body for t in current}
    for route in by_route:
        assert "Common side effects" in by_route[route] and "dissociation" in by_route[route]
        assert "withdraw your consent at any time" in by_route[route]
        assert "988 Suicide & Crisis Lifeline: Call or text 988" in by_route[route]
        assert "# Alternatives" in by_route[route]
    assert "at least 2 hours after the dose" in by_route["esketamine"]
    assert "until the next day after a night's sleep" in by_route["esketamine"]
    assert "Someone else must take you home" in by_route["iv"]
    assert "treatment monitor" in by_route["sublingual_home"] and "locked away" in by_route["sublingual_home"]
    seeded = AuditEvent.objects.filter(object_type="ConsentTemplate", action="create")
    assert seeded.count() == 4 and {e.username for e in seeded} == {"system:consent"}
    versions.current_templates(admin(practice))  # second use: nothing more is written
    assert ConsentTemplate.objects.filter(organization=practice.org).count() == 4


def test_a_template_version_is_never_changed_or_deleted(practice):
    version = versions.current_templates(admin(practice))[0]
    version.body = "Quietly rewritten"
    with pytest.raises(ImmutableRow):
        version.save()
    with pytest.raises(ImmutableRow):
        version.delete()
    assert ConsentTemplate.objects.get(pk=version.pk).body.startswith(SAMPLE_MARK)


# ---------- new versions ----------


def test_a_new_version_never_changes_what_a_patient_signed_and_new_requests_pin_it(practice):
    old = signed(practice, countersigned=True)
    old_template, old_hash = old.template, old.text_hash
    old_body = old_template.body

    created = new_version(practice)
    assert created.version == 2 and created.created_by_id == practice.staff[Role.ADMIN].user_id

    old.refresh_from_db()
    assert old.template_id == old_template.pk and old.template.version == 1
    assert old.template.body == old_body and old.text_hash == old_hash == text_hash(old_template)
    assert old.is_current  # a new version does not end a current consent

    text = pdf_text(consent_pdf(actor_of(practice.staff[Role.PRESCRIBER]), old.pk).content)
    assert "Sample wording: have it reviewed before clinical use." in text
    assert "the infusion lasts about 50 minutes" not in text
    assert "Version 1" in text and old_hash[:20] in text.replace(" ", "")

    fresh = requested(practice)
    assert fresh.template_id == created.pk and fresh.template.version == 2
    assert Consent.objects.get(pk=old.pk).template.version == 1


def test_versions_count_per_route_and_per_organization(practice, stranger):
    assert new_version(practice).version == 2
    assert new_version(practice, body=NEW_BODY + "\n\nAnd one more line.").version == 3
    assert new_version(practice, "im", title="IM consent").version == 2
    theirs = versions.create_version(actor_of(stranger.staff[Role.OWNER]), "iv", "clinic", title="Theirs",
                                      body="Their own words", note="Their review")
    assert theirs.version == 2
    assert versions.current_template(practice.org.pk, "iv", "clinic").version == 3


def test_a_new_version_needs_a_title_text_and_a_note_and_must_differ(practice):
    with pytest.raises(ValidationFailed) as excinfo:
        new_version(practice, title=" ", body="\n\n", note="")
    assert {e.field for e in excinfo.value.errors} == {"title", "body", "note"}
    current = versions.current_template(practice.org.pk, "iv", "clinic")
    with pytest.raises(ValidationFailed, match="same text"):
        new_version(practice, title=current.title, body=current.body)
    with pytest.raises(ValidationFailed) as excinfo:
        new_version(practice, "sublingual_home", "clinic")
    assert excinfo.value.errors[0].field == "setting"
    assert ConsentTemplate.objects.filter(organization=practice.org, version__gt=1).count() == 0


def test_an_edit_started_from_an_older_version_is_refused(practice):
    new_version(practice)  # version 2 saved meanwhile
    with pytest.raises(ValidationFailed, match="Version 2 was saved while you were editing"):
        new_version(practice, body="My edit of version 1", based_on=1)
    assert versions.current_template(practice.org.pk, "iv", "clinic").version == 2


def test_only_owners_admins_and_prescribers_manage_consent_forms(practice, stranger):
    for role in (Role.NURSE, Role.THERAPIST, Role.FRONT_DESK):
        with pytest.raises(Forbidden):
            versions.create_version(actor_of(practice.staff[role]), "iv", "clinic", title="T", body="B",
                                     note="N")
    created = versions.create_version(actor_of(practice.staff[Role.PRESCRIBER]), "iv", "clinic", title="T",
                                       body="B", note="N")
    with pytest.raises(NotFound):
        versions.open_template(actor_of(stranger.staff[Role.OWNER]), created.pk)
    event = AuditEvent.objects.get(object_type="ConsentTemplate", object_id=str(created.pk))
    assert event.detail == {"route": "iv", "setting": "clinic", "version": 2, "fields": ["title", "body"]}


# ---------- the settings pages ----------


def test_the_consent_forms_page_lists_the_current_form_of_each_route(practice):
    new_version(practice)
    response = signed_in(practice.staff[Role.ADMIN]).get("/consent/templates/")
    assert response.status_code == 200
    text = text_of(response)
    assert "IV infusion In the clinic IV ketamine consent (reviewed) 2" in text
    assert "Sublingual at home At home Consent to ketamine treatment at home (sublingual)" in text
    assert text.count("Sample wording: review before clinical use") == 3  # the IV form was reviewed


def test_the_consent_forms_page_reads_only_current_versions_and_their_authors_at_once(practice):
    """Who saved each current form is read with it (not once per row), and old versions stay unread."""
    client = signed_in(practice.staff[Role.ADMIN])
    client.get("/consent/templates/")  # seeds the sample wording
    with CaptureQueriesContext(connection) as before:
        client.get("/consent/templates/")
    for route, setting in (("iv", "clinic"), ("im", "clinic"), ("esketamine", "clinic")):
        new_version(practice, route, setting, title=f"Reviewed {route} consent")
    new_version(practice, "iv", "clinic", title="IV consent, second review", note="Second review")
    with CaptureQueriesContext(connection) as after:
        response = client.get("/consent/templates/")
    assert "IV consent, second review 3" in text_of(response)
    assert text_of(response).count(practice.staff[Role.ADMIN].user.get_full_name()) >= 3
    assert len(after.captured_queries) == len(before.captured_queries)
    current = versions.current_templates(admin(practice))
    assert [(t.route, t.version) for t in current] == [
        ("iv", 3), ("im", 2), ("sublingual_home", 1), ("esketamine", 2)
    ]


def test_the_history_shows_every_version_with_who_when_and_what_changed(practice):
    new_version(practice)
    response = signed_in(practice.staff[Role.OWNER]).get("/consent/templates/iv/clinic/")
    text = text_of(response)
    assert "Current: version 2 · IV ketamine consent (reviewed)" in text
    assert "the infusion lasts about 50 minutes" in text
    admin_user = practice.staff[Role.ADMIN].user
    assert "2 Current" in text and admin_user.get_full_name() in text and "Reviewed by counsel" in text
    assert "ketaflow (sample) ketaflow&#x27;s sample wording" in text
    version_one = ConsentTemplate.objects.get(organization=practice.org, route="iv", version=1)
    page = signed_in(practice.staff[Role.OWNER]).get(f"/consent/templates/versions/{version_one.pk}/")
    assert "(replaced: version 2 is current)" in text_of(page) and SAMPLE_MARK in text_of(page)


def test_the_new_version_form_is_prefilled_and_saving_writes_the_next_version(practice):
    client = signed_in(practice.staff[Role.PRESCRIBER])
    form = client.get("/consent/templates/esketamine/clinic/new/")
    html = form.content.decode()
    current = versions.current_template(practice.org.pk, "esketamine", "clinic")
    assert 'value="Consent to esketamine nasal spray treatment"' in html
    assert "Each device holds 28 mg" in html and 'name="based_on" value="1"' in html
    assert "Save version 2" in text_of(form)
    done = client.post("/consent/templates/esketamine/clinic/new/", {
        "title": current.title, "body": current.body.replace(SAMPLE_MARK + "\n\n", ""),
        "note": "Removed the sample mark after review", "based_on": "1",
    }, follow=True)
    assert done.redirect_chain[-1][0] == "/consent/templates/esketamine/clinic/"
    assert "Version 2 is saved and is now the current form." in text_of(done)
    latest = versions.current_template(practice.org.pk, "esketamine", "clinic")
    assert latest.version == 2 and not latest.body.startswith(SAMPLE_MARK) and not latest.is_sample


def test_the_new_version_form_shows_each_problem_by_its_field(practice):
    client = signed_in(practice.staff[Role.ADMIN])
    response = client.post("/consent/templates/iv/clinic/new/", {"title": "T", "body": "", "note": "",
                                                                  "based_on": "1"})
    assert response.status_code == 200
    assert field_error(response, "id_body") == "Write the text the patient reads and signs."
    assert "Say what changed" in field_error(response, "id_note")
    assert ConsentTemplate.objects.filter(organization=practice.org, version=2).count() == 0


def test_a_nurse_cannot_open_the_consent_forms_settings_and_unknown_pairs_are_not_found(practice):
    assert signed_in(practice.staff[Role.NURSE]).get("/consent/templates/").status_code == 403
    client = signed_in(practice.staff[Role.OWNER])
    assert client.get("/consent/templates/iv/home/").status_code == 404
    assert client.get("/consent/templates/teleport/clinic/new/").status_code == 404
