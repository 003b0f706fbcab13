"""Hostile and oversized input gets a clear 4xx in the error shape and stores nothing."""

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from referly.config import Settings
from tests.builders import Cast, ProgramFixture, make_program
from tests.live import LiveServer
from tests.own_app import own_app

CHUNK = 16 * 1024
CONTROL_CHARACTERS = [chr(c) for c in (0x00, 0x01, 0x08, 0x09, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F)]


class CountedBody:
    """A streamed request body that remembers how much of it the server pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"email": "big@example.com", "name": "'
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * CHUNK
        yield b'"}'


async def partner_emails(program: ProgramFixture) -> list[str]:
    listed = await program.api.get("/v1/partners")
    assert listed.status_code == 200, listed.text
    return [p["email"] for p in listed.json()["data"]]


async def customer_keys(program: ProgramFixture) -> list[str]:
    listed = await program.api.get("/v1/customers")
    assert listed.status_code == 200, listed.text
    return [c["key"] for c in listed.json()["data"]]


def assert_error(response: Any, status: int, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = dict(response.json())
    assert error["status"] == 0 and error["message"], error
    if message is not None:
        assert error["message"] == message
    return error


async def test_a_declared_oversized_body_is_refused_unread(cast: Cast) -> None:
    body = CountedBody(chunks=100)
    response = await cast.alice.api.post(
        "/v1/partners",
        content=body,
        headers={"Content-Type": "application/json", "Content-Length": str(100 * CHUNK + 40)},
    )
    assert_error(response, 413, "Request body too large")
    assert body.pulled == 0
    assert await partner_emails(cast.alice) == []


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency-key"])
async def test_a_chunked_oversized_body_is_refused_after_the_limit(cast: Cast, keyed: bool) -> None:
    body = CountedBody(chunks=100)  # 1.6 MB, no Content-Length
    headers = {"Content-Type": "application/json"}
    if keyed:
        headers["Idempotency-Key"] = "chunked-too-big"
    response = await cast.alice.api.post("/v1/partners", content=body, headers=headers)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "Request body too large")
    assert body.pulled <= 64 * 1024 // CHUNK + 1  # stopped at the 64 KB limit, not read whole
    assert await partner_emails(cast.alice) == []


async def test_a_100_kb_string_is_refused_clearly(cast: Cast, settings: Settings) -> None:
    huge = {"email": "huge@example.com", "name": "n" * 100_000}
    assert_error(await cast.alice.api.post("/v1/partners", json=huge), 413)
    assert await partner_emails(cast.alice) == []
    async with own_app(settings, max_body_bytes=1024 * 1024) as (application, client):
        roomy = await make_program(application, client, "Roomy program")
        error = assert_error(await roomy.api.post("/v1/partners", json=huge), 422)
        assert list(error["errors"]) == ["name"]
        assert await partner_emails(roomy) == []


async def test_absurd_paging_is_a_422(cast: Cast) -> None:
    for params in (
        {"limit": str(10**30)},
        {"limit": "-1"},
        {"limit": "1e3"},
        {"page": "0"},
        {"page": str(10**7)},
        {"page": "1.5"},
        {"page": "NaN"},
    ):
        for path in ("/v1/partners", "/v1/customers"):
            error = assert_error(await cast.alice.api.get(path, params=params), 422)
            assert set(error["errors"]) == set(params), (path, params)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000,
        b"[" * 30_000 + b"]" * 30_000,
        b'{"email": "deep@example.com", "tags": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    ],
    ids=["open-brackets", "balanced-arrays", "deep-field", "deep-objects"],
)
async def test_deeply_nested_json_is_a_clear_400(cast: Cast, body: bytes) -> None:
    for path in ("/v1/partners", "/v1/customers"):
        response = await cast.alice.api.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 400, "The JSON body is nested too deeply.")
    assert await partner_emails(cast.alice) == []


async def test_moderately_nested_json_in_a_field_is_a_422(cast: Cast) -> None:
    nested: Any = "vip"
    for _ in range(500):
        nested = [nested]
    body = {"email": "nested@example.com", "tags": nested}
    error = assert_error(await cast.alice.api.post("/v1/partners", json=body), 422)
    assert [field.split(".")[0] for field in error["errors"]] == ["tags"], error
    assert await partner_emails(cast.alice) == []


async def test_a_json_body_that_is_not_an_object_is_a_422(cast: Cast) -> None:
    for body in ([{"email": "list@example.com"}], "text", 42, True, None):
        for path in ("/v1/partners", "/v1/customers", "/v1/partner_referral_links"):
            response = await cast.alice.api.post(
                path, content=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            assert_error(response, 422)
    assert await partner_emails(cast.alice) == []
    assert await customer_keys(cast.alice) == []


async def test_invalid_utf8_is_a_400(cast: Cast) -> None:
    for raw in (
        b'{"email": "\xff\xfe@example.com"}',
        b'{"email": "a@example.com", "name": "\xc3"}',
    ):
        for path in ("/v1/partners", "/v1/customers"):
            response = await cast.alice.api.post(
                path, content=raw, headers={"Content-Type": "application/json"}
            )
            assert_error(response, 400, "The request body is not valid UTF-8.")
    assert await partner_emails(cast.alice) == []


async def test_control_characters_in_partner_fields_are_refused_on_the_field(cast: Cast) -> None:
    for char in CONTROL_CHARACTERS:
        for field, body in (
            ("name", {"email": "cc@example.com", "name": f"Ann{char}Lee"}),
            ("surname", {"email": "cc@example.com", "surname": f"{char}Lee"}),
            ("id", {"email": "cc@example.com", "id": f"p{char}1"}),
            ("tags", {"email": "cc@example.com", "tags": ["ok", f"v{char}ip"]}),
            ("email", {"email": f"c{char}c@example.com"}),
        ):
            error = assert_error(await cast.alice.api.post("/v1/partners", json=body), 422)
            assert field in error["errors"], (repr(char), field, error)
            assert "control characters" in error["errors"][field][0], error
    assert await partner_emails(cast.alice) == []


async def test_control_characters_in_customer_fields_are_refused_on_the_field(cast: Cast) -> None:
    await cast.alice.partner("owner@example.com", key="owner")
    for char in ("\x00", "\n", "\x7f"):
        for field, body in (
            ("key", {"key": f"cus{char}1", "partner": {"key": "owner"}}),
            ("name", {"key": "cus1", "name": f"B{char}", "partner": {"key": "owner"}}),
            ("partner", {"key": "cus1", "partner": {"key": f"own{char}er"}}),
        ):
            error = assert_error(await cast.alice.api.post("/v1/customers", json=body), 422)
            assert field in error["errors"], (repr(char), field, error)
    assert await customer_keys(cast.alice) == []


async def test_control_characters_in_paths_and_queries_are_a_422(cast: Cast) -> None:
    for path, field in (
        ("/v1/partners/a%00b", "id"),
        ("/v1/partners/a%7Fb", "id"),
        ("/v1/partners:search?name=a%00b", "name"),
        ("/v1/partners:search?email=a%0Ab%40example.com", "email"),
        ("/v1/customers/a%00b", "key"),
        ("/v1/customers?partner_key=a%00", "partner_key"),
    ):
        error = assert_error(await cast.alice.api.get(path), 422)
        assert field in error["errors"], (path, error)


def live_token(server: LiveServer) -> str:
    public_id = str(server.cli("programs", "create", "--name", "Body limits")["public_id"])
    return str(server.cli("tokens", "create", "--program", public_id)["token"])


def first_answer_line(server: LiveServer, head: bytes, body: bytes) -> bytes:
    """Send a request whose body never ends, and read what the server says meanwhile."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + body)
        return connection.recv(4096).split(b"\r\n", 1)[0]


