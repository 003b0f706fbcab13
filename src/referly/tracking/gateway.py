"""The public tracking path, answered before anything of FastAPI's runs: `/js/universal.js`
and `/t/{public_id}/settings|clicks|signups`. Everything else goes on to the REST API.

`TrackedApp` is the FastAPI application with this path in front: its `__call__` looks at the
path first, so these requests skip FastAPI's own per-request layers (telemetry, body limits,
error and exception middleware) and every middleware the app adds.

Per request: the route and method are checked first (no I/O), then the program (cached), the
origin, the rate limit, the body. Valid and unknown referral keys get the same answer: 202
`{"status": 1}`, after the commit."""

import ipaddress
import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from referly.api.rate_limit import RateLimiter
from referly.config import Settings
from referly.db.engine import DATABASE_UNAVAILABLE
from referly.domain.clicks import hash_ip
from referly.errors import NotFound, RateLimited, ReferlyError, ServiceUnavailable
from referly.net import client_ip
from referly.static.script import load_script
from referly.tracking.cors import PREFLIGHT_HEADERS, cors_headers, is_allowed
from referly.tracking.http import (
    JSON_TYPE,
    Headers,
    MethodNotAllowed,
    OriginRefused,
    error_body,
    error_headers,
    json_bytes,
    read_body,
    respond,
)
from referly.tracking.programs import ProgramCache, PublicProgram
from referly.tracking.reports import parse_click, parse_signup
from referly.tracking.script import SCRIPT_PATH, ScriptResponder
from referly.tracking.store import TrackingStore

log = logging.getLogger("referly.tracking")

METHODS = {"settings": "GET", "clicks": "POST", "signups": "POST"}
ACCEPTED = json_bytes({"status": 1})
SETTINGS_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"public, max-age=300")]
REPORT_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"no-store")]
ACCEPTED_LENGTH = (b"content-length", str(len(ACCEPTED)).encode())
MAX_REMEMBERED = 10_000  # client addresses and network hashes kept, per kind
Answer = tuple[int, bytes, Headers]


class Tracking:
    """One per app: the store, the program cache, the rate limiter and the script."""

    def __init__(self, settings: Settings, store: TrackingStore, script: ScriptResponder) -> None:
        self.settings = settings
        self.store = store
        self.script = script
        self.programs = ProgramCache(store.load_program, settings.tracking_program_cache_seconds)
        per_minute = settings.tracking_rate_per_minute
        self.limiter = RateLimiter(settings.tracking_rate_burst, per_minute) if per_minute else None
        # The same peer (and forwarded-for chain) always gives the same client address; the
        # same address and program, the same network hash. Parsing them is most of a report's
        # CPU, so both are remembered (bounded; forgotten all at once when full).
        self._clients: dict[tuple[Any, ...], tuple[str, bool]] = {}
        self._ip_hashes: dict[tuple[str, str], str | None] = {}
        self._accepted: dict[bytes | None, Headers] = {}  # origin -> a 202's headers

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = forwarded = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = bytes(value)
            elif name == b"x-forwarded-for":
                forwarded = (*(forwarded or ()), bytes(value))
        try:
            status, body, headers = await self._answer(scope, receive, origin, forwarded)
        except ReferlyError as error:
            status, body, headers = error.status_code, error_body(error), error_headers(error)
        except DATABASE_UNAVAILABLE as error:
            log.warning("tracking: database error: %s", error.__class__.__name__)
            unavailable = ServiceUnavailable()
            status, body, headers = 503, error_body(unavailable), error_headers(unavailable)
        if status == 202:  # a report's answer: always the same, per origin
            headers = self._accepted_headers(origin)
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": ACCEPTED})
            return
        if status != 403:  # a refused origin is not told it may read the answer
            headers = [*headers, *cors_headers(origin)]
        await respond(send, status, body, headers)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        origin: bytes | None,
        forwarded: tuple[bytes, ...] | None,
    ) -> Answer:
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
        ip, loopback = self._client(scope, forwarded)
        self._limit(ip, loopback, program)
        if action == "settings":
            return 200, program.settings_body, SETTINGS_HEADERS
        body = await read_body(scope, receive, self.settings.tracking_max_body_bytes)
        if action == "clicks":
            report = parse_click(body)
            ip_hash = self._ip_hash(ip, program.public_id)
            await self.store.record_click(program, report, ip_hash)
        else:
            await self.store.record_signup(program, parse_signup(body))
        return 202, ACCEPTED, REPORT_HEADERS

    def _accepted_headers(self, origin: bytes | None) -> Headers:
        """The headers of a 202 to a report, content length included (a copy: the server may
        keep what it is given)."""
        headers = self._accepted.get(origin)
        if headers is None:
            headers = [*REPORT_HEADERS, *cors_headers(origin), ACCEPTED_LENGTH]
            _remember(self._accepted, origin, headers)
        return list(headers)

    def _client(self, scope: Scope, forwarded: tuple[bytes, ...] | None) -> tuple[str, bool]:
        """The client's address (`referly.net.client_ip`) and whether it is a loopback one."""
        peer = scope.get("client")
        key = (peer[0] if peer else None, forwarded)
        found = self._clients.get(key)
        if found is None:
            ip = client_ip(scope, self.settings)
            found = (ip, _loopback(ip))
            _remember(self._clients, key, found)
        return found

    def _ip_hash(self, ip: str, salt: str) -> str | None:
        key = (ip, salt)
        if key in self._ip_hashes:
            return self._ip_hashes[key]
        hashed = hash_ip(ip, salt)
        _remember(self._ip_hashes, key, hashed)
        return hashed

    def _limit(self, ip: str, loopback: bool, program: PublicProgram) -> None:
        if self.limiter is None or (loopback and not self.settings.tracking_limit_loopback):
            return
        refused = self.limiter.spend(f"{ip}|{program.id}")
        if refused is not None:
            raise RateLimited(refused.retry_after, limit_headers=refused.headers())


def _remember(memory: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memory) >= MAX_REMEMBERED:
        memory.clear()
    memory[key] = value


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


class TrackedApp(FastAPI):
    """The FastAPI app with the public tracking path in front of everything it runs per
    request (see the module's docstring). Until `install_tracking` it is a plain FastAPI.

    `fronts` maps (method, path) to an ASGI app answering that request in front of FastAPI's
    per-request layers as well, but only while FastAPI's native telemetry is off, so that a
    traced app traces it like any other request (`referly.api.customers_fast`)."""

    tracking: Tracking | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fronts: dict[tuple[str, str], ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            tracking = self.tracking
            if tracking is not None:
                if path == SCRIPT_PATH:
                    await tracking.script(scope, send)
                    return
                if path.startswith("/t/"):
                    await tracking.handle(scope, receive, send)
                    return
            front = self.fronts.get((scope["method"], path))
            if front is not None and not self._traced():
                await front(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def regular(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request through FastAPI and every layer of the app, as if nothing were in front."""
        await super().__call__(scope, receive, send)

    def _traced(self) -> bool:
        """Whether FastAPI's native telemetry records requests (an OpenTelemetry provider is
        configured); the same check FastAPI makes per request. Unknown counts as traced."""
        native = getattr(self, "_native_telemetry", None)
        return native is None or bool(native.enabled())


def install_tracking(app: TrackedApp, settings: Settings) -> None:
    """Answer the tracking path in front of the app, and add the demo page."""
    from referly.demo.routes import router as demo_router

    store = TrackingStore(app.state.sessionmaker, app.state.writer)
    app.tracking = app.state.tracking = Tracking(settings, store, ScriptResponder(load_script()))
    app.include_router(demo_router)
