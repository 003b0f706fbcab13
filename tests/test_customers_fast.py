"""`POST /v1/customers` in its common form is answered by the fast path
(`referly.api.customers_fast`); everything else by the route. Both must be indistinguishable
from outside, on SQLite and PostgreSQL."""

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from referly.api.customers_fast import EmailCheck, PassOn, _checks, parse
from referly.config import Settings
from referly.db.models import Customer, Program, ReferralLink
from referly.domain import tokens
from tests.builders import Cast, ProgramFixture, make_program
from tests.own_app import own_app

JSON = {"Content-Type": "application/json"}
# The route reads this content type the same; the fast path takes only the plain one.
ROUTE_ONLY = {"Content-Type": "application/json; charset=utf-8"}
VOLATILE_HEADERS = {"x-ratelimit-remaining", "x-ratelimit-reset", "content-length"}
STAMP = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"')


def rows_written(app: FastAPI) -> int:
    """Rows the group-commit writer committed: the fast path's inserts go through it."""
    return int(app.state.writer.stats.rows)


async def create(
    program: ProgramFixture, body: dict[str, Any], headers: dict[str, str] = JSON
) -> httpx.Response:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return await program.api.post("/v1/customers", content=raw, headers=headers)


async def fast(app: FastAPI, program: ProgramFixture, body: dict[str, Any]) -> httpx.Response:
    before = rows_written(app)
    response = await create(program, body)
    assert rows_written(app) == before + 1, ("not answered by the fast path", response.text)
    return response


async def routed(app: FastAPI, program: ProgramFixture, body: dict[str, Any]) -> httpx.Response:
    before = rows_written(app)
    response = await create(program, body, ROUTE_ONLY)
    assert rows_written(app) == before, "answered by the fast path"
    return response


def same_shape(fast_answer: httpx.Response, routed_answer: httpx.Response, keys: dict) -> None:
    """Equal status, bytes (but for the customer key and timestamps) and headers (but for the
    rate limit's countdown and the length that follows the key)."""
    assert fast_answer.status_code == routed_answer.status_code
    body = STAMP.sub(b'"T"', fast_answer.content)
    for mine, theirs in keys.items():
        body = body.replace(json.dumps(mine).encode(), json.dumps(theirs).encode())
    assert body == STAMP.sub(b'"T"', routed_answer.content)

    def headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
        return [
            (k, v) for k, v in response.headers.raw if k.decode().lower() not in VOLATILE_HEADERS
        ]

    def names(response: httpx.Response) -> list[bytes]:
        return [k.lower() for k, _ in response.headers.raw]

    assert headers(fast_answer) == headers(routed_answer)
    assert names(fast_answer) == names(routed_answer)


async def test_the_fast_answer_is_the_routes_answer_byte_for_byte(app: FastAPI, cast: Cast) -> None:
    await cast.alice.partner("same@example.com", key="same-bytes")
    cases = [
        {"key": "k", "partner": {"key": "same-bytes"}},
        {"key": "k", "email": "k@example.com", "name": "Zoë", "surname": "", "partner": {}},
        {"key": "k", "name": "a\u2028\u00e9\U0001f600 </b>", "partner": {"key": "same-bytes"}},
        {"key": "k", "email": None, "name": 'Ann "Q" Lee', "partner": {"key": "SAME-Bytes"}},
        {"key": "k", "email": "same@example.com", "partner": {"key": "same-bytes"}},  # own link
    ]
    for number, case in enumerate(cases):
        if not case["partner"]:
            case["partner"] = {"key": "same-bytes"}
        mine, theirs = f"fast-{number}", f"routed-{number}"
        if case.get("email") == "k@example.com":
            first = await fast(app, cast.alice, {**case, "key": mine, "email": f"{mine}@x.com"})
            second = await routed(
                app, cast.alice, {**case, "key": theirs, "email": f"{theirs}@x.com"}
            )
            same_shape(first, second, {mine: theirs, f"{mine}@x.com": f"{theirs}@x.com"})
            continue
        if case.get("email") == "same@example.com":
            first = await fast(app, cast.alice, {**case, "key": mine})
            await cast.alice.api.delete(f"/v1/customers/{mine}")  # frees the email
            second = await routed(app, cast.alice, {**case, "key": theirs})
            assert first.json()["data"]["flags"] == ["self_referral"]
            assert first.json()["data"]["partner"] is None
            same_shape(first, second, {mine: theirs})
            continue
        first = await fast(app, cast.alice, {**case, "key": mine})
        second = await routed(app, cast.alice, {**case, "key": theirs})
        assert first.status_code == 201, first.text
        assert first.json()["data"]["partner"] == "same-bytes"
        same_shape(first, second, {mine: theirs})


