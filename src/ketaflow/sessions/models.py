"""Storage for treatment sessions: the chairside record from check-in to the signed note.

A `TreatmentSession` belongs to one appointment (or, at home, to none) and one signed plan. It keeps a
copy of the monitoring rules and the plan's dose as they were when the patient checked in, so later
edits of the protocol or plan never rewrite what happened. Vital signs are `patients.VitalSigns`
rows (context "session") linked by `SessionVitals`; questionnaire scores (CADSS-6, MOAA/S) are
`measurement.QuestionnaireResponse` rows linked by `SessionScore`. Dose events and amendments are
append-only. Every table carries the organization (tenant) key.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from ketaflow.clinical.dose_events import EventKind
from ketaflow.clinics.models import Clinic, Organization, TenantModel
from ketaflow.measurement.models import QuestionnaireResponse
from ketaflow.patients.models import PatientChild, VitalSigns
from ketaflow.plans.models import TreatmentPlan
from ketaflow.scheduling.models import Appointment

USER = settings.AUTH_USER_MODEL


def _mg(**options: Any) -> Any:
    """A quantity of drug in mg."""
    return models.DecimalField(max_digits=9, decimal_places=3, **options)


def _ml(**options: Any) -> Any:
    """A volume in mL."""
    return models.DecimalField(max_digits=8, decimal_places=2, **options)


class AppendOnly(models.Model):
    """A row that is written once: saving it again or deleting it raises."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{type(self).__name__} rows are append-only")


class SessionSettings(models.Model):
    """A practice's session settings: discharge pass marks, the REMS window, the rescue formulary."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    aldrete_minimum = models.PositiveSmallIntegerField(default=9)
    aldrete_alternative = models.PositiveSmallIntegerField(
        null=True, blank=True, default=8, help_text="Allowed with 2 on respiration and oxygen saturation"
    )
    rems_due_days = models.PositiveSmallIntegerField(default=7)
    formulary = models.JSONField(null=True, blank=True, help_text="The rescue formulary; empty = the default")
    discharge_instructions = models.TextField(
        default=(
            "Do not drive, operate machinery or make important decisions until tomorrow after a night's "
            "sleep. Have someone stay with you this evening. Drink fluids and eat lightly. Call the clinic "
            "with any new or worsening symptoms."
        )
    )
    updated_at = models.DateTimeField(auto_now=True)


class TreatmentSession(PatientChild):
    class Status(models.TextChoices):
        CHECKED_IN = "checked_in", "Checked in"
        DOSING = "dosing", "Dosing"
        RECOVERY = "recovery", "Recovery"
        DISCHARGED = "discharged", "Discharged"
        SIGNED = "signed", "Signed"
        BLOCKED = "blocked", "Blocked"
        CANCELLED = "cancelled", "Cancelled"

    class Setting(models.TextChoices):
        CLINIC = "clinic", "Clinic"
        HOME = "home", "Home"

    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="session"
    )
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="sessions")
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    setting = models.CharField(max_length=10, choices=Setting.choices, default=Setting.CLINIC)
    route = models.CharField(max_length=20)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHECKED_IN)
    status_reason = models.CharField(max_length=300, blank=True)
    checked_in_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The rules and dose as they were at check-in.
    protocol_label = models.CharField(max_length=240)
    monitoring = models.JSONField(help_text="monitoring.MonitoringRules.as_dict() at check-in")
    planned_mg = _mg()
    dose_summary = models.CharField(max_length=200)
    dose_arithmetic = models.JSONField(default=list)
    # Pre-session checklist and readiness.
    checklist = models.JSONField(default=dict, blank=True)
    pre_dose_vitals = models.ForeignKey(
        VitalSigns, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    readiness = models.JSONField(null=True, blank=True, help_text="monitoring.Readiness.as_dict()")
    readiness_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    override_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What was given (computed from the dose events when dosing ends).
    delivered_mg = _mg(null=True, blank=True)
    delivered_ml = _ml(null=True, blank=True)
    dosing_started_at = models.DateTimeField(null=True, blank=True)
    dosing_ended_at = models.DateTimeField(null=True, blank=True)
    reconciliation = models.JSONField(null=True, blank=True, help_text="controlled.SessionReconciliation")
    reconciled = models.BooleanField(null=True, blank=True)
    # Recovery and discharge.
    aldrete = models.JSONField(null=True, blank=True)
    aldrete_total = models.PositiveSmallIntegerField(null=True, blank=True)
    aldrete_at = models.DateTimeField(null=True, blank=True)
    ready_to_leave_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the patient would have been ready without the minimum time (REMS)",
    )
    escort_handover_name = models.CharField(max_length=120, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    discharge_override_reason = models.CharField(max_length=300, blank=True)
    instructions_sent = models.JSONField(default=list, blank=True, help_text="[{channel, at}]")
    # The note: assembled, then signed and locked.
    note = models.TextField(blank=True)
    signed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-checked_in_at"]
        indexes = [
            models.Index(fields=["organization", "status", "checked_in_at"], name="session_org_status"),
            models.Index(fields=["organization", "patient", "checked_in_at"], name="session_org_patient"),
        ]

    def __str__(self) -> str:
        return f"session {self.checked_in_at:%Y-%m-%d}"

    @property
    def is_locked(self) -> bool:
        return self.signed_at is not None


class DosePreparation(PatientChild):
    """What was drawn up for a session, from which lot, and who checked it."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="preparations")
    lot = models.ForeignKey("ledger.Lot", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("ledger.StorageLocation", on_delete=models.PROTECT, related_name="+")
    concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    volume_drawn_ml = _ml(null=True, blank=True)
    units = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Devices or troches, when counted"
    )
    drawn_mg = _mg()
    bag_ml = _ml(null=True, blank=True)
    pump_rate_ml_per_h = _ml(null=True, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    prepared_at = models.DateTimeField()
    verified_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    ledger_entry = models.OneToOneField(
        "ledger.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="preparation"
    )

    class Meta:
        ordering = ["prepared_at"]


class DoseEvent(AppendOnly, PatientChild):
    """One timestamped change to the dose being given (append-only)."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="dose_events")
    kind = models.CharField(max_length=8, choices=[(k.value, k.label) for k in EventKind])
    at = models.DateTimeField()
    rate_ml_per_h = _ml(null=True, blank=True)
    amount_mg = _mg(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "recorded_at"]


class SessionVitals(TenantModel):
    """Links a set of vital signs to the session it was taken in."""

    class Phase(models.TextChoices):
        PRE_DOSE = "pre_dose", "Before dosing"
        DOSING = "dosing", "During dosing"
        RECOVERY = "recovery", "Recovery"

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered"
        MONITOR = "monitor", "Monitor feed"

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="vital_links")
    vitals = models.OneToOneField(VitalSigns, on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    measured_at = models.DateTimeField()
    device = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["measured_at"]
        indexes = [models.Index(fields=["session", "measured_at"], name="session_vitals_time")]


class VitalAlert(PatientChild):
    """A reading that crossed the protocol's limit; it stays open until someone responds."""

    class Response(models.TextChoices):
        PAUSE_INFUSION = "pause_infusion", "Paused the infusion"
        GIVE_MEDICATION = "give_medication", "Gave a medication"
        CALL_PRESCRIBER = "call_prescriber", "Called the prescriber"

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="alerts")
    vitals = models.ForeignKey(VitalSigns, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=30)
    value = models.DecimalField(max_digits=6, decimal_places=1)
    direction = models.CharField(max_length=5)
    limit_text = models.CharField(max_length=120)
    message = models.CharField(max_length=300)
    source = models.CharField(max_length=400)
    raised_at = models.DateTimeField()
    response = models.CharField(max_length=20, choices=Response.choices, blank=True)
    response_note = models.CharField(max_length=300, blank=True)
    responded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at"]
        indexes = [models.Index(fields=["organization", "session", "responded_at"], name="vital_alert_open")]

    @property
    def is_open(self) -> bool:
        return self.responded_at is None


