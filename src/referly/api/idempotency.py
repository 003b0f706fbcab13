"""Idempotency keys on every `POST /v1/...`, with Stripe's semantics.

A client sends `Idempotency-Key: <1 to 255 visible ASCII characters>` (a UUID, say) and may
then retry the POST safely:

- Keys belong to the program of the token; two programs may use the same key.
- A retry with the same key, method, path, query and body bytes within 24 hours gets the
  first answer again, status and body, with `Idempotent-Replayed: true`, and changes
  nothing. After 24 hours the key is forgotten and may be used afresh.
- The same key with a different request is refused with 409.
- Concurrent duplicates: the key is reserved inside the first request's own transaction,
  so exactly one of them does the work. The others are refused with 409 ("in progress")
  rather than made to wait; they can retry and then get the replay. That 409, like the
  one for a reused key, is not stored: it is about the key, not the request.
- Answers stored: everything the program's request got below 500 — successes and also
  refusals such as 400, 404 and 422, like Stripe, so a retry of a refused request gets the
  same refusal. A 5xx is not stored and its key is freed, so the retry runs again. Answers
  given before the token was checked (401, 413, malformed JSON) are not stored; they are
  the same on every retry anyway.
- If the work committed but its answer could not be written (the database went away in
  between), the key answers 409 until it expires rather than risk doing the work twice.

This is an ASGI middleware plus a hook in the token dependency (`referly.api.deps`), so every
POST route under `/v1` is covered without code of its own: the middleware reads the body,
fingerprints it and keeps the answer; the hook, which knows the program, reserves the key or
replays the stored answer."""

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referly.api.rate_limit import is_api_path
from referly.db.models import Program
from referly.domain import idempotency as store
from referly.errors import BadRequest, ReferlyError

log = logging.getLogger("referly")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = "^[!-~]{1,255}$"  # visible ASCII, no spaces
STATE_KEY = "idempotency"


class InvalidIdempotencyKey(BadRequest):
    message = (
        f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces)."
    )


class IdempotencyKeyReused(ReferlyError):
    status_code = 409
    message = (
        f"This {HEADER} was already used with a different request; use a new key for a new request."
    )


class IdempotencyKeyInUse(ReferlyError):
    status_code = 409
    message = f"A request with this {HEADER} is still in progress; retry shortly to get its answer."


class IdempotentReplay(Exception):
    """The stored answer to an earlier request with the same key; rendered as it was."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class IdempotentRequest:
    """What the middleware knows about a keyed POST, shared with the token dependency."""

    key: str
    fingerprint: str
    program_id: int | None = None  # set once the token is known good
    reserved_id: int | None = None  # the key's row, reserved in the request's transaction
    settled: bool = False  # replayed or refused for the key's sake: nothing to store


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all("!" <= c <= "~" for c in key)


async def claim(request: Request, session: AsyncSession, program: Program) -> None:
    """Called by the token dependency: reserve the key, or answer from what it holds."""
    keyed: IdempotentRequest | None = request.scope.get("state", {}).get(STATE_KEY)
    if keyed is None:
        return
    if not is_valid_key(keyed.key):
        keyed.settled = True
        raise InvalidIdempotencyKey()
    keyed.program_id = program.id
    found = await store.find_live(session, program.id, keyed.key)
    if found is None:
        keyed.reserved_id = await store.reserve(session, program.id, keyed.key, keyed.fingerprint)
        if keyed.reserved_id is not None:
            return
    keyed.settled = True
    if found is None:
        raise IdempotencyKeyInUse()  # a concurrent request reserved it first
    if found.fingerprint != keyed.fingerprint:
        raise IdempotencyKeyReused()
    if found.response_status is None:
        raise IdempotencyKeyInUse()
    raise IdempotentReplay(found.response_status, found.response_body or "")


class _Capture:
    """Holds the app's answer back until the key's record is written."""

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
    def __init__(self, app: ASGIApp, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.app = app
        self.sessionmaker = sessionmaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key")
        if key is None or scope.get("method") != "POST" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        print_ = store.fingerprint("POST", scope["path"], scope.get("query_string", b""), body)
        keyed = IdempotentRequest(key=key, fingerprint=print_)
        scope.setdefault("state", {})[STATE_KEY] = keyed
        capture = _Capture()
        try:
            await self.app(scope, _replaying(body, receive), capture.send)
        except Exception:
            capture.status = 500  # rendered further out; free the key on the way
            await self._settle(keyed, capture)
            raise
        await self._settle(keyed, capture)
        await capture.replay(send)

    async def _settle(self, keyed: IdempotentRequest, capture: _Capture) -> None:
        if keyed.program_id is None or keyed.settled:
            return
        try:
            async with self.sessionmaker() as session, session.begin():
                await _store_answer(session, keyed, capture)
        except Exception as error:  # the answer itself stands; only its record is lost
            log.warning("idempotency key not recorded: %s", error.__class__.__name__)


async def _store_answer(session: AsyncSession, keyed: IdempotentRequest, capture: _Capture) -> None:
    assert keyed.program_id is not None
    if capture.status >= 500:
        if keyed.reserved_id is not None:
            await store.release(session, keyed.reserved_id, keyed.program_id, keyed.key)
        return
    answer = (capture.status, capture.body.decode("utf-8", errors="replace"))
    await store.record(
        session, keyed.reserved_id, keyed.program_id, keyed.key, keyed.fingerprint, answer
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return bytes(value).decode("latin-1").strip()
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client went away before sending it all (a cut-off
    body must not be answered, let alone have its answer kept). The size limit outside this
    middleware stops an oversized one."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def document_idempotency(openapi: dict[str, Any]) -> None:
    """Declare the header, the replay marker and the 409 on every `POST /v1/...`."""
    parameter = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": "Makes a retry of this request safe for 24 hours; see the API docs.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    }
    conflict = {
        "description": "Idempotency key reused with another request, or still in progress",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    replayed = {"description": "`true` on an answer replayed for an idempotency key"}
    for path, operations in openapi.get("paths", {}).items():
        operation = operations.get("post")
        if not is_api_path(path) or operation is None:
            continue
        operation.setdefault("parameters", []).append(parameter)
        operation["responses"].setdefault("409", conflict)
        for status, response in operation["responses"].items():
            if status.startswith(("2", "4")):
                response.setdefault("headers", {})[REPLAYED_HEADER] = {
                    **replayed,
                    "schema": {"type": "string", "enum": ["true"]},
                }


def install_idempotency(app: FastAPI) -> None:
    async def on_replay(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, IdempotentReplay)
        headers = {REPLAYED_HEADER: "true"}
        return Response(exc.body, exc.status, headers, media_type="application/json")

    app.add_exception_handler(IdempotentReplay, on_replay)
    app.add_middleware(IdempotencyMiddleware, sessionmaker=app.state.sessionmaker)
