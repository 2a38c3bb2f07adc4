"""One way to cut a result list into pages, shared by pages and API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ketaflow.validation import ValidationFailed

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_bounds(number: int, size: int) -> tuple[int, int]:
    """Validate a page request and return its (offset, limit)."""
    if number < 1:
        raise ValidationFailed.single("page", "Pages are numbered from 1.")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed.single("page_size", f"Page size must be 1-{MAX_PAGE_SIZE}.")
    return (number - 1) * size, size


def paginate(queryset, number: int = 1, size: int = DEFAULT_PAGE_SIZE) -> Page:
    offset, limit = page_bounds(number, size)
    total = queryset.count()
    items = list(queryset[offset : offset + limit])
    return Page(items=items, number=number, size=size, total=total)
