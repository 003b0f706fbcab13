"""`POST /t/{id}/clicks` on SQLite and PostgreSQL: what is recorded, what is refused, and
that a valid and an unknown referral key get the same answer."""

from typing import Any

import httpx
from fastapi import FastAPI

from referly.config import Settings
from referly.db.models import Partner
from tests.builders import Cast
from tests.own_app import own_app
from tests.tracking_helpers import SITE, clicks_of, configure, report

LANDING = "https://www.shop.example/pricing?aff=jane"


async def test_it_records_a_click_for_a_partner_key(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    jane = await cast.alice.partner("jane@example.com", key="jane")
    body = {
        "key": "jane",
        "url": LANDING,
        "referrer": "https://blog.example/review",
        "visitor": "v1abc",
    }
    response = await report(client, cast.alice.public_id, "clicks", body)
    assert response.status_code == 202
    assert response.json() == {"status": 1}
    [click] = await clicks_of(app, cast.alice.public_id)
    assert click.landing_url == LANDING
    assert click.referrer == "https://blog.example/review"
    assert click.visitor_id == "v1abc"
    assert click.referral_link_id is not None
    assert click.ip_hash is not None and len(click.ip_hash) == 32  # a hash, never the address
    async with app.state.sessionmaker() as session:
        partner = await session.get(Partner, click.partner_id)
        assert partner is not None and partner.public_id == jane["id"]


async def test_keys_match_in_any_case_and_extra_link_keys_count(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="Jane")
    added = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": "Jane"}, "key": "jane-yt"}
    )
    assert added.status_code == 201, added.text
    for key in ("JANE", "jane-YT"):
        response = await report(client, cast.alice.public_id, "clicks", {"key": key})
        assert response.status_code == 202
    clicks = await clicks_of(app, cast.alice.public_id)
    assert len(clicks) == 2
    assert clicks[0].partner_id == clicks[1].partner_id
    assert clicks[0].referral_link_id != clicks[1].referral_link_id


