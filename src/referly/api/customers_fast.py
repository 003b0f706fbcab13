"""`POST /v1/customers` in its common form, answered without the framework.

The common form: `Authorization: Bearer rfl_...`, `Content-Type: application/json`, no
query string, no `Idempotency-Key`, and a flat JSON object with a `key`, a `partner.key`
and optionally `email`, `name` and `surname`, every value a plain string that needs no
cleaning (no surrounding spaces, no control characters, no lone surrogates). That request is
answered here:

1. the body is parsed and checked against the same rules as `CustomerCreateIn`;
2. one read (`referly.api.customer_lookup`) fetches the token's row and the referral link the
   partner key names (any case) in the token's program; the token's hash is compared in
   constant time and a revoked token does not pass;
3. the customer row goes in through the group-commit writer (`app.state.writer`), sharing a
   transaction with concurrent creates, as `INSERT ... ON CONFLICT DO NOTHING`;
4. the answer, the same bytes the route would send, goes out after that commit.

Everything else is passed on untouched to the regular route (`referly.api.customers`), which
therefore gives every refusal, in its exact shape: any other form of body or header, a body
that fails a check, an unknown, revoked or malformed token, an unknown partner key, a key or
email the program already has (the insert added no row: the route then names the field), a
row the database refused or a database that could not be read or written. A request passed
on has written nothing, so the route runs it as if it had come straight to it.

It runs behind the rate-limit and body-size layers, so those apply to it as to every `/v1`
request: the rate-limit headers, 429 and 413 come from them. Where: when FastAPI's native
telemetry is off (no OpenTelemetry provider configured, the default), in front of FastAPI
(`install_customer_front`), with those layers rebuilt around it, which saves FastAPI's own
per-request layers; with telemetry on, inside the app's middleware, so the request is traced
like any other."""

import hashlib
import hmac
import json
import re
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from referly.api.asgi_body import read_body, replaying
from referly.api.body_limit import BodyLimitMiddleware
from referly.api.customer_lookup import Credit, CreditLookup, LookupFailed, credit_lookup
from referly.api.front import mark_passed_on, passed_on
from referly.api.rate_limit import RateLimitMiddleware
from referly.api.schemas.common import CONTROL_CHARACTERS, check_email, iso_timestamp
from referly.db.group_commit import GroupCommitWriter, WriteFailed
from referly.db.models import Customer
from referly.db.types import utcnow
from referly.domain.customers import SELF_REFERRAL
from referly.domain.keys import is_valid_referral_key, normalize_email, normalize_key
from referly.tracking.gateway import TrackedApp

PATH = "/v1/customers"
TOKEN = re.compile(rb"Bearer (rfl_([0-9a-f]{8})_[A-Za-z0-9_-]{1,128})")
FIELDS = frozenset({"key", "email", "name", "surname", "partner"})
MAX_KEY = 255
MAX_NAME = 255
MAX_EMAIL = 254
# A local part every email validator accepts: dot-separated runs of these characters.
SIMPLE_LOCAL_PART = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
MAX_LOCAL_PART = 64
MAX_DOMAINS = 10_000
HEADERS = [(b"content-type", b"application/json")]


class PassOn(Exception):
    """Not the common case: the regular route answers this request."""


class NewRow:
    """A checked body."""

    __slots__ = ("email", "key", "name", "partner_key", "surname")

    def __init__(
        self, key: str, partner_key: str, email: str | None, name: str | None, surname: str | None
    ) -> None:
        self.key = key
        self.partner_key = partner_key
        self.email = email
        self.name = name
        self.surname = surname


def _plain(value: Any, longest: int, shortest: int = 0) -> str:
    """A string the route would take as it is: stripping changes nothing, no control
    characters, no surrogates, length within bounds."""
    if type(value) is not str or not shortest <= len(value) <= longest:
        raise PassOn()
    if value != value.strip() or not CONTROL_CHARACTERS.isdisjoint(value):
        raise PassOn()
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as error:  # a lone surrogate, sent as an escape
            raise PassOn() from error
    return value


def _optional(body: dict[str, Any], name: str, longest: int) -> str | None:
    value = body.get(name)
    return None if value is None else _plain(value, longest)


