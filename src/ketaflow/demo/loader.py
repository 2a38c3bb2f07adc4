"""Load the demo practice: one organization, two clinics, staff for every role, synthetic patients.

The entry points the `ketaflow demo` command calls. Patients are written in batches of
`BATCH_SIZE`, each batch in one transaction holding its rows and their audit events: one CREATE
event per patient whose detail counts the conditions, allergies and alerts created with it, and
its measurement-based care (`measures`: treatments, questionnaire responses, safety alerts; these
rows have no events of their own), plus an ARCHIVE event for each archived patient. Memory
stays flat whatever the count: only the current batch is held.

Every name, address, phone number and identifier is synthetic (see `pools`); never real data.
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import Entry, record_many
from ketaflow.clinics.models import Organization
from ketaflow.fhir.projection import reindex
from ketaflow.patients.fields import search_text_for
from ketaflow.patients.models import Allergy, Condition, Patient, PatientAlert

from .evaluations import load_evaluations, showcase_patients
from .measures import MeasureGenerator
from .patients import PatientGenerator, SyntheticPatient
from .plans import load_plans
from .pools import build_pools
from .practice import (
    ACCOUNTS,
    ORGANIZATION_SLUG,
    create_clinics,
    create_demo_staff,
    create_practice_organization,
)

DEMO_PASSWORD = "ketaflow-demo-2026"
BATCH_SIZE = 2000
AUDIT_VIA = "demo"


class TimeOrderedIds:
    """UUIDv7 keys (RFC 9562: millisecond timestamp, then a counter) rising through one load.

    Random uuid4 keys scatter a bulk load over the whole primary-key index; rising keys append to
    its end, which measured about 15% faster on SQLite with less I/O. Unique across loads through
    the timestamp and a random field; readers treat them like any other UUID.
    """

    def __init__(self) -> None:
        millis = time.time_ns() // 1_000_000
        self._prefix = millis << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62
        self._counter = itertools.count(secrets.randbits(40))

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._prefix | next(self._counter))


class DemoAlreadyLoaded(RuntimeError):
    """The demo organization exists already; start from an empty database to load it again."""


@dataclass(frozen=True)
class DemoSummary:
    organization_id: uuid.UUID
    clinics: tuple[str, ...]
    staff: int
    patients: int
    seconds: float
    measures: dict[str, int] = field(default_factory=dict)  # rows of measurement-based care, by kind
    evaluations: dict[str, int] = field(default_factory=dict)  # the evaluation pathway's records, by kind
    plans: dict[str, int] = field(default_factory=dict)  # plans, appointments and invoices, by kind
    sessions: dict[str, int] = field(default_factory=dict)  # the last month's sessions, ledger, REMS, home
    fhir: dict[str, int] = field(default_factory=dict)  # the FHIR projection after the load


def demo_organization() -> Organization | None:
    """The demo organization when it has been loaded, else None."""
    return Organization.objects.filter(slug=ORGANIZATION_SLUG).first()


def demo_logins() -> list[tuple[str, str]]:
    """(username, what the account shows) for every demo account; all share `DEMO_PASSWORD`."""
    return [(account.username, account.description) for account in ACCOUNTS]


def load_demo(
    *,
    patients: int = 60,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    measured: int | None = None,
) -> DemoSummary:
    """Create the demo practice with `patients` synthetic patients; the same seed, the same practice.

    The first `measured` patients (all by default) get measurement-based care: plan, treatments,
    questionnaire history, alerts and due rows, about 95 rows each. A registry-scale load (the
    100,000-patient benchmark) caps it, since that history dominates the load time.

    Raises DemoAlreadyLoaded when the demo organization exists. `progress(n)` is called after each
    committed batch with the number of patients it created.
    """
    started = time.perf_counter()
    if patients < 0:
        raise ValueError("patients must be zero or more")
    if demo_organization() is not None:
        raise DemoAlreadyLoaded("the demo practice is already loaded")
    pools = build_pools(seed)
    with transaction.atomic():
        organization = create_practice_organization()
        if organization.slug != ORGANIZATION_SLUG:  # another loader won the race
            raise DemoAlreadyLoaded("the demo practice is already loaded")
        actor = Actor.system(organization.pk, via=AUDIT_VIA)
        clinics = create_clinics(actor, pools, seed)
        staff = create_demo_staff(actor, clinics, pools, seed, DEMO_PASSWORD)
    generator = PatientGenerator(seed, pools, [clinic.pk for clinic in clinics], timezone.localdate())
    measures = MeasureGenerator(seed, organization.pk, clinics, staff, timezone.now())
    ids = TimeOrderedIds()
    written = 0
    while written < patients:
        batch = list(itertools.islice(generator, min(BATCH_SIZE, patients - written)))
        with_measures = measured is None or written < measured
        if with_measures and measured is not None and written + len(batch) > measured:
            write_batch(actor, batch[: measured - written], ids, measures)
            write_batch(actor, batch[measured - written :], ids)
        else:
            write_batch(actor, batch, ids, measures if with_measures else None)
        written += len(batch)
        if progress is not None:
            progress(len(batch))
    evaluations = load_evaluations(organization, showcase_patients(organization, timezone.localdate()))
    plans, sessions = load_plans(organization, timezone.now())
    projected = reindex(organization.pk)  # the demo bulk-inserts rows, bypassing the save signals
    return DemoSummary(
        organization_id=organization.pk,
        clinics=tuple(clinic.name for clinic in clinics),
        staff=len(staff),
        patients=written,
        seconds=round(time.perf_counter() - started, 3),
        measures=dict(measures.totals),
        evaluations=evaluations,
        plans=plans,
        sessions=sessions,
        fhir={"resources written": projected.written, "resources unchanged": projected.unchanged},
    )


def _take_mrns(organization_id: uuid.UUID, count: int) -> list[str]:
    """`count` consecutive MRNs from the organization's counter, as `register_patient` numbers them."""
    org = Organization.objects.select_for_update().get(pk=organization_id)
    first = org.next_mrn
    Organization.objects.filter(pk=org.pk).update(next_mrn=first + count)
    return [f"{org.mrn_prefix}-{number:06d}" for number in range(first, first + count)]