async def test_an_unknown_key_gets_the_same_answer_and_credits_nobody(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.bob.partner("bobs@example.com", key="bobs-partner")
    valid = await report(client, cast.alice.public_id, "clicks", {"key": "jane"})
    unknown = await report(client, cast.alice.public_id, "clicks", {"key": "nobody"})
    elsewhere = await report(client, cast.alice.public_id, "clicks", {"key": "bobs-partner"})
    for response in (unknown, elsewhere):
        assert response.status_code == valid.status_code == 202
        assert response.content == valid.content
        assert response.headers == valid.headers
    assert len(await clicks_of(app, cast.alice.public_id)) == 1
    assert await clicks_of(app, cast.bob.public_id) == []


async def test_valid_and_unknown_keys_each_wait_for_a_commit(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    """No key-guessing oracle: an unknown key runs the same look-up and is answered only after
    the writer's next commit, as a valid one is after the commit holding its row."""
    await cast.alice.partner("jane@example.com", key="jane")
    await report(client, cast.alice.public_id, "clicks", {"key": "warm-the-program-cache"})
    writer = app.state.writer
    calls: list[str] = []
    real_insert, real_barrier = writer.insert, writer.barrier

    async def insert(target: Any, values: Any, follow: Any = ()) -> Any:
        calls.append("insert")
        return await real_insert(target, values, follow)

    async def barrier() -> None:
        calls.append("barrier")
        await real_barrier()

    writer.insert, writer.barrier = insert, barrier
    try:
        valid = await report(client, cast.alice.public_id, "clicks", {"key": "jane"})
        unknown = await report(client, cast.alice.public_id, "clicks", {"key": "janet"})
    finally:
        del writer.insert, writer.barrier
    assert calls == ["insert", "barrier"]
    assert (valid.status_code, valid.content) == (unknown.status_code, unknown.content)
    assert len(await clicks_of(app, cast.alice.public_id)) == 1


async def test_malformed_bodies_get_a_clear_error_and_record_nothing(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    cases = [
        ("{not json", 400, "Malformed JSON body"),
        ("[1, 2]", 400, "The body must be a JSON object"),
        ("", 400, "Malformed JSON body"),
        ('{"url": "https://x.example"}', 422, "The key field is required."),
        ('{"key": "has space"}', 422, None),
        ('{"key": 42}', 422, None),
        ('{"key": "jane", "url": 7}', 422, "The url must be a string."),
        ('{"key": "jane", "visitor": "<script>"}', 422, None),
        ('{"key": "jane", "url": "' + "x" * 5000 + '"}', 422, None),
    ]
    for body, status, message in cases:
        response = await report(client, cast.alice.public_id, "clicks", body)
        assert response.status_code == status, body
        answer = response.json()
        assert answer["status"] == 0 and answer["message"]
        if message:
            assert answer["message"] == message
        if status == 422:
            assert answer["errors"]
    assert await clicks_of(app, cast.alice.public_id) == []


async def test_an_oversized_body_is_413_before_it_is_read(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    big = '{"key": "jane", "referrer": "' + "r" * 20_000 + '"}'
    response = await report(client, cast.alice.public_id, "clicks", big)
    assert response.status_code == 413
    assert response.json() == {"message": "Request body too large", "status": 0}
    assert await clicks_of(app, cast.alice.public_id) == []


async def test_cors_echoes_the_origin_and_never_allows_credentials(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    response = await report(client, cast.alice.public_id, "clicks", {"key": "jane"})
    assert response.headers["access-control-allow-origin"] == SITE
    assert "Origin" in response.headers["vary"]
    without = await report(client, cast.alice.public_id, "clicks", {"key": "jane"}, origin=None)
    assert without.headers["access-control-allow-origin"] == "*"
    preflight = await client.options(
        f"/t/{cast.alice.public_id}/clicks",
        headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    for answer in (response, without, preflight):
        assert "access-control-allow-credentials" not in answer.headers


async def test_allowed_origins_refuse_other_sites(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await configure(
        app,
        cast.alice.public_id,
        allowed_origins=["https://www.shop.example", "https://*.shop.example"],
    )
    ok = await report(client, cast.alice.public_id, "clicks", {"key": "jane"}, origin=SITE)
    sub = await report(
        client, cast.alice.public_id, "clicks", {"key": "jane"}, origin="https://app.shop.example"
    )
    refused = await report(
        client, cast.alice.public_id, "clicks", {"key": "jane"}, origin="https://evil.example"
    )
    assert ok.status_code == sub.status_code == 202
    assert refused.status_code == 403
    assert refused.json() == {"message": "This origin may not report to the program", "status": 0}
    assert "access-control-allow-origin" not in refused.headers
    assert len(await clicks_of(app, cast.alice.public_id)) == 2


async def test_it_rate_limits_per_ip_and_program(settings: Settings, cast: Cast) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.bob.partner("bob-partner@example.com", key="jane")
    limits = {"tracking_rate_burst": 3, "tracking_rate_per_minute": 1}
    async with own_app(settings, client_ip="203.0.113.9", **limits) as (app, client):
        answers = [
            (await report(client, cast.alice.public_id, "clicks", {"key": "jane"})).status_code
            for _ in range(4)
        ]
        assert answers == [202, 202, 202, 429]
        limited = await report(client, cast.alice.public_id, "clicks", {"key": "jane"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["x-ratelimit-limit"] == "3"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) > 1_700_000_000
        assert limited.json() == {"message": "Too many requests", "status": 0}
        other_program = await report(client, cast.bob.public_id, "clicks", {"key": "jane"})
        assert other_program.status_code == 202
        assert len(await clicks_of(app, cast.alice.public_id)) == 3
    async with own_app(settings, client_ip="203.0.113.10", **limits) as (_, other_ip):
        response = await report(other_ip, cast.alice.public_id, "clicks", {"key": "jane"})
        assert response.status_code == 202


async def test_loopback_is_limited_only_when_asked(settings: Settings, cast: Cast) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    limits = {"tracking_rate_burst": 1, "tracking_rate_per_minute": 1}
    async with own_app(settings, client_ip="127.0.0.1", **limits) as (_, client):
        answers = [
            (await report(client, cast.alice.public_id, "clicks", {"key": "jane"})).status_code
            for _ in range(3)
        ]
        assert answers == [202, 202, 202]
    async with own_app(settings, client_ip="127.0.0.1", tracking_limit_loopback=True, **limits) as (
        _,
        client,
    ):
        answers = [
            (await report(client, cast.alice.public_id, "clicks", {"key": "jane"})).status_code
            for _ in range(2)
        ]
        assert answers == [202, 429]


async def test_unknown_programs_routes_and_methods_are_refused(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    missing = await report(client, "ZZZZ9999", "clicks", {"key": "jane"})
    assert missing.status_code == 404
    assert missing.json() == {"message": "Program not found", "status": 0}
    malformed_id = await report(client, "not-an-id", "clicks", {"key": "jane"})
    assert malformed_id.status_code == 404
    wrong_action = await report(client, cast.alice.public_id, "purchases", {"key": "jane"})
    assert wrong_action.status_code == 404
    wrong_method = await client.get(f"/t/{cast.alice.public_id}/clicks")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 0
