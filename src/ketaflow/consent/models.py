"""Informed consent: versioned templates per route and setting, and each patient's consent.

A `ConsentTemplate` row never changes once written: "editing" a template writes version n+1, and the
current template is the highest version. A `Consent` pins the version it was requested on (PROTECT),
so a new version never alters what a patient read or signed; at signing it stores the SHA-256 of the
exact text shown (`text.document_text`). A consent is *current* for its route once the patient has
signed it and a clinician has countersigned it, until it is withdrawn (see services.current_consent).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.clinical.eligibility import ROUTE_LABELS, Route
from ketaflow.clinics.models import TenantModel
from ketaflow.patients.models import PatientChild

ROUTE_CHOICES = [(route.value, ROUTE_LABELS[route]) for route in Route]


class Setting(models.TextChoices):
    CLINIC = "clinic", "In the clinic"
    HOME = "home", "At home"


# Which settings each route may be consented for (clinical reference §1, §2, §9): home use is the
# sublingual route only, and esketamine is never dispensed for home use. `setting` is its own field
# so a clinic-supervised variant (IM at home, say) can be allowed later by adding it here.
ALLOWED_SETTINGS: dict[str, tuple[str, ...]] = {
    Route.IV.value: (Setting.CLINIC.value,),
    Route.IM.value: (Setting.CLINIC.value,),
    Route.SUBLINGUAL_HOME.value: (Setting.HOME.value,),
    Route.ESKETAMINE.value: (Setting.CLINIC.value,),
}


def allowed_pairs() -> list[tuple[str, str]]:
    """Every (route, setting) a template can exist for, in route order."""
    return [(route, setting) for route, settings_ in ALLOWED_SETTINGS.items() for setting in settings_]


def route_label(route: str) -> str:
    try:
        return ROUTE_LABELS[Route(route)]
    except ValueError:
        return route


class ImmutableRow(Exception):
    """A consent template version was about to be changed or deleted; write a new version instead."""


class ConsentTemplate(TenantModel):
    """One version of the consent wording for a route and setting. Written once, never updated."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    route = models.CharField(max_length=20, choices=ROUTE_CHOICES)
    setting = models.CharField(max_length=10, choices=Setting.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    note = models.CharField("what changed", max_length=300, blank=True)
    is_sample = models.BooleanField(default=False, help_text="ketaflow's sample wording, not yet reviewed.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["route", "setting", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "route", "setting", "version"], name="consent_template_version_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="consent_template_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ImmutableRow("a consent template version is never changed: write a new version")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ImmutableRow("a consent template version is never deleted")

    @property
    def route_label(self) -> str:
        return route_label(self.route)


class Consent(PatientChild):
    """A patient's consent to one route: requested on a pinned template version, then signed by the
    patient (in the portal or on a clinic tablet), countersigned by a clinician, maybe withdrawn."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for the patient's signature"
        SIGNED = "signed", "Signed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Channel(models.TextChoices):
        PORTAL = "portal", "Patient portal"
        TABLET = "tablet", "Clinic tablet"

    class WithdrawnVia(models.TextChoices):
        PATIENT = "portal", "By the patient in the portal"
        STAFF = "staff", "Recorded by staff"

    template = models.ForeignKey(ConsentTemplate, on_delete=models.PROTECT, related_name="consents")
    route = models.CharField(max_length=20, choices=ROUTE_CHOICES)
    setting = models.CharField(max_length=10, choices=Setting.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The signature: what the patient typed and drew, when, from where, and the text they saw.
    text_hash = models.CharField("SHA-256 of the text signed", max_length=64, blank=True)
    typed_name = models.CharField(max_length=200, blank=True)
    signature_png = models.BinaryField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="On a clinic tablet: the signed-in staff member who handed over the device.",
    )
    countersigned_at = models.DateTimeField(null=True, blank=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    copy_emailed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.CharField(max_length=500, blank=True)
    withdrawn_via = models.CharField(max_length=10, choices=WithdrawnVia.choices, blank=True)
    withdrawn_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["organization", "patient", "route"], name="consent_org_patient_route"),
            models.Index(fields=["organization", "status"], name="consent_org_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="signed") | models.Q(signed_at__isnull=False),
                name="consent_signed_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(countersigned_at__isnull=True) | models.Q(signed_at__isnull=False),
                name="consent_countersigned_after_signature",
            ),
        ]

    def __str__(self) -> str:
        return f"consent {self.pk}"

    @property
    def route_label(self) -> str:
        return route_label(self.route)

    @property
    def is_current(self) -> bool:
        """Signed by the patient, countersigned by a clinician, not withdrawn."""
        return self.status == self.Status.SIGNED and self.countersigned_at is not None

    @property
    def state(self) -> str:
        """requested / awaiting_countersignature / current / withdrawn."""
        if self.status == self.Status.WITHDRAWN:
            return "withdrawn"
        if self.status == self.Status.REQUESTED:
            return "requested"
        return "current" if self.countersigned_at is not None else "awaiting_countersignature"

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


STATE_LABELS = {
    "none": "No consent",
    "requested": "Waiting for the patient's signature",
    "awaiting_countersignature": "Signed, awaiting countersignature",
    "current": "Current",
    "withdrawn": "Withdrawn",
}
