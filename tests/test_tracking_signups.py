"""`POST /t/{id}/signups` on SQLite and PostgreSQL: a referred sign-up becomes a customer
credited to the partner, with its link, click and source; repeats and unknown keys change
nothing and are answered the same."""

import asyncio
import json

import httpx
import pytest
from email_validator import EmailNotValidError, validate_email
from fastapi import FastAPI

from referly.config import Settings
from referly.db.models import ReferralLink
from referly.errors import ValidationFailed
from referly.tracking.reports import SignupReport, parse
from tests.builders import Cast, make_program
from tests.own_app import own_app
from tests.tracking_helpers import clicks_of, configure, customers_of, report


async def test_a_signup_becomes_a_customer_credited_to_the_partner(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    click = {"key": "jane", "url": "https://www.shop.example/?aff=jane", "visitor": "visitor1"}
    assert (await report(client, cast.alice.public_id, "clicks", click)).status_code == 202
    signup = {
        "key": "ann@example.com",
        "email": "ann@example.com",
        "name": "Ann",
        "surname": "Lee",
        "partner": "jane",
        "source": "universal",
        "visitor": "visitor1",
    }
    response = await report(client, cast.alice.public_id, "signups", signup)
    assert response.status_code == 202
    assert response.json() == {"status": 1}
    [customer] = await customers_of(app, cast.alice.public_id)
    [recorded_click] = await clicks_of(app, cast.alice.public_id)
    assert (customer.key, customer.email, customer.name, customer.surname) == (
        "ann@example.com",
        "ann@example.com",
        "Ann",
        "Lee",
    )
    assert customer.source == "universal"
    assert customer.click_id == recorded_click.id
    assert customer.referral_link_id == recorded_click.referral_link_id
    assert customer.partner_id == recorded_click.partner_id
    listed = await cast.alice.api.get("/v1/customers")
    assert [(c["key"], c["partner"]) for c in listed.json()["data"]] == [
        ("ann@example.com", "jane")
    ]


async def test_partneros_signup_shape_is_accepted(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    body = {
        "data": {
            "key": "customer_123456",
            "name": "John",
            "email": "john.doe@partnero.com",
            "partner": {"key": "JANE"},
        }
    }
    response = await report(client, cast.alice.public_id, "signups", body)
    assert response.status_code == 202
    [customer] = await customers_of(app, cast.alice.public_id)
    assert (customer.key, customer.source, customer.click_id) == ("customer_123456", "js", None)
    assert customer.partner_id is not None


async def test_a_signup_through_an_extra_link_credits_that_link(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    added = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": "jane"}, "key": "jane-yt"}
    )
    assert added.status_code == 201
    await report(client, cast.alice.public_id, "clicks", {"key": "jane-yt", "visitor": "v2"})
    body = {"key": "c1", "email": "c1@example.com", "partner": "jane-yt", "visitor": "v2"}
    assert (await report(client, cast.alice.public_id, "signups", body)).status_code == 202
    [customer] = await customers_of(app, cast.alice.public_id)
    async with app.state.sessionmaker() as session:
        link = await session.get(ReferralLink, customer.referral_link_id)
    assert link is not None and link.key == "jane-yt" and not link.is_default
    [click] = await clicks_of(app, cast.alice.public_id)
    assert customer.click_id == click.id


async def test_first_click_programs_link_the_visitors_first_click(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    fresh = await make_program(app, client, "First-click program")
    await fresh.partner("jane@example.com", key="jane")
    await configure(app, fresh.public_id, attribution="first_click")
    for _ in range(2):
        await report(client, fresh.public_id, "clicks", {"key": "jane", "visitor": "v3"})
    body = {"key": "c1", "partner": "jane", "visitor": "v3"}
    await report(client, fresh.public_id, "signups", body)
    first, _second = await clicks_of(app, fresh.public_id)
    [customer] = await customers_of(app, fresh.public_id)
    assert customer.click_id == first.id


async def test_a_repeated_signup_is_a_no_op_success(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.alice.partner("mark@example.com", key="mark")
    body = {"key": "ann@example.com", "email": "ann@example.com", "name": "Ann", "partner": "jane"}
    first = await report(client, cast.alice.public_id, "signups", body)
    again = await report(client, cast.alice.public_id, "signups", {**body, "partner": "mark"})
    same_email = await report(client, cast.alice.public_id, "signups", {**body, "key": "other-key"})
    for response in (again, same_email):
        assert response.status_code == first.status_code == 202
        assert response.content == first.content
    [customer] = await customers_of(app, cast.alice.public_id)
    assert customer.key == "ann@example.com"
    listed = await cast.alice.api.get("/v1/customers")
    assert [c["partner"] for c in listed.json()["data"]] == ["jane"]


async def test_concurrent_repeats_make_one_customer(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    body = {"key": "race@example.com", "email": "race@example.com", "partner": "jane"}
    answers = await asyncio.gather(
        *(report(client, cast.alice.public_id, "signups", body) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [202] * 8
    assert len(await customers_of(app, cast.alice.public_id)) == 1


async def test_an_unknown_key_is_answered_the_same_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    referral = await make_program(app, client, "Friends", type="referral")
    valid = await report(client, cast.alice.public_id, "signups", {"key": "a1", "partner": "jane"})
    for public_id in (cast.alice.public_id, referral.public_id):
        for body in ({"key": "x1", "partner": "nobody"}, {"key": "x2"}):
            response = await report(client, public_id, "signups", body)
            assert response.status_code == valid.status_code == 202
            assert response.content == valid.content
    assert [c.key for c in await customers_of(app, cast.alice.public_id)] == ["a1"]
    assert await customers_of(app, referral.public_id) == []


async def test_bad_signups_get_a_clear_error_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    cases = [
        ({"partner": "jane"}, "key"),
        ({"key": "", "partner": "jane"}, "key"),
        ({"key": "k" * 256, "partner": "jane"}, "key"),
        ({"key": "k1", "email": "not-an-email", "partner": "jane"}, "email"),
        ({"key": "k1", "name": ["Ann"], "partner": "jane"}, "name"),
        ({"key": "k1", "partner": "bad key!"}, "partner"),
        ({"key": "k1", "partner": "jane", "source": "api"}, "source"),
    ]
    for body, field in cases:
        response = await report(client, cast.alice.public_id, "signups", body)
        assert response.status_code == 422, body
        answer = response.json()
        assert answer["status"] == 0 and field in answer["errors"], answer
    malformed = await report(client, cast.alice.public_id, "signups", "{oops")
    assert malformed.status_code == 400
    assert await customers_of(app, cast.alice.public_id) == []


async def test_a_numeric_customer_key_is_kept_as_text(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    body = {"data": {"key": 123456, "partner": {"key": "jane"}}}
    assert (await report(client, cast.alice.public_id, "signups", body)).status_code == 202
    [customer] = await customers_of(app, cast.alice.public_id)
    assert customer.key == "123456"


@pytest.mark.parametrize(
    "email",
    [
        "ann@example.com",
        "ann.lee+news@mail.example.co.uk",
        "A_B-c@EXAMPLE.COM",
        "ann@localhost",
        "ann@example",
        "ann@example..com",
        "ann@-example.com",
        "ann@exa_mple.com",
        "ann@123.123.123.123",
        "ann@[127.0.0.1]",
        "ann@example.test",
        "ann@example.invalid",
        ".ann@example.com",
        "ann.@example.com",
        "a..nn@example.com",
        "a" * 64 + "@example.com",
        "a" * 65 + "@example.com",
        "ann@" + "d" * 63 + ".com",
        "ann@" + "d" * 64 + ".com",
        "ann@" + ".".join(["d" * 60] * 4) + ".com",
        "ann@exämple.com",
        "änn@example.com",
        '"ann lee"@example.com',
        "Ann <ann@example.com>",
        "ann@@example.com",
        "ann@example.com@example.com",
    ],
)
def test_email_checks_agree_with_the_email_validator(email: str) -> None:
    """The fast path for common addresses accepts exactly what `validate_email` accepts."""
    try:
        validate_email(email, check_deliverability=False)
        expected = True
    except EmailNotValidError:
        expected = False
    for _twice in range(2):  # the second time, the domain's verdict is remembered
        body = json.dumps({"key": "k1", "email": email, "partner": "jane"}).encode()
        try:
            parse(SignupReport, body)
            accepted = True
        except ValidationFailed as error:
            assert "email" in error.errors
            accepted = False
        assert accepted == expected, email


async def test_a_signup_flood_from_one_ip_is_throttled(settings: Settings, cast: Cast) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    limits = {"tracking_rate_burst": 5, "tracking_rate_per_minute": 1}

    def signup(number: int) -> dict[str, str]:
        email = f"flood{number}@example.com"
        return {"key": email, "email": email, "partner": "jane", "source": "js"}

    async with own_app(settings, client_ip="198.51.100.7", **limits) as (app, flooder):
        answers = [
            (await report(flooder, cast.alice.public_id, "signups", signup(n))).status_code
            for n in range(20)
        ]
        assert answers == [202] * 5 + [429] * 15
        stored = await customers_of(app, cast.alice.public_id)
        assert sorted(c.key for c in stored) == sorted(signup(n)["key"] for n in range(5))
    async with own_app(settings, client_ip="198.51.100.8", **limits) as (app, neighbour):
        response = await report(neighbour, cast.alice.public_id, "signups", signup(99))
        assert response.status_code == 202
        assert len(await customers_of(app, cast.alice.public_id)) == 6


@pytest.mark.only_backend("sqlite")
async def test_the_visitors_click_is_found_through_the_link_and_visitor_index(
    app: FastAPI,
) -> None:
    """A busy partner has hundreds of thousands of clicks: the sign-up's look-up of the
    visitor's clicks must go through (referral_link_id, visitor_id), never walk the partner's
    or the program's clicks."""
    from referly.db.raw import SQLITE_DIALECT
    from referly.db.reads import compile_query
    from referly.domain.clicks import VISITOR_CLICKS

    compiled = compile_query(VISITOR_CLICKS, SQLITE_DIALECT)
    async with app.state.engine.connect() as connection:
        found = await connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + compiled.sql, tuple([None] * len(compiled.steps))
        )
        plan = " / ".join(row[3] for row in found)
    assert "ix_clicks_referral_link_id_visitor_id" in plan, plan
    assert "ix_clicks_partner_id" not in plan and "ix_clicks_program_id" not in plan, plan
