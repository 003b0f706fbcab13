"""The HTTP server every Referly process runs (`referly.server`): uvicorn with the response head
held until the body's first bytes, so a small response is one write. Checked on a fake
transport (the writes themselves) and on a real server over raw sockets (HEAD, 204, streaming,
pipelining, `100 Continue`, an app failing mid-response)."""

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from referly.server import HeadHoldingTransport
from tools.processes import free_port, stop, wait_until_answering

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def holding() -> tuple[HeadHoldingTransport, RecordingTransport, list[str]]:
    real, events = RecordingTransport(), []
    return HeadHoldingTransport(real, lambda: events.append("response complete")), real, events


def test_the_head_goes_out_with_the_first_body_bytes_in_one_write() -> None:
    transport, real, _events = holding()
    transport.write(HEAD)
    assert real.writes == []
    transport.write(b"hello")
    transport.write(b" more")
    assert real.writes == [HEAD + b"hello", b" more"]


def test_a_head_without_body_goes_out_when_the_response_is_complete_or_closed() -> None:
    transport, real, events = holding()
    transport.write(HEAD)
    transport.response_complete()
    assert real.writes == [HEAD] and events == ["response complete"]

    transport, real, _events = holding()
    transport.write(HEAD)
    transport.close()
    assert real.writes == [HEAD] and real.closed


def test_an_interim_100_continue_is_never_held() -> None:
    transport, real, _events = holding()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert real.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    transport.write(HEAD)
    assert len(real.writes) == 1  # the final head, held
    transport.write(b"hello")
    assert real.writes[1] == HEAD + b"hello"


APP = """
import asyncio

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(1.0)
        await send({"type": "http.response.body", "body": b"second"})
    elif path == "/fail":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100")]})
        raise RuntimeError("the app fails after starting its answer")
    else:
        body = path.encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("server")
    (folder / "server_app.py").write_text(APP)
    port = free_port()
    code = (
        f"from referly.server import serve; serve('server_app:app', '127.0.0.1', {port}, 'warning')"
    )
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_answering(process, f"http://127.0.0.1:{port}/", "server", Path(log_path), 30)
        yield "127.0.0.1", port
    finally:
        stop(process)


def connect(server: tuple[str, int]) -> socket.socket:
    connection = socket.create_connection(server, timeout=5)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def read_until(connection: socket.socket, ending: bytes, seconds: float = 5) -> bytes:
    received, deadline = b"", time.monotonic() + seconds
    while not received.endswith(ending) and time.monotonic() < deadline:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        received += chunk
    return received


def test_answers_head_and_204_and_keeps_the_connection(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until(connection, b"/hello")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n/hello")
        connection.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until(connection, b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 6" in answer
        connection.sendall(b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(connection, b"\r\n\r\n").startswith(b"HTTP/1.1 204 No Content\r\n")


def test_pipelined_requests_are_answered_in_order(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /two HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        answer = read_until(connection, b"/three")
    _before, one, two, three = answer.split(b"HTTP/1.1 200 OK\r\n")
    assert one.endswith(b"\r\n\r\n/one")
    assert two.endswith(b"content-length: 4\r\n\r\n")  # HEAD: the head alone
    assert three.endswith(b"\r\n\r\n/three")


def test_a_streamed_answer_starts_with_its_first_chunk(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        first = read_until(connection, b"first\r\n", seconds=0.8)
        assert time.monotonic() - start < 0.8  # not held until the second chunk
        assert b"transfer-encoding: chunked" in first and first.endswith(b"5\r\nfirst\r\n")
        assert read_until(connection, b"0\r\n\r\n").endswith(b"6\r\nsecond\r\n0\r\n\r\n")


def test_100_continue_reaches_the_client_before_it_sends_the_body(
    server: tuple[str, int],
) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        assert read_until(connection, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(b"data")
        assert read_until(connection, b"/upload").startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_app_failing_after_its_head_closes_the_connection(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until(connection, b"never")  # until the server closes
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 100" in answer


def test_uvicorn_is_the_version_the_protocol_was_written_for() -> None:
    """`ReferlyHttpProtocol` reaches into uvicorn's protocol: an upgrade must be deliberate
    (pin, code and this check changed together), and the internals it uses must be there."""
    import tomllib

    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

    from referly.server import UVICORN_VERSION

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert f"uvicorn[standard]=={UVICORN_VERSION}" in project["project"]["dependencies"]
    assert uvicorn.__version__ == UVICORN_VERSION
    assert callable(HttpToolsProtocol.on_headers_complete)
    assert {"transport", "on_response"} <= set(RequestResponseCycle.__init__.__code__.co_varnames)
