"""Landings in real Chromium: the referral cookie, the click, first and last click, cookies
shared across subdomains, unknown keys, refused origins, and what a plain page view costs."""

import time

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Route

from tests.browser.conftest import Visitor, eventually, settle
from tests.browser.site import UNIVERSAL, Site, js_signup_snippet, seed_html_page, with_body_end
from tests.builders import ProgramFixture, make_program
from tests.live import LiveServer
from tests.tracking_helpers import clicks_of, configure, customers_of

pytestmark = pytest.mark.browser


async def program_with_partners(
    app: FastAPI, client: httpx.AsyncClient, name: str, *keys: str, **settings: object
) -> ProgramFixture:
    program = await make_program(app, client, name, type=str(settings.pop("type", "affiliate")))
    for key in keys:
        await program.partner(f"{key}@example.com", key=key)
    if settings:
        await configure(app, program.public_id, **settings)
    return program


def guide_page(live_server: LiveServer, program: ProgramFixture, *snippets: str) -> str:
    return with_body_end(seed_html_page(live_server.url, program.public_id), *snippets)


async def test_a_page_view_without_referral_costs_only_the_script_and_cached_settings(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Quiet", "jane")
    url = site.add("/quiet", guide_page(live_server, program, UNIVERSAL))
    await visitor.page.goto(url)
    await settle()
    first_view = [r.url.split("?")[0] for r in visitor.recorder.to(live_server)]
    assert first_view == [
        f"{live_server.url}/js/universal.js",
        f"{live_server.url}/t/{program.public_id}/settings",
    ]
    await visitor.page.goto(site.url("/quiet?utm_source=newsletter"))
    await settle()
    second_view = [r.url.split("?")[0] for r in visitor.recorder.to(live_server)][2:]
    assert second_view == [f"{live_server.url}/js/universal.js"]
    assert await visitor.cookies(url) == {}
    assert await clicks_of(app, program.public_id) == []


async def test_the_path_form_and_extra_params_carry_the_key(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(
        app, client, "Paths", "jane", "mark", url_params=["aff", "via"]
    )
    page = guide_page(live_server, program)
    await visitor.page.goto(site.add("/aff/jane", page))
    assert await eventually(lambda: clicks_of(app, program.public_id))
    assert (await visitor.cookies(site.url("/")))["partnero_partner"] == "jane"
    await visitor.page.goto(site.add("/pricing", page) + "?via=mark")
    assert len(await eventually(lambda: _count(app, program, 2))) == 2
    assert (await visitor.cookies(site.url("/")))["partnero_partner"] == "mark"


async def _count(app: FastAPI, program: ProgramFixture, wanted: int) -> list[object]:
    clicks = await clicks_of(app, program.public_id)
    return list(clicks) if len(clicks) >= wanted else []


@pytest.mark.parametrize(("rule", "credited"), [("last_click", "mark"), ("first_click", "jane")])
async def test_first_and_last_click(
    rule: str,
    credited: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, rule, "jane", "mark", attribution=rule)
    url = site.add(f"/rule-{rule}", guide_page(live_server, program, UNIVERSAL))
    await visitor.page.goto(url + "?aff=jane")
    await eventually(lambda: _count(app, program, 1))
    await visitor.page.goto(url + "?aff=mark")
    await eventually(lambda: _count(app, program, 2))
    assert (await visitor.cookies(url))["partnero_partner"] == credited
    await visitor.page.fill("#email", "fay@example.com")
    await visitor.page.fill("#password", "pw")
    await visitor.page.click("#submit-button")
    [customer] = await eventually(lambda: customers_of(app, program.public_id))
    jane_click, mark_click = await clicks_of(app, program.public_id)  # both clicks counted
    credited_click = mark_click if credited == "mark" else jane_click
    assert customer.click_id == credited_click.id
    assert customer.partner_id == credited_click.partner_id


async def test_auto_cookie_domain_is_shared_by_subdomains(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Subdomains", "jane")
    landing = site.add("/home", guide_page(live_server, program), host="www")
    await visitor.page.goto(landing + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    [cookie] = [c for c in await visitor.context.cookies() if c["name"] == "partnero_partner"]
    assert (cookie["domain"], cookie["path"], cookie["sameSite"]) == (".example.test", "/", "Lax")
    assert not cookie["httpOnly"] and not cookie["secure"]
    assert 29 * 86400 < cookie["expires"] - time.time() <= 30 * 86400
    assert not any(c["name"] == "referly_probe" for c in await visitor.context.cookies())

    app_page = guide_page(live_server, program, js_signup_snippet(None))
    await visitor.page.goto(site.add("/app-signup", app_page, host="app"))
    [customer] = await eventually(lambda: customers_of(app, program.public_id))
    [click] = await clicks_of(app, program.public_id)
    assert customer.click_id == click.id and customer.partner_id == click.partner_id


async def test_host_only_cookies_stay_on_their_host(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(
        app, client, "Host only", "jane", cookie_domain="host", cookie_lifetime_days=7
    )
    await visitor.page.goto(site.add("/host-home", guide_page(live_server, program)) + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    [cookie] = [c for c in await visitor.context.cookies() if c["name"] == "partnero_partner"]
    assert cookie["domain"] == "www.example.test"
    assert 6 * 86400 < cookie["expires"] - time.time() <= 7 * 86400
    app_page = guide_page(live_server, program, js_signup_snippet(None))
    await visitor.page.goto(site.add("/host-app", app_page, host="app"))
    await settle()
    assert visitor.recorder.reports(live_server, "signups") == []
    assert await customers_of(app, program.public_id) == []


async def test_an_explicit_cookie_domain_is_shared_below_it_and_nowhere_else(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(
        app, client, "Explicit domain", "jane", cookie_domain="shop.example.test"
    )
    landing = site.add("/shop-home", guide_page(live_server, program), host="www.shop")
    await visitor.page.goto(landing + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    [cookie] = [c for c in await visitor.context.cookies() if c["name"] == "partnero_partner"]
    assert cookie["domain"] == ".shop.example.test"

    outside = guide_page(live_server, program, js_signup_snippet(None))
    await visitor.page.goto(site.add("/outside-signup", outside, host="www"))
    await settle()
    assert visitor.recorder.reports(live_server, "signups") == []

    inside = guide_page(live_server, program, js_signup_snippet(None))
    await visitor.page.goto(site.add("/shop-app-signup", inside, host="app.shop"))
    [customer] = await eventually(lambda: customers_of(app, program.public_id))
    [click] = await clicks_of(app, program.public_id)
    assert customer.click_id == click.id and customer.partner_id == click.partner_id


async def test_refer_a_friend_programs_use_their_cookie_and_param(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Friends", "jane", type="referral")
    url = site.add("/friends", guide_page(live_server, program, UNIVERSAL))
    await visitor.page.goto(url + "?ref=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    cookies = await visitor.cookies(url)
    assert cookies["partnero_referral"] == "jane" and "partnero_partner" not in cookies


async def test_an_unknown_key_credits_nobody(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Unknown key", "jane")
    url = site.add("/unknown", guide_page(live_server, program, UNIVERSAL))
    await visitor.page.goto(url + "?aff=nobody")
    await eventually(lambda: _answered(visitor, live_server, "clicks"))
    assert (await visitor.cookies(url))["partnero_partner"] == "nobody"  # the script can't know
    await visitor.page.fill("#email", "gil@example.com")
    await visitor.page.fill("#password", "pw")
    await stay_on_submit(visitor)
    await visitor.page.click("#submit-button")
    await eventually(lambda: _answered(visitor, live_server, "signups"))
    answers = [await r.response() for r in visitor.recorder.to(live_server, "/t/")]
    assert [a.status for a in answers if a] == [200, 202, 202]  # settings, click, sign-up
    assert await clicks_of(app, program.public_id) == []
    assert await customers_of(app, program.public_id) == []


async def _answered(visitor: Visitor, live_server: LiveServer, action: str) -> bool:
    reports = visitor.recorder.reports(live_server, action)
    return bool(reports) and all(r in visitor.recorder.done for r in reports)


async def stay_on_submit(visitor: Visitor) -> None:
    """Keep the page after a submit, so the browser reports the answers it gets."""
    await visitor.page.evaluate(
        "() => { document.forms[0].onsubmit = function (e) { e.preventDefault(); }; }"
    )


async def test_a_disallowed_origin_is_refused_and_an_allowed_one_works(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    locked = await program_with_partners(
        app, client, "Locked", "jane", allowed_origins=["https://www.other-shop.example"]
    )
    await visitor.page.goto(site.add("/locked", guide_page(live_server, locked)) + "?aff=jane")
    await eventually(lambda: _answered(visitor, live_server, "settings"))
    [settings] = visitor.recorder.reports(live_server, "settings")
    assert await settings.response() is None  # refused: no CORS grant, so the script reads nothing
    assert settings.failure is not None
    async with httpx.AsyncClient() as direct:
        refused = await direct.get(settings.url, headers={"Origin": site.origin})
    assert refused.status_code == 403
    await settle()
    assert visitor.recorder.reports(live_server, "clicks") == []
    assert "partnero_partner" not in await visitor.cookies(site.url("/"))
    assert await clicks_of(app, locked.public_id) == []

    open_to_us = await program_with_partners(
        app, client, "Allowed", "jane", allowed_origins=[site.origin]
    )
    await visitor.page.goto(site.add("/allowed", guide_page(live_server, open_to_us)) + "?aff=jane")
    assert await eventually(lambda: clicks_of(app, open_to_us.public_id))


async def test_odd_calls_and_a_missing_program_never_break_the_page(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    page = seed_html_page(live_server.url, "ZZZZ9999")
    odd_calls = """<script>
    po(); po('customers', 'signup'); po('customers', 'signup', null); po('nonsense', 1, 2);
    po('integration', 'universal', null); po('integration', 'universal', null);
    po('customers', 'signup', {data: {key: 'k', partner: {key: 'jane'}}});
    </script>"""
    url = site.add("/odd", with_body_end(page, odd_calls))
    await visitor.page.goto(url + "?aff=jane")
    await visitor.page.fill("#email", "hal@example.com")
    await visitor.page.fill("#password", "pw")
    await stay_on_submit(visitor)
    await visitor.page.click("#submit-button")
    await settle()
    assert await visitor.page.evaluate("typeof po") == "function"
    assert visitor.recorder.reports(live_server, "clicks") == []  # the visitor's fixture also
    assert visitor.recorder.reports(live_server, "signups") == []  # checks no error was thrown


async def test_a_first_party_proxy_on_https_works_unchanged_with_secure_cookies(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    visitor: Visitor,
) -> None:
    """The site serves Referly under its own https origin (`/referly/...` proxied to the
    server): only the loader's script URL changes, and the cookie gets `Secure`."""
    program = await program_with_partners(app, client, "Proxied", "jane")
    shop = "https://shop.example.test"
    html = seed_html_page(f"{shop}/referly", program.public_id)

    async def proxy(route: Route) -> None:
        upstream = route.request.url.replace(f"{shop}/referly", live_server.url)
        await route.fulfill(response=await route.fetch(url=upstream))

    await visitor.context.route(
        f"{shop}/**", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    await visitor.context.route(f"{shop}/referly/**", proxy)
    await visitor.page.goto(f"{shop}/?aff=jane")
    [click] = await eventually(lambda: clicks_of(app, program.public_id))
    assert click.landing_url == f"{shop}/?aff=jane"
    [cookie] = [c for c in await visitor.context.cookies() if c["name"] == "partnero_partner"]
    assert cookie["secure"] and cookie["domain"] == ".example.test"
    assert visitor.recorder.to(live_server) == []  # the browser only ever talked to the shop
    assert [r.url for r in visitor.recorder.reports_at(f"{shop}/referly", "clicks")] == [
        f"{shop}/referly/t/{program.public_id}/clicks"
    ]


async def test_a_loader_pasted_twice_still_counts_one_click(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Twice", "jane")
    page = seed_html_page(live_server.url, program.public_id)
    loader = page[page.index("<!-- Partnero Universal -->") : page.index("</head>")]
    url = site.add("/twice", page.replace("</head>", loader + "</head>"))
    await visitor.page.goto(url + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    await settle(1.0)
    script_tags = "document.querySelectorAll('script[src*=\"/js/universal.js\"]').length"
    assert await visitor.page.evaluate(script_tags) == 2
    assert len(visitor.recorder.reports(live_server, "clicks")) == 1
    assert len(await clicks_of(app, program.public_id)) == 1
