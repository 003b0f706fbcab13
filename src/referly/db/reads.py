"""Reads of the domain's queries, through an ORM session (`SessionReader`) or, on the hot
paths, fast: a SQLAlchemy Core `SELECT`, compiled once per database, run on a raw driver
connection instead of an ORM session.

The queries themselves are the domain's (`referly.domain.queries`), the same objects an ORM
session runs elsewhere; only the way to the database differs. Nothing is cached: each read
sees what is committed when it runs, so a revoked token or a deleted link is seen at once.

SQLite: one connection of the reader's own, read in the event loop itself. The queries are
indexed lookups of a few microseconds, and in WAL mode a reader never waits for a writer, so
this costs less than a hop to a thread.

PostgreSQL: a small asyncpg pool of the reader's own, opened on the first read.

A read that fails raises `ServiceUnavailable` (a 503)."""

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from referly.db.raw import (
    POSTGRES_DIALECT,
    SQLITE_DIALECT,
    bind_processor,
    configure_sqlite,
    postgres_dsn,
    sqlite_path,
)
from referly.errors import ServiceUnavailable

log = logging.getLogger("referly")

SQLITE_READ_TIMEOUT_MS = 1_000
POSTGRES_POOL_SIZE = 4
Row = Sequence[Any]
Query = Select[*tuple[Any, ...]]  # a SELECT of any columns


class ReadFailed(ServiceUnavailable):
    """The database could not be read."""


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    steps: tuple[tuple[str, Processor, Any], ...]  # (parameter, bind processor, its literal)
    results: tuple[Processor, ...]  # each column's result processor
    processed: bool  # whether any column has one

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        given = [values.get(name, literal) for name, _p, literal in self.steps]
        return [v if p is None else p(v) for v, (_n, p, _l) in zip(given, self.steps, strict=True)]

    def row(self, raw: Row) -> Row:
        if not self.processed:
            return raw
        return tuple(v if p is None else p(v) for v, p in zip(raw, self.results, strict=True))


def compile_query(query: Query, dialect: Dialect) -> _Compiled:
    """The query's SQL for one driver, with the columns' own conversions both ways (UTC
    datetimes, JSON), so a row reads as an ORM session would read it."""
    compiled = query.compile(dialect=dialect)
    names = compiled.positiontup or []
    binds = [compiled.binds[name] for name in names]
    steps = tuple((b.key, bind_processor(b.type, dialect), b.value) for b in binds)
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in query.selected_columns
    )
    return _Compiled(compiled.string, steps, results, any(p is not None for p in results))


class Reader(Protocol):
    """Runs the domain's read queries: an ORM session (`SessionReader`) or a fast reader."""

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        """The query's first row, None when there is none."""
        ...


class FastReader(Reader, Protocol):
    def close(self) -> None: ...


class SessionReader:
    """A `Reader` on an ORM session: the reads happen in the session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        row: Row | None = (await self.session.execute(query, params)).first()
        return row


class _Compiling:
    """Each query is compiled the first time it is run; queries are module-level objects, so
    they are known by identity."""

    dialect: Dialect

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[Query, _Compiled]] = {}

    def compiled(self, query: Query) -> _Compiled:
        found = self._compiled.get(id(query))
        if found is None or found[0] is not query:
            found = self._compiled[id(query)] = (query, compile_query(query, self.dialect))
        return found[1]


class SqliteReader(_Compiling):
    dialect = SQLITE_DIALECT

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._connection: sqlite3.Connection | None = None

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        compiled = self.compiled(query)
        try:
            cursor = self._connect().execute(compiled.sql, compiled.params(params))
            row: Row | None = cursor.fetchone()
        except sqlite3.Error as error:
            self.close()
            raise ReadFailed() from error
        return None if row is None else compiled.row(row)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            configure_sqlite(connection, f"busy_timeout={SQLITE_READ_TIMEOUT_MS}", "query_only=ON")
            self._connection = connection
        return self._connection


class PostgresReader(_Compiling):
    dialect = POSTGRES_DIALECT

    def __init__(self, dsn: str, pool_size: int = POSTGRES_POOL_SIZE) -> None:
        super().__init__()
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        compiled = self.compiled(query)
        try:
            pool = await self._open()
            row: Row | None = await pool.fetchrow(compiled.sql, *compiled.params(params))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("fast read failed: %s", type(error).__name__)
            raise ReadFailed() from error
        return None if row is None else compiled.row(tuple(row))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    async def _open(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=self._pool_size, init=_decode_json
                )
        return self._pool


async def _decode_json(connection: asyncpg.Connection) -> None:
    """JSON columns arrive decoded, as SQLAlchemy's asyncpg dialect has them (parameters are
    sent as text, already encoded by the columns' own bind processors)."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=_as_text, decoder=json.loads, schema="pg_catalog"
        )


def _as_text(value: str) -> str:
    return value


def fast_reader(database_url: str, engine: AsyncEngine) -> FastReader:
    """The reader for this database, closed when the engine is disposed."""
    reader: FastReader
    path, dsn = sqlite_path(database_url), postgres_dsn(database_url)
    if path is not None:
        reader = SqliteReader(path)
    elif dsn is not None:
        reader = PostgresReader(dsn)
    else:
        raise ValueError("fast reads need a database file or PostgreSQL, not an in-memory SQLite")
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: reader.close())
    return reader
