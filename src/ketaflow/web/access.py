"""Decorators that put the page rules in one place: staff only, with a given permission."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from ketaflow.accounts.roles import Permission
from ketaflow.validation import Forbidden, NotFound

View = Callable[..., HttpResponse]


def staff_view(permission: Permission | None = None) -> Callable[[View], View]:
    """Require a signed-in staff actor (and `permission`); map NotFound to 404, Forbidden to 403.

    Responses are marked no-store (patient data stays off the browser's disk and the back button
    after sign-out) and vary on the HTMX headers, since a page and its fragment share a URL.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            actor = getattr(request, "actor", None)
            if not request.user.is_authenticated:
                login = redirect_to_login(request.get_full_path())
                if request.headers.get("HX-Request"):
                    # An HTMX fragment must not swap the sign-in page into a results region.
                    signed_out = HttpResponse(status=204)
                    signed_out["HX-Redirect"] = login["Location"]
                    return signed_out
                return login
            if actor is None:
                return render(request, "web/no_access.html", status=403)
            try:
                if permission is not None:
                    actor.require(permission)
                response = view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404("Not found") from exc
            except Forbidden as exc:
                response = render(request, "web/forbidden.html", {"reason": str(exc)}, status=403)
            add_never_cache_headers(response)
            patch_vary_headers(response, ("HX-Request", "HX-Target"))
            return response

        return wrapper

    return decorate
