"""The audit trail: written with the change, hash-chained, append-only, and verifiable."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from ketaflow.audit.models import Action, AuditChainHead, AuditEvent, chain_key
from ketaflow.audit.trail import append_only_triggers_present, record, verify_chain
from ketaflow.patients.services import open_patient, register_patient
from ketaflow.validation import ValidationFailed
from tests.factories import actor_of


def _write(actor, n):
    with transaction.atomic():
        for i in range(n):
            record(actor, Action.READ, "Patient", f"obj-{i}", detail={"purpose": "test"})


def _drop_triggers():
    """What a DBA with raw access could do; the hash chain must still catch the edit."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            cursor.execute("SET LOCAL session_replication_role = replica")  # user triggers off


def test_each_event_links_to_the_one_before_and_the_head_tracks_the_end(practice):
    actor = actor_of(practice.staff["nurse"])
    _write(actor, 3)
    events = list(AuditEvent.objects.filter(chain=chain_key(practice.org.pk)).order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    head = AuditChainHead.objects.get(chain=chain_key(practice.org.pk))
    assert (head.last_seq, head.last_hash) == (3, events[2].hash)
    assert events[0].username == practice.staff["nurse"].user.username
    assert events[0].roles == "nurse" and events[0].ip_address == "127.0.0.1"
    assert verify_chain(chain_key(practice.org.pk)).ok


@pytest.mark.django_db(transaction=True)
def test_recording_outside_the_changes_transaction_is_refused(practice):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(actor_of(practice.staff["nurse"]), Action.READ, "Patient", "x")


def test_the_database_refuses_to_update_or_delete_an_audit_event(practice):
    _write(actor_of(practice.staff["nurse"]), 1)
    assert append_only_triggers_present()
    for statement in ("UPDATE audit_auditevent SET action = 'create'", "DELETE FROM audit_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.filter(action="read").count() == 1


def test_the_model_refuses_to_save_changes_to_an_existing_event(practice):
    _write(actor_of(practice.staff["nurse"]), 1)
    event = AuditEvent.objects.get()
    event.action = "create"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_verification_catches_a_row_modified_behind_the_apps_back(practice):
    _write(actor_of(practice.staff["nurse"]), 5)
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET username = 'someone-else' WHERE seq = 3")
    report = verify_chain(chain_key(practice.org.pk))
    assert not report.ok
    assert report.problems == ["event #3 was altered after it was written"]


def test_verification_catches_a_deleted_event_in_the_middle_and_at_the_end(practice):
    _write(actor_of(practice.staff["nurse"]), 5)
    _drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq IN (2, 5)")
    problems = verify_chain(chain_key(practice.org.pk)).problems
    assert "event #2 is missing (found #3 next)" in problems
    assert "event #3 does not link to the event before it" in problems
    assert any("head records #5" in p for p in problems)


def test_a_refused_write_leaves_no_patient_and_no_audit_event(practice):
    actor = actor_of(practice.staff["front_desk"])
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed):
        register_patient(
            actor,
            {
                "legal_given_name": "Nadia",
                "legal_family_name": "Quell",
                "date_of_birth": None,
                "home_clinic_id": practice.clinic.pk,
            },
        )
    assert AuditEvent.objects.count() == before


def test_reading_a_chart_records_who_read_which_patient(practice):
    actor = actor_of(practice.staff["prescriber"])
    open_patient(actor, practice.patient.pk)
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_type, event.patient_id) == ("read", "Patient", practice.patient.pk)
    assert event.organization_id == practice.org.pk


def test_each_organization_has_its_own_chain(practice, stranger):
    _write(actor_of(practice.staff["nurse"]), 2)
    _write(actor_of(stranger.staff["nurse"]), 1)
    assert AuditEvent.objects.filter(organization=stranger.org).get().seq == 1
    assert verify_chain(chain_key(practice.org.pk)).ok and verify_chain(chain_key(stranger.org.pk)).ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_extend_the_chain_one_at_a_time(practice):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; row locking is exercised on PostgreSQL")
    actor = actor_of(practice.staff["nurse"])
    errors: list[BaseException] = []

    def worker():
        try:
            _write(actor, 10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify_chain(chain_key(practice.org.pk))
    assert report.ok and report.checked == 40
