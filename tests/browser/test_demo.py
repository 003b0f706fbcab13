"""The demo page served by `referly serve`, used the way the docs tell a newcomer to."""

import pytest

from tests.browser.conftest import Visitor, eventually
from tests.live import LiveServer
from tests.live_programs import live_program

pytestmark = pytest.mark.browser


async def test_the_demo_page_records_a_referred_signup(
    live_server: LiveServer, visitor: Visitor
) -> None:
    program = live_program(live_server, "Demo", partners=[("jane@example.com", "jane")])
    await visitor.page.goto(f"{live_server.url}/demo/{program.public_id}?aff=jane")

    async def cookie_shown() -> bool:
        # Read from outside the page: its Content-Security-Policy allows no script but its own.
        cookies = await visitor.cookies(live_server.url)
        shown = await visitor.page.locator("#cookie").text_content()
        return cookies.get("partnero_partner") == "jane" and shown == "jane"

    assert await eventually(cookie_shown)
    await visitor.page.fill("#name", "Ivy")
    await visitor.page.fill("#email", "ivy@example.com")
    await visitor.page.fill("#password", "not-sent-anywhere")
    await visitor.page.click("#submit-button")
    assert await visitor.page.is_visible("#result")

    def customers() -> list[dict[str, object]]:
        return list(live_server.cli("customers", "list", "--program", program.public_id)["data"])

    async def listed() -> list[dict[str, object]]:
        return customers()

    [customer] = await eventually(listed)
    assert (customer["key"], customer["partner"]) == ("ivy@example.com", "jane")
    [click] = live_server.cli("clicks", "list", "--program", program.public_id)["data"]
    assert click["partner"] == "jane"
    assert all(
        "not-sent-anywhere" not in (r.post_data or "") + r.url for r in visitor.recorder.requests
    )
