"""The projection: domain rows in, stored FHIR JSON out, in the same transaction as the domain write.

A mapper is registered per domain model with `@projects(Model)`; it turns one row into the FHIR
resources built from it (dicts with `resourceType` and `id`, no `meta`). Saving or deleting a row
(or announcing bulk writes through `ketaflow.changes`) re-projects it: resources whose content
changed get a new `meta.versionId` and `meta.lastUpdated`, unchanged ones are left alone, and
resources the row no longer yields are removed. `reindex` rebuilds an organization from scratch.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from ketaflow.changes import rows_written

from .index import index
from .models import ResourceToken, StoredResource
from .values import instant

Build = Callable[[Any], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Mapper:
    model: type[models.Model]
    build: Build
    select_related: tuple[str, ...]
    prefetch_related: tuple[str, ...]
    organization: Callable[[Any], uuid.UUID]


MAPPERS: dict[type[models.Model], list[Mapper]] = {}


def projects(
    model: type[models.Model],
    *,
    select_related: tuple[str, ...] = (),
    prefetch_related: tuple[str, ...] = (),
    organization: Callable[[Any], uuid.UUID] | None = None,
) -> Callable[[Build], Build]:
    """Register `build` as the mapper of `model`'s rows (a model may have several mappers).

    `organization(row)` gives the tenant; by default `row.organization_id`. `select_related` and
    `prefetch_related` are applied when rows are loaded in bulk (reindex, announced writes).
    """

    def register(build: Build) -> Build:
        org = organization or (lambda row: row.organization_id)
        MAPPERS.setdefault(model, []).append(Mapper(model, build, select_related, prefetch_related, org))
        return build

    return register


def source_of(row: models.Model) -> str:
    return f"{row._meta.label}:{row.pk}"


def dumps(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _digest(content: bytes) -> str:
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def with_meta(body: dict[str, Any], version_id: int, last_updated: Any) -> dict[str, Any]:
    """`body` with `meta` placed after `id`, as servers usually order it. A mapper may set
    `meta.profile`; the version and time are the projection's."""
    meta = {"versionId": str(version_id), "lastUpdated": instant(last_updated)}
    out = {"resourceType": body["resourceType"], "id": body["id"], "meta": {**body.get("meta", {}), **meta}}
    out.update((k, v) for k, v in body.items() if k not in out)
    return out


def built_for(row: models.Model) -> list[dict[str, Any]]:
    """Every resource the registered mappers build from `row`."""
    return [body for mapper in MAPPERS.get(type(row), []) for body in mapper.build(row)]


def store(
    organization_id: uuid.UUID, source: str, bodies: Iterable[dict[str, Any]]
) -> list[tuple[StoredResource, bool]]:
    """Make the stored resources of `source` exactly `bodies`; each row written or kept, and
    whether it changed. With no `source` (resources planted directly, as the tests and benchmarks
    do), the resource is matched by type and id."""
    now = timezone.now()
    existing = (
        {
            (r.resource_type, r.resource_id): r
            for r in StoredResource.objects.filter(organization_id=organization_id, source=source)
        }
        if source
        else {}
    )
    kept: list[tuple[StoredResource, bool]] = []
    for body in bodies:
        key = (body["resourceType"], str(body["id"]))
        content = dumps(body)
        digest = _digest(content)
        current = existing.pop(key, None)
        if current is None and not source:
            current = StoredResource.objects.filter(
                organization_id=organization_id, resource_type=key[0], resource_id=key[1]
            ).first()
        if current is not None and current.digest == digest:
            kept.append((current, False))
            continue
        kept.append((_write(organization_id, source, body, digest, current, now), True))
    if existing:
        StoredResource.objects.filter(pk__in=[r.pk for r in existing.values()]).delete()
    return kept