def parse(body: bytes) -> NewRow:
    """The body, if it is in the common form and passes the route's checks; else PassOn."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # the route says which, in its words
        raise PassOn() from error
    if type(data) is not dict or not FIELDS.issuperset(data):
        raise PassOn()
    partner = data.get("partner")
    if type(partner) is not dict or len(partner) != 1:
        raise PassOn()
    partner_key = _plain(partner.get("key"), 64, 1)
    if not is_valid_referral_key(partner_key):
        raise PassOn()
    return NewRow(
        key=_plain(data.get("key"), MAX_KEY, 1),
        partner_key=partner_key,
        email=_optional(data, "email", MAX_EMAIL),
        name=_optional(data, "name", MAX_NAME),
        surname=_optional(data, "surname", MAX_NAME),
    )


class EmailCheck:
    """`check_email`, the route's rule, with the domain's verdict remembered: an address
    whose local part is plainly valid is valid exactly when its domain is."""

    def __init__(self) -> None:
        self._domains: dict[str, bool] = {}

    def valid(self, email: str) -> bool:
        local, _, domain = email.rpartition("@")
        plain = (
            0 < len(local) <= MAX_LOCAL_PART
            and domain.isascii()
            and SIMPLE_LOCAL_PART.fullmatch(local) is not None
        )
        if not plain:
            return _checks(email)
        verdict = self._domains.get(domain)
        if verdict is None:
            if len(self._domains) >= MAX_DOMAINS:
                self._domains.clear()
            verdict = self._domains[domain] = _checks(f"a@{domain}")
        return verdict


def _checks(email: str) -> bool:
    try:
        check_email(email)
    except ValueError:
        return False
    return True


def answer_body(row: NewRow, values: dict[str, Any], partner_key: str | None) -> bytes:
    """`Envelope[CustomerOut]` as the route serializes it."""
    stamp = iso_timestamp(values["created_at"])
    data = {
        "key": row.key,
        "partner": partner_key,
        "deleted": False,
        "name": row.name,
        "surname": row.surname,
        "email": row.email,
        "status": "active",
        "created_at": stamp,
        "updated_at": stamp,
        "deleted_at": None,
        "tags": [],
        "flags": [values["flag"]] if values["flag"] else [],
    }
    payload = {"data": data, "status": 1}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class CustomerFastPath:
    def __init__(self, app: ASGIApp, lookup: CreditLookup, writer: GroupCommitWriter) -> None:
        self.app = app
        self.lookup = lookup
        self.writer = writer
        self.emails = EmailCheck()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _common_request(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before sending it all: nothing to answer
        try:
            answer = await self._create(token, body)
        except PassOn:
            await self.app(scope, replaying(body, receive), send)
            return
        length = (b"content-length", str(len(answer)).encode())
        await send({"type": "http.response.start", "status": 201, "headers": [length, *HEADERS]})
        await send({"type": "http.response.body", "body": answer})

    async def _create(self, token: re.Match[bytes], body: bytes) -> bytes:
        row = parse(body)
        if row.email is not None and not self.emails.valid(row.email):
            raise PassOn()
        try:
            credit = await self.lookup.find(token[2].decode(), normalize_key(row.partner_key))
        except LookupFailed as error:
            raise PassOn() from error
        if not _authentic(credit, token[1]) or credit is None or credit.link_id is None:
            raise PassOn()
        values = _row_values(row, credit)
        try:
            inserted = await self.writer.insert(Customer, values)
        except WriteFailed as error:
            raise PassOn() from error
        if inserted.duplicate:
            raise PassOn()
        credited = credit.partner_key if values["partner_id"] is not None else None
        return answer_body(row, values, credited)


def _authentic(credit: Credit | None, token: bytes) -> bool:
    given = hashlib.sha256(token).hexdigest()
    stored = credit.token_hash if credit is not None else given
    return hmac.compare_digest(stored, given) and credit is not None and not credit.revoked


def _row_values(row: NewRow, credit: Credit) -> dict[str, Any]:
    """The customer's columns, as `referly.domain.customers.create_customer` sets them."""
    now = utcnow()
    email_ci = normalize_email(row.email) if row.email else None
    values: dict[str, Any] = {
        "program_id": credit.program_id,
        "key": row.key,
        "email": row.email,
        "email_ci": email_ci,
        "name": row.name,
        "surname": row.surname,
        "tags": [],
        "partner_id": credit.partner_id,
        "referral_link_id": credit.link_id,
        "click_id": None,
        "source": "api",
        "status": "active",
        "created_at": now,
        "updated_at": now,
        "flag": None,
        "flagged_partner_id": None,
    }
    if credit.partner_email_ci in {email_ci, normalize_email(row.key)}:  # a self-referral
        values.update(flag=SELF_REFERRAL, flagged_partner_id=credit.partner_id)
        values.update(partner_id=None, referral_link_id=None)
    return values


def _common_request(scope: Scope) -> re.Match[bytes] | None:
    """The bearer token of a request in the common form, else None."""
    if (
        scope["type"] != "http"
        or passed_on(scope)
        or scope["path"] != PATH
        or scope["method"] != "POST"
        or scope.get("query_string")
    ):
        return None
    authorization = content_type = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
        elif name == b"content-type":
            content_type = value
        elif name == b"idempotency-key":
            return None
    if content_type != b"application/json" or authorization is None:
        return None
    return TOKEN.fullmatch(authorization)


def install_customer_fast_path(app: FastAPI) -> None:
    """Add the fast path as the next middleware out (see the module's docstring for where)."""
    lookup = credit_lookup(app.state.settings.database_url, app.state.engine)
    app.state.customer_lookup = lookup
    if lookup is not None:
        app.add_middleware(CustomerFastPath, lookup=lookup, writer=app.state.writer)


def install_customer_front(app: TrackedApp) -> None:
    """Answer `POST /v1/customers` in front of FastAPI's per-request layers, with the layers it
    has inside the app rebuilt around it: server errors (the app's 500 handler), the rate
    limits (the same buckets), the body limit, then the fast path. What the fast path passes
    on goes through the whole app, whose copies of those layers let it through. Call after
    `install_rate_limits`."""
    lookup: CreditLookup | None = app.state.customer_lookup
    if lookup is None:
        return

    async def regular(scope: Scope, receive: Receive, send: Send) -> None:
        mark_passed_on(scope)
        await app.regular(scope, receive, send)

    settings = app.state.settings
    fast: ASGIApp = CustomerFastPath(regular, lookup, app.state.writer)
    sized = BodyLimitMiddleware(fast, max_bytes=settings.max_body_bytes)
    limited = RateLimitMiddleware(sized, limits=app.state.rate_limits, settings=settings)
    on_error = app.exception_handlers.get(Exception)
    app.fronts[("POST", PATH)] = ServerErrorMiddleware(limited, handler=on_error, debug=app.debug)
