"""Sign-ups in real Chromium: the guide's HTML page with the Universal integration, its
JavaScript examples, a submit that leaves the page at once, and the password staying home."""

import json

import httpx
import pytest
from fastapi import FastAPI

from tests.browser.conftest import Visitor, eventually, settle
from tests.browser.site import (
    JS_FORM_EXAMPLE,
    UNIVERSAL,
    Site,
    js_signup_snippet,
    seed_html_page,
    with_body_end,
    with_form_action,
)
from tests.builders import ProgramFixture, make_program
from tests.live import LiveServer
from tests.tracking_helpers import clicks_of, customers_of

pytestmark = pytest.mark.browser
PASSWORD = "S3cret-pa55word"


async def program_with_partners(
    app: FastAPI, client: httpx.AsyncClient, name: str, *keys: str
) -> ProgramFixture:
    program = await make_program(app, client, name)
    for key in keys:
        await program.partner(f"{key}@example.com", key=key)
    return program


async def fill_seed_form(visitor: Visitor, name: str, email: str) -> None:
    await visitor.page.fill("#name", name)
    await visitor.page.fill("#email", email)
    await visitor.page.fill("#password", PASSWORD)


async def partner_keys_of(app: FastAPI, program: ProgramFixture) -> list[tuple[str, str | None]]:
    listed = await program.api.get("/v1/customers")
    return [(c["key"], c["partner"]) for c in listed.json()["data"]]


