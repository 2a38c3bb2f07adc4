"""The protocol a plan was made from, read back from the plan's frozen copy."""

from __future__ import annotations

from ketaflow.clinical.protocols import Protocol, parse_protocol

from .models import TreatmentPlan


def protocol_of(plan: TreatmentPlan) -> Protocol:
    """The plan's protocol as it was when the plan was made (never the library's later versions)."""
    return parse_protocol(plan.protocol, version=plan.protocol_version)
