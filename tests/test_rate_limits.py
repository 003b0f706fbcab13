"""Rate limits on the REST API, and the client IP behind trusted proxies."""

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referly.config import Settings
from referly.web.client_ip import client_ip
from referly.web.rate_limit import ApiRateLimits
from tests.builders import Cast, make_program
from tests.own_app import own_app

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
NOW = 1_800_000_000.0


class FakeClock:
    """Time that moves only when the test says so, for both the buckets' and the wall clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return NOW + self.now


def stop_time(application: FastAPI) -> FakeClock:
    clock = FakeClock()
    limits: ApiRateLimits = application.state.rate_limits
    for limiter in (limits.requests, limits.auth_failures):
        limiter.clock, limiter.wall_clock = clock, clock.wall
    return clock


def limit_headers(response: httpx.Response) -> tuple[int, int, int]:
    values = tuple(int(response.headers[name]) for name in HEADERS)
    return values[0], values[1], values[2]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_every_v1_answer_carries_the_rate_limit_headers(cast: Cast) -> None:
    api = cast.alice.api
    answers = [
        await api.get("/v1/test"),
        await api.get("/v1/partners/no-such-partner"),
        await api.post("/v1/partners", json={"email": "nope"}),
        await api.get("/v1/no-such-route"),
        await api.post("/v1/partners", content=b"x" * 70_000),
    ]
    assert [a.status_code for a in answers] == [200, 404, 422, 404, 413]
    for answer in answers:  # the countdown itself is checked with stopped time below
        limit, left, reset = limit_headers(answer)
        assert limit == 600 and 0 <= left < limit and abs(reset - time.time()) < 120, answer.headers


async def test_answers_outside_v1_carry_no_rate_limit_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert not any(name in response.headers for name in HEADERS)


async def test_an_empty_bucket_is_a_429_with_retry_after(settings: Settings) -> None:
    async with own_app(settings, api_rate_limit_burst=3, api_rate_limit_per_minute=30) as (
        application,
        client,
    ):
        clock = stop_time(application)
        alice = await make_program(application, client, "Alice's program")
        seen = [limit_headers(await alice.api.get("/v1/test")) for _ in range(3)]
        assert [left for _, left, _ in seen] == [2, 1, 0]
        assert seen[0] == (3, 2, int(NOW) + 2)  # one request back every 2 s
        refused = await alice.api.get("/v1/test")
        assert refused.status_code == 429
        assert refused.json() == {"message": "Too many requests", "status": 0}
        assert refused.headers["Retry-After"] == "2"
        assert limit_headers(refused) == (3, 0, int(NOW) + 6)
        clock.now += 2
        assert (await alice.api.get("/v1/test")).status_code == 200


async def test_a_refused_request_changes_nothing(settings: Settings) -> None:
    async with own_app(settings, api_rate_limit_burst=2) as (application, client):
        clock = stop_time(application)
        alice = await make_program(application, client, "Alice's program")
        for email in ("a@x.com", "b@x.com", "c@x.com"):
            await alice.api.post("/v1/partners", json={"email": email})
        clock.now += 60
        listed = (await alice.api.get("/v1/partners")).json()["data"]
        assert [p["email"] for p in listed] == ["a@x.com", "b@x.com"]


async def test_each_token_has_its_own_bucket(settings: Settings) -> None:
    async with own_app(settings, api_rate_limit_burst=2) as (application, client):
        stop_time(application)
        alice = await make_program(application, client, "Alice's program")
        bob = await make_program(application, client, "Bob's program")
        for _ in range(2):
            assert (await alice.api.get("/v1/test")).status_code == 200
        assert (await alice.api.get("/v1/test")).status_code == 429
        assert (await bob.api.get("/v1/test")).status_code == 200


async def test_requests_without_a_token_are_counted_per_client_ip(settings: Settings) -> None:
    async with own_app(settings, client_ip="203.0.113.7", api_rate_limit_burst=2) as (
        application,
        client,
    ):
        stop_time(application)
        transport = httpx.ASGITransport(app=application, client=("203.0.113.8", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            statuses = [(await client.get("/v1/test")).status_code for _ in range(3)]
            assert statuses == [401, 401, 429]
            assert (await other.get("/v1/test")).status_code == 401


async def test_failed_logins_slow_an_ip_but_never_lock_out_a_valid_token(
    settings: Settings,
) -> None:
    async with own_app(settings, api_auth_failures_per_minute=3) as (application, client):
        stop_time(application)
        working = await make_program(application, client, "Alice's program")
        assert (await working.api.get("/v1/test")).status_code == 200
        guesses = [f"rfl_{n:08x}_guess" for n in range(5)]
        statuses = [(await client.get("/v1/test", headers=bearer(g))).status_code for g in guesses]
        assert statuses == [401, 401, 401, 429, 429]
        assert (await working.api.get("/v1/test")).status_code == 200
        newcomer = await make_program(application, client, "Bob's program")
        assert (await newcomer.api.get("/v1/test")).status_code == 200  # valid, never used before
        buckets = application.state.rate_limits.requests.buckets
        assert len(buckets) == 2  # made-up tokens left nothing behind


async def test_a_slow_steady_guesser_cannot_keep_an_integration_out(
    app: FastAPI, settings: Settings
) -> None:
    """A burst of 65 bad tokens, then one a second for as long as it likes: the integration's
    token, first used in the middle of it, goes through every time."""
    async with own_app(settings, api_auth_failures_per_minute=60) as (application, client):
        clock = stop_time(application)
        integration = await make_program(application, client, "Carol's program")
        for n in range(65):
            await client.get("/v1/test", headers=bearer(f"rfl_{n:08x}_burst"))
        for second in range(180):
            clock.now += 1
            bad = await client.get("/v1/test", headers=bearer(f"rfl_{second:08x}_guess"))
            assert bad.status_code in (401, 429)
            if second % 30 == 29:
                assert (await integration.api.get("/v1/test")).status_code == 200


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(settings: Settings) -> None:
    async def statuses(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
        return [
            (await client.get("/v1/test", headers={"X-Forwarded-For": f})).status_code
            for f in forwarded
        ]

    overrides: dict[str, Any] = {"api_rate_limit_burst": 1}
    async with own_app(
        settings, client_ip="10.0.0.2", trusted_proxies=["10.0.0.0/24"], **overrides
    ) as (application, client):
        stop_time(application)
        assert await statuses(client, ["198.51.100.1", "198.51.100.2"]) == [401, 401]
        assert await statuses(client, ["198.51.100.1"]) == [429]
    async with own_app(settings, client_ip="192.0.2.50", **overrides) as (application, client):
        stop_time(application)  # an untrusted peer cannot pick a fresh address per request
        assert await statuses(client, ["198.51.100.1", "198.51.100.2"]) == [401, 429]


def scope(peer: str, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_client_ip_takes_the_rightmost_untrusted_hop() -> None:
    trusted = Settings(trusted_proxies=["10.0.0.0/8", "2001:db8::/32"])

    def ip(peer: str, *forwarded: str) -> str:
        return client_ip(scope(peer, *forwarded), trusted)

    assert ip("10.0.0.1", "1.1.1.1") == "1.1.1.1"
    assert ip("10.0.0.1", "6.6.6.6, 1.1.1.1, 10.0.0.9") == "1.1.1.1"  # 6.6.6.6 may be forged
    assert ip("10.0.0.1", "6.6.6.6", "1.1.1.1") == "1.1.1.1"  # repeated headers join
    assert ip("10.0.0.1", "10.0.0.3, 10.0.0.2") == "10.0.0.3"  # all ours: the farthest
    assert ip("10.0.0.1", "garbage, 10.0.0.5") == "10.0.0.5"  # stop at the last sound hop
    assert ip("10.0.0.1", "[2001:db9::1]:443") == "2001:db9::1"
    assert ip("10.0.0.1", "1.1.1.1:8080") == "1.1.1.1"
    assert ip("10.0.0.1") == "10.0.0.1"
    assert ip("2001:db8::5", "::ffff:1.2.3.4") == "1.2.3.4"


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer() -> None:
    assert client_ip(scope("192.0.2.1", "1.1.1.1"), Settings()) == "192.0.2.1"
    assert client_ip(scope("192.0.2.1", "1.1.1.1"), Settings(trusted_proxies=["10.0.0.1"])) == (
        "192.0.2.1"
    )
    assert client_ip({"type": "http", "headers": []}, Settings()) == ""


def test_trusted_proxies_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERLY_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    monkeypatch.setenv("REFERLY_TRUSTED_PROXIES", '["::1"]')
    assert Settings().trusted_proxies == ["::1"]
    monkeypatch.setenv("REFERLY_TRUSTED_PROXIES", "not-an-ip")
    with pytest.raises(ValueError, match="not-an-ip"):
        Settings()


async def test_the_openapi_document_declares_the_headers(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/partners"]["get"]
    assert set(HEADERS) <= set(operation["responses"]["200"]["headers"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]
