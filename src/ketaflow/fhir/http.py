"""HTTP plumbing of the FHIR API: who is calling, what they accept, and replies as FHIR JSON.

Every view wraps its work in `fhir_view`, which turns `FhirError` (and ketaflow's own validation,
permission and not-found errors) into an OperationOutcome with the right status, so no error leaves
the API as HTML or a bare message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import orjson
from axes.helpers import get_client_ip_address
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ketaflow.accounts.actor import Actor
from ketaflow.accounts.services import actor_for, user_for_token
from ketaflow.validation import Forbidden, NotFound, ValidationFailed

from .outcome import FhirError, Issue, operation_outcome

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
JSON_TYPES = {
    "application/fhir+json",
    "application/json",
    "application/json+fhir",
    "json",
    "fhir+json",
    "*/*",
    "application/*",
    "",
}
FORMAT_TYPES = {"json", "application/json", "application/fhir+json", "application/json+fhir"}

View = Callable[..., HttpResponse]


def fhir_response(
    body: dict[str, Any] | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A reply in `application/fhir+json`; `body` may be JSON already encoded (stored resources)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = HttpResponse(content, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def outcome_response(error: FhirError) -> HttpResponse:
    return fhir_response(operation_outcome(error.issues), error.status, error.headers)


def authenticate(request: HttpRequest) -> Actor:
    """The Actor of the request's bearer token (a `ketaflow token create` token), or 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirError(
            401,
            [Issue("login", "Send Authorization: Bearer <token>.")],
            {"WWW-Authenticate": 'Bearer realm="ketaflow-fhir"'},
        )
    user = user_for_token(token.strip())
    actor = actor_for(user, ip_address=get_client_ip_address(request), via="fhir") if user else None
    if actor is None:
        raise FhirError(
            401,
            [Issue("login", "The token is unknown, revoked or expired.")],
            {"WWW-Authenticate": 'Bearer realm="ketaflow-fhir", error="invalid_token"'},
        )
    return actor


def check_accept(request: HttpRequest) -> None:
    """Refuse a reply format other than JSON (406): `_format` first, then the Accept header."""
    wanted = request.GET.get("_format")
    if wanted is not None:
        if wanted.strip().lower() not in FORMAT_TYPES:
            raise FhirError.one(
                406,
                "not-supported",
                f"_format={wanted} is not supported: this server speaks JSON only (application/fhir+json).",
            )
        return
    accept = request.headers.get("Accept", "")
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if accept and not any(kind in JSON_TYPES for kind in offered):
        raise FhirError.one(
            406,
            "not-supported",
            f"Accept: {accept} is not supported: this server speaks JSON only (application/fhir+json).",
        )


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body; 415 for another content type, 400 for malformed JSON."""
    kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind not in FORMAT_TYPES:
        raise FhirError.one(
            415,
            "not-supported",
            f"Content-Type {kind or '(none)'} is not supported: send application/fhir+json.",
        )
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise FhirError.one(400, "structure", f"The body is not valid JSON: {exc}.") from exc


def fhir_view(view: View) -> View:
    """Wrap a FHIR view: format negotiation, CSRF exemption (tokens, not cookies) and errors as
    OperationOutcomes."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            check_accept(request)
            return view(request, *args, **kwargs)
        except FhirError as error:
            return outcome_response(error)
        except ValidationFailed as error:
            return outcome_response(from_validation(error))
        except Forbidden as error:
            return outcome_response(FhirError.one(403, "forbidden", str(error)))
        except NotFound as error:
            return outcome_response(FhirError.one(404, "not-found", str(error)))

    return wrapper


def from_validation(error: ValidationFailed, paths: dict[str, str] | None = None) -> FhirError:
    """ketaflow's field errors as a 422 OperationOutcome; `paths` maps a domain field name to the
    FHIR element it came from (e.g. heart_rate -> Observation.valueQuantity.value)."""
    issues = []
    for found in error.errors:
        path = (paths or {}).get(found.field or "", "")
        issues.append(
            Issue(
                "invalid" if found.field else "processing",
                f"{found.field}: {found.message}" if found.field and not path else found.message,
                expression=(path,) if path else (),
            )
        )
    return FhirError(422, issues or [Issue("processing", str(error))])
