"""One response shape for every list: items, total, page, page_size, pages, next and previous links."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema
from pydantic import Field

from ketaflow.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, paginate
from ketaflow.validation import FieldError, ValidationFailed

from .schemas import QueryInput


class PageQuery(QueryInput):
    page: int = Field(1, ge=1, description="Pages are numbered from 1.")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class PageOut(Schema):
    """Subclasses add `items: list[...]`."""

    total: int
    page: int
    page_size: int
    pages: int
    next: str | None
    previous: str | None


def _link(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def page_body(request: HttpRequest, page: Page[Any]) -> dict[str, Any]:
    """The list response for `page`, with links to its neighbours that keep the other parameters."""
    return {
        "items": list(page.items),
        "total": page.total,
        "page": page.number,
        "page_size": page.size,
        "pages": page.pages,
        "next": _link(request, page.number + 1) if page.has_next else None,
        "previous": _link(request, min(page.number, page.pages + 1) - 1) if page.has_previous else None,
    }


def paged(request: HttpRequest, queryset: Any, query: PageQuery) -> dict[str, Any]:
    """Cut `queryset` (already scoped to the actor's organization) into the requested page."""
    return page_body(request, paginate(queryset, query.page, query.page_size))


def refuse_unknown_query(request: HttpRequest, *models: type[QueryInput]) -> None:
    """A misspelt filter must not silently widen a search: name every unknown parameter."""
    known = {name for model in models for name in model.model_fields}
    unknown = sorted(set(request.GET) - known)
    if unknown:
        raise ValidationFailed(FieldError(name, "Unknown query parameter.") for name in unknown)
