"""No program reaches another program's data, checked on every route the app has.

The routes come from `app.routes` (through the routers they include), so a route added later is
checked without anyone adding it here: a path parameter this file cannot fill makes the test
fail and name the route."""

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from tests.builders import Cast, ProgramFixture

PARAMETER = re.compile(r"([^/{}]+)/\{(\w+)(?::\w+)?\}")
UPDATE_BODY = {"name": "Hijacked", "surname": "Hijacked"}


@dataclass
class BobsThings:
    """One of each of Bob's objects, named by values nobody else uses."""

    partner: dict[str, Any]
    customer_key: str
    link_key: str

    def values(self) -> list[str]:
        p = self.partner
        return [p["id"], p["key"], p["email"], p["name"], self.customer_key, self.link_key]


async def make_partner(bob: ProgramFixture) -> dict[str, Any]:
    marker = uuid.uuid4().hex[:10]
    return await bob.partner(f"bob-{marker}@example.com", key=f"bob-{marker}", name=f"B{marker}")


async def make_customer(bob: ProgramFixture) -> str:
    partner = await make_partner(bob)
    key = f"bob-customer-{uuid.uuid4().hex[:10]}"
    body = {"key": key, "email": f"{key}@example.com", "partner": {"key": partner["key"]}}
    response = await bob.api.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return key


async def make_link(bob: ProgramFixture) -> str:
    partner = await make_partner(bob)
    key = f"bob-link-{uuid.uuid4().hex[:10]}"
    body = {"partner": {"id": partner["id"]}, "key": key}
    response = await bob.api.post("/v1/partner_referral_links", json=body)
    assert response.status_code == 201, response.text
    return key


async def partner_id(bob: ProgramFixture) -> str:
    return str((await make_partner(bob))["id"])


@dataclass(frozen=True)
class Kind:
    """How to make one of Bob's objects for a path parameter, and how Bob reads it back."""

    make: Callable[[ProgramFixture], Awaitable[str]]
    read_path: str


KINDS: dict[tuple[str, str], Kind] = {
    ("partners", "id"): Kind(partner_id, "/v1/partners/{}"),
    ("customers", "key"): Kind(make_customer, "/v1/customers/{}"),
    ("partner_referral_links", "key"): Kind(make_link, "/v1/partner_referral_links/{}"),
}


def api_routes(app: FastAPI) -> list[tuple[str, RouteContext]]:
    """Every (method, route) under /v1. `app.routes` holds included routers as one entry each;
    `iter_route_contexts` opens them up with their full paths."""
    routes = [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/v1")
    ]
    return [(method, route) for route in routes for method in sorted(route.methods or ())]


def kind_of(route: RouteContext) -> Kind:
    found = PARAMETER.findall(route.path)
    names = set(route.param_convertors)
    assert len(found) == 1 and {found[0][1]} == names, (
        f"{route.path}: tests/test_tenant_isolation.py cannot fill its path parameters "
        f"{sorted(names)}; add them to KINDS"
    )
    kind = KINDS.get(found[0])
    assert kind is not None, (
        f"{route.path}: no factory for {{{found[0][1]}}} under /{found[0][0]}/; "
        "add one to KINDS in tests/test_tenant_isolation.py"
    )
    return kind


async def test_every_route_with_an_identifier_hides_other_programs_objects(
    cast: Cast, app: FastAPI
) -> None:
    checked = []
    for method, route in api_routes(app):
        if not route.param_convertors:
            continue
        kind = kind_of(route)
        identifier = await kind.make(cast.bob)
        read_path = kind.read_path.format(identifier)
        before = await cast.bob.api.get(read_path)
        assert before.status_code == 200, (read_path, before.text)
        path = PARAMETER.sub(lambda m, value=identifier: f"{m.group(1)}/{value}", route.path)
        body = UPDATE_BODY if method in ("PUT", "PATCH", "POST") else None
        answer = await cast.alice.api.request(method, path, json=body)
        assert answer.status_code == 404, (method, route.path, answer.status_code, answer.text)
        assert answer.json()["status"] == 0
        after = await cast.bob.api.get(read_path)
        assert after.status_code == 200 and after.json() == before.json(), (method, route.path)
        checked.append(f"{method} {route.path}")
    assert {"GET /v1/partners/{id}", "PUT /v1/partners/{id}", "DELETE /v1/partners/{id}"} <= set(
        checked
    ), checked


def text_query_parameters(app: FastAPI, route: RouteContext) -> list[str]:
    """The route's query parameters other than paging, as its OpenAPI entry declares them."""
    operation = app.openapi()["paths"][route.path]["get"]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    return [name for name in names if name not in ("limit", "page")]


async def test_no_list_or_search_shows_another_programs_objects(cast: Cast, app: FastAPI) -> None:
    bob = BobsThings(
        partner=await make_partner(cast.bob),
        customer_key=await make_customer(cast.bob),
        link_key=await make_link(cast.bob),
    )
    await cast.alice.partner("alice-own@example.com", key="alice-own")
    asked = 0
    for method, route in api_routes(app):
        if method != "GET" or route.param_convertors:
            continue
        queries: list[dict[str, str]] = [{}]
        queries += [{name: v} for name in text_query_parameters(app, route) for v in bob.values()]
        for query in queries:
            answer = await cast.alice.api.get(route.path, params=query)
            assert answer.status_code in (200, 400, 404, 422), (route.path, query, answer.text)
            shown = json.dumps(answer.json().get("data"))  # `links` echo the query itself
            leaked = [value for value in bob.values() if value in shown]
            assert not leaked, (route.path, query, leaked)
            asked += 1
    assert asked > 20  # the search routes were really asked with Bob's values


async def test_bob_still_sees_his_own_objects(cast: Cast) -> None:
    """The checks above would pass on an API that hides everything from everyone."""
    partner = await make_partner(cast.bob)
    customer = await make_customer(cast.bob)
    link = await make_link(cast.bob)
    for path in (
        f"/v1/partners/{partner['id']}",
        f"/v1/customers/{customer}",
        f"/v1/partner_referral_links/{link}",
    ):
        answer: httpx.Response = await cast.bob.api.get(path)
        assert answer.status_code == 200, (path, answer.text)
