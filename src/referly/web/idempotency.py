"""Idempotency keys on every `POST /v1/...`, with Stripe's semantics.

A client sends `Idempotency-Key: <1 to 255 visible ASCII characters>` (a UUID, say) and may
then retry the POST safely:

- Keys belong to the program of the token; two programs may use the same key.
- A retry with the same key, method, path, query and body bytes within 24 hours gets the
  first answer again, status and body, with `Idempotent-Replayed: true`, and changes
  nothing. After 24 hours the key is forgotten and may be used afresh.
- The same key with a different request is refused with 409.
- Concurrent duplicates: the key is reserved inside the first request's own transaction,
  so exactly one of them does the work. A duplicate that arrives while the first is still
  running is refused with 409 ("in progress") rather than made to wait (on PostgreSQL it
  waits for the first to commit and then gets the replay); it can retry and then get the
  replay. That 409, like the one for a reused key, is not stored: it is about the key, not
  the request.
- Answers stored: everything the program's request got below 500 — successes and also
  refusals such as 400, 404 and 422, like Stripe, so a retry of a refused request gets the
  same refusal. A 5xx is not stored and its key is not kept, so the retry runs again. Answers
  given before the token was checked (401, 413, malformed JSON) are not stored; they are
  the same on every retry anyway.
- One transaction holds the key, the request's work and its answer. The request's work runs
  in a savepoint inside it (so a refusal undoes the work but keeps the key and the refusal),
  the answer is written, then everything commits at once, before the answer is sent. A crash
  or a failed commit at any point leaves either nothing (the retry runs afresh) or all of it
  (the retry gets the replay); never a key without its answer. A failed commit is answered
  503, whatever the route had answered, because nothing of it was kept.

This is an ASGI middleware plus two hooks in the dependencies (`referly.api.deps`), so every
POST route under `/v1` is covered without code of its own: the middleware reads the body,
fingerprints it, owns the request's transaction and keeps the answer; the session dependency
takes that transaction instead of opening its own; the token hook, which knows the program,
reserves the key (then opens the work's savepoint) or replays the stored answer."""

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referly.db.models import IdempotencyKey
from referly.db.types import utcnow
from referly.errors import BadRequest, ReferlyError, ServiceUnavailable
from referly.web.asgi import ClientGone, read_body, replaying, respond
from referly.web.errors import error_body, error_headers
from referly.web.rate_limit import is_api_path

log = logging.getLogger("referly")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = "^[!-~]{1,255}$"  # visible ASCII, no spaces
STATE_KEY = "idempotency"


class InvalidIdempotencyKey(
    BadRequest,
    message=f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
    "(no spaces).",
):
    """A key that is not one."""


class IdempotencyKeyReused(
    ReferlyError,
    status=409,
    message=f"This {HEADER} was already used with a different request; use a new key for a "
    "new request.",
):
    """The same key with another request."""


class IdempotencyKeyInUse(
    ReferlyError,
    status=409,
    message=f"A request with this {HEADER} is still in progress; retry shortly to get its answer.",
):
    """A duplicate that arrived while the first request is still being answered."""


class IdempotentReplay(Exception):
    """The stored answer to an earlier request with the same key; rendered as it was."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class IdempotentRequest:
    """What the middleware knows about a keyed POST, shared with the dependencies."""

    key: str
    fingerprint: str
    session: AsyncSession  # the request's one transaction, committed by the middleware
    program_id: int | None = None  # set once the token is known good
    reserved_id: int | None = None  # the key's row, reserved in the request's transaction
    work: AsyncSessionTransaction | None = None  # the savepoint the request's work runs in
    settled: bool = False  # replayed or refused for the key's sake: nothing to store


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all("!" <= c <= "~" for c in key)


def keyed_request(request: Request) -> IdempotentRequest | None:
    found = request.scope.get("state", {}).get(STATE_KEY)
    return found if isinstance(found, IdempotentRequest) else None


@asynccontextmanager
async def request_session(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncSession]:
    """The session dependency's body: one transaction per request, committed when the route
    returns and before the answer is sent. A keyed POST's transaction belongs to the
    middleware, which ends it with the answer (`_commit_with_answer`)."""
    keyed = keyed_request(request)
    if keyed is not None:
        yield keyed.session
        return
    async with sessionmaker() as session, session.begin():
        yield session


async def claim(request: Request, session: AsyncSession, program_id: int) -> None:
    """Called by the token dependency: reserve the key and open the work's savepoint, or
    answer from what the key holds."""
    keyed = keyed_request(request)
    if keyed is None:
        return
    if not is_valid_key(keyed.key):
        keyed.settled = True
        raise InvalidIdempotencyKey()
    keyed.program_id = program_id
    found = await find_live(session, program_id, keyed.key)
    if found is None:
        keyed.reserved_id = await reserve(session, program_id, keyed.key, keyed.fingerprint)
        if keyed.reserved_id is not None:
            keyed.work = await session.begin_nested()
            return
        # Another request held the key; on PostgreSQL the reservation waited for it to end.
        found = await find_live(session, program_id, keyed.key)
    keyed.settled = True
    if found is None or found.response_status is None:
        raise IdempotencyKeyInUse()
    if found.fingerprint != keyed.fingerprint:
        raise IdempotencyKeyReused()
    raise IdempotentReplay(found.response_status, found.response_body or "")


# Storage of a key, the request it came with and the answer it got.

KEY_LIFETIME_HOURS = 24
KEY_LIFETIME = timedelta(hours=KEY_LIFETIME_HOURS)


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What "the same request" means: same method, path, query string and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def find_live(
    session: AsyncSession, program_id: int, key: str, now: datetime | None = None
) -> IdempotencyKey | None:
    """The program's unexpired row for `key`. Expired rows of the program go on the way."""
    cutoff = (now or utcnow()) - KEY_LIFETIME
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.program_id == program_id, IdempotencyKey.created_at <= cutoff
        )
    )
    return await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.program_id == program_id, IdempotencyKey.key == key
        )
    )


