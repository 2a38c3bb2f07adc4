"""What a dose is calculated from, read from the chart: the latest weight and height (VitalSigns),
sex at birth and age today in the patient's clinic time zone. Each value says where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketaflow.clinical.demographics import age_on
from ketaflow.clinical.prescribing import PatientMeasures
from ketaflow.patients.models import Patient, VitalSigns


@dataclass(frozen=True)
class ChartMeasures:
    """The measures and one line per value saying where it came from (shown beside the dose)."""

    measures: PatientMeasures
    sources: tuple[str, ...]
    today: date


def clinic_today(patient: Patient) -> date:
    """Today's date in the patient's home clinic."""
    return timezone.localtime(timezone.now(), _zone(patient)).date()


def _zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.home_clinic.timezone)


def _on(patient: Patient, row: VitalSigns) -> str:
    return f"{timezone.localtime(row.measured_at, _zone(patient)):%m/%d/%Y}"


def chart_measures(patient: Patient) -> ChartMeasures:
    """The latest recorded weight and height (each may be missing), sex at birth and age today."""
    rows = VitalSigns.objects.for_organization(patient.organization_id).filter(patient=patient)
    weighed = rows.filter(weight_kg__isnull=False).order_by("-measured_at").first()
    measured = rows.filter(height_cm__isnull=False).order_by("-measured_at").first()
    today = clinic_today(patient)
    sources = []
    weight: Decimal | None = None
    height: Decimal | None = None
    if weighed is not None:
        weight = weighed.weight_kg
        sources.append(f"weight {weight} kg, vital signs of {_on(patient, weighed)}")
    else:
        sources.append("no weight recorded")
    if measured is not None:
        height = measured.height_cm
        sources.append(f"height {height} cm, vital signs of {_on(patient, measured)}")
    sex = patient.sex_at_birth if patient.sex_at_birth in ("female", "male") else ""
    sources.append(f"sex at birth: {patient.get_sex_at_birth_display().lower()}")
    age = age_on(patient.date_of_birth, today)
    sources.append(f"age {age} on {today:%m/%d/%Y}")
    return ChartMeasures(PatientMeasures(weight, height, sex, age), tuple(sources), today)