async def test_a_customer_from_the_fast_path_is_stored_like_the_routes(
    app: FastAPI, cast: Cast
) -> None:
    partner = await cast.alice.partner("linked@example.com", key="linked")
    link = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": partner["key"]}, "key": "promo-x"}
    )
    assert link.status_code == 201, link.text
    await fast(
        app, cast.alice, {"key": "via-link", "email": "A@B.com", "partner": {"key": "PROMO-X"}}
    )
    await routed(
        app, cast.alice, {"key": "via-route", "email": "c@d.com", "partner": {"key": "promo-x"}}
    )
    async with app.state.sessionmaker() as session:
        found = {
            c.key: c
            for c in await session.scalars(
                select(Customer)
                .join(Program, Program.id == Customer.program_id)
                .where(Program.public_id == cast.alice.public_id)
            )
        }
        promo = await session.scalar(select(ReferralLink).where(ReferralLink.key == "promo-x"))
    assert promo is not None
    fast_row, route_row = found["via-link"], found["via-route"]
    assert fast_row.email_ci == "a@b.com" and fast_row.referral_link_id == promo.id
    for column in (c.name for c in Customer.__table__.columns):
        if column in ("id", "key", "email", "email_ci", "created_at", "updated_at"):
            continue
        assert getattr(fast_row, column) == getattr(route_row, column), column
    assert fast_row.created_at == fast_row.updated_at


async def test_refusals_are_the_routes(app: FastAPI, cast: Cast) -> None:
    await cast.alice.partner("refuse@example.com", key="refuser")
    await cast.bob.partner("bobs@example.com", key="bobs-partner")
    created = await fast(
        app,
        cast.alice,
        {"key": "taken", "email": "taken@example.com", "partner": {"key": "refuser"}},
    )
    assert created.status_code == 201
    before = rows_written(app)
    cases = [
        ({"key": "taken", "partner": {"key": "refuser"}}, 422, {"key"}),
        (
            {"key": "other", "email": "TAKEN@example.com", "partner": {"key": "refuser"}},
            422,
            {"email"},
        ),
        (
            {"key": "taken", "email": "taken@example.com", "partner": {"key": "refuser"}},
            422,
            {"key", "email"},
        ),
        ({"key": "nope", "partner": {"key": "no-such-partner"}}, 400, None),
        ({"key": "nope", "partner": {"key": "bobs-partner"}}, 400, None),  # Bob's, not Alice's
        ({"key": "nope", "email": "not-an-email", "partner": {"key": "refuser"}}, 422, {"email"}),
        ({"key": "", "partner": {"key": "refuser"}}, 422, {"key"}),
        ({"key": "x" * 256, "partner": {"key": "refuser"}}, 422, {"key"}),
        ({"key": "bell\u0007", "partner": {"key": "refuser"}}, 422, {"key"}),
    ]
    for body, status, fields in cases:
        answer = await create(cast.alice, body)
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()
        assert error["status"] == 0
        if fields is not None:
            assert set(error["errors"]) == fields, (body, error)
        else:
            assert error == {"message": "Invalid partner key", "status": 0}
        assert "X-RateLimit-Limit" in answer.headers
    assert rows_written(app) == before


