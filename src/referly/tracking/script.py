"""`GET /js/universal.js`: the compacted script, gzipped once at startup, with an ETag per
encoding and a cache lifetime. The loader adds `?v<number>` that changes every ~17 minutes,
so browsers pick up a new script soon without revalidating on every page view.

Every answer's headers and body are built once, at startup; a request only picks one of them
after one pass over its headers."""

from dataclasses import dataclass

from starlette.types import Scope, Send

from referly.errors import MethodNotAllowed
from referly.static.build import ServedScript
from referly.web.asgi import Headers
from referly.web.errors import error_body, error_headers

SCRIPT_PATH = "/js/universal.js"
CACHE_CONTROL = b"public, max-age=3600"


@dataclass(frozen=True)
class _Variant:
    """One encoding of the script: its ETag, body, and the headers of its 200 and 304."""

    etag: bytes
    body: bytes
    ok_headers: Headers
    not_modified_headers: Headers

    @classmethod
    def of(cls, body: bytes, etag: str, encoding: bytes | None) -> "_Variant":
        validators = [
            (b"cache-control", CACHE_CONTROL),
            (b"etag", etag.encode()),
            (b"vary", b"Accept-Encoding"),
        ]
        ok = [
            *validators,
            (b"content-type", b"application/javascript; charset=utf-8"),
            (b"x-content-type-options", b"nosniff"),
            (b"access-control-allow-origin", b"*"),
        ]
        if encoding is not None:
            ok.append((b"content-encoding", encoding))
        ok.append((b"content-length", str(len(body)).encode()))
        return cls(etag.encode(), body, ok, validators)


class ScriptResponder:
    def __init__(self, script: ServedScript) -> None:
        self.script = script
        self.plain = _Variant.of(script.body, script.etag, None)
        self.gzipped = _Variant.of(script.gzipped, script.etag_gzipped, b"gzip")
        refused = MethodNotAllowed()
        self.refused_body = error_body(refused)
        self.refused_headers = [
            *error_headers(refused),
            (b"allow", b"GET"),
            (b"content-length", str(len(self.refused_body)).encode()),
        ]

    async def __call__(self, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await _send(send, 405, self.refused_headers, self.refused_body)
            return
        variant, if_none_match = self.plain, None
        for name, value in scope["headers"]:
            if name == b"accept-encoding" and b"gzip" in value.lower():
                variant = self.gzipped
            elif name == b"if-none-match":
                if_none_match = value
        if if_none_match is not None and variant.etag in if_none_match:
            await _send(send, 304, variant.not_modified_headers, b"")
            return
        await _send(send, 200, variant.ok_headers, b"" if method == "HEAD" else variant.body)


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
