"""Errors that services raise and every surface (pages, API, CLI) shows the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str


class ValidationFailed(Exception):
    """Input was refused; nothing was written. Carries one message per offending field."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field or 'input'}: {e.message}" for e in self.errors))

    @classmethod
    def single(cls, field: str | None, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class NotFound(Exception):
    """No such record for this organization. Another organization's record is also 'not found'."""


class Forbidden(Exception):
    """The user's role does not allow this action."""
