"""Concurrent clients that remember everything: each request is identifiable (a customer key,
or a click's landing URL, unique to it) and its outcome is logged as the client saw it: the
status, or no answer at all. The audit trusts only this log.

Three kinds of write, as real clients send them: public sign-ups and clicks (`text/plain`
JSON, as the browser script sends them) and REST creates (with an `Idempotency-Key`, so a
create may be retried safely)."""

import asyncio
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import httpx

SIGNUP, CLICK, CREATE = "signup", "click", "create"
KINDS = (SIGNUP, CLICK, CREATE)
PATHS = {
    SIGNUP: "POST /t/{id}/signups",
    CLICK: "POST /t/{id}/clicks",
    CREATE: "POST /v1/customers",
}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
REQUEST_TIMEOUT = 15.0
PAUSE_WHILE_DOWN = 0.05  # no connection: the server is restarting
RETRY_CONCURRENCY = 8


@dataclass(frozen=True)
class Target:
    """The server under test and the program the load writes to."""

    base_url: str
    public_id: str
    partner_key: str
    token: str

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).hostname not in LOOPBACK:
            raise ValueError(f"the load only goes to loopback addresses, not {self.base_url}")

    def with_url(self, base_url: str) -> "Target":
        return replace(self, base_url=base_url)


@dataclass(frozen=True)
class Attempt:
    kind: str
    ident: str
    status: int | None  # None: sent, and no answer came (connection reset, timed out)
    retry: bool = False
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def customer_key(kind: str, ident: str) -> str:
    return f"{'su' if kind == SIGNUP else 'api'}-{ident}"


def landing_url(ident: str, partner_key: str) -> str:
    return f"https://shop.example/landing?aff={partner_key}&probe={ident}"


def ident_of_landing_url(url: str) -> str | None:
    _, marker, ident = url.partition("&probe=")
    return ident if marker else None


def request_for(target: Target, kind: str, ident: str) -> tuple[str, dict[str, str], bytes]:
    """Path, headers and body of request `ident`; a retry sends exactly the same."""
    if kind == CLICK:
        url = landing_url(ident, target.partner_key)
        click = {"key": target.partner_key, "url": url, "visitor": f"v-{ident}"}
        return f"/t/{target.public_id}/clicks", _plain(), _json(click)
    key = customer_key(kind, ident)
    email = f"{key}@crash.example"
    if kind == SIGNUP:
        signup = {"key": key, "email": email, "partner": target.partner_key}
        return f"/t/{target.public_id}/signups", _plain(), _json(signup)
    headers = {
        "Authorization": f"Bearer {target.token}",
        "Content-Type": "application/json",
        "Idempotency-Key": f"ik-{ident}",
    }
    create = {"key": key, "email": email, "partner": {"key": target.partner_key}}
    return "/v1/customers", headers, _json(create)


def _plain() -> dict[str, str]:
    return {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"}


def _json(body: Mapping[str, object]) -> bytes:
    return json.dumps(body).encode()


class NotSent(Exception):
    """No connection to the server: the request never left the client."""


async def send(
    client: httpx.AsyncClient, target: Target, kind: str, ident: str, retry: bool = False
) -> Attempt:
    path, headers, body = request_for(target, kind, ident)
    try:
        response = await client.post(path, headers=headers, content=body)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise NotSent() from error
    except httpx.HTTPError as error:
        return Attempt(kind, ident, None, retry, type(error).__name__)
    return Attempt(kind, ident, response.status_code, retry)


async def send_when_connected(
    client: httpx.AsyncClient, target: Target, kind: str, ident: str, stop: asyncio.Event
) -> Attempt | None:
    """Send, waiting out a server that is down (restarting); None if `stop` comes first. A
    request that never got a connection was never sent, so it is not logged."""
    while not stop.is_set():
        try:
            return await send(client, target, kind, ident)
        except NotSent:
            await asyncio.sleep(PAUSE_WHILE_DOWN)
    return None


@dataclass
class Load:
    """`concurrency` clients sending one request after another, the kinds in turn, until
    `stop` is set or `max_requests` were sent."""

    target: Target
    run_id: str
    concurrency: int
    max_requests: int
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    log: list[Attempt] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    async def run(self) -> list[Attempt]:
        limits = httpx.Limits(max_connections=self.concurrency)
        timeout = httpx.Timeout(REQUEST_TIMEOUT)
        async with httpx.AsyncClient(
            base_url=self.target.base_url, limits=limits, timeout=timeout
        ) as client:
            await asyncio.gather(*(self._client(client) for _ in range(self.concurrency)))
        return self.log

    async def _client(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            number = next(self._numbers)
            if number >= self.max_requests:
                return
            kind = KINDS[number % len(KINDS)]
            ident = f"{self.run_id}-{number:07d}"
            attempt = await send_when_connected(client, self.target, kind, ident, self.stop)
            if attempt is not None:
                self.log.append(attempt)


async def retry_unanswered(target: Target, log: list[Attempt]) -> list[Attempt]:
    """What a careful client does once the server is back: send again, unchanged, every
    sign-up and create that got no answer or a 5xx. Both are safe to repeat (a repeated
    sign-up is a no-op; a create carries its idempotency key). Clicks are not repeated."""
    settled = {(a.kind, a.ident) for a in log if a.status is not None and a.status < 500}
    again = sorted({(a.kind, a.ident) for a in log if a.kind != CLICK} - settled)
    gate = asyncio.Semaphore(RETRY_CONCURRENCY)
    async with httpx.AsyncClient(base_url=target.base_url, timeout=REQUEST_TIMEOUT) as client:

        async def one(kind: str, ident: str) -> Attempt:
            async with gate:
                try:
                    return await send(client, target, kind, ident, retry=True)
                except NotSent:
                    return Attempt(kind, ident, None, retry=True, error="not sent")

        return list(await asyncio.gather(*(one(kind, ident) for kind, ident in again)))
