"""Security headers on every answer of the app (the public tracking path sets its own): no
content sniffing, no framing by other sites, no referrer to other origins, and for an HTML page
that sets no policy of its own a strict Content-Security-Policy (only this server's scripts,
styles and images)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_PAGE_POLICY = (
    b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    b"object-src 'none'; form-action 'self'"
)
ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _value in headers}
                headers += [(name, value) for name, value in ALWAYS if name not in names]
                html = any(
                    n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers
                )
                if html and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", STRICT_PAGE_POLICY))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)
