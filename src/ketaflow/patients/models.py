"""The patient registry and the chart's foundation: problems, allergies and alerts.

Every table here carries `organization_id` (the tenant key). Patients are archived, never deleted.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaflow.clinics.models import Clinic, TenantModel


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Not recorded"


class GenderIdentity(models.TextChoices):
    WOMAN = "woman", "Woman"
    MAN = "man", "Man"
    NON_BINARY = "non_binary", "Non-binary"
    TRANS_WOMAN = "trans_woman", "Transgender woman"
    TRANS_MAN = "trans_man", "Transgender man"
    SELF_DESCRIBED = "self_described", "Self-described"
    UNDISCLOSED = "undisclosed", "Prefers not to say"


class ContactMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"


class AllergyStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not yet reviewed"
    NONE_KNOWN = "nkda", "No known allergies"
    RECORDED = "recorded", "Allergies recorded"


class Patient(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mrn = models.CharField("MRN", max_length=32)
    home_clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")

    legal_given_name = models.CharField("legal first name", max_length=100)
    legal_middle_name = models.CharField("legal middle name", max_length=100, blank=True)
    legal_family_name = models.CharField("legal last name", max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    gender_identity = models.CharField(max_length=20, choices=GenderIdentity.choices, blank=True)
    gender_identity_text = models.CharField("gender identity (self-described)", max_length=100, blank=True)
    pronouns = models.CharField(max_length=40, blank=True)

    phone_mobile = models.CharField("mobile phone", max_length=20, blank=True)
    phone_home = models.CharField("home phone", max_length=20, blank=True)
    email = models.EmailField(blank=True)
    preferred_contact = models.CharField(
        max_length=10, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)

    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=20, blank=True)

    pharmacy_name = models.CharField("preferred pharmacy", max_length=200, blank=True)
    pharmacy_phone = models.CharField(max_length=20, blank=True)
    pharmacy_address = models.CharField(max_length=300, blank=True)

    primary_care_name = models.CharField("primary-care clinician", max_length=200, blank=True)
    primary_care_practice = models.CharField(max_length=200, blank=True)
    primary_care_phone = models.CharField(max_length=20, blank=True)
    referrer_name = models.CharField("referring clinician", max_length=200, blank=True)
    referrer_practice = models.CharField(max_length=200, blank=True)
    referrer_phone = models.CharField(max_length=20, blank=True)

    allergy_status = models.CharField(
        max_length=10, choices=AllergyStatus.choices, default=AllergyStatus.UNKNOWN
    )
    search_text = models.CharField(max_length=500, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["legal_family_name", "legal_given_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_mrn_unique_in_org"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "legal_family_name", "legal_given_name"], name="patient_org_name"
            ),
            models.Index(fields=["organization", "date_of_birth"], name="patient_org_dob"),
            models.Index(fields=["organization", "phone_mobile"], name="patient_org_mobile"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        given = self.preferred_name or self.legal_given_name
        return f"{given} {self.legal_family_name}"

    @property
    def legal_name(self) -> str:
        parts = [self.legal_given_name, self.legal_middle_name, self.legal_family_name]
        return " ".join(p for p in parts if p)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def gender_label(self) -> str:
        if self.gender_identity == GenderIdentity.SELF_DESCRIBED:
            return self.gender_identity_text
        return self.get_gender_identity_display() if self.gender_identity else ""


class PatientChild(TenantModel):
    """A record in one patient's chart; carries the patient's organization as its tenant key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


class Condition(PatientChild):
    """A problem-list entry, coded in SNOMED CT and ICD-10-CM from the condition catalogue."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REMISSION = "remission", "In remission"
        RESOLVED = "resolved", "Resolved"

    catalogue_id = models.CharField(max_length=40)
    display = models.CharField(max_length=200)
    snomed_code = models.CharField("SNOMED CT", max_length=20, blank=True)
    icd10_code = models.CharField("ICD-10-CM", max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    onset_date = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["status", "display"]
        indexes = [models.Index(fields=["organization", "patient"], name="condition_org_patient")]

    def __str__(self) -> str:
        return self.display


class Allergy(PatientChild):
    class Category(models.TextChoices):
        MEDICATION = "medication", "Medication"
        FOOD = "food", "Food"
        ENVIRONMENT = "environment", "Environment"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        UNKNOWN = "unknown", "Unknown"

    substance = models.CharField(max_length=120)
    category = models.CharField(max_length=12, choices=Category.choices, default=Category.MEDICATION)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.UNKNOWN)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["substance"]
        verbose_name_plural = "allergies"
        indexes = [models.Index(fields=["organization", "patient"], name="allergy_org_patient")]

    def __str__(self) -> str:
        return self.substance


class PatientAlert(PatientChild):
    """A flag shown in the chart header. Front desk sees administrative alerts only."""

    class Category(models.TextChoices):
        SAFETY = "safety", "Safety"
        CLINICAL = "clinical", "Clinical"
        ADMINISTRATIVE = "administrative", "Administrative"

    category = models.CharField(max_length=16, choices=Category.choices)
    message = models.CharField(max_length=300)
    is_active = models.BooleanField(default=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["category", "-recorded_at"]
        indexes = [models.Index(fields=["organization", "patient"], name="alert_org_patient")]

    def __str__(self) -> str:
        return self.message


class Medication(PatientChild):
    """A current or past medication. `catalogue_id` links the medication catalogue (RxNorm and the
    interacting classes eligibility reads); blank means free text, which eligibility reports as
    unclassified rather than as "no interaction"."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Taking"
        STOPPED = "stopped", "Stopped"

    class Source(models.TextChoices):
        PATIENT = "patient", "Reported by the patient"
        CLINICIAN = "clinician", "Recorded by a clinician"

    catalogue_id = models.CharField(max_length=40, blank=True)
    name = models.CharField(max_length=120)
    rxnorm_code = models.CharField("RxNorm", max_length=20, blank=True)
    classes = models.JSONField(default=list, blank=True)
    dose = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CLINICIAN)
    stopped_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["status", "name"]
        indexes = [models.Index(fields=["organization", "patient"], name="medication_org_patient")]

    def __str__(self) -> str:
        return self.name


class VitalSigns(PatientChild):
    """One set of readings taken together (LOINC codes in `ketaflow.clinical.vitals`). Any reading
    may be absent; BMI is derived from weight and height when both are present."""

    class Context(models.TextChoices):
        EVALUATION = "evaluation", "Evaluation"
        SESSION = "session", "Treatment session"
        OTHER = "other", "Other"

    measured_at = models.DateTimeField()
    context = models.CharField(max_length=12, choices=Context.choices, default=Context.EVALUATION)
    systolic_bp = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic_bp = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    oxygen_saturation = models.PositiveSmallIntegerField(null=True, blank=True)
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    bmi = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-measured_at"]
        verbose_name_plural = "vital signs"
        indexes = [
            models.Index(fields=["organization", "patient", "measured_at"], name="vitals_org_patient_time")
        ]

    def __str__(self) -> str:
        return f"vital signs {self.measured_at:%Y-%m-%d %H:%M}"