def request_head(token: str, framing: str) -> bytes:
    lines = [
        "POST /v1/partners HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        framing,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_real_server_refuses_oversized_bodies_without_waiting_for_them(
    live_server: LiveServer,
) -> None:
    token = live_token(live_server)
    declared = request_head(token, "Content-Length: 10000000")
    assert first_answer_line(live_server, declared, b"") == b"HTTP/1.1 413 Request Entity Too Large"
    chunk = b"x" * CHUNK
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))  # 80 KB, no end
    chunked = request_head(token, "Transfer-Encoding: chunked")
    assert first_answer_line(live_server, chunked, chunks) == (
        b"HTTP/1.1 413 Request Entity Too Large"
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "w@example.com", "name": "x" * 300}, "name", "may not be greater than 255"),
        ({"email": "w@example.com", "key": ""}, "key", "must not be empty"),
        ({"email": "w@example.com", "key": "a b/c"}, "key", "may only contain letters"),
        ({"email": "w@example.com", "tags": ["t"] * 51}, "tags", "more than 50 items"),
    ],
)
async def test_rule_breaks_are_worded_for_people(
    cast: Cast, body: dict[str, Any], field: str, message: str
) -> None:
    response = await cast.alice.api.post("/v1/partners", json=body)
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"][field]
    assert message in problem and problem.startswith(f"The {field} ")
    assert "w@example.com" not in await partner_emails(cast.alice)
