"""Building blocks shared by every router: strict input models, typed ids and dates, error bodies.

Inputs are strict (no silent coercion, `extra="forbid"` so a misspelt field is an error). JSON has
no date, time or UUID type, so those arrive as strings and are parsed here with one message each.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

from ninja import Path, Schema
from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def _parse_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise PydanticCustomError("date_format", "Enter a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_format", "Enter a real date as YYYY-MM-DD.") from None


def _parse_time(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _TIME.match(value):
        raise PydanticCustomError("time_format", "Enter a time as HH:MM (24-hour).")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("time_format", "Enter a real time as HH:MM (24-hour).") from None


def _parse_uuid(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("uuid_format", "Enter an id (a UUID).")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PydanticCustomError("uuid_format", "Enter an id (a UUID).") from None


def _blank_is_none(parse: Any) -> Any:
    def parse_or_none(value: Any) -> Any:
        return None if value in ("", None) else parse(value)

    return parse_or_none


IsoDate = Annotated[date, BeforeValidator(_parse_date)]
"""A calendar date written YYYY-MM-DD, nothing else (no timestamps, no other orders)."""
IsoTime = Annotated[time, BeforeValidator(_parse_time)]
Id = Annotated[uuid.UUID, BeforeValidator(_parse_uuid)]


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "This field cannot be null; leave it out instead.")
    return value


NotNull = BeforeValidator(_not_null)
"""For an optional field where null means nothing sensible (a flag): absent is fine, null is not."""
QueryDate = Annotated[date | None, BeforeValidator(_blank_is_none(_parse_date))]
"""A date filter in a query string; an empty value (a blank form field) means no filter."""
QueryId = Annotated[uuid.UUID | None, BeforeValidator(_blank_is_none(_parse_uuid))]


def _id_in_path(kind: str) -> Any:
    return Path(..., description=f"The {kind}'s id (a UUID).", example="0b7e2f4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b")


# Ids in paths are plain text on purpose: a malformed id is answered like a missing record (404).
PatientId = Annotated[str, _id_in_path("patient")]
ConditionId = Annotated[str, _id_in_path("problem-list entry")]
AllergyId = Annotated[str, _id_in_path("allergy")]
AlertId = Annotated[str, _id_in_path("alert")]
StaffId = Annotated[str, _id_in_path("staff member")]
ClinicId = Annotated[str, _id_in_path("clinic")]
RoomId = Annotated[str, _id_in_path("room")]


class StrictInput(BaseModel):
    """Base of every request body: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as plain Python values for a service."""
        return self.model_dump(exclude_unset=True)


class QueryInput(BaseModel):
    """Base of query-string filters: values arrive as text, so types are read leniently.

    ninja drops unknown query parameters before validation, so views call `refuse_unknown_query`.
    """

    model_config = ConfigDict(extra="forbid")


class FieldErrorOut(Schema):
    field: str | None
    message: str


class ErrorsOut(Schema):
    """Every error response: 400, 401, 403, 404, 409 and 422 alike."""

    errors: list[FieldErrorOut]


class Ref(Schema):
    """Another record named by id, with a label to show."""

    id: uuid.UUID
    name: str


ERROR_CODES = frozenset({400, 401, 403, 404, 422})


def responses(status: int, schema: Any, extra: dict[int, Any] | None = None) -> dict[Any, Any]:
    """The OpenAPI response map: the success schema plus the shared error body."""
    result: dict[Any, Any] = {status: schema, ERROR_CODES: ErrorsOut}
    result.update(extra or {})
    return result
