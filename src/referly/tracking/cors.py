"""CORS for the public endpoints. The script's requests are simple requests (GET, or POST
with a `text/plain` body), so browsers send no preflight; one is still answered for clients
that send JSON. Cookies are never wanted here, so `Access-Control-Allow-Credentials` is never
sent: a page cannot make a visitor's browser report with Referly-side credentials."""

from referly.domain.origins import origin_allowed
from referly.web.asgi import Headers

PREFLIGHT_HEADERS: Headers = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"86400"),
]


def cors_headers(origin: bytes | None) -> Headers:
    """Echo the caller's origin (or `*` when it sent none), and vary caches on it."""
    if origin is None:
        return [(b"access-control-allow-origin", b"*")]
    return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]


def is_allowed(origin: bytes | None, allowed: tuple[str, ...]) -> bool:
    return origin_allowed(origin.decode("latin-1") if origin is not None else None, allowed)