async def reserve(session: AsyncSession, program_id: int, key: str, print_: str) -> int | None:
    """Take `key` for this request: the new row's id, or None when another request holds the
    key already. On PostgreSQL a concurrent holder makes this wait until it commits or rolls
    back."""
    row = IdempotencyKey(program_id=program_id, key=key, fingerprint=print_)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row.id


def _reserved(reserved_id: int, program_id: int, key: str) -> ColumnElement[bool]:
    return and_(
        IdempotencyKey.id == reserved_id,
        IdempotencyKey.program_id == program_id,
        IdempotencyKey.key == key,
        IdempotencyKey.response_status.is_(None),
    )


class ReservationLost(Exception):
    """The reserved row was not there to take the answer: the transaction must not commit."""


async def record(
    session: AsyncSession, reserved_id: int, program_id: int, key: str, answer: tuple[int, str]
) -> None:
    """Store the answer (status, body) on the row reserved earlier in the same transaction."""
    status, body = answer
    updated = await session.execute(
        update(IdempotencyKey)
        .where(_reserved(reserved_id, program_id, key))
        .values(response_status=status, response_body=body)
    )
    if getattr(updated, "rowcount", 0) != 1:
        raise ReservationLost(key)


class _Capture:
    """Holds the app's answer back until the request's transaction has committed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 0
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
        self.messages.append(message)

    async def replay(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, sessionmaker: async_sessionmaker[AsyncSession], max_body_bytes: int
    ) -> None:
        self.app = app
        self.sessionmaker = sessionmaker
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key")
        if key is None or scope.get("method") != "POST" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.max_body_bytes)
        except ClientGone:
            return  # a cut-off body must not be answered
        except ReferlyError as error:
            await respond(send, error.status_code, error_body(error), error_headers(error))
            return
        print_ = fingerprint("POST", scope["path"], scope.get("query_string", b""), body)
        async with self.sessionmaker() as session:
            keyed = IdempotentRequest(key=key, fingerprint=print_, session=session)
            scope.setdefault("state", {})[STATE_KEY] = keyed
            capture = _Capture()
            try:
                await self.app(scope, replaying(body, receive), capture.send)
            except BaseException:
                await _rollback_quietly(session)  # a 500 rendered further out: nothing kept
                raise
            if not await _commit_with_answer(keyed, capture):
                unavailable = ServiceUnavailable()
                await respond(send, 503, error_body(unavailable), error_headers(unavailable))
                return
        await capture.replay(send)


async def _commit_with_answer(keyed: IdempotentRequest, capture: _Capture) -> bool:
    """End the work's savepoint (kept for a success, undone for a refusal), then commit the
    request's transaction with its answer (or roll it all back, for a 5xx); False when the
    commit failed, so that nothing of the request was kept."""
    session = keyed.session
    if keyed.reserved_id is None or keyed.program_id is None or capture.status >= 500:
        await _rollback_quietly(session)  # nothing kept: the retry runs again
        return True
    if keyed.work is not None and keyed.work.is_active:
        # A refusal undoes the work and keeps the key and the refusal.
        await (keyed.work.commit() if capture.status < 400 else keyed.work.rollback())
    answer = (capture.status, capture.body.decode("utf-8", errors="replace"))
    try:
        await record(session, keyed.reserved_id, keyed.program_id, keyed.key, answer)
        await session.commit()
    except Exception as error:
        log.warning("request with idempotency key not committed: %s", type(error).__name__)
        await _rollback_quietly(session)
        return False
    return True


async def _rollback_quietly(session: AsyncSession) -> None:
    """Roll back; a connection too broken for that has lost the transaction anyway."""
    try:
        await session.rollback()
    except Exception as error:
        log.warning("rollback failed: %s", type(error).__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return bytes(value).decode("latin-1").strip()
    return None
