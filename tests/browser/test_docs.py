"""`/docs` renders completely in Chromium from what Referly serves: every request the page
makes goes to the Referly server, and the operations are there to read."""

from pathlib import Path

import pytest

from tests.browser.conftest import Visitor
from tests.live import LiveServer

pytestmark = pytest.mark.browser


async def test_swagger_ui_renders_every_operation_offline(
    live_server: LiveServer, visitor: Visitor, tmp_path: Path
) -> None:
    errors: list[str] = []
    visitor.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await visitor.page.goto(f"{live_server.url}/docs")
    await visitor.page.locator(".opblock").first.wait_for(timeout=15_000)
    operations = await visitor.page.locator(".opblock").count()
    assert operations >= 20
    assert await visitor.page.locator("text=POST /v1/customers").count() or operations
    await visitor.page.screenshot(path=str(tmp_path / "docs.png"))
    elsewhere = [r.url for r in visitor.recorder.requests if not r.url.startswith(live_server.url)]
    assert elsewhere == []
    assert errors == []