async def test_a_revoked_token_is_refused_on_the_next_request(app: FastAPI, cast: Cast) -> None:
    await cast.alice.partner("revoke@example.com", key="revoker")
    body = {"key": "before-revoke", "partner": {"key": "revoker"}}
    assert (await fast(app, cast.alice, body)).status_code == 201
    async with app.state.sessionmaker() as session, session.begin():
        await tokens.revoke_token(session, cast.alice.token)
    refused = await create(cast.alice, {"key": "after-revoke", "partner": {"key": "revoker"}})
    assert refused.status_code == 401
    assert refused.json() == {"message": "Unauthenticated.", "status": 0}
    forged = cast.bob.token[:-4] + "AAAA"
    bad = await cast.bob.api.post(
        "/v1/customers",
        content=json.dumps({"key": "forged", "partner": {"key": "revoker"}}),
        headers={**JSON, "Authorization": f"Bearer {forged}"},
    )
    assert bad.status_code == 401


async def test_other_forms_are_left_to_the_route(app: FastAPI, cast: Cast) -> None:
    """Each of these is answered by the route, the way it always was."""
    await cast.alice.partner("forms@example.com", key="forms")
    before = rows_written(app)
    padded = await create(cast.alice, {"key": "  padded  ", "partner": {"key": "forms"}})
    assert padded.status_code == 201 and padded.json()["data"]["key"] == "padded"
    legacy = await create(
        cast.alice,
        {"customer": {"key": "legacy", "email": "legacy@x.com"}, "partner": {"key": "forms"}},
    )
    assert legacy.status_code == 201 and legacy.json()["data"]["key"] == "legacy"
    surrogate = await cast.alice.api.post(
        "/v1/customers", content=b'{"key":"x\\ud800","partner":{"key":"forms"}}', headers=JSON
    )
    assert surrogate.status_code == 422 and set(surrogate.json()["errors"]) == {"key"}
    tagged = await create(cast.alice, {"key": "tagged", "tags": ["a"], "partner": {"key": "forms"}})
    assert tagged.json()["data"]["tags"] == [{"value": "a"}]
    keyed = await cast.alice.api.post(
        "/v1/customers",
        json={"key": "keyed", "partner": {"key": "forms"}},
        headers={"Idempotency-Key": "fast-path-keyed"},
    )
    again = await cast.alice.api.post(
        "/v1/customers",
        json={"key": "keyed", "partner": {"key": "forms"}},
        headers={"Idempotency-Key": "fast-path-keyed"},
    )
    assert (keyed.status_code, again.headers.get("Idempotent-Replayed")) == (201, "true")
    malformed = await cast.alice.api.post("/v1/customers", content=b'{"key":', headers=JSON)
    assert malformed.status_code == 400 and malformed.json()["message"] == "Malformed JSON body"
    assert rows_written(app) == before


async def test_rate_limits_and_body_size_apply(settings: Settings) -> None:
    async with own_app(settings, api_rate_limit_burst=3, api_rate_limit_per_minute=1) as (
        application,
        client,
    ):
        program = await make_program(application, client, "Fast limits")
        await program.partner("limits@example.com", key="limits")  # spends one
        answers = [
            await create(program, {"key": f"limit-{n}", "partner": {"key": "limits"}})
            for n in range(3)
        ]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
        assert "Retry-After" in answers[2].headers
        assert application.state.writer.stats.rows == 2
    async with own_app(settings, max_body_bytes=1024) as (application, client):
        program = await make_program(application, client, "Fast sizes")
        big = {"key": "big", "name": "x" * 2000, "partner": {"key": "limits"}}
        answer = await create(program, big)
        assert answer.status_code == 413
        assert answer.json() == {"message": "Request body too large", "status": 0}


