"""Partnero's (Laravel's) list envelope: `links` and `meta` around a page of results."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request

from referly.api.schemas.common import ListEnvelope, PageLinks, PageMeta
from referly.domain.pagination import Page
from referly.web.public_url import absolute, public_origin

T = TypeVar("T")


def list_envelope(request: Request, page: Page[Any], items: Sequence[T]) -> ListEnvelope[T]:
    origin = public_origin(request, request.app.state.settings)
    path = absolute(origin, str(request.url.replace(query="")))

    def page_url(number: int) -> str:
        return absolute(origin, str(request.url.include_query_params(page=number)))

    first_index = (page.page - 1) * page.limit + 1
    return ListEnvelope[T](
        data=list(items),
        links=PageLinks(
            first=page_url(1),
            last=page_url(page.last_page),
            prev=page_url(page.page - 1) if page.page > 1 else None,
            next=page_url(page.page + 1) if page.page < page.last_page else None,
        ),
        meta=PageMeta(
            current_page=page.page,
            from_=first_index if items else None,
            last_page=page.last_page,
            path=path,
            per_page=page.limit,
            to=first_index + len(items) - 1 if items else None,
            total=page.total,
        ),
    )


def mapped(items: Sequence[Any], to_wire: Callable[[Any], T]) -> list[T]:
    return [to_wire(item) for item in items]
