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
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# `ReferlyHttpProtocol` relies on uvicorn's internals (a cycle's `transport` and
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


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may take of the server: the size of a request's head (request line
    and headers), how long its head and its body may take to arrive, and how many connections
    the process holds at once. Beyond them the connection is answered (431, 408) or closed,
    so a slow or oversized client costs a bounded amount and never locks others out."""

    max_head_bytes: int = 16 * 1024
    head_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    max_connections: int = 1000


class ReferlyHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with each cycle writing through a `HeadHoldingTransport`
    that is flushed when the cycle's response is complete (before a pipelined request starts),
    and the `ConnectionLimits` applied."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()  # `limited()` makes one with others

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_bytes = 0
        self.in_head = True  # reading a request's head (or waiting for the next one)
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            transport.abort()  # refused at once: its descriptor is free again
            return
        super().connection_made(transport)
        self._expect(self.limits.head_timeout_seconds, 408)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self.transport is not None:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.in_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_head_bytes:
                self._refuse(431, "Request header fields too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_bytes = True, 0
        self._expect(self.limits.head_timeout_seconds, 408)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._expect(self.limits.body_timeout_seconds, 408)
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not previous:
            transport = HeadHoldingTransport(self.transport, cycle.on_response)
            cycle.transport = transport
            cycle.on_response = transport.response_complete

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_deadline()
        self.in_head, self.head_bytes = True, 0  # the next request's head, if one comes

    def _expect(self, seconds: float, status: int) -> None:
        """Close the connection with `status` unless the next stage arrives within `seconds`."""
        self._cancel_deadline()
        self.deadline = self.loop.call_later(seconds, self._refuse, status, "Request timeout")

    def _cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` when no response has started, and close the connection."""
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            body = reason.encode()
            head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\n"
            head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            self.transport.write(head.encode() + body)
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


OPTIONS: dict[str, Any] = {
    "proxy_headers": False,  # Referly reads X-Forwarded-For itself, from trusted proxies only
    "server_header": False,
}


def logging_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging, and Referly's own loggers (`referly.*`, the access log among them)
    on the same handler and level."""
    config = copy.deepcopy(LOGGING_CONFIG)
    level = log_level.upper()
    config["loggers"]["referly"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def limited(limits: ConnectionLimits) -> type[ReferlyHttpProtocol]:
    """The protocol class with these limits (uvicorn makes one protocol per connection)."""
    return type("ReferlyHttpProtocol", (ReferlyHttpProtocol,), {"limits": limits})


def serve(
    app: Any, host: str, port: int, log_level: str, limits: ConnectionLimits | None = None
) -> None:
    """Serve `app` until interrupted, with the options every Referly server uses. uvicorn's
    own access log is off: the app writes one, without personal data (`referly.web.access_log`)."""
    protocol = limited(limits or ConnectionLimits())
    log_config = logging_config(log_level)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        access_log=False,
        http=protocol,
        **OPTIONS,
    )
