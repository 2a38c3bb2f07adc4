"""Pluggable text-message sending, configured by `KETAFLOW_SMS_BACKEND` (a dotted class path).

Shipped: `ConsoleSMSBackend` (demo: prints the message), `MemorySMSBackend` (tests: keeps them in
`outbox`). A deployment adds its carrier by writing a class with `send(to, body)` that raises
`SMSError` on failure, and naming it in the setting (docs/operations.md). Empty means no SMS.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import ClassVar, Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class SMSError(Exception):
    """The message was not accepted by the carrier."""


class SMSBackend(Protocol):
    def send(self, to: str, body: str) -> None: ...


@dataclass(frozen=True)
class SentSMS:
    to: str
    body: str


class ConsoleSMSBackend:
    """Writes the message to standard output, like Django's console email backend."""

    def send(self, to: str, body: str) -> None:
        sys.stdout.write(f"--- SMS to {to} ---\n{body}\n")
        sys.stdout.flush()


class MemorySMSBackend:
    """Keeps messages in memory for tests."""

    outbox: ClassVar[list[SentSMS]] = []

    def send(self, to: str, body: str) -> None:
        MemorySMSBackend.outbox.append(SentSMS(to, body))


def sms_backend() -> SMSBackend | None:
    """The configured backend, or None when SMS is switched off."""
    path = getattr(settings, "KETAFLOW_SMS_BACKEND", "")
    if not path:
        return None
    backend: SMSBackend = import_string(path)()
    return backend


def send_to_patient(phone: str, email: str, *, by_sms: bool, subject: str, body: str, what: str) -> bool:
    """Send a message that names the clinic only, by text or email; True when the carrier or mail
    server accepted it. A failure is logged by kind (`what` says which message), never with the
    address or the text."""
    try:
        if by_sms:
            backend = sms_backend()
            if backend is None:
                return False
            backend.send(phone, body)
        else:
            send_mail(subject, body, None, [email])
    except (SMSError, OSError) as exc:
        log.warning("%s delivery failed (%s)", what, type(exc).__name__)
        return False
    return True
