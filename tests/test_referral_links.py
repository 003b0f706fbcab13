"""Partner referral links (multi-link) on SQLite and PostgreSQL."""

from typing import Any

from tests.builders import Cast, ProgramFixture

LINK_FIELDS = [
    "id",
    "key",
    "url",
    "default",
    "is_additional",
    "direct_tracking",
    "direct_tracking_redirect",
    "direct_tracking_redirect_url",
]


async def add_link(program: ProgramFixture, partner: dict[str, str], key: str) -> dict[str, Any]:
    response = await program.api.post(
        "/v1/partner_referral_links", json={"partner": partner, "key": key}
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


async def test_it_adds_a_link_in_partneros_shape(cast: Cast) -> None:
    await cast.alice.partner("linker@example.com", key="linker")
    response = await cast.alice.api.post(
        "/v1/partner_referral_links", json={"partner": {"key": "LINKER"}, "key": "Summer.Sale"}
    )
    assert response.status_code == 201
    assert response.json() == {
        "data": {
            "id": "Summer.Sale",
            "key": "Summer.Sale",
            "url": "?aff=Summer.Sale",
            "default": False,
            "is_additional": True,
            "direct_tracking": False,
            "direct_tracking_redirect": False,
            "direct_tracking_redirect_url": None,
        },
        "status": 1,
    }


async def test_the_partner_is_named_by_key_id_or_email(cast: Cast) -> None:
    partner = await cast.alice.partner("named@example.com", key="named")
    await add_link(cast.alice, {"id": partner["id"]}, "by-id")
    await add_link(cast.alice, {"email": "NAMED@example.com"}, "by-email")
    await add_link(cast.alice, {"key": "named", "id": None}, "by-key")
    listed = await cast.alice.api.get(f"/v1/partners/{partner['id']}/referral_links")
    assert [link["key"] for link in listed.json()["data"]] == [
        "named",
        "by-id",
        "by-email",
        "by-key",
    ]
    shown = (await cast.alice.api.get(f"/v1/partners/{partner['id']}")).json()["data"]
    assert shown["referral_links"] == ["?aff=named", "?aff=by-id", "?aff=by-email", "?aff=by-key"]


async def test_an_unknown_partner_is_400_and_a_missing_one_422(cast: Cast) -> None:
    for partner in ({"key": "ghost"}, {"id": "ghost"}, {"email": "ghost@example.com"}):
        response = await cast.alice.api.post(
            "/v1/partner_referral_links", json={"partner": partner, "key": "orphan"}
        )
        assert response.status_code == 400, partner
        assert response.json() == {"message": "Invalid partner key", "status": 0}
    for body in ({"key": "orphan"}, {"key": "orphan", "partner": {}}):
        response = await cast.alice.api.post("/v1/partner_referral_links", json=body)
        assert response.status_code == 422, body
        assert "partner" in response.json()["errors"]
    assert (await cast.alice.api.get("/v1/partner_referral_links/orphan")).status_code == 404


async def test_link_keys_share_one_case_insensitive_namespace_with_partner_keys(
    cast: Cast,
) -> None:
    first = await cast.alice.partner("one@example.com", key="one")
    await cast.alice.partner("two@example.com", key="two")
    await add_link(cast.alice, {"key": "one"}, "shared")
    for key in ("SHARED", "Two", "one"):
        response = await cast.alice.api.post(
            "/v1/partner_referral_links", json={"partner": {"key": "two"}, "key": key}
        )
        assert response.status_code == 422, key
        assert response.json() == {
            "message": "Duplicate key",
            "errors": {"key": ["The key has already been taken."]},
            "status": 0,
        }
    partner_with_link_key = await cast.alice.api.post(
        "/v1/partners", json={"email": "three@example.com", "key": "Shared"}
    )
    assert partner_with_link_key.status_code == 422
    listed = await cast.alice.api.get(f"/v1/partners/{first['id']}/referral_links")
    assert [link["key"] for link in listed.json()["data"]] == ["one", "shared"]
    elsewhere = await cast.bob.partner("bob1@example.com", key="bob1")
    assert (await add_link(cast.bob, {"id": elsewhere["id"]}, "shared"))["key"] == "shared"


async def test_bad_link_input_is_refused_and_stores_nothing(cast: Cast) -> None:
    partner = await cast.alice.partner("badlink@example.com", key="badlink")
    cases: list[tuple[Any, str]] = [
        ({"partner": {"key": "badlink"}}, "key"),
        ({"partner": {"key": "badlink"}, "key": "has space"}, "key"),
        ({"partner": {"key": "badlink"}, "key": "k" * 65}, "key"),
        ({"partner": {"key": "badlink"}, "key": "slash/y"}, "key"),
        ({"partner": {"key": "badlink"}, "key": 5}, "key"),
        ({"partner": "badlink", "key": "ok"}, "partner"),
        (["x"], "body"),
    ]
    for body, field in cases:
        response = await cast.alice.api.post("/v1/partner_referral_links", json=body)
        assert response.status_code == 422, body
        assert response.json()["status"] == 0 and field in response.json()["errors"], body
    malformed = await cast.alice.api.post(
        "/v1/partner_referral_links", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    listed = await cast.alice.api.get(f"/v1/partners/{partner['id']}/referral_links")
    assert [link["key"] for link in listed.json()["data"]] == ["badlink"]


async def test_it_lists_a_partners_links_with_the_default_first_and_pages(cast: Cast) -> None:
    partner = await cast.alice.partner("pager@example.com", key="pager")
    for n in range(3):
        await add_link(cast.alice, {"key": "pager"}, f"pager-{n}")
    path = f"/v1/partners/{partner['id']}/referral_links"
    body = (await cast.alice.api.get(path, params={"limit": 3})).json()
    assert [link["key"] for link in body["data"]] == ["pager", "pager-0", "pager-1"]
    assert [link["default"] for link in body["data"]] == [True, False, False]
    assert body["data"][0]["is_additional"] is False
    assert list(body["data"][0]) == LINK_FIELDS
    assert body["links"]["next"] == f"http://testserver{path}?limit=3&page=2"
    assert body["meta"]["total"] == 4 and body["meta"]["last_page"] == 2
    second = (await cast.alice.api.get(body["links"]["next"])).json()
    assert [link["key"] for link in second["data"]] == ["pager-2"]
    assert second["links"]["next"] is None
    missing = await cast.alice.api.get("/v1/partners/ghost/referral_links")
    assert missing.status_code == 404


async def test_it_gets_a_link_by_key_in_any_case(cast: Cast) -> None:
    await cast.alice.partner("getter@example.com", key="getter")
    await add_link(cast.alice, {"key": "getter"}, "Promo")
    got = await cast.alice.api.get("/v1/partner_referral_links/PROMO")
    assert got.status_code == 200
    assert got.json()["data"]["key"] == "Promo" and got.json()["status"] == 1
    default = (await cast.alice.api.get("/v1/partner_referral_links/getter")).json()["data"]
    assert default["default"] is True
    assert (await cast.alice.api.get("/v1/partner_referral_links/nope")).status_code == 404


async def test_deleting_a_link_keeps_its_customers_with_their_partner(cast: Cast) -> None:
    await cast.alice.partner("delink@example.com", key="delink")
    await add_link(cast.alice, {"key": "delink"}, "temp")
    created = await cast.alice.api.post(
        "/v1/customers", json={"key": "via-temp", "partner": {"key": "temp"}}
    )
    assert created.json()["data"]["partner"] == "delink"
    deleted = await cast.alice.api.delete("/v1/partner_referral_links/TEMP")
    assert (deleted.status_code, deleted.json()) == (200, {"status": 1})
    assert (await cast.alice.api.get("/v1/partner_referral_links/temp")).status_code == 404
    assert (await cast.alice.api.delete("/v1/partner_referral_links/temp")).status_code == 404
    kept = (await cast.alice.api.get("/v1/customers/via-temp")).json()["data"]
    assert kept["partner"] == "delink"
    unknown = await cast.alice.api.post(
        "/v1/customers", json={"key": "late", "partner": {"key": "temp"}}
    )
    assert unknown.status_code == 400
    reused = await add_link(cast.alice, {"key": "delink"}, "temp")
    assert reused["key"] == "temp"


async def test_a_partners_default_link_cannot_be_deleted(cast: Cast) -> None:
    partner = await cast.alice.partner("keeper@example.com", key="keeper")
    response = await cast.alice.api.delete("/v1/partner_referral_links/keeper")
    assert response.status_code == 422
    error = response.json()
    assert error["status"] == 0 and "default referral link" in error["message"]
    assert list(error["errors"]) == ["key"]
    listed = await cast.alice.api.get(f"/v1/partners/{partner['id']}/referral_links")
    assert [link["key"] for link in listed.json()["data"]] == ["keeper"]


async def test_a_renamed_partner_keeps_its_extra_links(cast: Cast) -> None:
    partner = await cast.alice.partner("renamer@example.com", key="old-name")
    await add_link(cast.alice, {"key": "old-name"}, "extra")
    renamed = await cast.alice.api.put(f"/v1/partners/{partner['id']}", json={"key": "new-name"})
    assert renamed.status_code == 200
    listed = await cast.alice.api.get(f"/v1/partners/{partner['id']}/referral_links")
    assert [(link["key"], link["default"]) for link in listed.json()["data"]] == [
        ("new-name", True),
        ("extra", False),
    ]
    assert (await cast.alice.api.get("/v1/partner_referral_links/old-name")).status_code == 404


async def test_it_hides_other_programs_links(cast: Cast) -> None:
    alices = await cast.alice.partner("owner@example.com", key="alice-owner")
    await add_link(cast.alice, {"key": "alice-owner"}, "alice-extra")
    bob = cast.bob.api
    assert (await bob.get("/v1/partner_referral_links/alice-extra")).status_code == 404
    assert (await bob.delete("/v1/partner_referral_links/alice-extra")).status_code == 404
    assert (await bob.get(f"/v1/partners/{alices['id']}/referral_links")).status_code == 404
    hijack = await bob.post(
        "/v1/partner_referral_links", json={"partner": {"id": alices["id"]}, "key": "bob-extra"}
    )
    assert hijack.status_code == 400
    listed = await cast.alice.api.get(f"/v1/partners/{alices['id']}/referral_links")
    assert [link["key"] for link in listed.json()["data"]] == ["alice-owner", "alice-extra"]
