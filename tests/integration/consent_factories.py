"""Consent test data: requested, signed and countersigned consents, a real small PNG signature, and a
patient signed in to the portal. Every name here is synthetic. (This module holds no tests.)"""

from __future__ import annotations

import base64
import re
import struct
import zlib

from django.core import mail
from django.test import Client

from ketaflow.accounts.roles import Role
from ketaflow.consent import services, signing
from ketaflow.consent.models import Consent
from ketaflow.consent.text import text_hash
from ketaflow.portal.services import invite_to_portal
from tests.factories import actor_of

PORTAL_PASSWORD = "a quiet lake at dawn 42"


def png_bytes(width: int = 8, height: int = 4) -> bytes:
    """A real, valid PNG: white pixels, 8-bit greyscale."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def png_data_url(width: int = 8, height: int = 4) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()


def legal_name(patient) -> str:
    return f"{patient.legal_given_name} {patient.legal_family_name}"


def signing_for(consent: Consent, **overrides) -> signing.Signing:
    """A signing that passes: the patient's legal name, a drawn PNG, agreed, the text's hash."""
    values = {
        "typed_name": legal_name(consent.patient),
        "signature": png_data_url(),
        "agreed": True,
        "text_hash": text_hash(consent.template),
    }
    values.update(overrides)
    return signing.Signing(**values)


DEVICE = signing.Device("203.0.113.7", "Mozilla/5.0 (Tablet; synthetic test browser)")


def requested(practice, route: str = "iv", patient=None) -> Consent:
    """A consent the nurse requested for the practice's patient (or `patient`)."""
    patient = patient or practice.patient
    return services.request_consent(actor_of(practice.staff[Role.NURSE]), patient.pk, route)


def signed(practice, route: str = "iv", patient=None, *, countersigned: bool = False) -> Consent:
    """Requested by the nurse, signed on the nurse's tablet, and (optionally) countersigned by the
    prescriber (no email: the patient has no address unless the test gave one)."""
    consent = requested(practice, route, patient)
    nurse = actor_of(practice.staff[Role.NURSE])
    consent = signing.sign_on_tablet(nurse, consent.pk, signing_for(consent), DEVICE)
    if countersigned:
        consent = services.countersign(actor_of(practice.staff[Role.PRESCRIBER]), consent.pk)
    return Consent.objects.get(pk=consent.pk)


def portal_patient(practice, email: str = "avery.consent@example.test") -> Client:
    """The practice's patient, invited to the portal, activated and signed in."""
    patient = practice.patient
    patient.email = email
    patient.save()
    mail.outbox.clear()
    invite_to_portal(actor_of(practice.staff[Role.NURSE]), patient.pk)
    link = re.search(r"https?://[^/\s]+(/portal/activate/[^/\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    Client().post(link.group(1), {"password": PORTAL_PASSWORD, "confirm": PORTAL_PASSWORD})
    client = Client()
    response = client.post("/portal/login/", {"username": email, "password": PORTAL_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    mail.outbox.clear()
    return client