class SideEffect(PatientChild):
    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="side_effects")
    kind = models.CharField(max_length=30)
    severity = models.CharField(max_length=10)
    onset_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["onset_at"]


class RescueDose(PatientChild):
    """A rescue medication given in the session, from the clinic's formulary."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="rescue_doses")
    drug_key = models.CharField(max_length=40)
    drug_name = models.CharField(max_length=100)
    dose_mg = _mg()
    route = models.CharField(max_length=10)
    given_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    controlled = models.BooleanField(default=False)
    override_reason = models.CharField(max_length=300, blank=True)
    alert = models.ForeignKey(VitalAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("ledger.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ledger_entry = models.OneToOneField(
        "ledger.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="rescue_dose"
    )

    class Meta:
        ordering = ["given_at"]


class SessionScore(TenantModel):
    """A CADSS-6 or MOAA/S scored during the session (the response holds the answers)."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="scores")
    response = models.OneToOneField(QuestionnaireResponse, on_delete=models.PROTECT, related_name="+")
    instrument_id = models.CharField(max_length=40)
    value = models.FloatField()
    scored_at = models.DateTimeField()

    class Meta:
        ordering = ["scored_at"]


class NoteAmendment(AppendOnly, PatientChild):
    """A change to a signed note: the reason, the new text and the text it replaced."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="amendments")
    reason = models.CharField(max_length=300)
    previous_note = models.TextField()
    note = models.TextField()

    class Meta:
        ordering = ["recorded_at"]


class RemsEnrolment(PatientChild):
    """The patient's Spravato REMS enrolment, needed before the first esketamine dose."""

    enrolled_on = models.DateField()
    rems_patient_id = models.CharField("REMS patient ID", max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient"], name="rems_enrolment_one_per_patient")
        ]


class RemsForm(PatientChild):
    """The Spravato REMS Patient Monitoring Form of one esketamine session (reference §4)."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        SUBMITTED = "submitted", "Submitted"

    session = models.OneToOneField(TreatmentSession, on_delete=models.PROTECT, related_name="rems_form")
    due_on = models.DateField()
    fields = models.JSONField(help_text="The form's answers, filled from the session")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DUE)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    confirmation = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["due_on"]
        indexes = [models.Index(fields=["organization", "status", "due_on"], name="rems_form_due")]


class HomeSession(PatientChild):
    """What the patient or their monitor records around an at-home dose."""

    session = models.OneToOneField(TreatmentSession, on_delete=models.PROTECT, related_name="home")
    monitor_name = models.CharField(max_length=120, blank=True)
    monitor_attested_at = models.DateTimeField(null=True, blank=True)
    dose_taken_mg = _mg(null=True, blank=True)
    dose_taken_at = models.DateTimeField(null=True, blank=True)
    check_in_due_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    feeling = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-10, after the session")
    experience_notes = models.TextField(blank=True)
    missed_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "check_in_due_at"], name="home_session_due")]
