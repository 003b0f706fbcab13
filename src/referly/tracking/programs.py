"""The program facts the tracking path needs on every request, cached in process for a few
seconds so a busy page costs no program lookup per report. Unknown ids are cached too, so
made-up ids cannot turn into a database query each. Concurrent misses of one id share one
load, so an expired entry on a busy program costs one query, not one per request in flight."""

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from referly.db.models import Program
from referly.domain.cookies import script_settings
from referly.web.asgi import json_bytes

PUBLIC_ID = re.compile(r"^[A-Za-z0-9]{8}$")
MAX_CACHED = 10_000


@dataclass(frozen=True)
class PublicProgram:
    """A program's settings as the public path keeps them: what crediting a sign-up needs
    (`referly.domain.customers.CreditRules`), the allowed origins and the script's settings."""

    id: int
    public_id: str
    type: str
    attribution: str
    cookie_lifetime_days: int
    url_params: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    public_signups: bool
    settings_body: bytes  # what GET /t/{id}/settings answers

    @classmethod
    def of(cls, program: Program) -> "PublicProgram":
        kept = ("id", "public_id", "type", "attribution", "cookie_lifetime_days", "public_signups")
        return cls(
            **{name: getattr(program, name) for name in kept},
            url_params=tuple(program.url_params),
            allowed_origins=tuple(program.allowed_origins),
            settings_body=json_bytes(script_settings(program)),
        )


Loader = Callable[[str], Awaitable[PublicProgram | None]]


class ProgramCache:
    def __init__(
        self, load: Loader, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, PublicProgram | None]] = OrderedDict()
        self._loading: dict[str, asyncio.Future[PublicProgram | None]] = {}

    async def get(self, public_id: str) -> PublicProgram | None:
        cached = self._entries.get(public_id)  # found: a valid id, already upper case
        if cached is None:
            if not PUBLIC_ID.match(public_id):
                return None
            public_id = public_id.upper()
            cached = self._entries.get(public_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        loading = self._loading.get(public_id)
        if loading is not None:  # someone is loading it: wait for that answer
            return await asyncio.shield(loading)
        future: asyncio.Future[PublicProgram | None] = asyncio.get_running_loop().create_future()
        self._loading[public_id] = future
        try:
            now = self._clock()
            program = await self._load(public_id)
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked as seen: only the waiters, if any, raise it
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._loading[public_id]
        self._remember(public_id, now + self._ttl, program)
        future.set_result(program)
        return program

    def _remember(self, public_id: str, expires: float, program: PublicProgram | None) -> None:
        self._entries[public_id] = (expires, program)
        self._entries.move_to_end(public_id)
        while len(self._entries) > MAX_CACHED:
            self._entries.popitem(last=False)
