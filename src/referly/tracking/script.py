"""`GET /js/universal.js`: the compacted script, gzipped once at startup, with an ETag per
encoding and a cache lifetime. The loader adds `?v<number>` that changes every ~17 minutes,
so browsers pick up a new script soon without revalidating on every page view."""

from starlette.types import Scope, Send

from referly.static.script import ServedScript
from referly.tracking.http import MethodNotAllowed, error_body, error_headers, header

SCRIPT_PATH = "/js/universal.js"
CACHE_CONTROL = b"public, max-age=3600"


async def serve_script(scope: Scope, send: Send, script: ServedScript) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        error = MethodNotAllowed()
        await _send(send, 405, error_body(error), [*error_headers(error), (b"allow", b"GET")])
        return
    gzipped = b"gzip" in (header(scope, b"accept-encoding") or b"").lower()
    etag = script.etag_gzipped if gzipped else script.etag
    headers = [
        (b"cache-control", CACHE_CONTROL),
        (b"etag", etag.encode()),
        (b"vary", b"Accept-Encoding"),
    ]
    if etag.encode() in (header(scope, b"if-none-match") or b""):
        await _send(send, 304, b"", headers)
        return
    headers += [
        (b"content-type", b"application/javascript; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
        (b"access-control-allow-origin", b"*"),
    ]
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    body = script.gzipped if gzipped else script.body
    await _send(send, 200, body, headers, head=scope["method"] == "HEAD")


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], head: bool = False
) -> None:
    if status != 304:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
