"""Demo loads that each test makes itself: the same seed gives the same practice, and progress is
reported per batch. (The other demo tests share one load per module.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from ketaflow.audit.models import chain_key
from ketaflow.audit.trail import verify_chain
from ketaflow.clinics.models import Clinic
from ketaflow.demo import loader
from ketaflow.demo.loader import DemoSummary, load_demo
from ketaflow.demo.patients import PatientGenerator
from ketaflow.demo.pools import build_pools
from ketaflow.demo.regions import REGIONS
from ketaflow.patients.models import Patient

pytestmark = pytest.mark.django_db
PATIENTS = 40


def _patients(summary: DemoSummary) -> list[Patient]:
    return list(Patient.objects.for_organization(summary.organization_id).order_by("mrn"))


def test_the_same_seed_loads_the_same_patient_names():
    summary = load_demo(patients=PATIENTS, seed=7)
    loaded = [(p.legal_given_name, p.legal_family_name, p.date_of_birth) for p in _patients(summary)]
    clinics = [Clinic.objects.get(name=region.clinic_name).pk for region in REGIONS]
    today = timezone.localdate()
    again = PatientGenerator(7, build_pools(7), clinics, today)
    expected = [
        (s.fields["legal_given_name"], s.fields["legal_family_name"], s.fields["date_of_birth"])
        for s in (next(again) for _ in range(PATIENTS))
    ]
    other = PatientGenerator(8, build_pools(8), clinics, today)
    assert loaded == expected
    assert [
        (s.fields["legal_given_name"], s.fields["legal_family_name"])
        for s in (next(other) for _ in range(PATIENTS))
    ] != [n[:2] for n in loaded]


def test_progress_counts_each_batch_and_numbering_runs_on_across_batches(monkeypatch):
    monkeypatch.setattr(loader, "BATCH_SIZE", 15)
    reported: list[int] = []
    summary = load_demo(patients=PATIENTS, seed=3, progress=reported.append)
    assert reported == [15, 15, 10]
    mrns = [p.mrn for p in _patients(summary)]
    assert len(set(mrns)) == PATIENTS and mrns[-1].endswith(f"{PATIENTS:06d}")
    assert verify_chain(chain_key(summary.organization_id)).ok
