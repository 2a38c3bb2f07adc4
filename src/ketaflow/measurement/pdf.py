"""The progress summary as a PDF, for a referring clinician.

One page set per patient: the clinic, the patient (name, date of birth, MRN), the date range, then
per instrument its chart (the same inline SVG as the chart tab), the scores, baseline, latest and
change, and the outcome judgements with their reasons; the treatment dates; a footer saying the
scores are decision support. Rendered by WeasyPrint from an HTML template. Reading the patient is
audited by `open_patient`; producing the file is an EXPORT event.
"""

from __future__ import annotations

import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinical.outcomes import Judgement
from ketaflow.clinics.models import Organization
from ketaflow.patients.models import Patient
from ketaflow.patients.services import open_patient

from .models import Treatment
from .progress import InstrumentProgress, patient_progress

CHART_WIDTH = 640
CHART_HEIGHT = 220


@dataclass(frozen=True)
class SummaryPdf:
    filename: str
    content: bytes


@dataclass(frozen=True)
class JudgementRow:
    name: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class InstrumentSection:
    progress: InstrumentProgress
    chart_svg: str
    judgements: list[JudgementRow]

    @property
    def instrument(self) -> Any:
        return self.progress.instrument


def _verdict(judgement: Judgement) -> str:
    if judgement.value is None:
        return "Not yet judged"
    return "Yes" if judgement.value else "No"


def _section(item: InstrumentProgress) -> InstrumentSection:
    outcome = item.outcome
    judgements = [
        JudgementRow("Response", _verdict(outcome.response), outcome.response.reason),
        JudgementRow("Remission", _verdict(outcome.remission), outcome.remission.reason),
        JudgementRow("Relapse", _verdict(outcome.relapse), outcome.relapse.reason),
        JudgementRow("Non-response", _verdict(outcome.non_response), outcome.non_response.reason),
    ]
    if item.instrument.scoring.method == "risk_level":
        judgements = []  # response and remission do not apply to a risk screen
    return InstrumentSection(item, item.chart(width=CHART_WIDTH, height=CHART_HEIGHT), judgements)


def filename_for(patient: Patient) -> str:
    """`progress-<MRN>.pdf`, with anything but letters, digits, dot, dash and underscore replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", patient.mrn) or "patient"
    return f"progress-{safe}.pdf"


def summary_html(patient: Patient, progress: list[InstrumentProgress], *, now: datetime) -> str:
    """The summary document as HTML (dates in the patient's home clinic's time zone)."""
    treatments = list(
        Treatment.objects.for_organization(patient.organization_id)
        .filter(patient=patient, status=Treatment.Status.GIVEN)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
    )
    moments = [p.at for item in progress for p in item.points]
    organization = Organization.objects.only("name").get(pk=patient.organization_id)
    with timezone.override(patient.home_clinic.timezone):
        return render_to_string("measurement/pdf/summary.html", {
            "organization": organization,
            "clinic": patient.home_clinic,
            "patient": patient,
            "sections": [_section(item) for item in progress],
            "treatments": treatments,
            "first_at": min(moments) if moments else None,
            "last_at": max(moments) if moments else None,
            "generated_at": now,
        })


def render_pdf(html: str) -> bytes:
    """The HTML as PDF bytes. WeasyPrint is imported here, not at start-up: it loads Pango, which
    only this export needs. Without the optional HarfBuzz-subset library it warns that a future
    version will need it; today it embeds whole fonts instead, so that warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        from weasyprint import HTML

    return HTML(string=html).write_pdf()


def progress_summary(actor: Actor, patient_id: uuid.UUID | str) -> SummaryPdf:
    """The patient's progress summary as a PDF. Raises NotFound or Forbidden (needs clinical view)."""
    actor.require(Permission.VIEW_CLINICAL)
    patient = open_patient(actor, patient_id, purpose="progress-summary")
    progress = patient_progress(patient)
    now = timezone.now()
    content = render_pdf(summary_html(patient, progress, now=now))
    with transaction.atomic():
        record(actor, Action.EXPORT, "Patient", patient.pk, patient_id=patient.pk,
               detail={"format": "pdf", "document": "progress-summary",
                       "instruments": [item.instrument.id for item in progress]})
    return SummaryPdf(filename_for(patient), content)
