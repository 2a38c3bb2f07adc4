"""Resolving an incoming resource's reference to its patient, within the actor's organization only.

`Patient/<id>` is, in order: a Patient of the same Bundle or file (its fullUrl, or the id it had
there), a ketaflow patient of this organization, or a patient imported earlier under that id
(`ImportedId`). A logical reference by ketaflow MRN also resolves. Anything else, another
organization's patient included, is refused with a 422 naming the referring element.
"""

from __future__ import annotations

import uuid
from typing import Any

from ketaflow.accounts.actor import Actor
from ketaflow.clinics.models import Organization
from ketaflow.fhir.models import ImportedId
from ketaflow.fhir.values import mrn_system
from ketaflow.patients.models import Patient
from ketaflow.patients.services import patients_for

from .refusals import invalid


class References:
    """The patients one write (a resource, a Bundle or an import file) may refer to."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.local: dict[str, str] = {}  # fullUrl or "Patient/<id in the Bundle>" -> ketaflow patient id

    def remember(self, patient_id: str, *names: str) -> None:
        """Let later entries of the same Bundle or file refer to a patient by these names."""
        for name in names:
            if name:
                self.local[name] = patient_id

    def patient(self, reference: Any, path: str) -> Patient:
        """The patient `reference` (a FHIR Reference) points to, with its home clinic, or 422."""
        if not isinstance(reference, dict) or not (reference.get("reference") or reference.get("identifier")):
            raise invalid("Refer to the patient (Patient/<id>).", path)
        found = self._by_reference(str(reference.get("reference") or "")) or self._by_mrn(reference)
        if found is None:
            shown = reference.get("reference") or "the identifier given"
            raise invalid(f"{shown} is not a patient of your organization.", path)
        return found

    def _by_reference(self, text: str) -> Patient | None:
        if not text:
            return None
        if text in self.local:
            return self._ours(self.local[text])
        tail = "/".join(text.rstrip("/").split("/")[-2:])
        kind, _, ident = tail.partition("/")
        if kind != "Patient" or not ident:
            return None
        if tail in self.local:
            return self._ours(self.local[tail])
        return self._ours(ident) or self._imported(ident)

    def _ours(self, ident: str) -> Patient | None:
        try:
            key = uuid.UUID(ident)
        except ValueError:
            return None
        return patients_for(self.actor).select_related("home_clinic").filter(pk=key).first()

    def _imported(self, source_id: str) -> Patient | None:
        local = imported_local_id(self.actor, "Patient", source_id)
        return self._ours(local) if local else None

    def _by_mrn(self, reference: dict[str, Any]) -> Patient | None:
        identifier = reference.get("identifier") or {}
        if not identifier.get("value"):
            return None
        slug = (
            Organization.objects.filter(pk=self.actor.organization_id).values_list("slug", flat=True).first()
        )
        if identifier.get("system") != mrn_system(slug or ""):
            return None
        return patients_for(self.actor).select_related("home_clinic").filter(mrn=identifier["value"]).first()


def imported_local_id(actor: Actor, resource_type: str, source_id: str) -> str | None:
    """The ketaflow id a resource imported earlier under `source_id` became, if any."""
    return (
        ImportedId.objects.for_organization(actor.organization_id)
        .filter(resource_type=resource_type, source_id=source_id)
        .values_list("local_id", flat=True)
        .first()
    )


def remember_import(actor: Actor, resource_type: str, source_id: str, local_id: str) -> None:
    """Keep the id a resource had in the file it came from, so later files can refer to it."""
    ImportedId.objects.create(
        organization_id=actor.organization_id,
        resource_type=resource_type,
        source_id=source_id[:200],
        local_id=local_id,
    )
