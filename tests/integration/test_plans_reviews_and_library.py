"""Review points raised from sessions and outcomes, and the versioned protocol library."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.utils import timezone

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEvent
from ketaflow.clinical.protocols import builtin_protocols
from ketaflow.plans import library as lib
from ketaflow.plans.editing import definition_from, initial_from
from ketaflow.plans.models import ReviewPoint
from ketaflow.plans.reviews import refresh_review_points, resolve_review_point
from ketaflow.plans.snapshot import protocol_of
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import actor_of
from tests.integration.eligibility_factories import phq9
from tests.integration.plans_factories import (
    completed_session,
    days_ago,
    draft_plan,
    signed_plan,
    start_of,
    weigh,
)

pytestmark = pytest.mark.django_db
SEVERE = [3, 3, 2, 2, 2, 2, 2, 2, 0]  # 18
STILL_SEVERE = [3, 2, 2, 2, 2, 2, 2, 2, 0]  # 17


def shipped(key: str) -> dict:
    return copy.deepcopy(dict(next(p for p in builtin_protocols() if p.key == key).definition))


def test_three_completed_sessions_without_response_raise_the_futility_review_once(practice):
    plan = signed_plan(practice, start_date=start_of(20))
    phq9(practice, SEVERE, ago=timezone.timedelta(days=16))
    for number, days in enumerate((14, 10, 7), start=1):
        completed_session(practice, plan, days_ago(days), number)
    phq9(practice, STILL_SEVERE, ago=timezone.timedelta(days=1))
    created = refresh_review_points(plan)
    assert [(p.kind, p.sessions_given) for p in created] == [("futility", 3)]
    assert created[0].title == "No response yet: continue, change or stop"
    assert "3 treatment(s) given without a response" in created[0].reason
    assert "Sanacora 2017" in created[0].source
    assert refresh_review_points(plan) == []  # idempotent
    completed_session(practice, plan, days_ago(3), 4)
    assert refresh_review_points(plan) == []  # not raised again in the same phase
    audit = AuditEvent.objects.filter(object_type="ReviewPoint", action="create").get()
    assert audit.detail["kind"] == "futility" and audit.patient_id == practice.patient.pk


def test_no_futility_review_while_the_patient_responds(practice):
    plan = signed_plan(practice, start_date=start_of(20))
    phq9(practice, SEVERE, ago=timezone.timedelta(days=16))
    for number, days in enumerate((14, 10, 7), start=1):
        completed_session(practice, plan, days_ago(days), number)
    assert refresh_review_points(plan) == []  # the all-clear PHQ-9 (4) two days ago is a response


def test_all_induction_sessions_completed_raise_the_end_of_induction_review(practice):
    plan = signed_plan(practice, start_date=start_of(20))
    for number, days in enumerate((19, 16, 12, 9, 5, 2), start=1):
        completed_session(practice, plan, days_ago(days), number)
    kinds = [p.kind for p in refresh_review_points(plan)]
    assert "end_of_induction" in kinds
    point = ReviewPoint.objects.get(plan=plan, kind="end_of_induction")
    assert point.reason == "all 6 induction sessions given" and point.sessions_given == 6


def test_a_review_point_is_resolved_with_the_decision_taken(practice):
    plan = signed_plan(practice, start_date=start_of(20))
    for number, days in enumerate((19, 16, 12, 9, 5, 2), start=1):
        completed_session(practice, plan, days_ago(days), number)
    point = next(p for p in refresh_review_points(plan) if p.kind == "end_of_induction")
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    with pytest.raises(ValidationFailed) as failure:
        resolve_review_point(prescriber, point.pk, resolution=" ")
    assert failure.value.errors[0].field == "resolution"
    resolved = resolve_review_point(prescriber, point.pk, resolution="Move to maintenance every 2 weeks")
    assert resolved.status == "resolved" and resolved.resolved_by_id == prescriber.user_id
    with pytest.raises(ValidationFailed):
        resolve_review_point(prescriber, point.pk, resolution="again")


def test_draft_plans_raise_no_review_points(practice):
    weigh(practice.patient, "82")
    plan = draft_plan(practice, start_date=start_of(20))
    for number, days in enumerate((19, 16, 12, 9, 5, 2), start=1):
        completed_session(practice, plan, days_ago(days), number)
    assert refresh_review_points(plan) == []


def test_cloning_makes_numbered_versions_and_the_newest_shadows_the_shipped_protocol(practice):
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    definition = shipped("iv-depression")
    definition["dose"]["cap_mg"] = "90"
    first = lib.clone_protocol(prescriber, "iv-depression", definition=definition, change_note="Cap 90 mg")
    definition["dose"]["cap_mg"] = "80"
    second = lib.clone_protocol(prescriber, "iv-depression", definition=definition, change_note="Cap 80 mg")
    assert (first.number, second.number) == (1, 2) and second.based_on == "iv-depression@clinic-1"
    current = lib.get_protocol(practice.org.pk, "iv-depression")
    assert current.version == "clinic-2" and current.dose.cap_mg == Decimal("80")
    entry = lib.library_entry(practice.org.pk, "iv-depression")
    assert [v.version for v in entry.history] == ["clinic-2", "clinic-1", "2026.11.1"]
    assert lib.get_protocol(practice.org.pk, "iv-depression", "clinic-1").dose.cap_mg == Decimal("90")
    assert AuditEvent.objects.filter(object_type="ClinicProtocol", action="create").count() == 2


def test_a_plan_keeps_its_protocol_after_a_later_edit(practice):
    plan = signed_plan(practice)
    definition = shipped("iv-depression")
    definition["dose"]["cap_mg"] = "50"
    lib.clone_protocol(
        actor_of(practice.staff[Role.PRESCRIBER]),
        "iv-depression",
        definition=definition,
        change_note="Lower cap",
    )
    plan.refresh_from_db()
    assert protocol_of(plan).dose.cap_mg == Decimal("100") and plan.protocol_version == "2026.11.1"
    assert plan.dose_mg == Decimal("41.00")


def test_a_bad_definition_names_the_dotted_field_and_saves_nothing(practice):
    definition = shipped("iv-depression")
    definition["dose"]["cap_mg"] = "-5"
    with pytest.raises(ValidationFailed) as failure:
        lib.clone_protocol(
            actor_of(practice.staff[Role.PRESCRIBER]),
            "iv-depression",
            definition=definition,
            change_note="Oops",
        )
    assert failure.value.errors[0].field == "dose.cap_mg"
    assert lib.get_protocol(practice.org.pk, "iv-depression").version == "2026.11.1"


def test_a_blank_titration_count_in_the_clone_form_keeps_the_source_protocols_count():
    source = shipped("iv-depression")
    assert source["dose"]["titration"]["after_sessions"] == 2
    edited = definition_from(source, initial_from(source) | {"titration_after": ""})
    assert edited["dose"]["titration"]["after_sessions"] == 2


def test_retiring_the_clinic_version_brings_back_the_shipped_one(practice):
    prescriber = actor_of(practice.staff[Role.PRESCRIBER])
    lib.clone_protocol(prescriber, "iv-depression", definition=shipped("iv-depression"), change_note="Copy")
    with pytest.raises(ValidationFailed):
        lib.retire_protocol(prescriber, "iv-depression", 1, "")
    lib.retire_protocol(prescriber, "iv-depression", 1, "Back to the shipped protocol")
    assert lib.get_protocol(practice.org.pk, "iv-depression").version == "2026.11.1"


def test_only_prescribers_edit_the_library_and_another_organization_never_sees_it(practice, stranger):
    with pytest.raises(Forbidden):
        lib.clone_protocol(
            actor_of(practice.staff[Role.NURSE]),
            "iv-depression",
            definition=shipped("iv-depression"),
            change_note="Nurse edit",
        )
    definition = shipped("iv-depression") | {"key": "harbor-iv", "name": "Harbor IV"}
    lib.clone_protocol(
        actor_of(practice.staff[Role.PRESCRIBER]),
        "iv-depression",
        definition=definition,
        change_note="Our own",
    )
    assert "harbor-iv" in [e.key for e in lib.library(practice.org.pk)]
    assert "harbor-iv" not in [e.key for e in lib.library(stranger.org.pk)]
    with pytest.raises(NotFound):
        lib.get_protocol(stranger.org.pk, "harbor-iv")


def test_the_matrix_records_helper_gives_a_plan_an_open_review_point_and_a_clinic_only_protocol(practice):
    from tests.integration.plans_factories import plan_records

    records = plan_records(practice, "Harbor")
    assert records["key"] == ["harbor-iv"] and records["number"] == ["1"]
    point = ReviewPoint.objects.get(pk=records["review_point_id"][0])
    assert point.status == "open" and str(point.plan_id) == records["plan_id"][0]
