"""The demo practice: what `ketaflow demo` loads, checked on a small practice (40 patients)."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.credentials import dea_problem, npi_problem
from ketaflow.accounts.models import StaffMember, User
from ketaflow.accounts.roles import Credential, Role
from ketaflow.accounts.services import create_staff
from ketaflow.audit.models import Action, AuditEvent, chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.clinical.conditions import catalogue
from ketaflow.clinical.demographics import AgeBands, AgeGroup, age_on
from ketaflow.clinics.models import Clinic, Organization, Room
from ketaflow.demo.loader import (
    DEMO_PASSWORD,
    DemoAlreadyLoaded,
    DemoSummary,
    TimeOrderedIds,
    demo_logins,
    demo_organization,
    load_demo,
)
from ketaflow.demo.patients import PatientGenerator
from ketaflow.demo.pools import build_pools
from ketaflow.patients.fields import clean_patient_fields, search_text_for
from ketaflow.patients.models import Allergy, AllergyStatus, Condition, Patient, PatientAlert
from tests.integration.demo_support import module_demo

pytestmark = pytest.mark.django_db
PATIENTS = 40
FICTIONAL_PHONE = re.compile(r"^\+1\d{3}55501\d{2}$")


demo = module_demo(PATIENTS)


def _patients(summary: DemoSummary) -> list[Patient]:
    return list(Patient.objects.for_organization(summary.organization_id).order_by("mrn"))


def test_the_demo_has_two_clinics_in_different_time_zones_with_hours_and_rooms(demo):
    clinics = list(Clinic.objects.for_organization(demo.organization_id))
    assert len(clinics) == 2
    assert sorted(demo.clinics) == sorted(c.name for c in clinics)
    assert len({c.timezone for c in clinics}) == 2
    for clinic in clinics:
        assert clinic.address_line1 and clinic.city and clinic.postal_code
        assert FICTIONAL_PHONE.match(clinic.phone)
        weekdays = {h.weekday for h in clinic.opening_hours.all()}
        assert {0, 1, 2, 3, 4} <= weekdays
        kinds = [room.kind for room in clinic.rooms.all()]
        assert {Room.Kind.CONSULT, Room.Kind.TREATMENT, Room.Kind.RECOVERY} <= set(kinds)
        assert kinds.count(Room.Kind.CHAIR) >= 3
    assert any(5 in {h.weekday for h in c.opening_hours.all()} for c in clinics)


def test_every_role_has_a_demo_account_and_the_owner_is_also_a_prescriber(demo):
    staff = list(StaffMember.objects.for_organization(demo.organization_id).select_related("user"))
    assert demo.staff == len(staff)
    covered = set().union(*(member.roles for member in staff))
    assert covered == set(Role)
    owner = next(member for member in staff if member.user.username == "owner")
    assert owner.roles == {Role.OWNER, Role.PRESCRIBER}
    assert owner.credential == Credential.MD
    for member in staff:
        assert member.user.two_factor_exempt
        assert member.user.check_password(DEMO_PASSWORD)
        assert not member.user.must_change_password
        assert member.clinics.exists()


def test_prescribers_have_md_np_and_pa_credentials_with_valid_dea_and_npi_check_digits(demo):
    prescribers = [
        member for member in StaffMember.objects.for_organization(demo.organization_id)
        if Role.PRESCRIBER in member.roles
    ]
    assert {p.credential for p in prescribers} >= {Credential.MD, Credential.NP, Credential.PA}
    for prescriber in prescribers:
        assert dea_problem(prescriber.dea_number) is None
        assert npi_problem(prescriber.npi) is None
        assert prescriber.licence_number and prescriber.licence_region
    assert len({p.dea_number for p in prescribers}) == len(prescribers)


def test_forty_patients_are_numbered_from_the_organization_mrn_counter(demo):
    patients = _patients(demo)
    org = Organization.objects.get(pk=demo.organization_id)
    assert demo.patients == len(patients) == PATIENTS
    assert [p.mrn for p in patients] == [f"{org.mrn_prefix}-{n:06d}" for n in range(1, PATIENTS + 1)]
    assert org.next_mrn == PATIENTS + 1
    assert all(p.search_text == search_text_for(vars(p)) for p in patients)


def test_patient_ages_span_adolescents_adults_and_older_adults(demo):
    today = timezone.localdate()
    groups = [AgeBands().group(age_on(p.date_of_birth, today)) for p in _patients(demo)]
    assert {AgeGroup.ADOLESCENT, AgeGroup.ADULT, AgeGroup.OLDER_ADULT} <= set(groups)
    assert AgeGroup.CHILD not in groups
    assert groups.count(AgeGroup.ADULT) > len(groups) / 2
    assert all(age_on(p.date_of_birth, today) >= 13 for p in _patients(demo))


def test_every_patient_has_an_audit_create_event_and_the_chain_is_intact(demo):
    patients = {str(p.pk): p for p in _patients(demo)}
    creates = AuditEvent.objects.filter(
        chain=chain_key(demo.organization_id), action=Action.CREATE, object_type="Patient"
    )
    assert sorted(e.object_id for e in creates) == sorted(patients)
    for event in creates:
        assert event.username == "system:demo"
        patient_id = event.patient_id
        assert event.detail["conditions"] == Condition.objects.filter(patient_id=patient_id).count()
        assert event.detail["allergies"] == Allergy.objects.filter(patient_id=patient_id).count()
        assert event.detail["alerts"] == PatientAlert.objects.filter(patient_id=patient_id).count()
    archived = [pk for pk, p in patients.items() if p.is_archived]
    assert archived and all(patients[pk].archived_reason for pk in archived)
    archive_events = AuditEvent.objects.filter(chain=chain_key(demo.organization_id), action=Action.ARCHIVE)
    assert sorted(e.object_id for e in archive_events) == sorted(archived)
    report = verify_chain(chain_key(demo.organization_id))
    assert report.ok, report.problems
    assert report.checked > PATIENTS


def test_patients_have_catalogue_conditions_allergy_statuses_and_fictional_contacts(demo):
    known = {c.id for c in catalogue().conditions}
    statuses = set()
    for patient in _patients(demo):
        conditions = Condition.objects.filter(patient=patient)
        assert 1 <= conditions.count() <= 3
        assert {c.catalogue_id for c in conditions} <= known
        has_allergies = Allergy.objects.filter(patient=patient).exists()
        assert has_allergies == (patient.allergy_status == AllergyStatus.RECORDED)
        statuses.add(patient.allergy_status)
        for phone in (patient.phone_mobile, patient.phone_home, patient.emergency_contact_phone):
            assert not phone or FICTIONAL_PHONE.match(phone)
        assert not patient.email or patient.email.rsplit("@", 1)[1] in {
            "example.com", "example.org", "example.net"}
    assert statuses == set(AllergyStatus.values)
    assert {a.category for a in PatientAlert.objects.filter(organization_id=demo.organization_id)} == {
        "administrative", "clinical", "safety"}


def test_generated_patient_fields_pass_the_registry_rules_unchanged():
    generator = PatientGenerator(5, build_pools(5), [uuid.uuid4(), uuid.uuid4()], date(2026, 3, 1))
    for synthetic in (next(generator) for _ in range(200)):
        assert clean_patient_fields(synthetic.fields, region="US", today=date(2026, 3, 1)) == synthetic.fields



def test_demo_logins_name_every_demo_account_starting_with_the_owner(demo):
    logins = demo_logins()
    assert logins[0][0] == "owner"
    assert "prescriber" in logins[0][1].lower()
    usernames = {username for username, _ in logins}
    # (The at-home patient's portal account is a login of the practice too, but not a staff one.)
    assert usernames == set(User.objects.filter(organization_id=demo.organization_id,
                                                portal_account__isnull=True)
                            .values_list("username", flat=True))


def test_loading_the_demo_twice_is_refused_and_changes_nothing(demo):
    assert demo_organization() is not None
    assert demo_organization().pk == demo.organization_id
    with pytest.raises(DemoAlreadyLoaded):
        load_demo(patients=5)
    assert Organization.objects.count() == 1
    assert Patient.objects.count() == PATIENTS



def test_staff_added_after_the_demo_must_still_set_up_two_factor(demo):
    clinic = Clinic.objects.for_organization(demo.organization_id).first()
    added, _ = create_staff(Actor.system(demo.organization_id), {
        "username": "newnurse", "first_name": "Robin", "last_name": "Example",
        "email": "newnurse@example.com", "roles": ["nurse"], "clinic_ids": [clinic.pk],
    })
    assert not added.user.two_factor_exempt
    assert all(u.two_factor_exempt for u in User.objects.filter(organization_id=demo.organization_id,
                                                                portal_account__isnull=True)
               .exclude(pk=added.user_id))


def test_demo_keys_are_version_seven_uuids_that_rise_through_a_load():
    ids = TimeOrderedIds()
    keys = [ids() for _ in range(1000)]
    assert keys == sorted(keys) and len(set(keys)) == 1000
    assert {key.version for key in keys} == {7}
    assert sorted(key.hex for key in keys) == [key.hex for key in keys]  # SQLite stores the hex
