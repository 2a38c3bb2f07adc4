"""Storage for the FHIR edge.

`StoredResource` holds each FHIR resource ketaflow serves as JSON text, projected from the domain
rows it is built from (its `source`), kept in step by signals in the same transaction as the domain
write. Search reads its indexed columns and `ResourceToken` rows; read and bulk export stream `body`
as stored, never rebuilding a model per resource. Every table carries its organization (tenant) key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.clinics.models import TenantModel


class StoredResource(TenantModel):
    id = models.BigAutoField(primary_key=True)
    resource_type = models.CharField(max_length=40)
    resource_id = models.CharField(max_length=64)
    version_id = models.PositiveIntegerField(default=1)
    last_updated = models.DateTimeField()
    # "<app_label.Model>:<pk>" of the domain row this resource is built from ("" for none).
    source = models.CharField(max_length=120, blank=True)
    patient_ref = models.CharField(max_length=64, blank=True)  # the Patient id it belongs to
    date_start = models.DateTimeField(null=True, blank=True)  # the type's date search parameter
    date_end = models.DateTimeField(null=True, blank=True)
    digest = models.CharField(max_length=40)  # SHA-1 of the body without meta: a change bumps the version
    body = models.TextField()  # the resource as JSON text, meta included

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "resource_type", "resource_id"], name="fhir_resource_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "resource_type", "patient_ref", "date_start"],
                name="fhir_org_type_patient_date",
            ),
            models.Index(fields=["organization", "resource_type", "date_start"], name="fhir_org_type_date"),
            models.Index(
                fields=["organization", "resource_type", "last_updated"], name="fhir_org_type_updated"
            ),
            models.Index(fields=["source"], name="fhir_source"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class ResourceToken(TenantModel):
    """One token search value of a stored resource: `param` (code, category, status, identifier,
    name...) with its `system` and `code`. Name parts are stored lower-cased for prefix search."""

    id = models.BigAutoField(primary_key=True)
    resource = models.ForeignKey(StoredResource, on_delete=models.CASCADE, related_name="tokens")
    resource_type = models.CharField(max_length=40)
    param = models.CharField(max_length=40)
    system = models.CharField(max_length=200, blank=True)
    code = models.CharField(max_length=200)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "resource_type", "param", "code"], name="fhir_token_lookup"),
        ]


class ImportedId(TenantModel):
    """The id a resource had in the system it was imported from, and the ketaflow id it became, so a
    later file's reference to `Patient/<their id>` resolves to the imported patient."""

    id = models.BigAutoField(primary_key=True)
    resource_type = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    local_id = models.CharField(max_length=64)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "resource_type", "source_id"], name="fhir_imported_id_unique"
            )
        ]


class ExportJob(TenantModel):
    """One bulk `$export` request (FHIR Bulk Data Access IG): its scope, progress and output files."""

    class Level(models.TextChoices):
        SYSTEM = "system", "System"
        PATIENT = "patient", "All patients"
        GROUP = "group", "Group"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    level = models.CharField(max_length=10, choices=Level.choices)
    group_id = models.CharField(max_length=64, blank=True)
    types = models.JSONField(default=list, blank=True)  # [] means every type the level includes
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    progress = models.JSONField(default=dict, blank=True)  # {"done": n, "total": n, "type": "Observation"}
    output = models.JSONField(default=list, blank=True)  # [{"type", "file", "count"}]
    errors = models.JSONField(default=list, blank=True)
    transaction_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="fhir_export_org_created")]
