"""Shapes shared by every resource: the envelopes, paging, errors, tags and timestamps. Field
types and the base of request bodies are the domain's field rules (`referly.domain.fields`)."""

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

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


class PartnerRefIn(WireIn):
    """Names a partner by `key`, else `id`, else `email`."""

    key: PartnerKeyRef | None = None
    id: Identifier | None = None
    email: PartnerEmailRef | None = None


class TagOut(BaseModel):
    value: str


def tags_out(tags: list[str]) -> list[TagOut]:
    return [TagOut(value=tag) for tag in tags]


class Envelope(BaseModel, Generic[T]):
    data: T
    status: Literal[1] = 1


class StatusOnly(BaseModel):
    status: Literal[1] = 1


class PageLinks(BaseModel):
    first: str
    last: str
    prev: str | None
    next: str | None


class PageMeta(BaseModel):
    current_page: int
    from_: int | None = Field(serialization_alias="from")
    last_page: int
    path: str
    per_page: int
    to: int | None
    total: int


class ListEnvelope(BaseModel, Generic[T]):
    data: list[T]
    links: PageLinks
    meta: PageMeta
    status: Literal[1] = 1


class ErrorOut(BaseModel):
    """Every error: a message, `status: 0`, and per-field messages on 422."""

    message: str
    status: Literal[0] = 0
    errors: dict[str, list[str]] | None = None
