"""Refuse oversized request bodies with 413 before reading them whole."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referly.errors import PayloadTooLarge
from referly.web.asgi import respond
from referly.web.errors import error_body, error_headers


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body parsing passes it on instead of turning it into
    a 400; the error handlers render it like any other error."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=PayloadTooLarge.message)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_413(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send)


async def _send_413(send: Send) -> None:
    refused = PayloadTooLarge()
    await respond(send, 413, error_body(refused), error_headers(refused))
