"""The consent API: templates and their versions, a patient's consents, requesting, countersigning,
withdrawing, the consent status per route and the PDF."""

from __future__ import annotations

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.consent.models import Consent, ConsentTemplate
from ketaflow.consent.text import text_hash
from tests.integration.consent_factories import requested, signed
from tests.integration.test_api_support import API_TEST_MARKS, api_as, field_errors

pytestmark = API_TEST_MARKS
NOT_FOUND = {"errors": [{"field": None, "message": "Not found."}]}


def test_templates_are_listed_read_and_versioned_by_those_who_manage_consent_forms(practice):
    admin = api_as(practice.staff[Role.ADMIN])
    listing = admin.get("/consent-templates", {"current_only": "true"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 4
    assert {(t["route"], t["setting"], t["version"]) for t in body["items"]} == {
        ("iv", "clinic", 1), ("im", "clinic", 1), ("sublingual_home", "home", 1), ("esketamine", "clinic", 1)}
    assert all(t["is_sample"] and t["is_current"] and t["created_by"] is None for t in body["items"])

    created = admin.post("/consent-templates", {
        "route": "im", "title": "IM consent, reviewed", "body": "# About\nReviewed wording.",
        "note": "Counsel review", "based_on_version": 1,
    })
    assert created.status_code == 201, created.content
    new = created.json()
    assert (new["version"], new["setting"], new["is_current"], new["is_sample"]) == (2, "clinic", True, False)
    assert new["body"] == "# About\nReviewed wording."
    row = ConsentTemplate.objects.get(pk=new["id"])
    assert new["text_sha256"] == text_hash(row)

    old = admin.get("/consent-templates", {"route": "im"}).json()["items"]
    assert [(t["version"], t["is_current"]) for t in old] == [(2, True), (1, False)]
    one = admin.get(f"/consent-templates/{old[1]['id']}").json()
    assert one["body"].startswith("Sample wording") and one["is_current"] is False

    stale = admin.post("/consent-templates", {"route": "im", "title": "x", "body": "y", "note": "z",
                                              "based_on_version": 1})
    assert stale.status_code == 422 and "Version 2 was saved" in field_errors(stale)[None]
    wrong = admin.post("/consent-templates", {"route": "esketamine", "setting": "home", "title": "x",
                                              "body": "y", "note": "z"})
    assert wrong.status_code == 422 and "setting" in field_errors(wrong)


def test_a_nurse_may_not_manage_consent_templates(practice):
    nurse = api_as(practice.staff[Role.NURSE])
    assert nurse.get("/consent-templates").status_code == 403
    refused = nurse.post("/consent-templates", {"route": "iv", "title": "x", "body": "y", "note": "z"})
    assert refused.status_code == 403
    assert not ConsentTemplate.objects.filter(version__gt=1).exists()


def test_request_countersign_and_withdraw_through_the_api(practice):
    nurse = api_as(practice.staff[Role.NURSE])
    patient = practice.patient
    made = nurse.post(f"/patients/{patient.pk}/consents", {"route": "iv"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["route"], body["setting"], body["status"], body["state"]) == ("iv", "clinic", "requested",
                                                                               "requested")
    assert body["template"]["version"] == 1 and body["signed_at"] is None and body["is_current"] is False
    again = nurse.post(f"/patients/{patient.pk}/consents", {"route": "iv"})
    assert again.status_code == 422 and "already waiting" in field_errors(again)["route"]

    early = nurse.post(f"/consents/{body['id']}/countersign")
    assert early.status_code == 422
    assert field_errors(early) == {None: "The patient has not signed this consent yet."}

    consent = signed(practice, "im")
    done = api_as(practice.staff[Role.PRESCRIBER]).post(f"/consents/{consent.pk}/countersign")
    assert done.status_code == 200
    assert done.json()["state"] == "current" and done.json()["is_current"] is True
    assert done.json()["typed_name"] and done.json()["has_drawn_signature"] is True
    assert done.json()["text_sha256"] == consent.text_hash

    status = nurse.get(f"/patients/{patient.pk}/consent-status").json()
    by_route = {r["route"]: r for r in status["routes"]}
    assert by_route["im"]["has_current_consent"] and by_route["im"]["current_consent_id"] == str(consent.pk)
    assert not by_route["iv"]["has_current_consent"]

    missing_reason = nurse.post(f"/consents/{consent.pk}/withdraw", {"reason": ""})
    assert missing_reason.status_code == 422 and "reason" in field_errors(missing_reason)
    withdrawn = nurse.post(f"/consents/{consent.pk}/withdraw", {"reason": "Patient asked by phone"})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_via"] == "staff"
    assert not nurse.get(f"/patients/{patient.pk}/consent-status").json()["routes"][1]["has_current_consent"]


def test_listing_and_reading_consents_is_audited_and_needs_clinical_view(practice):
    consent = signed(practice)
    requested(practice, "esketamine")
    nurse = api_as(practice.staff[Role.NURSE])
    listing = nurse.get(f"/patients/{practice.patient.pk}/consents", {"route": "iv"})
    assert listing.status_code == 200
    assert [c["id"] for c in listing.json()["items"]] == [str(consent.pk)]
    assert listing.json()["items"][0]["ip_address"] == "203.0.113.7"
    assert AuditEvent.objects.filter(object_type="Patient", detail__purpose="consents").exists()
    one = nurse.get(f"/consents/{consent.pk}")
    assert one.status_code == 200 and one.json()["channel"] == "tablet"
    assert AuditEvent.objects.filter(object_id=str(consent.pk), action="read", detail__purpose="api").exists()
    front = api_as(practice.staff[Role.FRONT_DESK])
    reads_before = AuditEvent.objects.filter(action="read").count()
    assert front.get(f"/patients/{practice.patient.pk}/consents").status_code == 403
    assert front.get(f"/consents/{consent.pk}").status_code == 403
    assert AuditEvent.objects.filter(action="read").count() == reads_before
    bad = nurse.get(f"/patients/{practice.patient.pk}/consents", {"rout": "iv"})
    assert bad.status_code == 422 and field_errors(bad) == {"rout": "Unknown query parameter."}


def test_the_pdf_downloads_through_the_api(practice):
    consent = signed(practice, countersigned=True)
    response = api_as(practice.staff[Role.NURSE]).get(f"/consents/{consent.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(object_id=str(consent.pk), action="export").exists()


def test_another_organizations_consents_and_templates_are_not_found(practice, stranger):
    theirs = signed(stranger)
    their_template = ConsentTemplate.objects.get(organization=stranger.org, route="iv")
    us = api_as(practice.staff[Role.PRESCRIBER])
    owner = api_as(practice.staff[Role.OWNER])
    for response in (
        us.get(f"/consents/{theirs.pk}"),
        us.get(f"/consents/{theirs.pk}/pdf"),
        us.post(f"/consents/{theirs.pk}/countersign"),
        us.post(f"/consents/{theirs.pk}/withdraw", {"reason": "Hijack"}),
        us.post(f"/consents/{theirs.pk}/withdraw", {"reason": ""}),  # not a 422 that says it exists
        us.get(f"/patients/{stranger.patient.pk}/consents"),
        us.get(f"/patients/{stranger.patient.pk}/consent-status"),
        us.post(f"/patients/{stranger.patient.pk}/consents", {"route": "iv"}),
        us.post(f"/patients/{stranger.patient.pk}/consents", {"route": "teleport"}),
        owner.get(f"/consent-templates/{their_template.pk}"),
        us.get("/consents/not-a-uuid"),
    ):
        assert response.status_code == 404 and response.json() == NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.status == "signed" and theirs.countersigned_at is None
    assert Consent.objects.filter(organization=stranger.org).count() == 1
    ours = owner.get("/consent-templates").json()
    assert str(their_template.pk) not in str(ours)
