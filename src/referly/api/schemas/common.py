"""Shapes and field types shared by every resource."""

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from referly.domain.keys import REFERRAL_KEY_PATTERN

T = TypeVar("T")


def check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError("The email must be a valid email address.") from error
    return value


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(check_email)]
ReferralKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=REFERRAL_KEY_PATTERN.pattern)
]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CustomerKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
PersonName = Annotated[str, StringConstraints(max_length=255)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=50)]


def iso_timestamp(moment: datetime | None) -> str | None:
    """Partnero's timestamp format: `2025-05-02T16:12:39.000000Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WireIn(BaseModel):
    """Base of request bodies. A field sent as `null` means "not given"."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class PartnerRefIn(WireIn):
    """Names a partner by `key`, else `id`, else `email`."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    id: Identifier | None = None
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)] | None = None


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