def _write(
    organization_id: uuid.UUID,
    source: str,
    body: dict[str, Any],
    digest: str,
    current: StoredResource | None,
    now: Any,
) -> StoredResource:
    found = index(body)
    version = 1 if current is None else current.version_id + 1
    row = current or StoredResource(
        organization_id=organization_id, resource_type=body["resourceType"], resource_id=str(body["id"])
    )
    row.source = source
    row.version_id = version
    row.last_updated = now
    row.patient_ref = found.patient_ref
    row.date_start, row.date_end = found.date_start, found.date_end
    row.digest = digest
    row.body = dumps(with_meta(body, version, now)).decode()
    row.save()
    if current is not None:
        ResourceToken.objects.filter(resource=row).delete()
    ResourceToken.objects.bulk_create(
        ResourceToken(
            organization_id=organization_id,
            resource=row,
            resource_type=row.resource_type,
            param=param,
            system=system,
            code=code,
        )
        for param, system, code in found.tokens
    )
    return row


def project(rows: Iterable[models.Model]) -> None:
    """Re-project `rows` (saved instances of registered models)."""
    for row in rows:
        mappers = MAPPERS.get(type(row), [])
        if mappers:
            store(mappers[0].organization(row), source_of(row), built_for(row))


def forget(row: models.Model) -> None:
    """Remove every resource built from a deleted row."""
    StoredResource.objects.filter(source=source_of(row)).delete()


def _reload(model: type[models.Model], pks: list[Any]) -> Iterator[models.Model]:
    mappers = MAPPERS.get(model, [])
    query = model._default_manager.filter(pk__in=pks)
    for mapper in mappers:
        query = query.select_related(*mapper.select_related).prefetch_related(*mapper.prefetch_related)
    yield from query


def _on_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **_: Any) -> None:
    if raw:  # fixtures loading: reindex afterwards
        return
    row = next(_reload(sender, [instance.pk]), None)  # fresh relations, as the bulk path sees them
    if row is not None:
        project([row])


def _on_delete(sender: type[models.Model], instance: models.Model, **_: Any) -> None:
    forget(instance)


def _on_bulk(sender: type[models.Model], rows: list[models.Model], **_: Any) -> None:
    if sender in MAPPERS:
        project(_reload(sender, [r.pk for r in rows]))


def connect_signals() -> None:
    for model in MAPPERS:
        post_save.connect(_on_save, sender=model, dispatch_uid=f"fhir-save-{model._meta.label}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"fhir-delete-{model._meta.label}")
    rows_written.connect(_on_bulk, dispatch_uid="fhir-bulk")


@dataclass(frozen=True)
class ReindexReport:
    written: int  # new or changed resources
    unchanged: int
    removed: int


def reindex(
    organization_id: uuid.UUID, *, batch: int = 500, progress: Callable[[str, int], None] | None = None
) -> ReindexReport:
    """Re-project every registered model's rows of one organization, atomically.

    Unchanged resources keep their version; resources no row yields any more are removed.
    """
    written = unchanged = 0
    with transaction.atomic():
        before = set(
            StoredResource.objects.filter(organization_id=organization_id).values_list("pk", flat=True)
        )
        seen: set[int] = set()
        for model, mappers in MAPPERS.items():
            query = _scope(model, organization_id)
            for mapper in mappers:
                query = query.select_related(*mapper.select_related).prefetch_related(
                    *mapper.prefetch_related
                )
            for row in query.iterator(chunk_size=batch):
                for stored, changed in store(mappers[0].organization(row), source_of(row), built_for(row)):
                    written += changed
                    unchanged += not changed
                    seen.add(stored.pk)
            if progress is not None:
                progress(model._meta.label, written + unchanged)
        stale = before - seen
        StoredResource.objects.filter(pk__in=stale).delete()
    return ReindexReport(written, unchanged, len(stale))


def _scope(model: type[models.Model], organization_id: uuid.UUID) -> models.QuerySet[Any]:
    manager = model._default_manager
    names = {f.name for f in model._meta.get_fields()}
    if "organization" in names:
        return manager.filter(organization_id=organization_id)
    return manager.filter(pk=organization_id)  # the Organization itself
