"""Appointments in rooms and chairs with staff, and the rule that nothing is double-booked.

No double booking is enforced by the database on SQLite and PostgreSQL alike: an appointment claims
every `SLOT_MINUTES` slot of its time for its room and for each of its staff as `Occupancy` rows, and
unique constraints on (room, slot) and (staff, slot) let exactly one of two simultaneous bookings
commit. Appointments therefore start and end on the slot grid. Cancelling or marking a no-show
releases the claim; the appointment row stays for the record.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.accounts.models import StaffMember
from ketaflow.clinics.models import Clinic, OpeningHours, Room, TenantModel
from ketaflow.measurement.models import Treatment
from ketaflow.patients.models import PatientChild

SLOT_MINUTES = 5


class AppointmentType(TenantModel):
    """A kind of visit: its length, the room it needs, the roles that must be on the booking, and
    the instructions the reminder carries (fasting, escort, playlist)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=30)
    name = models.CharField(max_length=100)
    minutes = models.PositiveSmallIntegerField()
    room_kind = models.CharField(
        max_length=20,
        choices=Room.Kind.choices,
        blank=True,
        help_text="Blank for a visit that needs no room (telehealth)",
    )
    required_roles = models.JSONField(default=list, help_text="Roles one of the booked staff must hold each")
    route = models.CharField(max_length=20, blank=True, help_text="The treatment route, for treatment visits")
    telehealth = models.BooleanField(default=False)
    instructions = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="appointment_type_key"),
            models.CheckConstraint(condition=models.Q(minutes__gt=0), name="appointment_type_minutes"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_treatment(self) -> bool:
        return bool(self.route)


class StaffHours(TenantModel):
    """When a staff member works at a clinic: one interval on one weekday, in the clinic's time."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="working_hours")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=OpeningHours.WEEKDAYS)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends__gt=models.F("starts")), name="staff_hours_order"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="staff_hours_weekday"),
        ]


class ClosedDay(TenantModel):
    """A holiday or closure: one clinic, or every clinic of the organization when `clinic` is empty."""

    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "clinic", "day"], name="closed_day_once"),
        ]


class Appointment(PatientChild):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    phase = models.CharField(max_length=15, blank=True)
    series_number = models.PositiveSmallIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    treatment = models.OneToOneField(
        Treatment, null=True, blank=True, on_delete=models.PROTECT, related_name="appointment"
    )
    notes = models.CharField(max_length=300, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["organization", "clinic", "starts_at"], name="appointment_org_clinic_start"),
            models.Index(fields=["organization", "patient", "starts_at"], name="appointment_org_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["booked", "arrived", "completed"])
                | ~models.Q(status_reason=""),
                name="appointment_cancel_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


ACTIVE = (Appointment.Status.BOOKED, Appointment.Status.ARRIVED, Appointment.Status.COMPLETED)
"""An appointment in these holds its time: shown on the calendars, counted in its plan's series."""
OPEN = (Appointment.Status.BOOKED, Appointment.Status.ARRIVED)
"""An appointment in these is still to happen: upcoming, and it can be completed or cancelled."""


class AppointmentStaff(TenantModel):
    """A staff member on an appointment, and the role they fill on it."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="staff_rows")
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appointment", "staff"], name="appointment_staff_once"),
        ]


class Occupancy(TenantModel):
    """One SLOT_MINUTES slot of a room or of a staff member, claimed by one appointment."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    slot = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "slot"], condition=models.Q(room__isnull=False), name="occupancy_room_slot"
            ),
            models.UniqueConstraint(
                fields=["staff", "slot"], condition=models.Q(staff__isnull=False), name="occupancy_staff_slot"
            ),
            models.CheckConstraint(
                condition=models.Q(room__isnull=False, staff__isnull=True)
                | models.Q(room__isnull=True, staff__isnull=False),
                name="occupancy_room_or_staff",
            ),
        ]
        indexes = [models.Index(fields=["organization", "slot"], name="occupancy_org_slot")]


class WaitlistEntry(PatientChild):
    """A patient waiting for an earlier or any slot of a type, between two dates."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    earliest = models.DateField()
    latest = models.DateField(null=True, blank=True)
    notes = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["recorded_at"]


class CalendarFeed(TenantModel):
    """A secret iCalendar feed URL for one patient or one staff member. Only the SHA-256 of the
    token is stored; the URL is shown once. Patient feeds carry no clinical detail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    staff = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patient__isnull=False, staff__isnull=True)
                | models.Q(patient__isnull=True, staff__isnull=False),
                name="calendar_feed_one_owner",
            ),
        ]


class SchedulingSettings(TenantModel):
    """Per organization: reminders and the feed title (every number a clinic setting)."""

    reminder_hours_before = models.PositiveSmallIntegerField(default=24)
    reminders_enabled = models.BooleanField(default=True)
    patient_feed_title = models.CharField(
        max_length=100,
        default="Appointment at {clinic}",
        help_text="What a patient's calendar shows; keep clinical words out of it",
    )
    series_search_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="Extra days either side of a protocol's own tolerance when laying out a series",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="scheduling_settings_once")]
