"""What one client connection may take of a live `referly serve`: oversized heads are refused
with 431, silent and slow clients are cut off, and the process holds a bounded number of
connections, so none of it locks other clients out or keeps memory."""

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from referly.config import Settings
from tests.live import LiveServer, start_live_server

LIMITS = {
    "max_header_bytes": "8192",
    "header_timeout_seconds": "1",
    "body_timeout_seconds": "1",
    "max_connections": "40",
}


@pytest.fixture(scope="module")
def limited_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    server = start_live_server(settings.database_url, tmp_path_factory.mktemp("limits"), **LIMITS)
    yield server
    server.stop()


def address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def answer_to(connection: socket.socket, seconds: float = 5) -> bytes:
    """What the server sends until it closes the connection (or `seconds` pass)."""
    received, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        except ConnectionError:  # reset: closed while we were still sending
            return received + b"<closed>"
        if not chunk:
            return received + b"<closed>"
        received += chunk
    return received


def rss_kb(server: LiveServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def test_an_oversized_request_head_is_refused_with_431(limited_server: LiveServer) -> None:
    with socket.create_connection(address(limited_server)) as connection:
        connection.sendall(b"GET /v1/test HTTP/1.1\r\nHost: x\r\n")
        for n in range(200):
            try:
                connection.sendall(b"X-Filler-%d: %s\r\n" % (n, b"a" * 100))
            except ConnectionError:
                break
        answer = answer_to(connection)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert answer.endswith(b"<closed>")
    assert httpx.get(limited_server.url + "/v1/test").status_code == 401  # still serving


def test_header_floods_leave_memory_where_it_was(limited_server: LiveServer) -> None:
    """Twenty connections each trying to send megabytes of header lines: each is cut off at
    the limit, so the process does not grow with what they send."""
    before = rss_kb(limited_server)
    connections = [socket.create_connection(address(limited_server)) for _ in range(20)]
    line = b"X-Flood: " + b"f" * 1000 + b"\r\n"
    for connection in connections:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    for _round in range(200):  # up to 200 KB per connection, 4 MB in all
        for connection in connections:
            with contextlib.suppress(ConnectionError, OSError):
                connection.sendall(line)
    for connection in connections:
        assert answer_to(connection).startswith(b"HTTP/1.1 431 ")
        connection.close()
    assert rss_kb(limited_server) - before < 10_000  # KB: not the megabytes sent


def test_a_silent_connection_is_closed_after_the_head_timeout(limited_server: LiveServer) -> None:
    with socket.create_connection(address(limited_server)) as connection:
        started = time.monotonic()
        answer = answer_to(connection, seconds=5)
    assert answer.endswith(b"<closed>") and time.monotonic() - started < 4
    assert b"408" in answer or answer == b"<closed>"


def test_a_dribbled_head_is_cut_off_after_the_head_timeout(limited_server: LiveServer) -> None:
    with socket.create_connection(address(limited_server)) as connection:
        started = time.monotonic()
        closed = False
        for byte in b"GET /v1/test HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":
            try:
                connection.sendall(bytes([byte]))
            except (ConnectionError, OSError):
                closed = True
                break
            time.sleep(0.1)
        answer = answer_to(connection, seconds=3)
    assert closed or answer.endswith(b"<closed>")
    assert time.monotonic() - started < 6


def test_a_body_that_never_comes_is_cut_off(limited_server: LiveServer) -> None:
    with socket.create_connection(address(limited_server)) as connection:
        connection.sendall(
            b"POST /t/NOPROGRM/clicks HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"
        )
        started = time.monotonic()
        answer = answer_to(connection, seconds=5)
    assert answer.endswith(b"<closed>") and time.monotonic() - started < 4


def test_connections_over_the_cap_are_refused_and_others_still_served(
    limited_server: LiveServer,
) -> None:
    """More silent connections than the cap: the excess is refused at once (its descriptor is
    free again), the rest time out; a client arriving afterwards is served."""
    held = [socket.create_connection(address(limited_server)) for _ in range(60)]
    try:
        refused = sum(1 for connection in held if answer_to(connection, 0.3) == b"<closed>")
        assert refused >= 15  # 60 opened, 40 allowed (a few may already be timing out)
    finally:
        for connection in held:
            connection.close()
    time.sleep(1.5)  # the held ones time out
    assert httpx.get(limited_server.url + "/v1/test", timeout=5).status_code == 401
