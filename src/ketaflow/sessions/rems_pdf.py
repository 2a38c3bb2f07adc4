"""The REMS Patient Monitoring Form as a PDF: every answer with its label, the detail it came from,
and the answers the record could not give marked for the clinician to complete.

Rendered by WeasyPrint from an HTML template (like the consent PDF); producing the file is an
EXPORT audit event.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Organization
from ketaflow.measurement.pdf import render_pdf

from .models import RemsForm
from .rems import open_form


@dataclass(frozen=True)
class RemsPdf:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Section:
    title: str
    fields: list[dict[str, Any]]


def sections(form: RemsForm) -> list[Section]:
    """The stored answers grouped by the form's sections, in order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in form.fields.get("fields", []):
        grouped.setdefault(str(item.get("section", "")), []).append(item)
    return [Section(title, items) for title, items in grouped.items()]


def missing_labels(form: RemsForm) -> list[str]:
    return [str(item["label"]) for item in form.fields.get("fields", []) if item.get("missing")]


def filename_for(form: RemsForm) -> str:
    """`rems-monitoring-<MRN>-<treatment date>.pdf`, the MRN reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", form.patient.mrn) or "patient"
    return f"rems-monitoring-{safe}-{form.session.checked_in_at:%Y%m%d}.pdf"


def rems_html(form: RemsForm, *, now: datetime) -> str:
    clinic = form.session.clinic or form.patient.home_clinic
    organization = Organization.objects.only("name").get(pk=form.organization_id)
    with timezone.override(clinic.timezone):
        return render_to_string(
            "sessions/rems_pdf.html",
            {
                "organization": organization,
                "clinic": clinic,
                "form": form,
                "patient": form.patient,
                "sections": sections(form),
                "missing": missing_labels(form),
                "generated_at": now,
                "timezone_name": clinic.timezone,
            },
        )


def rems_form_pdf(actor: Actor, form_id: uuid.UUID | str) -> RemsPdf:
    """The form as a PDF for staff with clinical view. Audited as EXPORT."""
    form = open_form(actor, form_id, purpose="pdf")
    document = RemsPdf(filename_for(form), render_pdf(rems_html(form, now=timezone.now())))
    with transaction.atomic():
        record(
            actor,
            Action.EXPORT,
            "RemsForm",
            form.pk,
            patient_id=form.patient_id,
            detail={"format": "pdf", "document": "rems-monitoring-form"},
        )
    return document
