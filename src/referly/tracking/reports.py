"""What the browser script reports, read from the raw body.

Bodies come as `text/plain` JSON (so browsers send no CORS preflight), which FastAPI's body
parsing would refuse; they are read here with the same field rules as the REST API
(`referly.domain.fields`), so a value refused there is refused here. Malformed JSON is a 400,
a field that breaks its rule a 422 naming the field, in the API's error shape.

Field names are the script's; the spelled-out names (`referral_key`, `landing_url`,
`visitor_id`, `partner_key`) and Partnero's `{"data": {..., "partner": {"key": ...}}}` sign-up
shape are accepted too. A blank value is the same as none."""

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from referly.domain.fields import (
    CustomerKey,
    Email,
    LandingUrl,
    PersonName,
    ReferralKey,
    VisitorId,
    has_unplain_text,
    unplain_text_problem,
    unwrap,
)
from referly.errors import BadRequest, ValidationFailed
from referly.web.errors import MALFORMED_JSON, invalid_input

Report = TypeVar("Report", bound=BaseModel)


def _number_as_text(value: Any) -> Any:
    """A numeric customer key (an account number, say) is kept as its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _partner_key(value: Any) -> Any:
    """The partner as `{"key": ...}` or as the key itself."""
    return value.get("key") if isinstance(value, dict) else value


class _PublicReport(BaseModel):
    """A report's fields, once `parse` has screened the body the way `WireIn` screens a REST
    body (null means not given, plain text only) — here in one pass over the body rather than
    one call per field, because this path is hot."""

    model_config = ConfigDict(
        extra="ignore", str_strip_whitespace=True, use_attribute_docstrings=True
    )


class ClickReport(_PublicReport):
    """A visit that arrived by a referral link, as the browser script reports it (the
    spelled-out names `referral_key`, `landing_url`, `visitor_id` are accepted too)."""

    referral_key: ReferralKey = Field(validation_alias=AliasChoices("key", "referral_key"))
    """The referral key the landing URL carried (`?aff=alice`)."""
    landing_url: LandingUrl | None = Field(
        default=None, validation_alias=AliasChoices("url", "landing_url")
    )
    """The page the visitor landed on."""
    referrer: LandingUrl | None = None
    """The page that linked to it (`document.referrer`)."""
    visitor_id: VisitorId | None = Field(
        default=None, validation_alias=AliasChoices("visitor", "visitor_id")
    )
    """The browser's random visitor id, so a later sign-up from it finds the click."""


class SignupReport(_PublicReport):
    """A sign-up, as `po('customers', 'signup', {data: {...}})` or the Universal form capture
    reports it: the fields at the top level or under `data` (Partnero's shape)."""

    key: Annotated[CustomerKey, BeforeValidator(_number_as_text)]
    """The customer's key (a number is kept as its text)."""
    email: Email | None = None
    """The customer's email address."""
    name: PersonName | None = None
    """First name."""
    surname: PersonName | None = None
    """Last name."""
    partner_key: Annotated[
        ReferralKey | None,
        BeforeValidator(_partner_key),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {"key": {"type": "string"}}},
                ]
            }
        ),
    ] = Field(default=None, validation_alias=AliasChoices("partner", "partner_key"))
    """The referral key credited, as a string or `{"key": ...}`: the referral cookie's, or the
    landing URL's. Without one there is nobody to credit and nothing is stored."""
    source: Literal["js", "universal"] = "js"
    """What reported it: the snippet's call (`js`) or the Universal form capture."""
    visitor_id: VisitorId | None = Field(
        default=None, validation_alias=AliasChoices("visitor", "visitor_id")
    )
    """The browser's visitor id, which links the sign-up to the visitor's clicks."""


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """A null or a blank value is the same as none."""
    return {k: v for k, v in fields.items() if v is not None and not _blank(v)}


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def parse(report: type[Report], body: bytes) -> Report:
    """The body as a report, or the error to answer: 400 for malformed JSON or a body that is
    not an object, 422 naming each field that breaks its rule."""
    try:
        # Bytes are decoded as `json.loads` does (a lone surrogate, raw or escaped, reaches the
        # field rules, which name the field that carries it).
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest(MALFORMED_JSON) from error
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object")
    fields = _given(unwrap(data, "data"))  # Partnero's sign-up shape nests them under `data`
    for name, value in fields.items():
        if has_unplain_text(value):
            raise ValidationFailed.field(name, unplain_text_problem(name))
    try:
        return report.model_validate(fields)
    except ValidationError as error:
        raise invalid_input(error.errors()) from error
