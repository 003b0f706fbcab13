"""Absolute URLs in answers never come from a `Host` header anyone can send: they use
`REFERLY_PUBLIC_URL` when it is set, else the request's origin only for an allowed host, else
they are relative."""

from fastapi import FastAPI

from referly.config import Settings
from tests.builders import make_program
from tests.own_app import own_app


async def links_for(settings: Settings, host: str, **overrides: object) -> dict[str, str]:
    async with own_app(settings, **overrides) as (application, client):
        program = await make_program(application, client, "Links")
        await program.partner("a@example.com")
        await program.partner("b@example.com")
        listed = await program.api.get("/v1/partners", params={"limit": 1}, headers={"Host": host})
        assert listed.status_code == 200, listed.text
        body = listed.json()
        return {**body["links"], "path": body["meta"]["path"]}


async def test_a_forged_host_never_reaches_the_links(app: FastAPI, settings: Settings) -> None:
    links = await links_for(settings, "evil.example")
    assert links["next"] == "/v1/partners?limit=1&page=2"
    assert all("evil" not in (url or "") for url in links.values())


async def test_the_public_url_setting_names_every_link(app: FastAPI, settings: Settings) -> None:
    links = await links_for(settings, "evil.example", public_url="https://refer.shop.example/")
    assert links["first"] == "https://refer.shop.example/v1/partners?limit=1&page=1"
    assert links["path"] == "https://refer.shop.example/v1/partners"


async def test_an_allowed_host_makes_absolute_links(app: FastAPI, settings: Settings) -> None:
    links = await links_for(settings, "api.shop.example", allowed_hosts=["api.shop.example"])
    assert links["next"] == "http://api.shop.example/v1/partners?limit=1&page=2"
