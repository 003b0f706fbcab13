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
    Field,
    ValidationError,
    model_validator,
)

from referly.domain.fields import (
    CustomerKey,
    Email,
    LandingUrl,
    PersonName,
    ReferralKey,
    VisitorId,
    WireIn,
    unwrap,
)
from referly.errors import BadRequest
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


class _PublicReport(WireIn):
    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data


class ClickReport(_PublicReport):
    referral_key: ReferralKey = Field(validation_alias=AliasChoices("key", "referral_key"))
    landing_url: LandingUrl | None = Field(
        default=None, validation_alias=AliasChoices("url", "landing_url")
    )
    referrer: LandingUrl | None = None
    visitor_id: VisitorId | None = Field(
        default=None, validation_alias=AliasChoices("visitor", "visitor_id")
    )


class SignupReport(_PublicReport):
    key: Annotated[CustomerKey, BeforeValidator(_number_as_text)]
    email: Email | None = None
    name: PersonName | None = None
    surname: PersonName | None = None
    # None: no referral, so nobody to credit.
    partner_key: Annotated[ReferralKey | None, BeforeValidator(_partner_key)] = Field(
        default=None, validation_alias=AliasChoices("partner", "partner_key")
    )
    source: Literal["js", "universal"] = "js"
    visitor_id: VisitorId | None = Field(
        default=None, validation_alias=AliasChoices("visitor", "visitor_id")
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_data(cls, data: Any) -> Any:
        return unwrap(data, "data")


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
    try:
        return report.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error.errors()) from error
