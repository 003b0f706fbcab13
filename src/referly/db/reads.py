"""Reads of the domain's queries, through an ORM session (`SessionReader`) or, on the hot
paths, fast: a SQLAlchemy Core `SELECT`, compiled once per database, run on a raw driver
connection instead of an ORM session.

The queries themselves are the domain's (`referly.domain.queries`), the same objects an ORM
session runs elsewhere; only the way to the database differs. Nothing is cached: each read
sees what is committed when it runs, so a revoked token or a deleted link is seen at once.

SQLite: one connection of the reader's own, read in the event loop itself. The queries are
indexed lookups of a few microseconds, and in WAL mode a reader never waits for a writer, so
this costs less than a hop to a thread.

PostgreSQL: a few asyncpg connections of the reader's own; concurrent reads of one query share
a round trip (`PostgresReader`).

A read that fails raises `ServiceUnavailable` (a 503)."""

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select, event, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

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
POSTGRES_LANES = 2
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
    batch: "_Batch | None" = None  # many calls in one statement (PostgreSQL)

    def batch_params(self, values: Mapping[str, Any]) -> list[Any]:
        if self.batch is None:
            return []
        return [values[n] if p is None else p(values[n]) for n, p in self.batch.steps]

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, process, literal in self.steps:
            value = values.get(name, literal)
            out.append(value if process is None else process(value))
        return out

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


