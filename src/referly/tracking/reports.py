"""What the browser script reports, parsed from the raw body by hand.

Bodies come as `text/plain` JSON (so browsers send no CORS preflight), which FastAPI's model
parsing would refuse; and this path is hot, so a few explicit checks beat a model. Malformed
JSON is a 400, a field that breaks its rule a 422 naming the field, in the API's error shape.
Field names are the script's; the spelled-out names (`referral_key`, `landing_url`,
`visitor_id`, `partner_key`) and Partnero's `{"data": {..., "partner": {"key": ...}}}` sign-up
shape are accepted too."""

import json
import re
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from referly.domain.keys import REFERRAL_KEY_PATTERN
from referly.errors import BadRequest, ValidationFailed

VISITOR_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_URL = 4096
MAX_CUSTOMER_KEY = 255
MAX_NAME = 255
MAX_EMAIL = 254
SIGNUP_SOURCES = ("js", "universal")
MAX_LOCAL_PART = 64
PLAIN_LOCAL_PART = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
MAX_DOMAINS = 10_000
_domains: dict[str, bool] = {}  # domain -> whether `validate_email` accepts it


@dataclass(frozen=True, slots=True)
class ClickReport:
    referral_key: str
    landing_url: str | None
    referrer: str | None
    visitor_id: str | None


@dataclass(frozen=True)
class SignupReport:
    key: str
    email: str | None
    name: str | None
    surname: str | None
    partner_key: str | None  # None: no referral, so nobody to credit
    source: str
    visitor_id: str | None


def parse_click(body: bytes) -> ClickReport:
    fields = _object(body)
    return ClickReport(
        referral_key=_required_key(_pick(fields, "key", "referral_key")),
        landing_url=_text(_pick(fields, "url", "landing_url"), "url", MAX_URL),
        referrer=_text(fields.get("referrer"), "referrer", MAX_URL),
        visitor_id=_visitor(_pick(fields, "visitor", "visitor_id")),
    )


def parse_signup(body: bytes) -> SignupReport:
    outer = _object(body)
    fields = outer["data"] if isinstance(outer.get("data"), dict) else outer
    return SignupReport(
        key=_customer_key(fields.get("key")),
        email=_email(fields.get("email")),
        name=_text(fields.get("name"), "name", MAX_NAME),
        surname=_text(fields.get("surname"), "surname", MAX_NAME),
        partner_key=_referral_key(_partner(fields), "partner"),
        source=_source(_pick(outer, "source") or fields.get("source")),
        visitor_id=_visitor(_pick(outer, "visitor", "visitor_id") or _pick(fields, "visitor")),
    )


def _object(body: bytes) -> dict[str, Any]:
    try:
        # A body opening with `{` and no NUL next is UTF-8 to `json.loads` as well (no BOM,
        # not UTF-16/32): decoded here the same way, without its detection.
        text = (
            body.decode("utf-8", "surrogatepass")
            if body[:1] == b"{" and body[1:2] != b"\0"
            else body
        )
        parsed = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("Malformed JSON body") from error
    if not isinstance(parsed, dict):
        raise BadRequest("The body must be a JSON object")
    return parsed


def _pick(fields: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = fields.get(name)
        if value is not None:
            return value
    return None


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed.field(field, problem)


def _text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(field, f"The {field} must be a string.")
    text = value.strip()
    if len(text) > limit:
        raise _invalid(field, f"The {field} may not be longer than {limit} characters.")
    return text or None


def _required_key(value: Any) -> str:
    key = _referral_key(value, "key")
    if key is None:
        raise _invalid("key", "The key field is required.")
    return key


def _referral_key(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not REFERRAL_KEY_PATTERN.match(value):
        raise _invalid(field, "A referral key is 1 to 64 letters, digits, '-', '_' or '.'.")
    return value


def _partner(fields: dict[str, Any]) -> Any:
    partner = fields.get("partner")
    if isinstance(partner, dict):
        return partner.get("key")
    return partner if partner is not None else fields.get("partner_key")


def _customer_key(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _invalid("key", "The key field is required.")
    key = value.strip()
    if len(key) > MAX_CUSTOMER_KEY:
        raise _invalid("key", f"The key may not be longer than {MAX_CUSTOMER_KEY} characters.")
    return key


def _email(value: Any) -> str | None:
    email = _text(value, "email", MAX_EMAIL)
    if email is None:
        return None
    if not _is_plain_valid_email(email):
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError as error:
            raise _invalid("email", "The email must be a valid email address.") from error
    return email


def _is_plain_valid_email(email: str) -> bool:
    """True for the common address that `validate_email` accepts: a plain ASCII local part
    (letters, digits, `_+-`, single dots inside) at a domain it accepted before. Checking the
    domain is most of its cost and sign-ups share few domains, so each is checked once (as
    `a@<domain>`). False means: not known here, let `validate_email` judge it."""
    local, at, domain = email.rpartition("@")
    if not at or len(local) > MAX_LOCAL_PART or not PLAIN_LOCAL_PART.fullmatch(local):
        return False
    valid = _domains.get(domain)
    if valid is None:
        try:
            validate_email(f"a@{domain}", check_deliverability=False)
            valid = True
        except EmailNotValidError:
            valid = False
        if len(_domains) >= MAX_DOMAINS:
            _domains.clear()
        _domains[domain] = valid
    return valid


def _source(value: Any) -> str:
    if value is None:
        return "js"
    if value not in SIGNUP_SOURCES:
        raise _invalid("source", "The source must be js or universal.")
    return str(value)


def _visitor(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not VISITOR_PATTERN.match(value):
        raise _invalid("visitor", "The visitor id is 1 to 64 letters, digits, '-', '_' or '.'.")
    return value
