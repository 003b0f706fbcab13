"""The merchant's server outranks an anonymous public sign-up. Anyone can send a public
report with any customer key; when the merchant's authenticated `POST /v1/customers` then
reports that customer, the server's report decides the credit, and the public one is kept for
the program owner to review. A program may also take sign-ups from its server only."""

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referly.db.models import SupersededSignup
from tests.builders import Cast
from tests.tracking_helpers import configure, customers_of, report


async def superseded(app: FastAPI, customer_id: int) -> list[SupersededSignup]:
    async with app.state.sessionmaker() as session:
        found = await session.scalars(
            select(SupersededSignup).where(SupersededSignup.customer_id == customer_id)
        )
        return list(found)


async def test_the_merchants_report_outranks_an_earlier_public_claim(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    attacker = await cast.alice.partner("mallory@example.com", key="mallory")
    await cast.alice.partner("jane@example.com", key="jane")
    claim = {"key": "5001", "email": "buyer@example.com", "partner": "mallory"}
    assert (await report(client, cast.alice.public_id, "signups", claim)).status_code == 202
    [claimed] = await customers_of(app, cast.alice.public_id)
    response = await cast.alice.api.post(
        "/v1/customers",
        json={"key": "5001", "email": "buyer@example.com", "partner": {"key": "jane"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["partner"] == "jane"
    assert (await cast.alice.api.get("/v1/customers/5001")).json()["data"]["partner"] == "jane"
    [customer] = await customers_of(app, cast.alice.public_id)
    assert (customer.id, customer.source) == (claimed.id, "api")
    [review] = await superseded(app, customer.id)
    assert review.source == "js" and review.partner_id == claimed.partner_id
    partners = await cast.alice.api.get(f"/v1/partners/{attacker['id']}")
    assert partners.json()["data"]["referrals_count"] == 0


async def test_a_claim_by_email_is_superseded_too_and_takes_the_servers_key(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    """The form capture keys a customer by its email; the server reports its account id."""
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.alice.partner("mallory@example.com", key="mallory")
    claim = {"key": "ann@example.com", "email": "ann@example.com", "partner": "mallory"}
    await report(client, cast.alice.public_id, "signups", {**claim, "source": "universal"})
    response = await cast.alice.api.post(
        "/v1/customers",
        json={"key": "acct-9", "email": "ann@example.com", "partner": {"key": "jane"}},
    )
    assert response.status_code == 201, response.text
    assert [(c.key, c.source) for c in await customers_of(app, cast.alice.public_id)] == [
        ("acct-9", "api")
    ]


async def test_a_public_report_after_the_merchants_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await cast.alice.partner("mallory@example.com", key="mallory")
    created = await cast.alice.api.post(
        "/v1/customers", json={"key": "7", "partner": {"key": "jane"}}
    )
    assert created.status_code == 201
    late = await report(client, cast.alice.public_id, "signups", {"key": "7", "partner": "mallory"})
    assert late.status_code == 202
    assert (await cast.alice.api.get("/v1/customers/7")).json()["data"]["partner"] == "jane"


async def test_the_merchant_cannot_report_the_same_customer_twice(cast: Cast) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    body = {"key": "8", "email": "eight@example.com", "partner": {"key": "jane"}}
    assert (await cast.alice.api.post("/v1/customers", json=body)).status_code == 201
    again = await cast.alice.api.post("/v1/customers", json=body)
    assert again.status_code == 422 and again.json()["message"] == "Duplicate key"
    other_key = await cast.alice.api.post("/v1/customers", json={**body, "key": "9"})
    assert other_key.status_code == 422
    assert other_key.json()["message"] == "The email has already been taken."
    assert other_key.json()["errors"] == {"email": ["The email has already been taken."]}


async def test_a_program_can_take_sign_ups_from_its_server_only(
    app: FastAPI, client: httpx.AsyncClient, cast: Cast
) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    await configure(app, cast.alice.public_id, public_signups=False)
    app.state.tracking.programs._entries.clear()  # settings are cached a few seconds
    refused = await report(client, cast.alice.public_id, "signups", {"key": "x", "partner": "jane"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "This program takes sign-ups from its server only"
    assert await customers_of(app, cast.alice.public_id) == []
    clicks = await report(client, cast.alice.public_id, "clicks", {"key": "jane"})
    assert clicks.status_code == 202  # clicks still count
    shown = await cast.alice.api.get("/v1/test")
    assert shown.json()["data"]["public_signups"] is False
