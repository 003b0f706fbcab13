"""A partner signing up through their own link, on SQLite and PostgreSQL, through the REST API
and through the public sign-up path: the customer is kept, credited to nobody, and flagged."""

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referly.db.models import Customer, Partner, Program
from tests.builders import Cast, ProgramFixture
from tests.tracking_helpers import clicks_of, customers_of, report


async def create(program: ProgramFixture, body: dict[str, Any]) -> dict[str, Any]:
    response = await program.api.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def stored(app: FastAPI, public_id: str, key: str) -> Customer:
    async with app.state.sessionmaker() as session:
        customer = await session.scalar(
            select(Customer)
            .join(Program, Program.id == Customer.program_id)
            .where(Program.public_id == public_id, Customer.key == key)
        )
    assert customer is not None
    return customer


async def partner_id(app: FastAPI, public_id: str, key: str) -> int:
    async with app.state.sessionmaker() as session:
        found = await session.scalar(
            select(Partner.id)
            .join(Program, Program.id == Partner.program_id)
            .where(Program.public_id == public_id, Partner.key == key)
        )
    assert found is not None
    return int(found)


async def referrals_of(program: ProgramFixture, key: str) -> tuple[int, list[str]]:
    found = await program.api.get("/v1/partners:search", params={"key": key})
    [partner] = found.json()["data"]
    listed = await program.api.get("/v1/customers", params={"partner.key": key})
    return partner["referrals_count"], [c["key"] for c in listed.json()["data"]]


async def test_a_partner_creating_themselves_as_customer_is_flagged_not_credited(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("Jane@Example.com", key="jane")
    body = {"key": "c-self", "email": "JANE@example.COM", "partner": {"key": "jane"}}
    customer = await create(cast.alice, body)
    assert customer["partner"] is None
    assert customer["flags"] == ["self_referral"]
    row = await stored(app, cast.alice.public_id, "c-self")
    assert (row.partner_id, row.referral_link_id) == (None, None)
    assert row.flag == "self_referral"
    assert row.flagged_partner_id == await partner_id(app, cast.alice.public_id, "jane")
    assert await referrals_of(cast.alice, "jane") == (0, [])
    fetched = (await cast.alice.api.get("/v1/customers/c-self")).json()["data"]
    assert fetched == customer


async def test_an_ordinary_customer_is_credited_and_carries_no_flag(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.alice.partner("mark@example.com", key="mark")
    # Another partner's email through Jane's link is a referral by Jane, not a self-referral.
    body = {"key": "c-mark", "email": "mark@example.com", "partner": {"key": "jane"}}
    customer = await create(cast.alice, body)
    assert (customer["partner"], customer["flags"]) == ("jane", [])
    row = await stored(app, cast.alice.public_id, "c-mark")
    assert (row.flag, row.flagged_partner_id) == (None, None)
    assert await referrals_of(cast.alice, "jane") == (1, ["c-mark"])


async def test_the_partner_is_caught_however_the_request_names_them(cast: Cast) -> None:
    jane = await cast.alice.partner("jane@example.com", key="jane")
    added = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": "jane"}, "key": "jane-yt"}
    )
    assert added.status_code == 201, added.text
    refs: list[dict[str, Any]] = [
        {"partner": {"id": jane["id"]}},
        {"partner": {"email": "jane@example.com"}},
        {"partner": {"key": "JANE-YT"}},
        {"partner": {"key": "jane"}, "options": {"referral_url": "https://x.example/?aff=jane-yt"}},
    ]
    for n, ref in enumerate(refs):
        customer = await create(
            cast.alice, {"key": f"self-{n}", "email": "jane@example.com", **ref}
        )
        assert (customer["partner"], customer["flags"]) == (None, ["self_referral"]), ref
        deleted = await cast.alice.api.delete(f"/v1/customers/self-{n}")
        assert deleted.status_code == 200
    assert await referrals_of(cast.alice, "jane") == (0, [])


async def test_the_partners_email_as_the_customer_key_counts_too(cast: Cast) -> None:
    """The universal integration uses the email as the customer key."""
    await cast.alice.partner("jane@example.com", key="jane")
    customer = await create(cast.alice, {"key": "Jane@Example.com", "partner": {"key": "jane"}})
    assert (customer["partner"], customer["flags"]) == (None, ["self_referral"])


async def test_changing_a_credited_customer_into_the_partner_withdraws_the_credit(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await create(
        cast.alice, {"key": "c1", "email": "friend@example.com", "partner": {"key": "jane"}}
    )
    renamed = await cast.alice.api.put("/v1/customers/c1", json={"name": "Friend"})
    assert renamed.json()["data"]["flags"] == []
    updated = await cast.alice.api.put("/v1/customers/c1", json={"email": "JANE@example.com"})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["data"]["partner"], updated.json()["data"]["flags"]) == (
        None,
        ["self_referral"],
    )
    row = await stored(app, cast.alice.public_id, "c1")
    assert row.flagged_partner_id == await partner_id(app, cast.alice.public_id, "jane")
    assert await referrals_of(cast.alice, "jane") == (0, [])


async def test_a_self_referral_through_the_public_signup_path_is_flagged(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    click = {"key": "jane", "url": "https://www.shop.example/?aff=jane", "visitor": "selfv1"}
    assert (await report(client, cast.alice.public_id, "clicks", click)).status_code == 202
    signup = {
        "key": "jane@example.com",
        "email": "Jane@Example.com",
        "name": "Jane",
        "partner": "jane",
        "source": "universal",
        "visitor": "selfv1",
    }
    answer = await report(client, cast.alice.public_id, "signups", signup)
    assert (answer.status_code, answer.json()) == (202, {"status": 1})
    [customer] = await customers_of(app, cast.alice.public_id)
    [recorded_click] = await clicks_of(app, cast.alice.public_id)
    assert (customer.partner_id, customer.referral_link_id) == (None, None)
    assert customer.flag == "self_referral"
    assert customer.flagged_partner_id == recorded_click.partner_id
    assert customer.click_id == recorded_click.id  # the visit stays on record for review
    listed = (await cast.alice.api.get("/v1/customers")).json()["data"]
    assert [(c["key"], c["partner"], c["flags"]) for c in listed] == [
        ("jane@example.com", None, ["self_referral"])
    ]
    assert await referrals_of(cast.alice, "jane") == (0, [])


async def test_a_friend_signing_up_through_the_public_path_is_still_credited(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    signup = {"key": "pal@example.com", "email": "pal@example.com", "partner": "jane"}
    assert (await report(client, cast.alice.public_id, "signups", signup)).status_code == 202
    [customer] = await customers_of(app, cast.alice.public_id)
    assert customer.partner_id is not None and customer.flag is None
    assert await referrals_of(cast.alice, "jane") == (1, ["pal@example.com"])
