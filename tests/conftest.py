"""Shared fixtures: two organizations (ours and a stranger's), staff of every role, patients."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, settings

from ketaflow.accounts.models import StaffMember
from ketaflow.accounts.roles import Role
from ketaflow.clinics.models import Clinic, Organization
from ketaflow.patients.models import Patient
from tests.factories import ClinicFactory, OrganizationFactory, PatientFactory, StaffFactory


@dataclass
class Practice:
    org: Organization
    clinic: Clinic
    staff: dict[Role, StaffMember]
    patient: Patient


# Property tests assert outcomes, never speed: a busy CI machine must not fail them for slowness.
settings.register_profile("ketaflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ketaflow")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache, so the public forms' per-address allowance is its own."""
    cache.clear()
    yield
    cache.clear()


def _practice(name: str) -> Practice:
    org = OrganizationFactory(name=name)
    clinic = ClinicFactory(organization=org)
    staff = {role: StaffFactory(organization=org, roles=[role]) for role in Role}
    patient = PatientFactory(home_clinic=clinic, legal_family_name=f"{name.split()[0]}patient")
    return Practice(org, clinic, staff, patient)


@pytest.fixture
def practice(db) -> Practice:
    return _practice("Harbor Practice")


@pytest.fixture
def stranger(db) -> Practice:
    """Another organization, whose data our users must never see."""
    return _practice("Elsewhere Practice")


def client_for(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


@pytest.fixture
def client_as(practice):
    """client_as(Role.NURSE) -> a logged-in test client for that role in `practice`."""
    return lambda role: client_for(practice.staff[role])