def _patient(org_id: uuid.UUID, pk: uuid.UUID, mrn: str, synthetic: SyntheticPatient,
             now: datetime) -> Patient:
    fields = synthetic.fields
    return Patient(
        id=pk, organization_id=org_id, mrn=mrn, allergy_status=synthetic.allergy_status,
        search_text=search_text_for({**fields, "mrn": mrn}),
        archived_at=now if synthetic.archived_reason else None,
        archived_reason=synthetic.archived_reason, **fields,
    )


def write_batch(actor: Actor, batch: Sequence[SyntheticPatient],
                ids: Callable[[], uuid.UUID] = uuid.uuid4,
                measures: MeasureGenerator | None = None) -> list[Patient]:
    """Insert one batch of patients, their chart rows (and, given `measures`, their measurement-based
    care) and their audit events in one transaction."""
    org_id = actor.organization_id
    now = timezone.now()
    with transaction.atomic():
        mrns = _take_mrns(org_id, len(batch))
        rows = [_patient(org_id, ids(), mrn, synthetic, now)
                for mrn, synthetic in zip(mrns, batch, strict=True)]
        Patient.objects.bulk_create(rows)
        measured = measures.write(rows, batch, ids) if measures is not None else {}
        conditions: list[Condition] = []
        allergies: list[Allergy] = []
        alerts: list[PatientAlert] = []
        entries: list[Entry] = []
        for patient, synthetic in zip(rows, batch, strict=True):
            conditions += [Condition(id=ids(), organization_id=org_id, patient_id=patient.pk, **row)
                           for row in synthetic.conditions]
            allergies += [Allergy(id=ids(), organization_id=org_id, patient_id=patient.pk, **row)
                          for row in synthetic.allergies]
            alerts += [PatientAlert(id=ids(), organization_id=org_id, patient_id=patient.pk, **row)
                       for row in synthetic.alerts]
            entries.append(Entry(Action.CREATE, "Patient", str(patient.pk), patient.pk, detail={
                "source": AUDIT_VIA, "conditions": len(synthetic.conditions),
                "allergies": len(synthetic.allergies), "alerts": len(synthetic.alerts),
                **measured.get(patient.pk, {}),
            }))
            if synthetic.archived_reason:
                entries.append(Entry(Action.ARCHIVE, "Patient", str(patient.pk), patient.pk))
        Condition.objects.bulk_create(conditions)
        Allergy.objects.bulk_create(allergies)
        PatientAlert.objects.bulk_create(alerts)
        record_many(actor, entries, now=now)
    return rows
