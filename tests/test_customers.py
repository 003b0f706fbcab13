"""`/v1/customers` on SQLite and PostgreSQL: creating, attributing, listing and changing."""

import asyncio
import re
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from referly.db.models import Customer
from tests.builders import Cast, ProgramFixture, make_program
from tests.live import LiveServer
from tests.live_programs import live_program

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def create(program: ProgramFixture, key: str, **fields: Any) -> dict[str, Any]:
    response = await program.api.post("/v1/customers", json={"key": key, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def keys_of(program: ProgramFixture, **params: str) -> list[str]:
    response = await program.api.get("/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return [c["key"] for c in response.json()["data"]]


async def test_it_creates_a_customer_in_partneros_shape(cast: Cast) -> None:
    await cast.alice.partner("jane@example.com", key="jane")
    response = await cast.alice.api.post(
        "/v1/customers",
        json={
            "partner": {"key": "jane"},
            "key": "cus_1",
            "email": "buyer@example.com",
            "name": "Bea",
            "surname": "Buyer",
            "tags": ["trial", "eu"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == 1
    customer = body["data"]
    assert list(customer) == [
        "key",
        "partner",
        "deleted",
        "name",
        "surname",
        "email",
        "status",
        "created_at",
        "updated_at",
        "deleted_at",
        "tags",
        "flags",
    ]
    assert customer["key"] == "cus_1" and customer["partner"] == "jane"
    assert (customer["name"], customer["surname"]) == ("Bea", "Buyer")
    assert customer["email"] == "buyer@example.com"
    assert customer["deleted"] is False and customer["deleted_at"] is None
    assert customer["status"] == "active"
    assert customer["tags"] == [{"value": "trial"}, {"value": "eu"}]
    assert TIMESTAMP.match(customer["created_at"])
    assert customer["created_at"] == customer["updated_at"]


async def test_partner_keys_match_case_insensitively(cast: Cast) -> None:
    await cast.alice.partner("mixed@example.com", key="MiXeD")
    customer = await create(cast.alice, "c1", partner={"key": "mixed"})
    assert customer["partner"] == "MiXeD"


async def test_a_link_key_credits_the_links_partner(cast: Cast) -> None:
    await cast.alice.partner("owner@example.com", key="owner")
    added = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": "owner"}, "key": "spring-sale"}
    )
    assert added.status_code == 201
    customer = await create(cast.alice, "c1", partner={"key": "SPRING-SALE"})
    assert customer["partner"] == "owner"
    credited = await keys_of(cast.alice, partner_key="owner")
    assert credited == ["c1"]


async def test_the_partner_is_found_by_id_else_email_when_no_key_is_given(cast: Cast) -> None:
    first = await cast.alice.partner("first@example.com", key="first")
    await cast.alice.partner("second@example.com", key="second")
    by_id = await create(cast.alice, "by-id", partner={"id": first["id"]})
    by_email = await create(cast.alice, "by-email", partner={"email": "SECOND@example.com"})
    key_wins = await create(cast.alice, "both", partner={"key": "second", "id": first["id"]})
    assert (by_id["partner"], by_email["partner"], key_wins["partner"]) == (
        "first",
        "second",
        "second",
    )


async def test_an_unknown_partner_is_400_invalid_partner_key(cast: Cast) -> None:
    await cast.alice.partner("known@example.com", key="known")
    for partner in ({"key": "nobody"}, {"id": "nobody"}, {"email": "no@example.com"}):
        response = await cast.alice.api.post("/v1/customers", json={"key": "c", "partner": partner})
        assert response.status_code == 400, partner
        assert response.json() == {"message": "Invalid partner key", "status": 0}
    assert await keys_of(cast.alice) == []


async def test_another_programs_partner_key_is_invalid_here(cast: Cast) -> None:
    await cast.bob.partner("bobs@example.com", key="bobs-partner")
    response = await cast.alice.api.post(
        "/v1/customers", json={"key": "c", "partner": {"key": "bobs-partner"}}
    )
    assert response.status_code == 400
    assert await keys_of(cast.bob) == []


async def test_an_affiliate_program_requires_a_partner(cast: Cast) -> None:
    for body in ({"key": "c"}, {"key": "c", "partner": None}, {"key": "c", "partner": {}}):
        response = await cast.alice.api.post("/v1/customers", json=body)
        assert response.status_code == 422, body
        error = response.json()
        assert error["status"] == 0
        assert error["errors"] == {"partner": ["The partner field is required."]}
    assert await keys_of(cast.alice) == []


async def test_a_referral_program_accepts_a_customer_without_a_partner(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    friends = await make_program(app, client, "Friends", type="referral")
    customer = await create(friends, "solo", email="solo@example.com")
    assert customer["partner"] is None


async def test_the_legacy_nested_body_is_accepted(cast: Cast) -> None:
    await cast.alice.partner("wp@example.com", key="wp")
    response = await cast.alice.api.post(
        "/v1/customers",
        json={
            "customer": {"key": "wp_42", "email": "wp42@example.com", "name": "Wendy"},
            "partner": {"key": "wp"},
            "options": {"referral_url": None},
        },
    )
    assert response.status_code == 201, response.text
    customer = response.json()["data"]
    assert (customer["key"], customer["email"], customer["name"]) == (
        "wp_42",
        "wp42@example.com",
        "Wendy",
    )
    assert customer["partner"] == "wp"


async def test_null_anywhere_means_not_given(cast: Cast) -> None:
    await cast.alice.partner("nul@example.com", key="nul")
    flat = await create(
        cast.alice,
        "flat",
        email=None,
        name=None,
        surname=None,
        tags=None,
        partner={"key": "nul", "id": None, "email": None},
        options={"referral_url": None},
    )
    assert (flat["email"], flat["name"], flat["tags"], flat["partner"]) == (None, None, [], "nul")
    nested = await cast.alice.api.post(
        "/v1/customers",
        json={
            "customer": {"key": "nested", "email": None, "name": None},
            "partner": {"key": None, "email": "NUL@example.com"},
            "options": None,
        },
    )
    assert nested.status_code == 201, nested.text
    assert nested.json()["data"]["partner"] == "nul"


async def test_duplicate_keys_and_emails_are_refused(cast: Cast) -> None:
    await cast.alice.partner("dup@example.com", key="dup")
    await create(cast.alice, "same", email="Same@Example.com", partner={"key": "dup"})
    cases = [
        ({"key": "same"}, "Duplicate key", {"key": ["The key has already been taken."]}),
        (
            {"key": "other", "email": "same@example.COM"},
            "The email has already been taken.",  # the message names the field that clashed
            {"email": ["The email has already been taken."]},
        ),
        (
            {"key": "same", "email": "same@example.com"},
            "Duplicate key",
            {
                "key": ["The key has already been taken."],
                "email": ["The email has already been taken."],
            },
        ),
    ]
    for fields, message, errors in cases:
        response = await cast.alice.api.post(
            "/v1/customers", json={**fields, "partner": {"key": "dup"}}
        )
        assert response.status_code == 422, fields
        assert response.json() == {"message": message, "errors": errors, "status": 0}
    assert await keys_of(cast.alice) == ["same"]
    elsewhere = await cast.bob.partner("bobdup@example.com", key="dup")
    assert (await create(cast.bob, "same", email="same@example.com", partner={"key": "dup"}))[
        "partner"
    ] == elsewhere["key"]


async def test_options_referral_url_chooses_one_of_the_partners_links(
    app: FastAPI, cast: Cast
) -> None:
    await cast.alice.partner("multi@example.com", key="multi")
    await cast.alice.partner("rival@example.com", key="rival")
    for partner, key in (("multi", "multi-blog"), ("rival", "rival-blog")):
        response = await cast.alice.api.post(
            "/v1/partner_referral_links", json={"partner": {"key": partner}, "key": key}
        )
        assert response.status_code == 201
    chosen = await create(
        cast.alice,
        "via-blog",
        partner={"key": "multi"},
        options={"referral_url": "https://shop.example/pricing?aff=multi-blog"},
    )
    assert chosen["partner"] == "multi"
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(Customer).where(Customer.key == "via-blog"))
        assert row is not None and row.referral_link_id is not None
    for url in ("https://shop.example/?aff=rival-blog", "https://shop.example/?aff=nope", "x"):
        response = await cast.alice.api.post(
            "/v1/customers",
            json={"key": "bad-url", "partner": {"key": "multi"}, "options": {"referral_url": url}},
        )
        assert response.status_code == 422, url
        assert list(response.json()["errors"]) == ["options.referral_url"]
    assert "bad-url" not in await keys_of(cast.alice)


async def test_it_lists_customers_with_links_and_meta(cast: Cast) -> None:
    await cast.alice.partner("lister@example.com", key="lister")
    for n in range(3):
        await create(cast.alice, f"c{n}", partner={"key": "lister"})
    body = (await cast.alice.api.get("/v1/customers", params={"limit": 2})).json()
    assert [c["key"] for c in body["data"]] == ["c0", "c1"]
    assert body["links"] == {
        "first": "http://testserver/v1/customers?limit=2&page=1",
        "last": "http://testserver/v1/customers?limit=2&page=2",
        "prev": None,
        "next": "http://testserver/v1/customers?limit=2&page=2",
    }
    assert body["meta"] == {
        "current_page": 1,
        "from": 1,
        "last_page": 2,
        "path": "http://testserver/v1/customers",
        "per_page": 2,
        "to": 2,
        "total": 3,
    }
    second = (await cast.alice.api.get(body["links"]["next"])).json()
    assert [c["key"] for c in second["data"]] == ["c2"]
    assert second["links"]["next"] is None
    assert second["links"]["prev"] == "http://testserver/v1/customers?limit=2&page=1"


async def test_the_partner_filter_works_in_every_spelling(cast: Cast) -> None:
    await cast.alice.partner("ann@example.com", key="Ann")
    await cast.alice.partner("ben@example.com", key="ben")
    await create(cast.alice, "a1", partner={"key": "ann"})
    await create(cast.alice, "b1", partner={"key": "ben"})
    await create(cast.alice, "a2", partner={"key": "ann"})
    for spelling in ("partner.key", "partner_key", "partner[key]"):
        assert await keys_of(cast.alice, **{spelling: "ANN"}) == ["a1", "a2"], spelling
        assert await keys_of(cast.alice, **{spelling: "nobody"}) == [], spelling
    for spelling in ("partner.email", "partner_email", "partner[email]"):
        assert await keys_of(cast.alice, **{spelling: "Ben@example.com"}) == ["b1"], spelling
    raw = await cast.alice.api.get("/v1/customers?partner%5Bkey%5D=ben")
    assert [c["key"] for c in raw.json()["data"]] == ["b1"]
    filtered = (await cast.alice.api.get("/v1/customers", params={"partner.key": "ann"})).json()
    assert filtered["meta"]["total"] == 2
    assert filtered["links"]["first"].endswith("/v1/customers?partner.key=ann&page=1")


async def test_it_gets_and_searches_customers(cast: Cast) -> None:
    await cast.alice.partner("finder@example.com", key="finder")
    await create(cast.alice, "acct-7", email="Seven@example.com", partner={"key": "finder"})
    await create(cast.alice, "acct-8", partner={"key": "finder"})
    got = await cast.alice.api.get("/v1/customers/acct-7")
    assert got.status_code == 200
    assert got.json()["data"]["email"] == "Seven@example.com"
    for params in ({"key": "acct-7"}, {"email": "seven@EXAMPLE.com"}, {"id": "acct-7"}):
        found = await cast.alice.api.get("/v1/customers:search", params=params)
        assert found.status_code == 200
        assert found.json() == {"data": [got.json()["data"]], "status": 1}, params
    for params in ({"key": "ACCT-7"}, {"email": "none@example.com"}, {"key": "acct-7", "id": "x"}):
        found = await cast.alice.api.get("/v1/customers:search", params=params)
        assert found.json() == {"data": [], "status": 1}, params
    missing = await cast.alice.api.get("/v1/customers/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Customer not found", "status": 0}


async def test_a_key_with_a_slash_or_at_sign_is_addressable(cast: Cast) -> None:
    await cast.alice.partner("slash@example.com", key="slash")
    await create(cast.alice, "org/42", partner={"key": "slash"})
    await create(cast.alice, "someone@example.com", partner={"key": "slash"})
    assert (await cast.alice.api.get("/v1/customers/org/42")).json()["data"]["key"] == "org/42"
    at = await cast.alice.api.get("/v1/customers/someone@example.com")
    assert at.json()["data"]["key"] == "someone@example.com"
    assert (await cast.alice.api.post("/v1/customers/org/42/suspend")).status_code == 200
    assert (await cast.alice.api.get("/v1/customers/org/42")).json()["data"]["status"] == (
        "suspended"
    )


async def test_it_updates_with_fields_at_the_top_level_or_under_update(cast: Cast) -> None:
    await cast.alice.partner("upd@example.com", key="upd")
    await create(cast.alice, "u1", email="u1@example.com", partner={"key": "upd"})
    top = await cast.alice.api.put("/v1/customers/u1", json={"name": "Una", "tags": ["gold"]})
    assert top.status_code == 200
    assert (top.json()["data"]["name"], top.json()["data"]["tags"]) == ("Una", [{"value": "gold"}])
    nested = await cast.alice.api.put(
        "/v1/customers/u1", json={"update": {"surname": "Upton", "email": "una@example.com"}}
    )
    data = nested.json()["data"]
    assert (data["name"], data["surname"], data["email"]) == ("Una", "Upton", "una@example.com")
    assert data["partner"] == "upd" and data["updated_at"] >= data["created_at"]
    renamed = await cast.alice.api.put("/v1/customers/u1", json={"update": {"key": "u1-new"}})
    assert renamed.json()["data"]["key"] == "u1-new"
    assert (await cast.alice.api.get("/v1/customers/u1")).status_code == 404
    nulls = await cast.alice.api.put("/v1/customers/u1-new", json={"name": None, "update": None})
    assert nulls.json()["data"]["name"] == "Una"
    both = await cast.alice.api.put(
        "/v1/customers/u1-new", json={"name": "Top", "update": {"surname": "Nested", "name": None}}
    )
    assert (both.json()["data"]["name"], both.json()["data"]["surname"]) == ("Top", "Nested")


@pytest.mark.parametrize("update", ["x", [1], 5, True])
async def test_an_update_that_is_not_an_object_is_refused(cast: Cast, update: object) -> None:
    await cast.alice.partner("nonobj-partner@example.com", key="nonobj-partner")
    await create(cast.alice, "nonobj", partner={"key": "nonobj-partner"})
    response = await cast.alice.api.put(
        "/v1/customers/nonobj", json={"name": "Changed", "update": update}
    )
    assert response.status_code == 422, response.text
    assert response.json()["status"] == 0 and "update" in response.json()["errors"]
    unchanged = await cast.alice.api.get("/v1/customers/nonobj")
    assert unchanged.json()["data"]["name"] is None


async def test_a_legacy_customer_that_is_not_an_object_is_refused(cast: Cast) -> None:
    await cast.alice.partner("legacy-partner@example.com", key="legacy-partner")
    body = {"key": "legacy", "customer": "x", "partner": {"key": "legacy-partner"}}
    response = await cast.alice.api.post("/v1/customers", json=body)
    assert response.status_code == 422, response.text
    assert (await cast.alice.api.get("/v1/customers/legacy")).status_code == 404


async def test_an_update_to_a_taken_key_or_email_changes_nothing(cast: Cast) -> None:
    await cast.alice.partner("taken@example.com", key="taken")
    await create(cast.alice, "first", email="first@example.com", partner={"key": "taken"})
    await create(cast.alice, "second", email="second@example.com", partner={"key": "taken"})
    changes = [
        ({"key": "first", "name": "X"}, "Duplicate key"),
        ({"email": "FIRST@example.com", "name": "X"}, "The email has already been taken."),
    ]
    for change, message in changes:
        response = await cast.alice.api.put("/v1/customers/second", json={"update": change})
        assert response.status_code == 422, change
        assert response.json()["message"] == message
    bad = await cast.alice.api.put("/v1/customers/second", json={"email": "nope", "name": "X"})
    assert bad.status_code == 422 and "email" in bad.json()["errors"]
    after = (await cast.alice.api.get("/v1/customers/second")).json()["data"]
    assert (after["email"], after["name"]) == ("second@example.com", None)
    missing = await cast.alice.api.put("/v1/customers/ghost", json={"name": "X"})
    assert missing.status_code == 404


async def test_suspend_and_approve_change_the_status(cast: Cast) -> None:
    await cast.alice.partner("st@example.com", key="st")
    await create(cast.alice, "s1", partner={"key": "st"})
    suspended = await cast.alice.api.post("/v1/customers/s1/suspend")
    assert (suspended.status_code, suspended.json()) == (200, {"status": 1})
    assert (await cast.alice.api.get("/v1/customers/s1")).json()["data"]["status"] == "suspended"
    approved = await cast.alice.api.post("/v1/customers/s1/approve")
    assert (approved.status_code, approved.json()) == (200, {"status": 1})
    assert (await cast.alice.api.get("/v1/customers/s1")).json()["data"]["status"] == "active"
    assert (await cast.alice.api.post("/v1/customers/ghost/suspend")).status_code == 404


async def test_delete_removes_the_row_and_its_personal_data(app: FastAPI, cast: Cast) -> None:
    await cast.alice.partner("del@example.com", key="del")
    await create(cast.alice, "gone", email="gone@example.com", name="Gone", partner={"key": "del"})
    deleted = await cast.alice.api.delete("/v1/customers/gone")
    assert (deleted.status_code, deleted.json()) == (200, {"status": 1})
    assert (await cast.alice.api.get("/v1/customers/gone")).status_code == 404
    assert (await cast.alice.api.delete("/v1/customers/gone")).status_code == 404
    async with app.state.sessionmaker() as session:
        rows = await session.scalar(
            select(func.count()).where(Customer.email_ci == "gone@example.com")
        )
    assert rows == 0
    again = await create(cast.alice, "gone", email="gone@example.com", partner={"key": "del"})
    assert again["name"] is None


async def test_a_customer_outlives_its_deleted_partner(cast: Cast) -> None:
    partner = await cast.alice.partner("leaver@example.com", key="leaver")
    await create(cast.alice, "kept", partner={"key": "leaver"})
    assert (await cast.alice.api.delete(f"/v1/partners/{partner['id']}")).status_code == 200
    kept = (await cast.alice.api.get("/v1/customers/kept")).json()["data"]
    assert kept["partner"] is None


async def test_it_hides_other_programs_customers(cast: Cast) -> None:
    await cast.alice.partner("alices@example.com", key="alices")
    original = await create(
        cast.alice, "alice-c", email="ac@example.com", name="Ally", partner={"key": "alices"}
    )
    bob = cast.bob.api
    assert (await bob.get("/v1/customers/alice-c")).status_code == 404
    assert (await bob.put("/v1/customers/alice-c", json={"name": "hijack"})).status_code == 404
    assert (await bob.post("/v1/customers/alice-c/suspend")).status_code == 404
    assert (await bob.post("/v1/customers/alice-c/approve")).status_code == 404
    assert (await bob.delete("/v1/customers/alice-c")).status_code == 404
    search = await bob.get("/v1/customers:search", params={"key": "alice-c"})
    assert search.json()["data"] == []
    assert (await bob.get("/v1/customers", params={"partner.key": "alices"})).json()["data"] == []
    assert (await bob.get("/v1/customers")).json()["data"] == []
    after = (await cast.alice.api.get("/v1/customers/alice-c")).json()["data"]
    assert after == original


async def test_requests_without_a_valid_token_are_401(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/customers"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers:search"),
        ("DELETE", "/v1/customers/x"),
    ):
        response = await client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401, path
        assert response.json() == {"message": "Unauthenticated.", "status": 0}


async def test_bad_input_is_refused_with_the_error_shape_and_stores_nothing(cast: Cast) -> None:
    await cast.alice.partner("strict@example.com", key="strict")
    partner = {"key": "strict"}
    cases: list[tuple[Any, str]] = [
        ({"key": 123, "partner": partner}, "key"),
        ({"partner": partner, "email": "x@example.com"}, "key"),
        ({"key": "", "partner": partner}, "key"),
        ({"key": "k" * 256, "partner": partner}, "key"),
        ({"key": "k", "partner": "x"}, "partner"),
        ({"key": "k", "partner": {"key": 7}}, "partner.key"),
        ({"key": "k", "partner": partner, "tags": "x"}, "tags"),
        ({"key": "k", "partner": partner, "tags": [1]}, "tags.0"),
        ({"key": "k", "partner": partner, "email": "not-an-email"}, "email"),
        ({"key": "k", "partner": partner, "name": "n" * 256}, "name"),
        ({"key": "k", "partner": partner, "surname": "s" * 256}, "surname"),
        ({"key": "k", "partner": partner, "options": "x"}, "options"),
        ({"customer": {"key": 5}, "partner": partner}, "key"),
        (["k"], "body"),
        ("k", "body"),
    ]
    for body, field in cases:
        response = await cast.alice.api.post("/v1/customers", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()
        assert error["status"] == 0 and isinstance(error["message"], str), body
        assert field in error["errors"], (body, error)
    missing = await cast.alice.api.post("/v1/customers", json={"partner": partner})
    assert missing.json()["errors"]["key"] == ["The key field is required."]
    bad_email = await cast.alice.api.post(
        "/v1/customers", json={"key": "k", "partner": partner, "email": "nope"}
    )
    assert bad_email.json()["errors"]["email"] == ["The email must be a valid email address."]
    assert await keys_of(cast.alice) == []


async def test_malformed_json_is_a_400(cast: Cast) -> None:
    for content in (b'{"key": ', b"not json", b'{"key": "a",}'):
        response = await cast.alice.api.post(
            "/v1/customers", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, content
        assert response.json() == {"message": "Malformed JSON body", "status": 0}
    assert await keys_of(cast.alice) == []


async def test_list_paging_outside_its_bounds_is_refused(cast: Cast) -> None:
    for params in ({"limit": 0}, {"limit": 251}, {"page": 0}, {"partner_key": "k" * 65}):
        response = await cast.alice.api.get("/v1/customers", params=params)
        assert response.status_code == 422, params
        assert response.json()["status"] == 0


async def test_the_cli_lists_a_programs_customers_by_partner(live_server: LiveServer) -> None:
    program = await asyncio.to_thread(
        live_program, live_server, "CLI", [("a@example.com", "cli-a"), ("b@example.com", "cli-b")]
    )
    async with httpx.AsyncClient(base_url=live_server.url, headers=program.headers) as api:
        for key, partner in (("x1", "cli-a"), ("x2", "cli-b"), ("x3", "CLI-A")):
            response = await api.post(
                "/v1/customers", json={"key": key, "partner": {"key": partner}}
            )
            assert response.status_code == 201
    cli = partial(asyncio.to_thread, live_server.cli, "customers", "list")
    everyone = await cli("--program", program.public_id)
    assert [c["key"] for c in everyone["data"]] == ["x3", "x2", "x1"]  # newest first
    oldest = await cli("--program", program.public_id, "--oldest-first")
    assert [c["key"] for c in oldest["data"]] == ["x1", "x2", "x3"]
    of_a = await cli("--program", program.public_id, "--partner", "cli-a")
    assert [(c["key"], c["partner"]) for c in of_a["data"]] == [("x3", "cli-a"), ("x1", "cli-a")]
