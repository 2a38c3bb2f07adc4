"""Mappers from domain rows to FHIR resources, one module per area; each registers with
`ketaflow.fhir.projection.projects`."""

from __future__ import annotations

import importlib

MODULES = ("practice", "patients", "measures", "vitals", "care", "sessions")


def load_all() -> None:
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
