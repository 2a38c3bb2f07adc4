"""Who is calling: an API token or the signed-in browser session, turned into an Actor.

Both are scoped like the staff pages: an inactive user, a user without an organization, or a session
without its verified second factor gets no Actor, and without an Actor there is no organization
data. Session calls that change something must carry the CSRF token, as a form post would.
"""

from __future__ import annotations

from typing import Any, cast

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.models import User
from ketaflow.accounts.services import actor_for, user_for_token
from ketaflow.accounts.two_factor import two_factor_required


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`, a token issued with `issue_api_token`."""

    def __call__(self, request: HttpRequest) -> Actor | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None  # never log the header: it is a credential
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        user = user_for_token(token)
        if user is None:
            return None
        return actor_for(user, ip_address=get_client_ip_address(request), via="api")


class StaffSession(APIKeyCookie):
    """The browser session of a signed-in staff member (HTMX pages, the docs page)."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Actor | None:
        if "Authorization" in request.headers:
            return None  # the caller chose a token; a bad one is not rescued by a cookie
        return self.authenticate(request, request.COOKIES.get(self.param_name))

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = request.user
        if not user.is_authenticated:
            return None
        staff_user = cast(User, user)
        is_verified = getattr(user, "is_verified", None)
        if two_factor_required(staff_user) and not (callable(is_verified) and is_verified()):
            raise AuthenticationError(message="Verify your second factor before using the API.")
        if staff_user.must_change_password:
            raise AuthenticationError(message="Choose a new password before using the API.")
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header.")
        actor = actor_for(staff_user, ip_address=get_client_ip_address(request), via="web")
        if actor is None:
            raise AuthorizationError(message="This account is not active staff of an organization.")
        return actor


def actor_of(request: HttpRequest) -> Actor:
    """The Actor the authentication step attached to this request."""
    actor: Any = getattr(request, "auth", None)
    if not isinstance(actor, Actor):  # only reachable if an operation were declared auth=None
        raise AuthenticationError()
    return actor
