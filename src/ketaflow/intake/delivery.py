"""Sending the intake link by email or text message, and showing it in person (link and QR code).

The message names the clinic only, never the patient or what the form asks, since phones and
mailboxes are read by others. Nothing about the patient is logged when sending fails.
"""

from __future__ import annotations

import logging

from django.conf import settings

from ketaflow.measurement.chart_views import qr_svg
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.measurement.sms import send_to_patient, sms_backend
from ketaflow.patients.models import Patient

from .models import Intake
from .services import LINK_LIFETIME_DAYS, IssuedIntake

log = logging.getLogger(__name__)

__all__ = ["deliver", "link_url", "message_for", "qr_svg", "sms_ready"]


def link_url(issued: IssuedIntake) -> str:
    return f"{settings.KETAFLOW_BASE_URL}{issued.path}"


def sms_ready() -> bool:
    return sms_backend() is not None


def message_for(patient: Patient, issued: IssuedIntake) -> tuple[str, str]:
    """(subject, body): what the clinic asks, the link, how long it works, and the crisis resources."""
    clinic = patient.home_clinic.name
    crisis = "; ".join(f"{r['label']}: {r['contact']}" for r in crisis_resources(patient.organization_id))
    subject = f"{clinic}: your form before your consultation"
    body = (
        f"{clinic} asks you to fill in a form about your health before your consultation.\n\n"
        f"{link_url(issued)}\n\n"
        f"The link works for {LINK_LIFETIME_DAYS} days. You can stop and come back to it with the same link. "
        f"The form is not watched in real time. If you are in crisis, get help now: {crisis}."
    )
    return subject, body


def deliver(patient: Patient, issued: IssuedIntake) -> bool:
    """Send the link by the intake's channel; True when the mail server or carrier accepted it."""
    subject, body = message_for(patient, issued)
    by_sms = issued.intake.channel == Intake.Channel.SMS
    return send_to_patient(patient.phone_mobile, patient.email, by_sms=by_sms, subject=subject, body=body,
                           what="intake link")
