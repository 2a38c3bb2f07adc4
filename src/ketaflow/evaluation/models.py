"""The clinician's evaluation: asserted eligibility facts, treatment-resistance staging, labs and ECG.

Diagnoses live on the problem list (`patients.Condition`, SNOMED CT and ICD-10-CM), vital signs in
`patients.VitalSigns`, medications in `patients.Medication` and baseline questionnaires in the
measurement app; the evaluation holds what only the clinician can say. `facts` maps eligibility fact
names (`ketaflow.clinical.eligibility.FACT_SPECS`) to the clinician's answer; a fact absent from it
is not yet known.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.patients.models import PatientChild


class Evaluation(PatientChild):
    class Status(models.TextChoices):
        DRAFT = "draft", "In progress"
        COMPLETED = "completed", "Completed"

    class Result(models.TextChoices):
        NOT_DONE = "", "Not done"
        NORMAL = "normal", "Normal"
        ABNORMAL = "abnormal", "Abnormal"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    facts = models.JSONField(default=dict, blank=True)
    antidepressant_trials = models.JSONField(default=list, blank=True)
    ect_failed = models.BooleanField(null=True, blank=True)
    trd_stage = models.PositiveSmallIntegerField(null=True, blank=True)
    ecg_date = models.DateField(null=True, blank=True)
    ecg_result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    ecg_note = models.CharField(max_length=300, blank=True)
    liver_tests_date = models.DateField(null=True, blank=True)
    liver_tests_result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    urine_drug_screen_date = models.DateField(null=True, blank=True)
    urine_drug_screen_result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["organization", "patient"], name="evaluation_org_patient")]

    def __str__(self) -> str:
        return f"evaluation {self.pk}"
