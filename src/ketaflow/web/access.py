"""Decorators that put the page rules in one place: staff only, with a given permission."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from ketaflow.accounts.roles import Permission
from ketaflow.validation import Forbidden, NotFound

View = Callable[..., HttpResponse]


def staff_view(permission: Permission | None = None) -> Callable[[View], View]:
    """Require a signed-in staff actor (and `permission`); map NotFound to 404, Forbidden to 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            actor = getattr(request, "actor", None)
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if actor is None:
                return render(request, "web/no_access.html", status=403)
            try:
                if permission is not None:
                    actor.require(permission)
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404("Not found") from exc
            except Forbidden as exc:
                return render(request, "web/forbidden.html", {"reason": str(exc)}, status=403)

        return wrapper

    return decorate
