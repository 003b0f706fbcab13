"""Field rules: what a valid key, email, name, tag, URL or visitor id is. Defined once, as
pydantic types, and used by every door: the REST API's bodies, the public tracking path's
reports (read with `TypeAdapter.validate_python` from a `text/plain` body) and the CLI.

Every string field takes plain text only: no C0 control characters or DEL (they hide text in
logs and terminals, and PostgreSQL refuses U+0000) and no lone surrogates (no database driver
can store them; a JSON body can smuggle one in as `\\ud800`). Surrounding whitespace is
stripped by the models that use these types."""

import re
import unicodedata
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from referly.domain.keys import REFERRAL_KEY_MAX as REFERRAL_KEY_MAX
from referly.domain.keys import REFERRAL_KEY_PATTERN

MAX_EMAIL = 254
MAX_NAME = 255
MAX_CUSTOMER_KEY = 255
MAX_IDENTIFIER = 64
MAX_TAG = 64
MAX_TAGS = 50
MAX_REFERRAL_URL = 2048
MAX_LANDING_URL = 4096
VISITOR_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# C0 controls and DEL, and lone surrogates.
PLAIN_TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
_UNPLAIN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def is_plain_text(text: str) -> bool:
    """No control character and no lone surrogate."""
    return _UNPLAIN.search(text) is None


def has_unplain_text(value: Any) -> bool:
    """True when `value`, or any string inside it (lists, dicts, at any depth, keys too), is
    not plain text. Iterative, so a deeply nested body cannot exhaust the stack."""
    if type(value) is str:
        return _UNPLAIN.search(value) is not None
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_plain_text(item):
                return True
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return False


UNPLAIN_TEXT = "unplain_text"  # the error type of text that is not plain


def unplain_text_problem(name: str) -> str:
    return f"The {name} must not contain control characters or invalid text."


# On a string type: no control character (checked by pydantic-core itself, as the type's
# pattern). Lone surrogates pydantic-core refuses in any string (`string_unicode`).
PlainText = StringConstraints(pattern=PLAIN_TEXT_PATTERN)

EMAIL_PROBLEM = "The email must be a valid email address."
_PLAIN_LOCAL_PART = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
_MAX_LOCAL_PART = 64
_MAX_DOMAINS = 10_000
_domains: dict[str, bool] = {}  # domain -> whether `validate_email` accepts it


def _accepted(email: str) -> bool:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_valid_email(email: str) -> bool:
    """`email_validator`'s verdict (no deliverability check). Checking the domain is most of its
    cost and sign-ups share few domains, so an address with a plainly valid local part is judged
    by its domain's verdict, remembered (`a@<domain>` stands for it)."""
    local, at, domain = email.rpartition("@")
    plain = (
        at
        and 0 < len(local) <= _MAX_LOCAL_PART
        and domain.isascii()
        and _PLAIN_LOCAL_PART.fullmatch(local) is not None
    )
    if not plain:
        return _accepted(email)
    verdict = _domains.get(domain)
    if verdict is None:
        if len(_domains) >= _MAX_DOMAINS:
            _domains.clear()
        verdict = _domains[domain] = _accepted(f"a@{domain}")
    return verdict


def check_email(value: str) -> str:
    """A valid email, in one Unicode form (NFC), so equal addresses are stored alike."""
    value = unicodedata.normalize("NFC", value)
    if not is_valid_email(value):
        raise ValueError(EMAIL_PROBLEM)
    return value


Email = Annotated[
    str,
    PlainText,
    StringConstraints(max_length=MAX_EMAIL),
    AfterValidator(check_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": MAX_EMAIL}),
]
ReferralKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=REFERRAL_KEY_MAX, pattern=REFERRAL_KEY_PATTERN),
]
Identifier = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=MAX_IDENTIFIER)]
# How a request names an existing partner: any plain text, judged by whether it finds one.
PartnerKeyRef = Annotated[
    str, PlainText, StringConstraints(min_length=1, max_length=REFERRAL_KEY_MAX)
]
PartnerEmailRef = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=MAX_EMAIL)]
CustomerKey = Annotated[
    str, PlainText, StringConstraints(min_length=1, max_length=MAX_CUSTOMER_KEY)
]
PersonName = Annotated[str, PlainText, StringConstraints(max_length=MAX_NAME)]
Tag = Annotated[str, PlainText, StringConstraints(min_length=1, max_length=MAX_TAG)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
ReferralUrl = Annotated[
    str, PlainText, StringConstraints(min_length=1, max_length=MAX_REFERRAL_URL)
]
LandingUrl = Annotated[str, PlainText, StringConstraints(max_length=MAX_LANDING_URL)]
VisitorId = Annotated[str, StringConstraints(pattern=VISITOR_PATTERN)]


def document_plain_text(schema: dict[str, Any]) -> None:
    """State in a body's JSON schema that its strings take no control characters."""
    for prop in schema.get("properties", {}).values():
        for variant in [prop, *prop.get("anyOf", [])]:
            for target in (variant, variant.get("items", {})):
                if target.get("type") == "string" and "pattern" not in target:
                    target["pattern"] = PLAIN_TEXT_PATTERN


class WireIn(BaseModel):
    """Base of request bodies, for every door. A field sent as `null` means "not given";
    surrounding whitespace is stripped; no field, of any body, takes text that is not plain
    (`is_plain_text`)."""

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        json_schema_extra=document_plain_text,
        use_attribute_docstrings=True,  # a field's docstring describes it in the API docs
    )

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_unplain_text(cls, value: Any) -> Any:
        """Before whitespace is stripped, and for text hidden in a list or an object too (the
        string types check their own value again, wherever they are used)."""
        if has_unplain_text(value):
            raise PydanticCustomError(UNPLAIN_TEXT, unplain_text_problem("value"))
        return value

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def unwrap(data: Any, nested: str, nested_wins: bool = True) -> Any:
    """Lift the fields under `nested` (`update`, the legacy `customer`) to the top level, where
    real clients also send them; `null` means "not given"."""
    if not isinstance(data, dict) or not isinstance(data.get(nested), dict):
        return data  # not nested (or not an object: the field's own type then refuses it)
    outer = {k: v for k, v in data.items() if k != nested and v is not None}
    inner = {k: v for k, v in data[nested].items() if v is not None}
    return {**outer, **inner} if nested_wins else {**inner, **outer}
