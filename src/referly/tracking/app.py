"""The public tracking path: `/js/universal.js` and `/t/{public_id}/settings|clicks|signups`,
a plain ASGI app with no framework layers (it is the high-volume path). `create_app`
dispatches these paths to it before anything of FastAPI's runs.

Per request: the route and method are checked first (no I/O), then the program (cached), the
origin, the rate limit, the body. Reports go to the same domain services as the REST API
(`referly.domain.clicks.record_click`, `referly.domain.customers.create_customer`), reading
through the fast reader and writing through the group-commit writer. Valid and unknown
referral keys get the same answer, 202 `{"status": 1}`, on the same schedule: after a commit."""

import ipaddress
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from referly.config import Settings
from referly.db.engine import DATABASE_UNAVAILABLE
from referly.db.models import Program
from referly.db.reads import CachingReader, Reader
from referly.db.types import utcnow
from referly.db.writes import RowWriter
from referly.domain.clicks import NewClick, hash_ip, record_click
from referly.domain.customers import NewCustomer, create_customer
from referly.domain.partners import PartnerRef
from referly.domain.referral_links import LINK_OF_KEY
from referly.errors import (
    DuplicateKey,
    InvalidPartnerKey,
    MethodNotAllowed,
    NotFound,
    OriginRefused,
    RateLimited,
    ReferlyError,
    ServerSignupsOnly,
    ServiceUnavailable,
)
from referly.static.build import load_script
from referly.tracking.cors import PREFLIGHT_HEADERS, cors_headers, is_allowed
from referly.tracking.programs import ProgramCache, PublicProgram
from referly.tracking.reports import ClickReport, SignupReport, parse
from referly.tracking.script import SCRIPT_PATH, ScriptResponder
from referly.web.asgi import JSON_TYPE, Headers, json_bytes, read_body, respond
from referly.web.client_ip import client_ip
from referly.web.errors import error_body, error_headers
from referly.web.rate_limit import RateLimiter

log = logging.getLogger("referly.tracking")

METHODS = {"settings": "GET", "clicks": "POST", "signups": "POST"}
ACCEPTED = json_bytes({"status": 1})
SETTINGS_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"public, max-age=300")]
REPORT_HEADERS: Headers = [JSON_TYPE, (b"cache-control", b"no-store")]
ACCEPTED_LENGTH = (b"content-length", str(len(ACCEPTED)).encode())
MAX_REMEMBERED = 10_000  # client addresses and network hashes kept, per kind
Answer = tuple[int, bytes, Headers]


class PublicTracking:
    """The public path's ASGI app, one per server app: the program cache, the rate limiter and
    the script, over the fast reader and the group-commit writer."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        reads: Reader,
        rows: RowWriter,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        # A busy referral key is looked up once per few seconds, not once per report: a link
        # created, renamed or deleted is seen as late as a program's settings are.
        ttl = settings.tracking_program_cache_seconds
        self.reads = CachingReader(reads, [LINK_OF_KEY], ttl)
        self.rows = rows
        self.script = ScriptResponder(load_script())
        self.programs = ProgramCache(self._load_program, settings.tracking_program_cache_seconds)
        per_minute = settings.tracking_rate_per_minute
        self.limiter = RateLimiter(settings.tracking_rate_burst, per_minute) if per_minute else None
        # The same peer (and forwarded-for chain) always gives the same client address; the
        # same address and program, the same network hash. Parsing them is most of a report's
        # CPU, so both are remembered (bounded; forgotten all at once when full).
        self._clients: dict[tuple[Any, ...], tuple[str, bool]] = {}
        self._ip_hashes: dict[tuple[str, str], str | None] = {}
        self._accepted: dict[bytes | None, Headers] = {}  # origin -> a 202's headers

    @staticmethod
    def serves(path: str) -> bool:
        return path == SCRIPT_PATH or path.startswith("/t/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == SCRIPT_PATH:
            await self.script(scope, send)
            return
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
            await self._click(
                program, parse(ClickReport, body), self._ip_hash(ip, program.public_id)
            )
        else:
            await self._signup(program, parse(SignupReport, body))
        return 202, ACCEPTED, REPORT_HEADERS

    async def _click(
        self, program: PublicProgram, report: ClickReport, ip_hash: str | None
    ) -> None:
        new = NewClick(
            report.referral_key, report.landing_url, report.referrer, report.visitor_id, ip_hash
        )
        await record_click(self.reads, self.rows, program.id, new, utcnow())

    async def _signup(self, program: PublicProgram, report: SignupReport) -> None:
        """A customer credited to the partner the referral key names; nothing without a key
        (nobody to credit). An unknown key, or a key or email the program has, is answered
        like any other sign-up and changes nothing."""
        if not program.public_signups:
            raise ServerSignupsOnly()
        if report.partner_key is None:
            return
        new = NewCustomer(
            key=report.key,
            email=report.email,
            name=report.name,
            surname=report.surname,
            partner=PartnerRef(key=report.partner_key),
            source=report.source,
            visitor_id=report.visitor_id,
        )
        try:
            await create_customer(self.reads, self.rows, program, new)
        except InvalidPartnerKey:
            await self.rows.barrier()
        except DuplicateKey:
            pass

    async def _load_program(self, public_id: str) -> PublicProgram | None:
        async with self.sessionmaker() as session:
            program = await session.scalar(select(Program).where(Program.public_id == public_id))
            return PublicProgram.of(program) if program is not None else None

    def _accepted_headers(self, origin: bytes | None) -> Headers:
        """The headers of a 202 to a report, content length included (a copy: the server may
        keep what it is given)."""
        headers = self._accepted.get(origin)
        if headers is None:
            headers = [*REPORT_HEADERS, *cors_headers(origin), ACCEPTED_LENGTH]
            _remember(self._accepted, origin, headers)
        return list(headers)

    def _client(self, scope: Scope, forwarded: tuple[bytes, ...] | None) -> tuple[str, bool]:
        """The client's address (`referly.web.client_ip`) and whether it is a loopback one."""
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
