"""The audit log page: scoped to the organization, filterable, paginated, and itself audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import Action, AuditEvent
from ketaflow.audit.trail import Entry, record, record_many
from tests.factories import PatientFactory, actor_of
from tests.integration.pages import PAGE_TEST_MARKS, signed_in, text_of

pytestmark = PAGE_TEST_MARKS


def rows(response) -> list[str]:
    body = response.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def event(staff, action, object_type="Patient", *, patient=None, when=None, ip="10.1.2.3"):
    entry = Entry(action, object_type, str(patient.pk) if patient else "", patient.pk if patient else None)
    with transaction.atomic():
        return record_many(actor_of(staff, ip=ip), [entry], now=when)[0]


@pytest.fixture
def audit_owner(practice):
    return signed_in(practice.staff[Role.OWNER])


def test_the_audit_log_shows_who_roles_when_action_record_and_address_newest_first(practice, audit_owner):
    nurse = practice.staff[Role.NURSE]
    event(nurse, Action.READ, patient=practice.patient)
    event(practice.staff[Role.PRESCRIBER], Action.UPDATE, "Condition", patient=practice.patient)
    listed = rows(audit_owner.get("/audit/"))
    assert practice.staff[Role.PRESCRIBER].user.username in listed[0]
    assert "Prescriber" in listed[0] and "Update" in listed[0] and "Condition" in listed[0]
    assert nurse.user.username in listed[1]
    assert "Nurse" in listed[1] and "Read" in listed[1] and "10.1.2.3" in listed[1]
    assert practice.patient.mrn in listed[1]


def test_times_show_in_the_clinics_time_zone(practice, audit_owner):
    nurse = practice.staff[Role.NURSE]
    event(nurse, Action.READ, when=dt.datetime(2026, 1, 15, 18, 30, tzinfo=dt.UTC))
    listed = rows(audit_owner.get("/audit/", {"username": nurse.user.username}))
    assert "01/15/2026 11:30:00 MST" in listed[0]  # the practice's clinic is in America/Denver


def test_another_organizations_events_never_appear(practice, stranger, audit_owner):
    event(stranger.staff[Role.NURSE], Action.READ, patient=stranger.patient)
    text = text_of(audit_owner.get("/audit/"))
    assert stranger.staff[Role.NURSE].user.username not in text
    assert stranger.patient.mrn not in text


def test_filters_by_user_action_record_type_patient_and_dates(practice, audit_owner):
    nurse, prescriber = practice.staff[Role.NURSE], practice.staff[Role.PRESCRIBER]
    other = PatientFactory(home_clinic=practice.clinic)
    event(nurse, Action.READ, patient=practice.patient, when=dt.datetime(2026, 3, 2, 17, tzinfo=dt.UTC))
    event(nurse, Action.READ, patient=other, when=dt.datetime(2026, 3, 9, 17, tzinfo=dt.UTC))
    event(prescriber, Action.CREATE, "Condition", patient=practice.patient,
          when=dt.datetime(2026, 3, 9, 18, tzinfo=dt.UTC))

    by_user = rows(audit_owner.get("/audit/", {"username": prescriber.user.username.upper()}))
    assert len(by_user) == 1 and "Condition" in by_user[0]
    by_action = rows(audit_owner.get("/audit/", {"action": "read", "username": nurse.user.username}))
    assert len(by_action) == 2
    by_type = rows(audit_owner.get("/audit/", {"object_type": "Condition"}))
    assert len(by_type) == 1
    by_patient = rows(audit_owner.get("/audit/", {"mrn": other.mrn.lower()}))
    assert len(by_patient) == 1 and other.mrn in by_patient[0]
    by_dates = rows(audit_owner.get("/audit/", {"date_from": "2026-03-01", "date_to": "03/05/2026"}))
    assert len(by_dates) == 1 and practice.patient.mrn in by_dates[0]


def test_an_end_date_before_the_start_date_is_reported(practice, audit_owner):
    response = audit_owner.get("/audit/", {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert "The end date is before the start date." in text_of(response)


def test_viewing_the_audit_log_is_recorded_with_filter_names_but_not_values(practice, audit_owner):
    audit_owner.get("/audit/", {"username": "somebody", "mrn": "KF-000123"})
    viewed = AuditEvent.objects.filter(organization=practice.org, action=Action.LIST,
                                       object_type="AuditEvent").latest("seq")
    assert viewed.detail["filters"] == ["username", "mrn"]
    assert "somebody" not in str(viewed.detail) and "KF-000123" not in str(viewed.detail)
    assert viewed.username == practice.staff[Role.OWNER].user.username


def test_the_log_is_paginated(practice, audit_owner):
    nurse = practice.staff[Role.NURSE]
    with transaction.atomic():
        for _ in range(55):
            record(actor_of(nurse), Action.READ, "Patient")
    first = audit_owner.get("/audit/", {"username": nurse.user.username})
    assert len(rows(first)) == 50
    assert "Page 1 of 2" in text_of(first)
    assert len(rows(audit_owner.get("/audit/", {"username": nurse.user.username, "page": 2}))) == 5


@pytest.mark.parametrize("role", [Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.FRONT_DESK])
def test_roles_without_audit_access_get_403(practice, role):
    before = AuditEvent.objects.filter(object_type="AuditEvent").count()
    assert signed_in(practice.staff[role]).get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(object_type="AuditEvent").count() == before
