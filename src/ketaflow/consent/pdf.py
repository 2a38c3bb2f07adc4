"""The consent as a PDF: the exact text signed, its version and hash, the signature, countersignature
and any withdrawal, with times in the patient's home clinic's time zone.

Staff download it from the chart, the patient from the portal (once signed), and on countersigning it
is emailed to the patient after the commit. Each copy that leaves ketaflow is an EXPORT audit event.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.roles import Permission
from ketaflow.audit.models import Action
from ketaflow.audit.trail import record
from ketaflow.clinics.models import Organization
from ketaflow.measurement.patient_views import crisis_resources
from ketaflow.measurement.pdf import render_pdf
from ketaflow.portal.models import PortalAccount
from ketaflow.portal.services import portal_actor
from ketaflow.validation import NotFound

from .models import Consent
from .services import account_consent, consents_of, open_consent
from .signature import data_url
from .text import blocks

log = logging.getLogger(__name__)
EMAIL_SUBJECT = "Your signed consent form"


@dataclass(frozen=True)
class ConsentPdf:
    filename: str
    content: bytes


def filename_for(consent: Consent) -> str:
    """`consent-<MRN>-<route>-v<version>.pdf`; anything but letters, digits, dot, dash and underscore
    in the MRN is replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", consent.patient.mrn) or "patient"
    return f"consent-{safe}-{consent.route}-v{consent.template.version}.pdf"


def _person(user: object) -> str:
    if user is None:
        return ""
    name = user.get_full_name() or user.username  # type: ignore[attr-defined]
    return str(name)


def consent_html(consent: Consent, *, now: datetime) -> str:
    """The document as HTML: what the patient read, then the signature block."""
    patient = consent.patient
    template = consent.template
    organization = Organization.objects.only("name", "country").get(pk=consent.organization_id)
    with timezone.override(patient.home_clinic.timezone):
        return render_to_string("consent/pdf/consent.html", {
            "organization": organization,
            "clinic": patient.home_clinic,
            "patient": patient,
            "consent": consent,
            "template": template,
            "blocks": blocks(template.body),
            "signature_url": data_url(consent.signature_png),
            "witness": _person(consent.witnessed_by),
            "countersigner": _person(consent.countersigned_by),
            "withdrawn_by": _person(consent.withdrawn_recorded_by),
            "generated_at": now,
            "timezone_name": patient.home_clinic.timezone,
        })


def _render(consent: Consent) -> ConsentPdf:
    return ConsentPdf(filename_for(consent), render_pdf(consent_html(consent, now=timezone.now())))


def consent_pdf(actor: Actor, consent_id: uuid.UUID | str) -> ConsentPdf:
    """The PDF for staff with clinical view (any state; an unsigned one says so). Audited as EXPORT."""
    actor.require(Permission.VIEW_CLINICAL)
    consent = open_consent(actor, consent_id, purpose="pdf")
    document = _render(consent)
    with transaction.atomic():
        record(actor, Action.EXPORT, "Consent", consent.pk, patient_id=consent.patient_id,
               detail={"format": "pdf", "document": "consent", "version": consent.template.version})
    return document


def patient_consent_pdf(
    account: PortalAccount, consent_id: uuid.UUID | str, ip_address: str | None
) -> ConsentPdf:
    """The patient's own copy of a consent they signed (NotFound before signing). Audited as EXPORT."""
    consent = account_consent(account, consent_id, ip_address, purpose="pdf")
    if consent.signed_at is None:
        raise NotFound("consent")
    document = _render(consent)
    with transaction.atomic():
        record(portal_actor(account, ip_address), Action.EXPORT, "Consent", consent.pk,
               patient_id=consent.patient_id,
               detail={"format": "pdf", "document": "consent", "version": consent.template.version})
    return document


def email_copy_after_commit(actor: Actor, consent_id: uuid.UUID) -> None:
    """Send the patient their copy once the caller's transaction has committed."""
    transaction.on_commit(lambda: send_copy(actor, consent_id))


def send_copy(actor: Actor, consent_id: uuid.UUID) -> bool:
    """Email the PDF to the patient's address on file; True when the mail server accepted it.

    Never raises: the countersignature already stands, so a failure is logged (its type only, no
    patient data) and leaves `copy_emailed_at` empty for staff to see and download instead.
    """
    consent = (
        consents_of(actor.organization_id)
        .select_related("template", "patient__home_clinic", "witnessed_by", "countersigned_by",
                        "withdrawn_recorded_by")
        .filter(pk=consent_id)
        .first()
    )
    if consent is None or not consent.patient.email:
        return False
    try:
        document = _render(consent)
        message = EmailMessage(EMAIL_SUBJECT, _email_body(consent), None, [consent.patient.email])
        message.attach(document.filename, document.content, "application/pdf")
        message.send()
    except Exception as exc:  # rendering or sending: neither may undo the countersignature
        log.warning("consent copy email failed (%s)", type(exc).__name__)
        return False
    with transaction.atomic():
        Consent.objects.filter(pk=consent.pk).update(copy_emailed_at=timezone.now())
        record(actor, Action.EXPORT, "Consent", consent.pk, patient_id=consent.patient_id,
               detail={"format": "pdf", "document": "consent", "delivery": "email",
                       "version": consent.template.version})
    return True


def _email_body(consent: Consent) -> str:
    """Names the clinic only: the patient's details are in the attachment, not the message."""
    clinic = consent.patient.home_clinic.name
    crisis = "\n".join(f"- {r['label']}: {r['contact']}" for r in crisis_resources(consent.organization_id))
    return (
        f"{clinic} has countersigned the consent form you signed. Your copy is attached as a PDF; "
        "keep it for your records. You can also download it from the patient portal.\n\n"
        "You may withdraw your consent at any time: tell the clinic, or use the patient portal.\n\n"
        f"If you are thinking about harming yourself or are in danger, get help now:\n{crisis}\n"
    )

