"""The whole demo practice as FHIR: every stored resource is valid R4, every reference resolves,
every served type is present, and rebuilding the projection changes nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from ketaflow.fhir.index import SEARCH
from ketaflow.fhir.models import StoredResource
from ketaflow.fhir.projection import reindex
from tests.integration.demo_support import module_demo
from tests.integration.fhir_support import validate

pytestmark = pytest.mark.django_db
demo = module_demo(20)


def _bodies(organization_id: Any) -> Iterator[dict[str, Any]]:
    rows = StoredResource.objects.filter(organization_id=organization_id).order_by("pk")
    for body in rows.values_list("body", flat=True).iterator(chunk_size=2000):
        yield json.loads(body)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield reference
        for child in value.values():
            yield from _references(child)
    elif isinstance(value, list):
        for child in value:
            yield from _references(child)


def test_every_resource_of_the_demo_practice_validates_against_the_r4b_models(demo):
    failures: list[str] = []
    checked = Counter[str]()
    for body in _bodies(demo.organization_id):
        checked[body["resourceType"]] += 1
        try:
            validate(body)
        except ValidationError as error:
            failures.append(f"{body['resourceType']}/{body['id']}: {error.errors()[0]}")
    assert not failures, f"{len(failures)} invalid, first: {failures[:3]}"
    assert sum(checked.values()) > 1000, checked


def test_the_demo_serves_every_resource_type_the_api_declares(demo):
    present = set(
        StoredResource.objects.filter(organization_id=demo.organization_id)
        .values_list("resource_type", flat=True)
        .distinct()
    )
    assert set(SEARCH) <= present, set(SEARCH) - present


def test_every_reference_in_the_demo_resolves_to_a_stored_resource_of_the_same_practice(demo):
    known = {
        f"{t}/{i}"
        for t, i in StoredResource.objects.filter(organization_id=demo.organization_id).values_list(
            "resource_type", "resource_id"
        )
    }
    dangling = Counter[str]()
    for body in _bodies(demo.organization_id):
        for reference in _references(body):
            if not reference.startswith("#") and reference not in known:
                dangling[f"{body['resourceType']} -> {reference.split('/')[0]}"] += 1
    assert not dangling, dangling


def test_rebuilding_the_demo_projection_writes_nothing_and_keeps_every_version(demo):
    versions = dict(
        StoredResource.objects.filter(organization_id=demo.organization_id).values_list("pk", "version_id")
    )

    report = reindex(demo.organization_id)

    assert (report.written, report.removed) == (0, 0)
    assert report.unchanged == len(versions)
    assert (
        dict(
            StoredResource.objects.filter(organization_id=demo.organization_id).values_list(
                "pk", "version_id"
            )
        )
        == versions
    )
