"""Bare ASGI request and response helpers for the tracking path: no framework objects, no
per-request dependency machinery, because this path is hot."""

import json
from typing import Any

from starlette.types import Receive, Scope, Send

from referly.errors import BadRequest, PayloadTooLarge, ReferlyError

Headers = list[tuple[bytes, bytes]]
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
            raise BadRequest("The client went away")
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


async def respond(send: Send, status: int, body: bytes, headers: Headers) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


def json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def error_body(error: ReferlyError) -> bytes:
    payload: dict[str, Any] = {"message": error.message, "status": 0}
    errors = getattr(error, "errors", None)
    if errors:
        payload["errors"] = errors
    return json_bytes(payload)


def error_headers(error: ReferlyError) -> Headers:
    headers = [JSON_TYPE]
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    headers.extend(getattr(error, "limit_headers", ()))
    if isinstance(error, PayloadTooLarge):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    return headers


class OriginRefused(ReferlyError):
    status_code = 403
    message = "This origin may not report to the program"


class MethodNotAllowed(ReferlyError):
    status_code = 405
    message = "Method not allowed"
