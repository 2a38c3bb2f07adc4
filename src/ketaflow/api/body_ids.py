"""Ids sent in a request body that name no record of the caller's organization.

A missing record in the path is a 404; one named in the body is bad input, refused on its field
(422) like any other, so a client cannot tell another organization's id from a mistyped one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ketaflow.validation import NotFound, ValidationFailed


@contextmanager
def refused_on_field(fields: Mapping[str, str]) -> Iterator[None]:
    """Turn NotFound(what) raised inside into ValidationFailed on `fields[what]`; any other NotFound
    (the record in the path) passes through as a 404."""
    try:
        yield
    except NotFound as exc:
        what = str(exc)
        if what not in fields:
            raise
        raise ValidationFailed.single(fields[what], f"No such {what} in your practice.") from exc
