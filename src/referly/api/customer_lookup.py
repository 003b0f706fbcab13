"""The reads `POST /v1/customers` needs on its fast path (`referly.api.customers_fast`), as one
query per request: the token's row (by its prefix) and the referral link, partner and partner
key its body names, in the token's program.

Nothing is cached: every request reads what is committed when it arrives, so a revoked token
is refused on the very next request, and a partner or link just renamed or deleted is seen at
once.

SQLite: a connection of its own, read in the event loop itself. The query is two indexed
lookups, a few microseconds, and in WAL mode a reader never waits for a writer, so this costs
less than a hop to a thread.

PostgreSQL: one asyncpg connection of its own. Lookups that arrive while a query is in
flight wait for the next one, which answers all of them at once (`unnest`), so a burst of
requests costs one round trip, not one each. A lookup never joins a query already sent, so
what it reads was committed after its request arrived.

A failed lookup raises `LookupFailed`; the fast path then leaves the request to the regular
route, which answers it the usual way (a 503 if the database is down)."""

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("referly")

SQLITE_READ_TIMEOUT_MS = 1_000

Pair = tuple[str, str]  # (token prefix, lower-cased referral key)


@dataclass(frozen=True)
class Credit:
    """A token's row and, when the key names one in the token's program, the link."""

    token_hash: str
    revoked: bool
    program_id: int
    link_id: int | None
    partner_id: int | None
    partner_key: str | None
    partner_email_ci: str | None


class LookupFailed(Exception):
    """The database could not be read."""


class CreditLookup(Protocol):
    async def find(self, prefix: str, key_ci: str) -> Credit | None: ...

    def close(self) -> None: ...


SQLITE_QUERY = """
SELECT t.token_hash, t.revoked_at IS NOT NULL, t.program_id,
       l.id, l.partner_id, p.key, p.email_ci
FROM api_tokens AS t
LEFT JOIN referral_links AS l ON l.program_id = t.program_id AND l.key_ci = ?
LEFT JOIN partners AS p ON p.id = l.partner_id
WHERE t.prefix = ?
"""

POSTGRES_QUERY = """
SELECT x.prefix, x.key_ci, t.token_hash, t.revoked_at IS NOT NULL, t.program_id,
       l.id, l.partner_id, p.key, p.email_ci
FROM unnest($1::text[], $2::text[]) AS x(prefix, key_ci)
JOIN api_tokens AS t ON t.prefix = x.prefix
LEFT JOIN referral_links AS l ON l.program_id = t.program_id AND l.key_ci = x.key_ci
LEFT JOIN partners AS p ON p.id = l.partner_id
"""


class SqliteCreditLookup:
    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    async def find(self, prefix: str, key_ci: str) -> Credit | None:
        try:
            row = self._connect().execute(SQLITE_QUERY, (key_ci, prefix)).fetchone()
        except sqlite3.Error as error:
            self.close()
            raise LookupFailed() from error
        if row is None:
            return None
        return Credit(row[0], bool(row[1]), *row[2:])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={SQLITE_READ_TIMEOUT_MS}")
            connection.execute("PRAGMA query_only=ON")
            self._connection = connection
        return self._connection


class PostgresCreditLookup:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._waiting: dict[Pair, list[asyncio.Future[Credit | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def find(self, prefix: str, key_ci: str) -> Credit | None:
        future: asyncio.Future[Credit | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((prefix, key_ci), []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._serve(), name="customer-lookup")
        return await future

    def close(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def _serve(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                found = await self._fetch(list(batch))
            except Exception as error:
                log.warning("customer lookup failed: %s", type(error).__name__)
                self.close()
                for futures in batch.values():
                    _fail(futures, error)
                continue
            for pair, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(pair))

    async def _fetch(self, pairs: Sequence[Pair]) -> dict[Pair, Credit]:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        prefixes, keys = [p for p, _ in pairs], [k for _, k in pairs]
        rows = await self._connection.fetch(POSTGRES_QUERY, prefixes, keys)
        return {(row[0], row[1]): Credit(row[2], bool(row[3]), *row[4:]) for row in rows}


def _fail(futures: list[asyncio.Future[Credit | None]], cause: Exception) -> None:
    for future in futures:
        if not future.done():
            failure = LookupFailed()
            failure.__cause__ = cause
            future.set_exception(failure)


def credit_lookup(database_url: str, engine: AsyncEngine) -> CreditLookup | None:
    """The lookup for this database, closed when the engine is disposed; None where there is
    none (an in-memory SQLite: the regular route serves every request)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    lookup: CreditLookup
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        lookup = SqliteCreditLookup(url.database)
    elif backend in ("postgresql", "postgres"):
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        lookup = PostgresCreditLookup(dsn)
    else:
        return None
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: lookup.close())
    return lookup
