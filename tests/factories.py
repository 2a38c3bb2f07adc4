"""factory_boy factories for synthetic test data. Every name, date and number here is made up."""

from __future__ import annotations

import datetime as dt

import factory
from factory.django import DjangoModelFactory

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import StaffMember, StaffRole, User
from ketaflow.accounts.roles import Credential, Role
from ketaflow.audit.models import AuditChainHead, chain_key
from ketaflow.clinics.models import Clinic, Organization, Room
from ketaflow.patients.fields import search_text_for
from ketaflow.patients.models import Allergy, Condition, Patient, PatientAlert


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Test Practice {n}")
    slug = factory.Sequence(lambda n: f"test-practice-{n}")
    country = "US"

    @factory.post_generation
    def chain(obj, create, extracted, **kwargs):
        if create:
            AuditChainHead.objects.get_or_create(chain=chain_key(obj.pk))


class ClinicFactory(DjangoModelFactory):
    class Meta:
        model = Clinic

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Clinic {n}")
    city = "Springfield"
    timezone = "America/Denver"


class RoomFactory(DjangoModelFactory):
    class Meta:
        model = Room

    clinic = factory.SubFactory(ClinicFactory)
    organization = factory.SelfAttribute("clinic.organization")
    name = factory.Sequence(lambda n: f"Chair {n}")
    kind = Room.Kind.CHAIR


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    organization = factory.SubFactory(OrganizationFactory)
    two_factor_exempt = True
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(DjangoModelFactory):
    """A staff member; pass roles=[Role.NURSE, ...] (default: nurse)."""

    class Meta:
        model = StaffMember
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory, organization=factory.SelfAttribute("..organization"))
    credential = ""

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        roles = extracted or [Role.NURSE]
        if Role.PRESCRIBER in roles and not obj.credential:
            obj.credential, obj.licence_number = Credential.MD, "MD-12345"
            obj.save()
        for role in roles:
            StaffRole.objects.create(organization=obj.organization, staff=obj, role=Role(role).value)


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient

    home_clinic = factory.SubFactory(ClinicFactory)
    organization = factory.SelfAttribute("home_clinic.organization")
    mrn = factory.Sequence(lambda n: f"T-{n:06d}")
    legal_given_name = factory.Iterator(["Avery", "Jordan", "Riley", "Morgan", "Casey", "Quinn"])
    legal_family_name = factory.Sequence(lambda n: f"Testperson{n}")
    date_of_birth = dt.date(1985, 6, 15)
    sex_at_birth = "female"
    phone_mobile = factory.Sequence(lambda n: f"+1503555{n % 100:04d}")
    search_text = factory.LazyAttribute(
        lambda o: search_text_for(
            {
                "legal_given_name": o.legal_given_name,
                "legal_family_name": o.legal_family_name,
                "mrn": o.mrn,
            }
        )
    )


class ConditionFactory(DjangoModelFactory):
    class Meta:
        model = Condition

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    catalogue_id = "mdd"
    display = "Major depressive disorder"
    snomed_code = "370143000"
    icd10_code = "F33.9"


class AllergyFactory(DjangoModelFactory):
    class Meta:
        model = Allergy

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    substance = "Penicillin"
    reaction = "Hives"
    severity = Allergy.Severity.MODERATE


class AlertFactory(DjangoModelFactory):
    class Meta:
        model = PatientAlert

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    category = PatientAlert.Category.ADMINISTRATIVE
    message = "Prefers afternoon appointments"


def actor_of(staff: StaffMember, ip: str = "127.0.0.1") -> Actor:
    return Actor(
        user_id=staff.user_id,
        username=staff.user.username,
        organization_id=staff.organization_id,
        roles=staff.roles,
        staff_id=staff.pk,
        ip_address=ip,
    )
