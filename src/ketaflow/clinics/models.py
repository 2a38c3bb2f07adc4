"""Tenancy: an Organization (a practice or a network) and its Clinics, rooms and opening hours.

The organization is the tenant. Every table holding patient data carries `organization_id`, the
key a network would later distribute on (Citus), and every query is scoped by it.
"""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from ketaflow.validation import NotFound


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example America/Denver)")


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    country = models.CharField(
        max_length=2, default="US", help_text="ISO country code; sets how phone numbers are read."
    )
    next_mrn = models.PositiveBigIntegerField(default=1, editable=False)
    mrn_prefix = models.CharField(max_length=8, default="KF")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet):
    """Every tenant table's queries start from `for_organization`, never from `.all()`."""

    def for_organization(self, organization_id: uuid.UUID) -> TenantQuerySet:
        return self.filter(organization_id=organization_id)

    def one(self, pk: object, what: str) -> Any:
        """The row with primary key `pk`, or NotFound. A malformed id, or a row of another
        organization (when the queryset is scoped), is equally not found."""
        try:
            key = uuid.UUID(str(pk))
        except ValueError as exc:
            raise NotFound(what) from exc
        found = self.filter(pk=key).first()
        if found is None:
            raise NotFound(what)
        return found


class TenantModel(models.Model):
    """Base for every table that belongs to one organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Clinic(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="clinic_name_unique_in_org")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        parts = [self.address_line1, self.address_line2, self.city, self.region, self.postal_code]
        return ", ".join(p for p in parts if p)


class OpeningHours(TenantModel):
    """One opening interval on one weekday (0 = Monday), in the clinic's own time zone."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="opening_hours_close_after_open"
            ),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="opening_hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Room(TenantModel):
    """A bookable place in a clinic: a consultation room, a treatment room or an infusion chair."""

    class Kind(models.TextChoices):
        CONSULT = "consult", "Consultation room"
        TREATMENT = "treatment", "Treatment room"
        CHAIR = "chair", "Treatment chair"
        RECOVERY = "recovery", "Recovery bay"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CHAIR)
    is_active = models.BooleanField(default=True)
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["clinic__name", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="room_name_unique_in_clinic")]

    def __str__(self) -> str:
        return f"{self.clinic.name} · {self.name}"
