"""Rate limits: token buckets in this process's memory, for the REST API (per API token) and
the public tracking path (per client IP and program).

Every `/v1` answer carries `X-RateLimit-Limit` (the bucket's size), `X-RateLimit-Remaining`
(requests left right now) and `X-RateLimit-Reset` (Unix time, in seconds, when the bucket is
full again). An empty bucket answers 429 in the error shape with `Retry-After` (seconds).

Requests without a token share a bucket per client IP (see `referly.web.client_ip`). A
request whose token is refused also spends from a per-IP allowance of failed logins; once that
is spent, the IP's refused tokens get 429 instead of 401 (`ApiRateLimits.refuse_guessing`).
A valid token is never refused for it. The bucket of a refused token is dropped at once, so
made-up tokens cost no memory.

The buckets live in the server process: with several processes, each counts on its own, so
the effective limit is the configured one times the number of processes."""

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referly.config import Settings
from referly.errors import RateLimited
from referly.web.asgi import respond
from referly.web.client_ip import client_ip
from referly.web.errors import error_body, error_headers

MAX_BUCKETS = 100_000
LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@dataclass
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now

    def seconds_until(self, tokens: float) -> float:
        return max(0.0, (tokens - self.tokens) / self.per_second)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix time when the bucket is full again
    retry_after: int  # seconds until one request is allowed (0 when allowed)

    def headers(self) -> list[tuple[bytes, bytes]]:
        values = (self.limit, self.remaining, self.reset_at)
        pairs = zip(LIMIT_HEADERS, values, strict=True)
        return [(name.lower().encode(), str(value).encode()) for name, value in pairs]


@dataclass
class RateLimiter:
    """Buckets by name, least recently used first; a full bucket is the same as none, so
    buckets are forgotten freely once there are too many."""

    capacity: int
    per_minute: int
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    max_buckets: int = MAX_BUCKETS
    buckets: OrderedDict[str, TokenBucket] = field(default_factory=OrderedDict)

    def take(self, name: str) -> Decision:
        """Spend one request from `name`'s bucket, if it has one to give."""
        bucket = self._bucket(name, self.clock())
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        return self._decision(bucket, allowed)

    def spend(self, name: str) -> Decision | None:
        """As `take`, answering None when allowed: the decision is built only for a refusal."""
        bucket = self._bucket(name, self.clock())
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return self._decision(bucket, False)

    def peek(self, name: str) -> Decision:
        """Whether `name` could spend a request now, spending nothing."""
        now = self.clock()
        bucket = self.buckets.get(name)
        if bucket is None:
            bucket = self._full_bucket(now)
        else:
            bucket.refill(now)
        return self._decision(bucket, bucket.tokens >= 1)

    def knows(self, name: str) -> bool:
        return name in self.buckets

    def forget(self, name: str) -> None:
        self.buckets.pop(name, None)

    def _bucket(self, name: str, now: float) -> TokenBucket:
        bucket = self.buckets.get(name)
        if bucket is None:
            self._make_room()
            bucket = self.buckets[name] = self._full_bucket(now)
        else:
            self.buckets.move_to_end(name)
            bucket.refill(now)
        return bucket

    def _full_bucket(self, now: float) -> TokenBucket:
        return TokenBucket(self.capacity, self.per_minute / 60, float(self.capacity), now)

    def _decision(self, bucket: TokenBucket, allowed: bool) -> Decision:
        return Decision(
            allowed=allowed,
            limit=self.capacity,
            remaining=math.floor(bucket.tokens),
            reset_at=math.ceil(self.wall_clock() + bucket.seconds_until(self.capacity)),
            retry_after=0 if allowed else max(1, math.ceil(bucket.seconds_until(1))),
        )

    def _make_room(self) -> None:
        while len(self.buckets) >= self.max_buckets:
            self.buckets.popitem(last=False)


@dataclass
class ApiRateLimits:
    requests: RateLimiter
    auth_failures: RateLimiter

    def refuse_guessing(self, ip: str) -> None:
        """Count a refused token against its client IP; once the IP's allowance of failures is
        spent, its refusals are 429 (a token guessed at speed learns nothing more). A token that
        is valid is never counted, so no number of bad guesses from an IP (or from behind a
        shared proxy) locks a working integration out."""
        decision = self.auth_failures.take("ip:" + ip)
        if not decision.allowed:
            raise RateLimited(decision.retry_after, limit_headers=decision.headers())

    @classmethod
    def from_settings(cls, settings: Settings) -> "ApiRateLimits":
        return cls(
            requests=RateLimiter(settings.api_rate_limit_burst, settings.api_rate_limit_per_minute),
            auth_failures=RateLimiter(
                settings.api_auth_failures_per_minute, settings.api_auth_failures_per_minute
            ),
        )


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def caller_name(scope: Scope, ip: str) -> str:
    """The bucket a request spends from: its bearer token (hashed: no secret kept in memory
    longer than needed), else its client IP."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "token:" + hashlib.sha256(token.strip()).hexdigest()
    return "ip:" + ip


MAX_PEERS = 10_000


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: ApiRateLimits, settings: Settings) -> None:
        self.app = app
        self.limits = limits
        self.settings = settings
        self._peers: dict[str, str] = {}  # peer address -> client IP, without trusted proxies

    def _client_ip(self, scope: Scope) -> str:
        """`client_ip`, remembered per peer address when no proxy is trusted (then the peer
        alone decides it); parsing an address is a large part of this layer's cost."""
        if self.settings.trusted_proxies:
            return client_ip(scope, self.settings)
        client = scope.get("client")
        peer = client[0] if client else ""
        found = self._peers.get(peer)
        if found is None:
            if len(self._peers) >= MAX_PEERS:
                self._peers.clear()
            found = self._peers[peer] = client_ip(scope, self.settings)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        ip = self._client_ip(scope)
        caller = caller_name(scope, ip)
        decision = self.limits.requests.take(caller)
        if not decision.allowed:
            await _refuse(decision, scope, receive, send)
            return
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *decision.headers()]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if status in (401, 429) and caller.startswith("token:"):
            self.limits.requests.forget(caller)  # made-up tokens leave nothing behind


async def _refuse(decision: Decision, scope: Scope, receive: Receive, send: Send) -> None:
    refused = RateLimited(retry_after=decision.retry_after, limit_headers=decision.headers())
    await respond(send, 429, error_body(refused), error_headers(refused))