async def test_the_guides_html_page_tracks_a_referred_signup(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Guide page", "jane")
    page = with_body_end(seed_html_page(live_server.url, program.public_id), UNIVERSAL)
    url = site.add("/signup-guide", page)
    await visitor.page.goto(url + "?aff=jane")

    assert await eventually(lambda: clicks_of(app, program.public_id))
    assert (await visitor.cookies(url))["partnero_partner"] == "jane"
    await fill_seed_form(visitor, "Ann Lee", "ann@example.com")
    await visitor.page.click("#submit-button")  # the guide's form reloads the page (GET)

    [customer] = await eventually(lambda: customers_of(app, program.public_id))
    [click] = await clicks_of(app, program.public_id)
    assert (customer.key, customer.email, customer.name) == (
        "ann@example.com",
        "ann@example.com",
        "Ann Lee",
    )
    assert customer.source == "universal"
    assert (customer.partner_id, customer.click_id) == (click.partner_id, click.id)
    assert customer.referral_link_id == click.referral_link_id
    assert click.landing_url == url + "?aff=jane"
    await settle()
    assert len(visitor.recorder.reports(live_server, "clicks")) == 1
    assert len(visitor.recorder.reports(live_server, "signups")) == 1
    operator_view = live_server.cli("clicks", "list", "--program", program.public_id)["data"]
    assert [c["partner"] for c in operator_view] == ["jane"]
    listed = live_server.cli("customers", "list", "--program", program.public_id)["data"]
    assert [(c["key"], c["partner"]) for c in listed] == [("ann@example.com", "jane")]


@pytest.mark.parametrize("explicit_partner", [None, "mark"])
async def test_the_guides_js_signup_call_credits_the_cookie_or_the_given_partner(
    explicit_partner: str | None,
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "JS call", "jane", "mark")
    landing = site.add(
        f"/landing-{explicit_partner}", seed_html_page(live_server.url, program.public_id)
    )
    await visitor.page.goto(landing + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    after_signup = with_body_end(
        seed_html_page(live_server.url, program.public_id), js_signup_snippet(explicit_partner)
    )
    await visitor.page.goto(site.add(f"/welcome-{explicit_partner}", after_signup))

    assert await eventually(lambda: customers_of(app, program.public_id))
    assert await partner_keys_of(app, program) == [("customer_123456", explicit_partner or "jane")]
    [customer] = await customers_of(app, program.public_id)
    assert (customer.email, customer.name, customer.source) == (
        "john.doe@partnero.com",
        "John",
        "js",
    )


async def test_the_js_call_with_a_partner_key_needs_no_prior_visit(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "JS direct", "mark")
    page = with_body_end(
        seed_html_page(live_server.url, program.public_id), js_signup_snippet("mark")
    )
    await visitor.page.goto(site.add("/direct-signup", page))
    assert await eventually(lambda: customers_of(app, program.public_id))
    assert await partner_keys_of(app, program) == [("customer_123456", "mark")]
    [customer] = await customers_of(app, program.public_id)
    assert customer.click_id is None


async def test_the_guides_js_form_example_reports_the_form(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "JS form", "jane")
    page = with_body_end(seed_html_page(live_server.url, program.public_id), JS_FORM_EXAMPLE)
    url = site.add("/js-form", page)
    await visitor.page.goto(url + "?aff=jane")
    await fill_seed_form(visitor, "Bo", "bo@example.com")
    await visitor.page.click("#submit-button")
    assert await eventually(lambda: customers_of(app, program.public_id))
    assert await partner_keys_of(app, program) == [("bo@example.com", "jane")]
    [customer] = await customers_of(app, program.public_id)
    assert customer.source == "js"


@pytest.mark.parametrize("leave", ["form-post", "script-redirect"])
async def test_a_signup_that_leaves_the_page_at_once_is_still_recorded(
    leave: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Leaving", "jane")
    page = seed_html_page(live_server.url, program.public_id)
    if leave == "form-post":
        page = with_body_end(with_form_action(page, "/welcome"), UNIVERSAL)
    else:
        redirect = JS_FORM_EXAMPLE.replace(
            "});\n}\n});\n}", "});\nlocation.href = '/welcome';\n}\n});\n}"
        )
        assert "location.href" in redirect
        page = with_body_end(page, redirect)
    url = site.add(f"/leave-{leave}", page)
    await visitor.page.goto(url + "?aff=jane")
    await eventually(lambda: clicks_of(app, program.public_id))
    await fill_seed_form(visitor, "Cy", "cy@example.com")
    await visitor.page.click("#submit-button")
    await visitor.page.wait_for_url("**/welcome")
    assert await visitor.page.title() == "Welcome"
    assert await eventually(lambda: customers_of(app, program.public_id))
    assert await partner_keys_of(app, program) == [("cy@example.com", "jane")]


@pytest.mark.parametrize("form", ["guide-form", "form-that-stays"])
async def test_the_password_never_leaves_the_page(
    form: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Passwords", "jane")
    page = with_body_end(seed_html_page(live_server.url, program.public_id), UNIVERSAL)
    if form == "form-that-stays":
        stay = "<script>document.forms[0].onsubmit = function (e) { e.preventDefault(); };</script>"
        page = with_body_end(page, stay)
    url = site.add(f"/stays-home-{form}", page)
    await visitor.page.goto(url + "?aff=jane")
    await fill_seed_form(visitor, "Di", "di@example.com")
    await visitor.page.click("#submit-button")
    assert await eventually(lambda: customers_of(app, program.public_id))
    await settle()

    sent = visitor.recorder.requests
    to_referly = visitor.recorder.to(live_server)
    assert to_referly and all(
        PASSWORD not in r.url + (r.post_data or "") and "password" not in (r.post_data or "")
        for r in to_referly
    )
    [signup] = visitor.recorder.reports(live_server, "signups")
    assert set(json.loads(signup.post_data or "{}")) <= {
        "key", "email", "name", "surname", "partner", "source", "visitor",
    }  # fmt: skip
    carrying = [r for r in sent if PASSWORD in r.url + (r.post_data or "")]
    if form == "guide-form":  # the guide's own form submits to the site itself, by GET
        assert [r.url.split("?")[0] for r in carrying] == [url]
    else:
        assert carrying == []


async def test_without_a_referral_a_signup_sends_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_server: LiveServer,
    site: Site,
    visitor: Visitor,
) -> None:
    program = await program_with_partners(app, client, "Unreferred", "jane")
    page = with_body_end(seed_html_page(live_server.url, program.public_id), UNIVERSAL)
    url = site.add("/unreferred", page)
    await visitor.page.goto(url)
    await fill_seed_form(visitor, "Ed", "ed@example.com")
    await visitor.page.click("#submit-button")
    await visitor.page.wait_for_load_state()
    await visitor.page.evaluate(
        "po('customers', 'signup', {data: {key: 'k1', email: 'k1@example.com'}})"
    )
    await settle()
    assert visitor.recorder.reports(live_server, "signups") == []
    assert visitor.recorder.reports(live_server, "clicks") == []
    assert await customers_of(app, program.public_id) == []
