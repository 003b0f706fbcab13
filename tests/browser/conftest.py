"""Real Chromium against a real `referly serve`, with the customer's site on another origin.

Chromium comes from Debian (`bash scripts/install-system-packages.sh`). Missing, it is a skip
locally and a failure in CI (`CI=true`). Each test gets a fresh browser context (no cookies,
no storage) that records every request it sends and every error a page throws."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright

from tests.browser.site import Site, start_site
from tests.conftest import IN_CI
from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP *.example.test 127.0.0.1",
]
T = TypeVar("T")


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"Chromium not found at {CHROMIUM}: run `bash scripts/install-system-packages.sh`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    server = start_site()
    yield server.site
    server.shutdown()


@dataclass
class Recorder:
    """Every request the context sent, and every error its pages threw."""

    requests: list[Request] = field(default_factory=list)
    done: list[Request] = field(default_factory=list)  # answered, or failed
    page_errors: list[str] = field(default_factory=list)

    def to(self, server: LiveServer, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if r.url.startswith(server.url) and path_part in r.url]

    def reports(self, server: LiveServer, action: str) -> list[Request]:
        return self.reports_at(server.url, action)

    def reports_at(self, base_url: str, action: str) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.url.startswith(base_url + "/t/") and r.url.endswith(f"/{action}")
        ]

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))


@dataclass
class Visitor:
    """One visitor's browser: a fresh context, its recorder, and a page."""

    context: BrowserContext
    page: Page
    recorder: Recorder

    async def cookies(self, url: str) -> dict[str, str]:
        return {c["name"]: c["value"] for c in await self.context.cookies(url)}

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        self.recorder.watch(page)
        return page


@pytest.fixture
async def visitor(browser: Browser) -> AsyncIterator[Visitor]:
    context = await browser.new_context()
    recorder = Recorder()
    context.on("request", lambda request: recorder.requests.append(request))
    context.on("requestfinished", lambda request: recorder.done.append(request))
    context.on("requestfailed", lambda request: recorder.done.append(request))
    page = await context.new_page()
    recorder.watch(page)
    yield Visitor(context, page, recorder)
    await context.close()
    assert recorder.page_errors == [], "the script threw into the page"


async def eventually(check: Callable[[], Awaitable[T]], within: float = 10.0) -> T:
    """`check()` once it returns something truthy; the last result after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def settle(seconds: float = 0.7) -> None:
    """Give a page time to send anything it was going to send."""
    await asyncio.sleep(seconds)
