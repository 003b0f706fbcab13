"""Shapes shared by every resource: the envelopes, paging, errors, tags and timestamps. Field
types and the base of request bodies are the domain's field rules (`referly.domain.fields`)."""

import inspect
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from referly.domain.fields import Identifier, PartnerEmailRef, PartnerKeyRef, WireIn

T = TypeVar("T")


def iso_timestamp(moment: datetime | None) -> str | None:
    """Partnero's timestamp format: `2025-05-02T16:12:39.000000Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# A moment in an answer, written in Partnero's format.
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def _describe_generic(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """`Envelope[CustomerOut]` is described by `Envelope`'s docstring."""
    origin = model.__pydantic_generic_metadata__["origin"]
    if "description" not in schema and origin is not None and origin.__doc__:
        schema["description"] = inspect.cleandoc(origin.__doc__)


class WireOut(BaseModel):
    """Base of answer bodies: each field's docstring is its description in the API docs."""

    model_config = ConfigDict(use_attribute_docstrings=True, json_schema_extra=_describe_generic)


class PartnerRefIn(WireIn):
    """Names a partner by `key`, else `id`, else `email`. A name that finds no partner of the
    program is a 400 "Invalid partner key"."""

    key: PartnerKeyRef | None = None
    """The partner's referral key: what the visitor's referral link carried (the `partnero_partner`
    cookie holds it), or any of the partner's extra link keys."""
    id: Identifier | None = None
    """The partner's id, as Referly answered it when the partner was created."""
    email: PartnerEmailRef | None = None
    """The partner's email address."""


class TagOut(WireOut):
    """A tag, as Partnero writes tags in answers."""

    value: str
    """The tag's text."""


def tags_out(tags: list[str]) -> list[TagOut]:
    return [TagOut(value=tag) for tag in tags]


class Envelope(WireOut, Generic[T]):
    """A successful answer: the object (or the list) under `data`, and `status: 1`."""

    data: T
    """What the request asked for."""
    status: Literal[1] = 1
    """Always 1 on success (errors carry 0)."""


class StatusOnly(WireOut):
    """The answer of an action that returns no object (delete, suspend, approve)."""

    status: Literal[1] = 1
    """Always 1: the action is done and committed."""


class PageLinks(WireOut):
    """Absolute URLs of the neighbouring pages, with the request's other query parameters."""

    first: str
    """The first page."""
    last: str
    """The last page (the first, when there are no results)."""
    prev: str | None
    """The page before this one; null on the first page."""
    next: str | None
    """The page after this one; null on the last page. Follow it until it is null to read
    every page."""


class PageMeta(WireOut):
    """Where this page is in the whole list (Laravel's paginator fields, which Partnero's
    clients read)."""

    current_page: int
    """This page's number, from 1."""
    from_: int | None = Field(serialization_alias="from")
    """The position of this page's first item in the whole list, from 1; null when empty."""
    last_page: int
    """The number of the last page."""
    path: str
    """The list's URL without a query string."""
    per_page: int
    """The page size: the request's `limit`."""
    to: int | None
    """The position of this page's last item; null when empty."""
    total: int
    """How many items the whole list holds."""


class ListEnvelope(WireOut, Generic[T]):
    """A page of a list: the items under `data`, with `links` to the other pages and `meta`
    about this one."""

    data: list[T]
    """This page's items, in the list's order."""
    links: PageLinks
    """The other pages."""
    meta: PageMeta
    """This page's place in the list."""
    status: Literal[1] = 1
    """Always 1 on success."""


class ErrorOut(WireOut):
    """Every error: a message, `status: 0`, and on a 422 the messages of each field that broke
    its rule."""

    message: str
    """What went wrong, in one sentence (the first field error on a 422)."""
    status: Literal[0] = 0
    """Always 0 on an error."""
    errors: dict[str, list[str]] | None = None
    """On a 422: each refused field (dotted for nested ones, as `partner.key`) and its
    messages."""
