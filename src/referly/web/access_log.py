"""One line per request, without personal data: the method, the route (its template, not the
values in the path), the status and the time taken. Query strings and path values (emails,
keys) are never written, whatever the log level."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("referly.access")


def route_of(scope: Scope) -> str:
    """The route's template (`/v1/customers/{key}`) when a route matched, else the path with
    every segment past the first two replaced by `…`."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    segments = scope.get("path", "").split("/")
    return "/".join(segment if n < 3 else "…" for n, segment in enumerate(segments))


class AccessLog:
    """Wraps an ASGI app; logs at INFO, so it costs nothing when the level is higher."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope["method"], route_of(scope), status, elapsed)
