"""Registering, finding, changing and archiving patients through the services."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from ketaflow.audit.models import AuditEvent
from ketaflow.patients.models import Patient
from ketaflow.patients.records import add_allergy, chart_header
from ketaflow.patients.services import (
    PatientFilters,
    PossibleDuplicates,
    archive_patient,
    mark_no_known_allergies,
    open_patient,
    register_patient,
    restore_patient,
    search_patients,
    update_patient,
)
from ketaflow.validation import Forbidden, NotFound, ValidationFailed
from tests.factories import AlertFactory, AllergyFactory, PatientFactory, actor_of


def new_patient(practice, **overrides):
    data = {
        "legal_given_name": "Marisol",
        "legal_family_name": "Verhoeven",
        "date_of_birth": date(1979, 4, 2),
        "home_clinic_id": practice.clinic.pk,
        "phone_mobile": "(503) 555-0177",
        "email": "marisol@example.com",
    }
    data.update(overrides)
    return data


def fields_of(exc: ValidationFailed) -> set[str | None]:
    return {e.field for e in exc.errors}


def test_a_new_patient_gets_the_next_mrn_a_normalised_phone_and_an_audit_entry(practice):
    actor = actor_of(practice.staff["front_desk"])
    patient = register_patient(actor, new_patient(practice))
    assert patient.mrn == "KF-000001"
    assert patient.phone_mobile == "+15035550177"
    assert patient.organization_id == practice.org.pk
    event = AuditEvent.objects.get(action="create", patient_id=patient.pk)
    assert "phone_mobile" in event.detail["fields"] and "Verhoeven" not in str(event.detail)
    assert (
        register_patient(
            actor,
            new_patient(
                practice,
                legal_family_name="Okafor",
                email="",
                phone_mobile="",
                date_of_birth=date(1990, 1, 1),
            ),
        ).mrn
        == "KF-000002"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone_mobile": "555-12"}, "phone_mobile"),
        ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth"),
        ({"home_clinic_id": uuid.uuid4()}, "home_clinic_id"),
        ({"legal_family_name": "  "}, "legal_family_name"),
        ({"email": "not-an-email"}, "email"),
        ({"sex_at_birth": "robot"}, "sex_at_birth"),
        ({"gender_identity": "self_described"}, "gender_identity_text"),
        ({"mrn": "bad mrn!"}, "mrn"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(practice, overrides, field):
    before = Patient.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        register_patient(actor_of(practice.staff["front_desk"]), new_patient(practice, **overrides))
    assert field in fields_of(caught.value)
    assert Patient.objects.count() == before


def test_another_organizations_clinic_is_refused_as_unknown(practice, stranger):
    with pytest.raises(ValidationFailed) as caught:
        register_patient(
            actor_of(practice.staff["front_desk"]), new_patient(practice, home_clinic_id=stranger.clinic.pk)
        )
    assert fields_of(caught.value) == {"home_clinic_id"}


def test_a_duplicate_mrn_is_refused_but_the_same_mrn_in_another_organization_is_fine(practice, stranger):
    actor = actor_of(practice.staff["front_desk"])
    with pytest.raises(ValidationFailed) as caught:
        register_patient(actor, new_patient(practice, mrn=practice.patient.mrn))
    assert fields_of(caught.value) == {"mrn"}
    theirs = register_patient(
        actor_of(stranger.staff["front_desk"]), new_patient(stranger, mrn=practice.patient.mrn)
    )
    assert theirs.mrn == practice.patient.mrn


def test_a_possible_duplicate_pauses_registration_until_confirmed(practice):
    actor = actor_of(practice.staff["front_desk"])
    existing = PatientFactory(
        home_clinic=practice.clinic,
        legal_given_name="Marisol",
        legal_family_name="Verhoeven",
        date_of_birth=date(1979, 4, 2),
    )
    with pytest.raises(PossibleDuplicates) as caught:
        register_patient(actor, new_patient(practice, legal_given_name="Marisól"))
    ((match, why),) = caught.value.matches
    assert match == existing and "same date of birth" in why.reasons
    shown = AuditEvent.objects.filter(action="list", detail__purpose="duplicate_check").get()
    assert shown.detail["shown"] == [str(existing.pk)]
    created = register_patient(actor, new_patient(practice), confirm_not_duplicate=True)
    assert created.pk != existing.pk


def test_search_finds_a_patient_by_name_date_of_birth_mrn_and_phone(practice):
    actor = actor_of(practice.staff["front_desk"])
    patient = register_patient(actor, new_patient(practice))
    PatientFactory(home_clinic=practice.clinic, legal_family_name="Someoneelse")
    for text in (
        "verhoeven",
        "Marisol Verh",
        "1979-04-02",
        "04/02/1979",
        patient.mrn.lower(),
        "503-555-0177",
        "(503) 555 0177",
    ):
        page = search_patients(actor, PatientFilters(text=text))
        assert [p.pk for p in page.items] == [patient.pk], text
    assert search_patients(actor, PatientFilters(phone="5035550177")).total == 1


def test_search_never_returns_another_organizations_patients(practice, stranger):
    actor = actor_of(practice.staff["front_desk"])
    page = search_patients(actor, PatientFilters(text="elsewherepatient"))
    assert page.total == 0
    everyone = search_patients(actor, PatientFilters(), page_size=200)
    assert stranger.patient.pk not in {p.pk for p in everyone.items}


def test_a_search_is_audited_with_the_ids_shown_but_not_the_search_words(practice):
    actor = actor_of(practice.staff["front_desk"])
    search_patients(actor, PatientFilters(text="harborpatient"))
    event = AuditEvent.objects.filter(action="list").latest("seq")
    assert event.detail["shown"] == [str(practice.patient.pk)]
    assert "harborpatient" not in str(event.detail)


def test_another_organizations_patient_is_not_found(practice, stranger):
    actor = actor_of(practice.staff["owner"])
    with pytest.raises(NotFound):
        open_patient(actor, stranger.patient.pk)
    with pytest.raises(NotFound):
        update_patient(actor, stranger.patient.pk, {"preferred_name": "X"})
    with pytest.raises(NotFound):
        archive_patient(actor_of(practice.staff["prescriber"]), stranger.patient.pk, "test")
    stranger.patient.refresh_from_db()
    assert stranger.patient.preferred_name == "" and stranger.patient.archived_at is None


def test_an_update_records_the_fields_changed_but_not_their_values(practice):
    actor = actor_of(practice.staff["nurse"])
    update_patient(actor, practice.patient.pk, {"preferred_name": "Jo", "pronouns": "they/them"})
    practice.patient.refresh_from_db()
    assert (practice.patient.preferred_name, practice.patient.display_name) == ("Jo", "Jo Harborpatient")
    event = AuditEvent.objects.filter(action="update").latest("seq")
    assert event.detail == {"fields": ["preferred_name", "pronouns"]}


def test_archived_patients_leave_search_but_stay_readable_and_can_be_restored(practice):
    prescriber = actor_of(practice.staff["prescriber"])
    with pytest.raises(ValidationFailed):
        archive_patient(prescriber, practice.patient.pk, "  ")
    archive_patient(prescriber, practice.patient.pk, "Moved out of state")
    assert search_patients(prescriber, PatientFilters(text="harborpatient")).total == 0
    assert search_patients(prescriber, PatientFilters(text="harborpatient", include_archived=True)).total == 1
    assert open_patient(prescriber, practice.patient.pk).is_archived
    with pytest.raises(ValidationFailed):
        update_patient(prescriber, practice.patient.pk, {"pronouns": "she/her"})
    restore_patient(prescriber, practice.patient.pk)
    assert search_patients(prescriber, PatientFilters(text="harborpatient")).total == 1
    assert Patient.objects.filter(pk=practice.patient.pk).exists()


def test_front_desk_cannot_archive_and_sees_no_clinical_content(practice):
    desk = actor_of(practice.staff["front_desk"])
    with pytest.raises(Forbidden):
        archive_patient(desk, practice.patient.pk, "no")
    AllergyFactory(patient=practice.patient)
    AlertFactory(patient=practice.patient, category="safety", message="Recent suicidal ideation")
    AlertFactory(patient=practice.patient, category="administrative", message="Needs a ride")
    header = chart_header(desk, practice.patient)
    assert header.allergies is None and header.conditions is None and not header.shows_clinical
    assert [a.message for a in header.alerts] == ["Needs a ride"]
    nurse_header = chart_header(actor_of(practice.staff["nurse"]), practice.patient)
    assert {a.message for a in nurse_header.alerts} == {"Recent suicidal ideation", "Needs a ride"}
    assert [a.substance for a in nurse_header.allergies] == ["Penicillin"]


def test_recording_an_allergy_replaces_no_known_allergies(practice):
    nurse = actor_of(practice.staff["nurse"])
    mark_no_known_allergies(nurse, practice.patient.pk)
    add_allergy(nurse, practice.patient.pk, substance="Latex", category="environment", severity="mild")
    practice.patient.refresh_from_db()
    assert practice.patient.allergy_status == "recorded"
    with pytest.raises(ValidationFailed) as caught:
        mark_no_known_allergies(nurse, practice.patient.pk)
    assert fields_of(caught.value) == {"allergy_status"}
