"""The origin Referly writes into the absolute URLs it answers with (pagination links, the demo
page's script URL). Never the `Host` header as the client sent it, which anyone can set:
`REFERLY_PUBLIC_URL` when it is set; else the request's own origin only when its host is one of
`REFERLY_ALLOWED_HOSTS` (loopback names by default); else none, and the links are relative."""

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from referly.config import Settings


def public_origin(connection: HTTPConnection, settings: Settings) -> str:
    """`scheme://host[:port]` for absolute URLs, or "" (links relative to the server)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    base = connection.base_url
    if (base.hostname or "").lower() in settings.allowed_hosts:
        return str(base).rstrip("/")
    return ""


def absolute(origin: str, url: str) -> str:
    """`url` (as the request saw it) on `origin`: its path and query, and the origin before."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{origin}{parts.path}{query}"
