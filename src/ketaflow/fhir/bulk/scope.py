"""What one bulk export covers: its level, resource types, group and `_since`, and the rows it reads.

The levels follow the Bulk Data Access IG: `system` exports every type the organization's projection
serves; `patient` exports the patient-compartment types (those with a patient, Patient included) for
all patients; `group` exports the same types for the patients whose home clinic is the Group (a
Group's id is its clinic's id). Refusals are `FhirError`s (400 for a bad request, 404 for an unknown
Group), which the API answers as OperationOutcomes and the CLI prints.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Func, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from ketaflow.clinics.models import Clinic
from ketaflow.patients.models import Patient

from ..index import SEARCH
from ..models import ExportJob, StoredResource
from ..outcome import FhirError

Level = ExportJob.Level

SYSTEM_TYPES: tuple[str, ...] = tuple(SEARCH)
PATIENT_TYPES: tuple[str, ...] = tuple(name for name, search in SEARCH.items() if search.patient)


@dataclass(frozen=True)
class ExportScope:
    """One export's selection: `types` resolved (never empty), `group_id` set for the group level."""

    organization_id: uuid.UUID
    level: str
    types: tuple[str, ...]
    group_id: str = ""
    since: dt.datetime | None = None


def level_types(level: str) -> tuple[str, ...]:
    return SYSTEM_TYPES if level == Level.SYSTEM else PATIENT_TYPES


def resolve_types(level: str, requested: list[str] | None) -> tuple[str, ...]:
    """The types to export: `requested` (in the order given, duplicates dropped) or every type of
    the level. 400 naming a type the server does not serve or the level does not include."""
    allowed = level_types(level)
    if not requested:
        return allowed
    for name in requested:
        if name not in SEARCH:
            raise FhirError.one(400, "not-supported", f"_type: this server does not export {name} resources.")
        if name not in allowed:
            raise FhirError.one(
                400,
                "not-supported",
                f"_type: {name} is not in the patient compartment, "
                "so a Patient or Group export cannot include it.",
            )
    return tuple(dict.fromkeys(requested))


def check_group(organization_id: uuid.UUID, group_id: str) -> None:
    """404 unless `group_id` is one of the organization's clinics."""
    try:
        clinic_id = uuid.UUID(group_id)
    except ValueError:
        clinic_id = None
    if clinic_id is None or not Clinic.objects.filter(organization_id=organization_id, pk=clinic_id).exists():
        raise FhirError.one(404, "not-found", f"Group/{group_id} is not known to this server.")


def build_scope(
    organization_id: uuid.UUID,
    level: str,
    *,
    group_id: str = "",
    types: list[str] | None = None,
    since: dt.datetime | None = None,
) -> ExportScope:
    """A checked scope (see `resolve_types` and `check_group` for the refusals)."""
    if level not in Level.values:
        raise FhirError.one(400, "not-supported", f"Unknown export level {level}.")
    if level == Level.GROUP:
        check_group(organization_id, group_id)
    return ExportScope(
        organization_id, level, resolve_types(level, types), group_id if level == Level.GROUP else "", since
    )


def rows(scope: ExportScope, resource_type: str) -> QuerySet[StoredResource]:
    """The stored resources of one type the scope exports, in primary-key order."""
    query = StoredResource.objects.filter(organization_id=scope.organization_id, resource_type=resource_type)
    if scope.since is not None:
        query = query.filter(last_updated__gte=scope.since)
    if scope.level != Level.SYSTEM:
        query = query.exclude(patient_ref="")
    if scope.level == Level.GROUP:
        members = Patient.objects.filter(
            organization_id=scope.organization_id, home_clinic_id=uuid.UUID(scope.group_id)
        )
        query = query.filter(patient_ref__in=members.values(ref=UuidText("id")))
    return query.order_by("pk")


class UuidText(Func):
    """A UUID column as the dashed lower-case text of a FHIR id (`str(uuid)`), on both databases:
    PostgreSQL casts its uuid type; SQLite stores UUIDs as 32 hex digits, so the dashes are put back."""

    output_field = CharField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::text", **extra)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        parts = " || '-' || ".join(
            f"substr(%(expressions)s, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        )
        sql, params = self.as_sql(compiler, connection, template=f"lower({parts})", **extra)
        if params:  # the column would need its parameters repeated once per part
            raise ValueError("UuidText takes a column, not an expression with parameters")
        return sql, params
