"""Bare ASGI request and response helpers, for the layers that run without a framework (the
public tracking path, the middleware in front of the REST API)."""

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from referly.errors import BadRequest, PayloadTooLarge

Headers = list[tuple[bytes, bytes]]


class ClientGone(BadRequest, message="The client went away"):
    """The client went away before sending the whole body: there is nobody to answer."""


JSON_TYPE = (b"content-type", b"application/json")


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to be over `limit`."""
    declared = header(scope, b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge() if declared.isdigit() else BadRequest("Bad Content-Length")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        if not body and not message.get("more_body", False):  # all of it in one message
            if len(chunk) > limit:
                raise PayloadTooLarge()
            return bytes(chunk)
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge()
        if not message.get("more_body", False):
            return bytes(body)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` whole first, then whatever the client sends next (its
    disconnect): a body read once by a layer, handed on to the app behind it."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def respond(send: Send, status: int, body: bytes, headers: Headers) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


def json_bytes(payload: Any) -> bytes:
    """JSON as every answer of Referly's is written: compact, UTF-8, no NaN."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
