"""Shapes and field types shared by every resource."""

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from referly.domain.keys import REFERRAL_KEY_PATTERN

T = TypeVar("T")

# C0 controls and DEL: no name, key, email or tag has a use for them, they hide text in logs
# and terminals, and PostgreSQL refuses U+0000 outright.
CONTROL_CHARACTERS = frozenset(chr(code) for code in (*range(0x20), 0x7F))


def has_control_characters(value: Any) -> bool:
    """True when `value`, or any string inside it (lists, dicts, at any depth), has a
    control character. Iterative, so a deeply nested body cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not CONTROL_CHARACTERS.isdisjoint(item):
                return True
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


def refuse_control_characters(value: Any) -> Any:
    if has_control_characters(value):
        raise ValueError("The value must not contain control characters.")
    return value


PlainText = BeforeValidator(refuse_control_characters)


def check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError("The email must be a valid email address.") from error
    return value


Email = Annotated[
    str,
    PlainText,
    StringConstraints(max_length=254),
    AfterValidator(check_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
ReferralKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=REFERRAL_KEY_PATTERN.pattern)
]
Identifier = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=64)]
CustomerKey = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=255)]
PersonName = Annotated[str, PlainText, StringConstraints(max_length=255)]
Tag = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=50)]


def unwrap(data: Any, nested: str, nested_wins: bool = True) -> Any:
    """Lift the fields under `nested` (`update`, the legacy `customer`) to the top level, where
    real clients also send them; `null` means "not given"."""
    if not isinstance(data, dict) or not isinstance(data.get(nested), dict):
        return data  # not nested (or not an object: the field's own type then refuses it)
    outer = {k: v for k, v in data.items() if k != nested and v is not None}
    inner = {k: v for k, v in data[nested].items() if v is not None}
    return {**outer, **inner} if nested_wins else {**inner, **outer}


def iso_timestamp(moment: datetime | None) -> str | None:
    """Partnero's timestamp format: `2025-05-02T16:12:39.000000Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


PLAIN_TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"


def document_plain_text(schema: dict[str, Any]) -> None:
    """State in a body's JSON schema that its strings take no control characters."""
    for prop in schema.get("properties", {}).values():
        for variant in [prop, *prop.get("anyOf", [])]:
            for target in (variant, variant.get("items", {})):
                if target.get("type") == "string" and "pattern" not in target:
                    target["pattern"] = PLAIN_TEXT_PATTERN


class WireIn(BaseModel):
    """Base of request bodies. A field sent as `null` means "not given". No field, of any
    body, takes a string with control characters (see `CONTROL_CHARACTERS`)."""

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, json_schema_extra=document_plain_text
    )

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if has_control_characters(value):
            name = info.field_name or "value"
            raise ValueError(f"The {name} must not contain control characters.")
        return value

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
