"""`/v1/partners` on SQLite and PostgreSQL."""

import re

import httpx
import pytest

from tests.builders import Cast

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_it_creates_a_partner_with_partnero_fields(cast: Cast) -> None:
    response = await cast.alice.api.post(
        "/v1/partners",
        json={
            "id": "partner_123",
            "key": "ref_123",
            "email": "john@example.com",
            "name": "John",
            "surname": "Doe",
            "password": "W6qtZMGyCD6Gj2Zr",
            "tags": ["vip"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == 1
    partner = body["data"]
    assert partner["id"] == "partner_123"
    assert partner["key"] == "ref_123"
    assert partner["email"] == "john@example.com"
    assert (partner["name"], partner["surname"]) == ("John", "Doe")
    assert partner["tags"] == [{"value": "vip"}]
    assert partner["status"] == "active" and partner["approved"] is True
    assert partner["referral_links"] == ["?aff=ref_123"]
    assert TIMESTAMP.match(partner["created_at"]) and TIMESTAMP.match(partner["updated_at"])
    assert "password" not in partner


async def test_it_generates_id_and_key_when_omitted_or_null(cast: Cast) -> None:
    response = await cast.alice.api.post(
        "/v1/partners", json={"email": "gen@example.com", "id": None, "key": None, "name": None}
    )
    assert response.status_code == 201
    partner = response.json()["data"]
    assert re.fullmatch(r"[a-z0-9]{12}", partner["id"])
    assert re.fullmatch(r"[a-z0-9]{12}", partner["key"])
    assert partner["name"] is None


async def test_partner_keys_are_unique_case_insensitively(cast: Cast) -> None:
    await cast.alice.partner("one@example.com", key="Jane")
    response = await cast.alice.api.post(
        "/v1/partners", json={"email": "two@example.com", "key": "JANE"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "message": "Duplicate key",
        "errors": {"key": ["The key has already been taken."]},
        "status": 0,
    }


async def test_partner_emails_are_unique_per_program_but_not_across(cast: Cast) -> None:
    await cast.alice.partner("same@example.com")
    again = await cast.alice.api.post("/v1/partners", json={"email": "Same@Example.com"})
    assert again.status_code == 422
    assert "email" in again.json()["errors"]
    elsewhere = await cast.bob.api.post("/v1/partners", json={"email": "same@example.com"})
    assert elsewhere.status_code == 201


async def test_it_rejects_bad_partner_input_and_stores_nothing(cast: Cast) -> None:
    cases = [
        ({"name": "no email"}, "email", "The email field is required."),
        ({"email": "not-an-email"}, "email", "The email must be a valid email address."),
        ({"email": 42}, "email", None),
        ({"email": "k@example.com", "key": "has space"}, "key", None),
        ({"email": "k@example.com", "key": "x" * 65}, "key", None),
        ({"email": "k@example.com", "name": "n" * 256}, "name", None),
        ({"email": "k@example.com", "password": "weak"}, "password", None),
        ({"email": "k@example.com", "tags": "vip"}, "tags", None),
    ]
    for body, field, message in cases:
        response = await cast.alice.api.post("/v1/partners", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()
        assert error["status"] == 0 and field in error["errors"], (body, error)
        if message:
            assert error["errors"][field] == [message]
    listed = await cast.alice.api.get("/v1/partners")
    assert listed.json()["data"] == []


async def test_malformed_json_is_a_400_with_the_error_shape(cast: Cast) -> None:
    response = await cast.alice.api.post(
        "/v1/partners", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Malformed JSON body", "status": 0}


async def test_non_object_json_is_refused(cast: Cast) -> None:
    response = await cast.alice.api.post("/v1/partners", json=["a@example.com"])
    assert response.status_code == 422
    assert response.json()["status"] == 0


async def test_it_lists_partners_with_links_and_meta(cast: Cast) -> None:
    for n in range(3):
        await cast.alice.partner(f"p{n}@example.com", key=f"p{n}")
    response = await cast.alice.api.get("/v1/partners", params={"limit": 2})
    body = response.json()
    assert [p["key"] for p in body["data"]] == ["p0", "p1"]
    assert body["links"]["first"] == "http://testserver/v1/partners?limit=2&page=1"
    assert body["links"]["next"] == "http://testserver/v1/partners?limit=2&page=2"
    assert body["links"]["prev"] is None
    assert body["meta"] == {
        "current_page": 1,
        "from": 1,
        "last_page": 2,
        "path": "http://testserver/v1/partners",
        "per_page": 2,
        "to": 2,
        "total": 3,
    }
    second = (await cast.alice.api.get(body["links"]["next"])).json()
    assert [p["key"] for p in second["data"]] == ["p2"]
    assert second["links"]["next"] is None
    assert second["links"]["prev"] == "http://testserver/v1/partners?limit=2&page=1"


async def test_list_limits_outside_1_to_250_are_refused(cast: Cast) -> None:
    for params in ({"limit": 0}, {"limit": 251}, {"page": 0}, {"limit": "many"}):
        response = await cast.alice.api.get("/v1/partners", params=params)
        assert response.status_code == 422, params
        assert response.json()["status"] == 0


async def test_it_gets_searches_updates_and_deletes_a_partner(cast: Cast) -> None:
    created = await cast.alice.partner("jo@example.com", key="jo", name="Jo")
    pid = created["id"]
    got = await cast.alice.api.get(f"/v1/partners/{pid}")
    assert got.json()["data"]["email"] == "jo@example.com"

    for params in ({"key": "JO"}, {"email": "JO@example.com"}, {"id": pid}, {"name": "jo"}):
        found = await cast.alice.api.get("/v1/partners:search", params=params)
        assert [p["id"] for p in found.json()["data"]] == [pid], params

    top_level = await cast.alice.api.put(f"/v1/partners/{pid}", json={"surname": "Doe"})
    assert top_level.json()["data"]["surname"] == "Doe"
    nested = await cast.alice.api.put(
        f"/v1/partners/{pid}", json={"update": {"name": "Joanna", "key": "joanna"}}
    )
    data = nested.json()["data"]
    assert (data["name"], data["surname"], data["key"]) == ("Joanna", "Doe", "joanna")
    assert data["referral_links"] == ["?aff=joanna"]

    deleted = await cast.alice.api.delete(f"/v1/partners/{pid}")
    assert deleted.status_code == 200 and deleted.json() == {"status": 1}
    assert (await cast.alice.api.get(f"/v1/partners/{pid}")).status_code == 404


@pytest.mark.parametrize("update", ["x", [1], 5])
async def test_an_update_that_is_not_an_object_is_refused(cast: Cast, update: object) -> None:
    partner = await cast.alice.partner("nonobj@example.com", key="nonobj", name="Kept")
    response = await cast.alice.api.put(
        f"/v1/partners/{partner['id']}", json={"name": "Changed", "update": update}
    )
    assert response.status_code == 422, response.text
    assert "update" in response.json()["errors"]
    unchanged = await cast.alice.api.get(f"/v1/partners/{partner['id']}")
    assert unchanged.json()["data"]["name"] == "Kept"


async def test_update_to_a_taken_email_is_refused_and_changes_nothing(cast: Cast) -> None:
    await cast.alice.partner("taken@example.com")
    other = await cast.alice.partner("mine@example.com")
    response = await cast.alice.api.put(
        f"/v1/partners/{other['id']}", json={"email": "taken@example.com", "name": "X"}
    )
    assert response.status_code == 422
    after = (await cast.alice.api.get(f"/v1/partners/{other['id']}")).json()["data"]
    assert (after["email"], after["name"]) == ("mine@example.com", None)


async def test_it_hides_other_programs_partners(cast: Cast) -> None:
    bobs = await cast.bob.partner("bobs@example.com", key="bobs")
    pid = bobs["id"]
    assert (await cast.alice.api.get(f"/v1/partners/{pid}")).status_code == 404
    put = await cast.alice.api.put(f"/v1/partners/{pid}", json={"name": "hijack"})
    assert put.status_code == 404
    assert (await cast.alice.api.delete(f"/v1/partners/{pid}")).status_code == 404
    search = await cast.alice.api.get("/v1/partners:search", params={"key": "bobs"})
    assert search.json()["data"] == []
    unchanged = (await cast.bob.api.get(f"/v1/partners/{pid}")).json()["data"]
    assert unchanged["name"] is None


async def test_requests_without_a_valid_token_are_401(client: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer rfl_00000000_secret"},
    ):
        response = await client.get("/v1/partners", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {"message": "Unauthenticated.", "status": 0}


async def test_v1_test_names_the_tokens_program(cast: Cast) -> None:
    response = await cast.alice.api.get("/v1/test")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == cast.alice.public_id


async def test_a_name_search_folds_every_letters_case_on_both_databases(cast: Cast) -> None:
    created = await cast.alice.partner("elodie@example.com", name="Élodie")
    for query in ("élodie", "ÉLODIE", "Élodie"):
        found = await cast.alice.api.get("/v1/partners:search", params={"name": query})
        assert [p["id"] for p in found.json()["data"]] == [created["id"]], query


async def test_one_email_in_two_unicode_forms_is_one_email(cast: Cast) -> None:
    composed, decomposed = "ren\u00e9@example.com", "rene\u0301@example.com"
    await cast.alice.partner(composed)
    again = await cast.alice.api.post("/v1/partners", json={"email": decomposed})
    assert again.status_code == 422 and "email" in again.json()["errors"]
