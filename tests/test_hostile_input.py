"""What an attacker sends to the public endpoints and the API: text no database can store,
control characters, absurd nesting, oversized chunked bodies. Each is refused on its own, in
the error shape, stores nothing, and never fails anyone else's request."""

import asyncio
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.builders import Cast
from tests.live import LiveServer
from tests.test_input_limits import CountedBody, assert_error, customer_keys
from tests.test_tokens import live_token
from tests.tracking_helpers import clicks_of, customers_of, report

ESCAPED_SURROGATE = "\\ud800"  # as JSON text: the escape, which decodes to a lone surrogate
RAW_SURROGATE = b"\xed\xa0\x80"  # the same, as (invalid) UTF-8 bytes
MARK = "§"


def with_surrogate(template: str, raw: bool) -> bytes:
    """`template` with `§` replaced by a lone surrogate, escaped or raw."""
    if raw:
        before, after = template.split(MARK)
        return before.encode() + RAW_SURROGATE + after.encode()
    return template.replace(MARK, ESCAPED_SURROGATE).encode()


@pytest.mark.parametrize("raw", [False, True], ids=["escaped", "raw"])
async def test_a_lone_surrogate_is_refused_on_its_field_everywhere(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast, raw: bool
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    public_id = cast.alice.public_id
    cases = [
        (f"/t/{public_id}/clicks", '{"key": "jane", "url": "https://x.example/§"}', "url"),
        (f"/t/{public_id}/signups", '{"key": "k§", "partner": "jane"}', "key"),
        (f"/t/{public_id}/signups", '{"key": "k1", "name": "A§", "partner": "jane"}', "name"),
        ("/v1/customers", '{"key": "k§", "partner": {"key": "jane"}}', "key"),
        ("/v1/customers", '{"key": "k1", "name": "A§", "partner": {"key": "jane"}}', "name"),
        ("/v1/partners", '{"email": "p@example.com", "name": "A§"}', "name"),
    ]
    for path, template, field in cases:
        body = with_surrogate(template, raw)
        if path.startswith("/t/"):
            response = await client.post(path, content=body, headers={"Content-Type": "text/plain"})
        else:
            headers = {"Content-Type": "application/json"}
            response = await cast.alice.api.post(path, content=body, headers=headers)
        error = assert_error(response, 422)
        assert field in error["errors"], (path, template, error)
    assert await clicks_of(app, public_id) == []
    assert await customers_of(app, public_id) == []


async def test_control_characters_in_public_signups_are_refused_on_the_field(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    for char in ("\x00", "\x1b", "\x07", "\x7f"):
        for field, body in (
            ("key", {"key": f"k{char}1", "partner": "jane"}),
            ("email", {"key": "k1", "email": f"a{char}@example.com", "partner": "jane"}),
            ("name", {"key": "k1", "name": f"Ann{char}", "partner": "jane"}),
            ("name", {"data": {"key": "k1", "name": f"{char}Ann", "partner": {"key": "jane"}}}),
        ):
            response = await report(client, cast.alice.public_id, "signups", body)
            error = assert_error(response, 422)
            assert field in error["errors"], (repr(char), body, error)
    assert await customers_of(app, cast.alice.public_id) == []


async def test_a_chunked_oversized_customer_with_an_idempotency_key_is_413(cast: Cast) -> None:
    body = CountedBody(chunks=100)
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"big-{uuid.uuid4()}"}
    response = await cast.alice.api.post("/v1/customers", content=body, headers=headers)
    assert_error(response, 413, "Request body too large")
    assert await customer_keys(cast.alice) == []


def test_deep_nesting_on_the_public_path_is_a_400_and_a_quiet_log(
    live_server: LiveServer,
) -> None:
    _token, _prefix, public_id = live_token(live_server, "Deep nesting")
    before = live_server.log_path.read_text(errors="replace")
    for body in (b"[" * 100_000, b'{"key": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"):
        response = httpx.post(
            f"{live_server.url}/t/{public_id}/clicks",
            content=body[:8000],  # within the body limit, far past any sane depth
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )
        assert response.status_code in (400, 422), response.text
        assert response.json()["status"] == 0
    written = live_server.log_path.read_text(errors="replace")[len(before) :]
    assert "Traceback" not in written
    assert len(written) < 400, written  # at most a short line per request


def test_poisoned_reports_never_fail_their_neighbours(live_server: LiveServer) -> None:
    """Legitimate clicks and sign-ups sent at the same moment as poisoned ones (text no
    database can store, control characters, bad JSON) all commit: every 202 is a row."""
    token, _prefix, public_id = live_token(live_server, "Poisoned neighbours")
    api = {"Authorization": f"Bearer {token}"}
    partner = httpx.post(
        f"{live_server.url}/v1/partners", json={"email": "jo@example.com"}, headers=api
    ).json()["data"]
    poison = [
        with_surrogate(
            json.dumps({"key": partner["key"], "url": "https://x/§"}, ensure_ascii=False), raw=True
        ),
        with_surrogate(
            json.dumps({"key": partner["key"], "url": "https://x/§"}, ensure_ascii=False), raw=False
        ),
        json.dumps({"key": partner["key"], "url": "a\u0000b"}).encode(),
        b"[" * 5000,
    ]

    async def send_all() -> list[int]:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
            url = f"/t/{public_id}/clicks"

            async def good(n: int) -> int:
                body = json.dumps({"key": partner["key"], "visitor": f"v{n}"})
                response = await client.post(url, content=body)
                return response.status_code

            async def bad(n: int) -> int:
                return (await client.post(url, content=poison[n % len(poison)])).status_code

            tasks = [good(n) if n % 3 else bad(n) for n in range(300)]
            return list(await asyncio.gather(*tasks))

    statuses = asyncio.run(send_all())
    good = [s for n, s in enumerate(statuses) if n % 3]
    bad = [s for n, s in enumerate(statuses) if not n % 3]
    assert good == [202] * len(good)
    assert set(bad) <= {400, 422}
    listed = live_server.cli("clicks", "list", "--program", public_id, "--limit", "250")
    assert len(listed["data"]) == len(good)
