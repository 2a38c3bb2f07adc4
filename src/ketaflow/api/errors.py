"""One error body for the whole API: `{"errors": [{"field": ..., "message": ...}]}`.

Service errors (ValidationFailed, NotFound, Forbidden), request validation by ninja/pydantic,
unparseable JSON and failed authentication all end here, so a client handles one shape. Another
organization's record is answered exactly like a missing one.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestInvalid

from ketaflow.validation import FieldError, Forbidden, NotFound, ValidationFailed

logger = logging.getLogger("ketaflow.api")

NOT_FOUND = "Not found."
UNAUTHENTICATED = "Authentication required: send 'Authorization: Bearer <token>' or sign in."
_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not allowed here.",
    "model_type": "Send a JSON object.",
    "model_attributes_type": "Send a JSON object.",
    "dict_type": "Send a JSON object.",
}
_CONTAINERS = {"body", "query", "path", "header", "cookie", "form", "file"}


def error_body(errors: Iterable[FieldError]) -> dict[str, list[dict[str, Any]]]:
    return {"errors": [{"field": e.field, "message": e.message} for e in errors]}


def field_name(loc: Sequence[Any]) -> str | None:
    """`("body", "payload", "hours", 0, "opens")` -> `"hours[0].opens"`; None when nothing is left.

    ninja puts the source first and, for a body, the view's parameter name second; neither is
    something the client sent, so both go.
    """
    parts = list(loc)
    if parts and parts[0] in _CONTAINERS:
        source = parts.pop(0)
        if source == "body" and parts:
            parts.pop(0)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or None


def request_errors(raw: Iterable[dict[str, Any]]) -> list[FieldError]:
    return [
        FieldError(
            field_name(item.get("loc", ())),
            _MESSAGES.get(str(item.get("type")), str(item.get("msg", "Invalid value."))),
        )
        for item in raw
    ]


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the handlers that turn every failure into the shared error body."""

    def respond(request: HttpRequest, status: int, errors: Iterable[FieldError]) -> HttpResponse:
        return api.create_response(request, error_body(errors), status=status)

    def validation_failed(request: HttpRequest, exc: ValidationFailed) -> HttpResponse:
        return respond(request, 422, exc.errors)

    def request_invalid(request: HttpRequest, exc: RequestInvalid) -> HttpResponse:
        return respond(request, 422, request_errors(exc.errors))

    def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 404, [FieldError(None, NOT_FOUND)])

    def forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
        return respond(request, 403, [FieldError(None, str(exc) or "Not allowed.")])

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        message = exc.message
        if isinstance(exc, AuthenticationError) and message == "Unauthorized":
            message = UNAUTHENTICATED
        elif exc.status_code == 400 and message.startswith("Cannot parse request body"):
            message = "The request body is not valid JSON."
        return respond(request, exc.status_code, [FieldError(None, message)])

    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        # The type and the code path only: an exception's message (a database error's DETAIL, say)
        # can quote the values sent, which may be patient data.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("API request failed with %s\n%s", type(exc).__name__, frames)
        return respond(request, 500, [FieldError(None, "Something went wrong on the server.")])

    handlers: list[tuple[type[Exception], Any]] = [
        (ValidationFailed, validation_failed),
        (RequestInvalid, request_invalid),
        (NotFound, not_found),
        (Http404, not_found),
        (Forbidden, forbidden),
        (HttpError, http_error),
        (Exception, unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
