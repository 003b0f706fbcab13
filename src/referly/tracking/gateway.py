"""The public tracking path as a raw ASGI layer in front of the app: `/js/universal.js` and
`/t/{public_id}/settings|clicks|signups`. Everything else passes through to the REST API.

Per request: the route and method are checked first (no I/O), then the program (cached), the
origin, the rate limit, the body. Valid and unknown referral keys get the same answer: 202
`{"status": 1}`, after the commit."""

import ipaddress
import logging

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from referly.api.rate_limit import RateLimiter
from referly.config import Settings
from referly.db.engine import create_sessionmaker
from referly.domain.clicks import NewClick, hash_ip
from referly.errors import NotFound, RateLimited, ReferlyError, ServiceUnavailable
from referly.net import client_ip
from referly.static.script import ServedScript, load_script
from referly.tracking.cors import PREFLIGHT_HEADERS, cors_headers, is_allowed
from referly.tracking.http import (
    JSON_TYPE,
    Headers,
    MethodNotAllowed,
    OriginRefused,
    error_body,
    error_headers,
    header,
    json_bytes,
    read_body,
    respond,
)
from referly.tracking.programs import ProgramCache, PublicProgram
from referly.tracking.reports import parse_click, parse_signup
from referly.tracking.script import SCRIPT_PATH, serve_script
from referly.tracking.store import TrackingStore

log = logging.getLogger("referly.tracking")

METHODS = {"settings": "GET", "clicks": "POST", "signups": "POST"}
ACCEPTED = json_bytes({"status": 1})
SETTINGS_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"public, max-age=300")]
REPORT_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"no-store")]
Answer = tuple[int, bytes, Headers]


class Tracking:
    """One per app: the store, the program cache, the rate limiter and the script."""

    def __init__(self, settings: Settings, store: TrackingStore, script: ServedScript) -> None:
        self.settings = settings
        self.store = store
        self.script = script
        self.programs = ProgramCache(store.load_program, settings.tracking_program_cache_seconds)
        per_minute = settings.tracking_rate_per_minute
        self.limiter = RateLimiter(settings.tracking_rate_burst, per_minute) if per_minute else None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin")
        try:
            status, body, headers = await self._answer(scope, receive, origin)
        except ReferlyError as error:
            status, body, headers = error.status_code, error_body(error), error_headers(error)
        except (DBAPIError, OSError) as error:
            log.warning("tracking: database error: %s", error.__class__.__name__)
            unavailable = ServiceUnavailable()
            status, body, headers = 503, error_body(unavailable), error_headers(unavailable)
        if status != 403:  # a refused origin is not told it may read the answer
            headers = [*headers, *cors_headers(origin)]
        await respond(send, status, body, headers)

    async def _answer(self, scope: Scope, receive: Receive, origin: bytes | None) -> Answer:
        public_id, action = _route(scope["path"])
        method = scope["method"]
        if method not in (METHODS[action], "OPTIONS"):
            raise MethodNotAllowed()
        program = await self.programs.get(public_id)
        if program is None:
            raise NotFound("Program not found")
        if not is_allowed(origin, program.allowed_origins):
            raise OriginRefused()
        if method == "OPTIONS":
            return 204, b"", PREFLIGHT_HEADERS
        ip = client_ip(scope, self.settings)
        self._limit(ip, program)
        if action == "settings":
            return 200, program.settings_body, SETTINGS_HEADERS
        body = await read_body(scope, receive, self.settings.tracking_max_body_bytes)
        if action == "clicks":
            await self._click(program, body, ip)
        else:
            await self.store.record_signup(program, parse_signup(body))
        return 202, ACCEPTED, REPORT_HEADERS

    async def _click(self, program: PublicProgram, body: bytes, ip: str) -> None:
        report = parse_click(body)
        new = NewClick(
            referral_key=report.referral_key,
            landing_url=report.landing_url,
            referrer=report.referrer,
            visitor_id=report.visitor_id,
            ip_hash=hash_ip(ip, program.public_id),
        )
        await self.store.record_click(program, new)

    def _limit(self, ip: str, program: PublicProgram) -> None:
        if self.limiter is None or (not self.settings.tracking_limit_loopback and _loopback(ip)):
            return
        decision = self.limiter.take(f"{ip}|{program.id}")
        if not decision.allowed:
            raise RateLimited(retry_after=decision.retry_after)


def _route(path: str) -> tuple[str, str]:
    parts = path.split("/")
    if len(parts) != 4 or parts[3] not in METHODS:
        raise NotFound()
    return parts[2], parts[3]


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class TrackingGateway:
    def __init__(self, app: ASGIApp, tracking: Tracking) -> None:
        self.app = app
        self.tracking = tracking

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == SCRIPT_PATH:
                await serve_script(scope, send, self.tracking.script)
                return
            if path.startswith("/t/"):
                await self.tracking.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_tracking(app: FastAPI, settings: Settings) -> None:
    """Put the tracking path in front of everything added so far, and add the demo page."""
    from referly.demo.routes import router as demo_router

    store = TrackingStore(app.state.engine, create_sessionmaker(app.state.engine))
    app.state.tracking = Tracking(settings, store, load_script())
    app.include_router(demo_router)
    app.add_middleware(TrackingGateway, tracking=app.state.tracking)