@pytest.mark.parametrize(
    "body",
    [
        b'{"key":"a","partner":{"key":"p"},"extra":1}',
        b'{"key":"a","partner":{"key":"p","id":"x"}}',
        b'{"key":"a","partner":"p"}',
        b'{"key":"a"}',
        b'{"key":1,"partner":{"key":"p"}}',
        b'{"key":" a","partner":{"key":"p"}}',
        b'{"key":"a","partner":{"key":"not a key"}}',
        b'{"key":"a","name":"' + b"n" * 256 + b'","partner":{"key":"p"}}',
        b'{"key":"a\\n","partner":{"key":"p"}}',
        b'{"key":"a\\ud800","partner":{"key":"p"}}',
        b'["key"]',
        b'{"key":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b"nul",
    ],
)
def test_bodies_out_of_the_common_form_are_passed_on(body: bytes) -> None:
    with pytest.raises(PassOn):
        parse(body)


@pytest.mark.parametrize(
    "email",
    [
        "plain@example.com",
        "first.last+tag@sub.example.co.uk",
        "UPPER_case-1@Example.COM",
        "a@b",
        "a@localhost",
        "a@example.test",
        "a@-bad.com",
        "a@bad-.com",
        "a@bad..com",
        "a@exa_mple.com",
        "a@123.456",
        "a@[127.0.0.1]",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a b@example.com",
        '"quoted"@example.com',
        "x" * 65 + "@example.com",
        "a@" + "d" * 64 + ".com",
        "a@" + ".".join(["d" * 60] * 5) + ".com",
        "caf\u00e9@example.com",
        "a@b\u00fccher.de",
        "no-at-sign",
        "@example.com",
        "a@example.com.",
    ],
)
def test_the_email_shortcut_agrees_with_the_validator(email: str) -> None:
    check = EmailCheck()
    assert check.valid(email) == _checks(email)
    assert check.valid(email) == _checks(email)  # and again, from what it remembered


async def test_in_front_of_fastapi_only_while_telemetry_is_off(
    app: FastAPI, settings: Settings
) -> None:
    """Untraced, the front answers; with an OpenTelemetry provider configured, the request goes
    through FastAPI (and its telemetry) like any other and gets the same answer."""
    from opentelemetry.trace import NoOpTracerProvider

    async with own_app(settings) as (application, client):
        program = await make_program(application, client, "Front")
        await program.partner("front@example.com", key="front")
        key = ("POST", "/v1/customers")
        front = application.fronts[key]  # type: ignore[attr-defined]
        used: list[str] = []

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            used.append(scope["path"])
            await front(scope, receive, send)

        application.fronts[key] = counted  # type: ignore[attr-defined]
        untraced = await fast(application, program, {"key": "f-1", "partner": {"key": "front"}})
        assert used == ["/v1/customers"]
        telemetry = application._native_telemetry  # type: ignore[attr-defined]
        telemetry.config["tracer_provider"] = NoOpTracerProvider()
        assert telemetry.enabled()
        traced = await fast(application, program, {"key": "f-2", "partner": {"key": "front"}})
        assert used == ["/v1/customers"]  # not in front this time
        same_shape(untraced, traced, {"f-1": "f-2"})


async def test_a_request_passed_on_is_limited_once(app: FastAPI, settings: Settings) -> None:
    async with own_app(settings, api_rate_limit_burst=10, api_rate_limit_per_minute=1) as (
        application,
        client,
    ):
        program = await make_program(application, client, "Passed on")
        await program.partner("passed@example.com", key="passed")  # spends one
        bodies = [
            {"key": "p-1", "partner": {"key": "passed"}},  # the fast path answers
            {"key": "p-2", "partner": {"key": "nobody"}},  # passed on: the route refuses
            {"key": "p-1", "partner": {"key": "passed"}},  # passed on: a duplicate
        ]
        answers = [await create(program, body) for body in bodies]
        assert [a.status_code for a in answers] == [201, 400, 422]
        remaining = [a.headers["X-RateLimit-Remaining"] for a in answers]
        assert remaining == ["8", "7", "6"]
        for answer in answers:
            assert [k.lower() for k, _ in answer.headers.raw].count(b"x-ratelimit-limit") == 1
