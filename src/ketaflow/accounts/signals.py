"""Log-ins and log-outs go into the organization's audit trail."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver

from ketaflow.audit.models import Action
from ketaflow.audit.trail import record

from .services import actor_for


def _audit(action: str, request: Any, user: Any) -> None:
    if user is None or request is None:
        return
    actor = actor_for(user, ip_address=get_client_ip_address(request))
    if actor is None:
        return
    with transaction.atomic():
        record(actor, action, "User", user.pk)


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _audit(Action.LOGIN, request, user)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _audit(Action.LOGOUT, request, user)