class CachingReader:
    """A reader that remembers the rows of some queries for a few seconds (per process, at
    most `max_entries`, forgotten all at once when full), for a hot path whose lookups repeat
    (the link a busy referral key names) and that may see a change that late."""

    def __init__(
        self,
        reader: Reader,
        queries: Iterable[Query],
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self._cached = {id(query) for query in queries}
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._rows: dict[tuple[Any, ...], tuple[float, Row | None]] = {}

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        if id(query) not in self._cached:
            return await self.reader.one(query, params)
        key = (id(query), *params.values())
        found = self._rows.get(key)
        now = self._clock()
        if found is not None and found[0] > now:
            return found[1]
        row = await self.reader.one(query, params)
        if len(self._rows) >= self._max_entries:
            self._rows.clear()
        self._rows[key] = (now + self._ttl, row)
        return row


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


# A waiting read: its parameters for one call and for a batch, and where its row goes.
_Call = tuple[list[Any], list[Any], "asyncio.Future[Row | None]"]


class PostgresReader(_Compiling):
    """A few asyncpg connections of the reader's own (`lanes`). Reads that arrive while every
    lane has a round trip in flight wait for the next free one, which answers all of them at
    once: the calls of one query go as ONE statement over arrays of their parameters
    (`batch_query`), so a burst of requests costs a round trip per query, not one each, and a
    read waits for at most one round trip before its own. A read never joins a round trip
    already sent, so what it reads was committed after it was asked."""

    dialect = POSTGRES_DIALECT

    def __init__(self, dsn: str, lanes: int = POSTGRES_LANES) -> None:
        super().__init__()
        self._dsn = dsn
        self._connections: list[asyncpg.Connection | None] = [None] * lanes
        self._tasks: list[asyncio.Task[None] | None] = [None] * lanes
        self._waiting: dict[int, tuple[_Compiled, list[_Call]]] = {}

    def compiled(self, query: Query) -> _Compiled:
        found = self._compiled.get(id(query))
        if found is None or found[0] is not query:
            compiled = replace(compile_query(query, self.dialect), batch=batch_query(query))
            found = self._compiled[id(query)] = (query, compiled)
        return found[1]

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        compiled = self.compiled(query)
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        calls = self._waiting.setdefault(id(query), (compiled, []))[1]
        calls.append((compiled.params(params), compiled.batch_params(params), future))
        for lane, task in enumerate(self._tasks):
            if task is None or task.done():
                self._tasks[lane] = asyncio.create_task(self._serve(lane), name="fast-reads")
                break
        return await future

    def close(self) -> None:
        for lane, connection in enumerate(self._connections):
            if connection is not None:
                connection.terminate()
                self._connections[lane] = None

    async def _serve(self, lane: int) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            for compiled, calls in waiting.values():
                try:
                    rows = await self._fetch(lane, compiled, calls)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                    log.warning("fast read failed: %s", type(error).__name__)
                    self._drop(lane)
                    _fail(calls, error)
                    continue
                for (_one, _batch, future), row in zip(calls, rows, strict=True):
                    if not future.done():
                        future.set_result(row)

    def _drop(self, lane: int) -> None:
        connection = self._connections[lane]
        if connection is not None:
            connection.terminate()
            self._connections[lane] = None

    async def _fetch(self, lane: int, compiled: _Compiled, calls: list[_Call]) -> list[Row | None]:
        connection = self._connections[lane]
        if connection is None or connection.is_closed():
            connection = self._connections[lane] = await asyncpg.connect(self._dsn)
            await _decode_json(connection)
        if len(calls) == 1 or compiled.batch is None:
            found = [await connection.fetchrow(compiled.sql, *call[0]) for call in calls]
            return [None if row is None else compiled.row(tuple(row)) for row in found]
        arrays = [list(column) for column in zip(*(call[1] for call in calls), strict=True)]
        rows: list[Row | None] = [None] * len(calls)
        for record in await connection.fetch(compiled.batch.sql, *arrays):
            if record[1] is not None:  # the call's query found a row
                rows[record[0] - 1] = compiled.row(tuple(record)[2:])
        return rows


def _fail(calls: list[_Call], cause: Exception) -> None:
    for _one, _batch, future in calls:
        if not future.done():
            failure = ReadFailed()
            failure.__cause__ = cause
            future.set_exception(failure)


@dataclass(frozen=True)
class _Batch:
    sql: str
    steps: tuple[tuple[str, Processor], ...]  # one array per distinct parameter


def batch_query(query: Query) -> _Batch | None:
    """The query for many calls at once on PostgreSQL: its parameters as columns of a table of
    the calls (`unnest` of one array per parameter, numbered), the query run once per call
    (`LEFT JOIN LATERAL ... LIMIT 1`), marked where it found a row. None for a query without
    parameters."""
    dialect = POSTGRES_DIALECT
    binds = {b.key: b for b in _named_binds(query)}
    if not binds:
        return None

    def as_column(element: Any, **_kw: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in binds:
            return literal_column(f'x."{element.key}"', element.type)
        return None

    per_call: Any = replacement_traverse(query, {}, as_column)
    columns = [column.label(f"c{n}") for n, column in enumerate(per_call.selected_columns)]
    inner = per_call.with_only_columns(literal_column("true").label("found"), *columns).limit(1)
    inner_sql = inner.compile(dialect=dialect, compile_kwargs={"literal_binds": True}).string
    names = list(binds)
    arrays = ", ".join(
        f"${n}::{binds[name].type.compile(dialect=dialect)}[]" for n, name in enumerate(names, 1)
    )
    fields = ", ".join(f'"{name}"' for name in names)
    sql = (
        f"SELECT x.ord, q.* FROM unnest({arrays}) WITH ORDINALITY AS x({fields}, ord) "
        f"LEFT JOIN LATERAL ({inner_sql}) AS q ON true ORDER BY x.ord"
    )
    steps = tuple((name, bind_processor(binds[name].type, dialect)) for name in names)
    return _Batch(sql, steps)


def _named_binds(query: Query) -> list[BindParameter[Any]]:
    """The query's parameters a call gives (not the literals it holds itself)."""
    compiled = query.compile(dialect=POSTGRES_DIALECT)
    names = dict.fromkeys(compiled.positiontup or [])
    return [compiled.binds[name] for name in names if compiled.binds[name].value is None]


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
