"""How every Referly server process is run: uvicorn (uvloop, httptools) with one set of options,
shared by `referly serve` and the benchmark's ceiling so that the two differ only in the app.

One change to uvicorn's HTTP/1.1 protocol: a response's head (status line and headers) is held
back until the body's first bytes, so that a small response leaves in ONE write to the socket,
one TCP segment, instead of two. uvicorn writes the head as soon as the app sends
`http.response.start`; on the public tracking path, where every answer is a few hundred bytes,
that second `send()` was a tenth of the server's CPU per request. Nothing waits for it: the
head goes out with the first body write, or when the response ends, or when the connection
is closed, whichever comes first; a `100 Continue` is never held."""

import asyncio
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# `OneWriteHttpProtocol` relies on uvicorn's internals (a cycle's `transport` and
# `on_response`), so uvicorn is pinned to this exact version in pyproject.toml; an upgrade is a
# change of this module, checked by tests/test_server.py.
UVICORN_VERSION = "0.55.0"
_HTTP_1_1 = b"HTTP/1.1 "
_HEAD_END = b"\r\n\r\n"


class HeadHoldingTransport(asyncio.Transport):
    """One request/response cycle's view of its connection: the response head is held until
    the next write, `flush()` or `close()`; everything else passes through."""

    __slots__ = ("_head", "_head_seen", "_on_response", "_transport")

    def __init__(self, transport: asyncio.Transport, on_response: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._on_response = on_response
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._head_seen and _is_final_head(data):
            self._head_seen = True
            self._head = bytes(data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Write the held head, if any."""
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def response_complete(self) -> None:
        """The cycle's response is whole: write what is held, then tell the protocol."""
        self.flush()
        self._on_response()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def can_write_eof(self) -> bool:
        return False  # a held head must not be overtaken by an EOF

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()


def _is_final_head(data: bytes | bytearray | memoryview) -> bool:
    """A response head that is not an informational (1xx) one."""
    chunk = bytes(data[:10])
    return chunk.startswith(_HTTP_1_1) and chunk[9:10] != b"1" and bytes(data[-4:]) == _HEAD_END


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with each cycle writing through a `HeadHoldingTransport`
    that is flushed when the cycle's response is complete (before a pipelined request starts)."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            transport = HeadHoldingTransport(self.transport, cycle.on_response)
            cycle.transport = transport
            cycle.on_response = transport.response_complete


OPTIONS: dict[str, Any] = {
    "proxy_headers": False,  # Referly reads X-Forwarded-For itself, from trusted proxies only
    "server_header": False,
    "http": OneWriteHttpProtocol,
}


def serve(app: Any, host: str, port: int, log_level: str) -> None:
    """Serve `app` until interrupted, with the options every Referly server uses. The access
    log (one line per request) is kept at `info` and below; above, its lines would be
    formatted for every request only to be dropped."""
    access_log = log_level.lower() in ("trace", "debug", "info")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log, **OPTIONS)
