"""The ceiling: a bare ASGI app answering 204 to everything, served exactly as `referly serve`
serves Referly (`referly.server.serve`: same uvicorn options, loop and HTTP protocol), so the
ratio of a path to it measures what Referly itself costs.

Run: `python -m tools.bench.ceiling --port 8001 [--log-level warning]`."""

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from referly.server import serve

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    more_body = scope["type"] == "http"
    while more_body:  # read the request body, as any real endpoint has to
        message = await receive()
        more_body = bool(message.get("more_body", False))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="info")
    options = parser.parse_args()
    serve(app, options.host, options.port, options.log_level)  # as `referly serve` does


if __name__ == "__main__":
    main()
