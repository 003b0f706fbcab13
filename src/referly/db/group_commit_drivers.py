"""The raw-driver side of group commit (`referly.db.group_commit`): one connection per writer,
one transaction per batch.

SQLite: one sqlite3 connection owned by one thread; a whole batch runs per hop to that thread,
where each row is a cheap in-process `INSERT ... ON CONFLICT DO NOTHING RETURNING id`.

PostgreSQL: one asyncpg connection. Rows with the same table and columns go in as ONE statement
(`INSERT ... SELECT ... FROM unnest($1::type[], ...) ON CONFLICT DO NOTHING RETURNING id`), so a
batch costs a few round trips, not one per row. Each input takes its id from the table's
sequence inside the statement, so the statement answers one id (or NULL: a unique constraint
held) per input, in input order. (A table whose key is not a sequence, or rows that give the
key, return `id, <cols>` per inserted row instead, matched to the inputs by value.) If the
statement fails on one row (a foreign key, a value too long), the batch is rolled back and run
row by row, which names the row.

A batch that is one statement (one row, or rows of one shape answered in input order) runs
without BEGIN/COMMIT when the connection carried a batch less than `IDLE_SECONDS` ago: a single
statement is its own transaction, committed (and, with `synchronous_commit` on, flushed) before
its answer comes back, so one round trip does what three did. Otherwise the batch runs inside
BEGIN ... COMMIT, and a BEGIN that finds the connection broken (the server restarted since the
last batch) reconnects and runs the batch once more: nothing of it had reached the database."""

import asyncio
import sqlite3
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Integer, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from referly.db.raw import POSTGRES_DIALECT, SQLITE_DIALECT, bind_processor, configure_sqlite

# A connection that went away between batches; seen on its first statement, before any write.
CONNECTION_ERRORS_POSTGRES = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
)
# Errors of the database or the connection, not of one row: they fail the whole batch. Any
# other error while a row is bound or inserted (a constraint, a value the driver cannot
# encode, a lone surrogate, an integer out of range...) is that row's alone: it never fails
# its neighbours.
BATCH_ERRORS_SQLITE: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
BATCH_ERRORS_POSTGRES: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS_POSTGRES,
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.InternalServerError,
    OSError,
    TimeoutError,
)
# A connection that carried a batch less than this long ago is taken to be alive: the next
# batch goes in as one statement. After a longer pause, BEGIN goes first, so a connection broken
# meanwhile (a server restart) is found before anything is written and replaced.
IDLE_SECONDS = 1.0
# Rows per SQLite statement, at most: a power of two. 128 rows of 16 parameters stay far below
# SQLite's limit on parameters (32766).
SQLITE_MAX_CHUNK = 128
SQLITE_CACHED_STATEMENTS = 256  # per shape: one statement per chunk size, and the one-row form
# A batch that inserted nothing (only barriers, or only duplicates) still writes, so that its
# commit waits for the disk as one with a row does (a transaction that wrote nothing commits
# at once). With several server processes on one PostgreSQL, their idle batches take the one
# row in turns.
TICK = "UPDATE commit_ticks SET n = n + 1 WHERE id = 1"


def _wrote_nothing(ids: Sequence[int | None]) -> bool:
    return all(id_ is None for id_ in ids)


@dataclass(frozen=True, eq=False)  # compared by identity: the writer caches one per shape
class Prepared:
    """What one (table, columns) compiles to for one driver."""

    columns: tuple[str, ...]
    one_sql: str  # one row
    bulk_sql: str | None  # many rows in one statement, where the driver has one
    processors: tuple[Any, ...]  # the columns' bind processors for the driver's dialect
    # True: `bulk_sql` returns one row per input, in input order, holding the new id or NULL.
    # False: it returns `id, <columns>` per inserted row, matched to the inputs by value.
    bulk_in_order: bool = False
    sqlite_bulk: "SqliteBulk | None" = None  # many rows in one statement on SQLite


@dataclass(frozen=True, eq=False)
class SqliteBulk:
    """Rows of one shape as ONE statement on SQLite, in chunks of a power of two rows (so a
    shape compiles to a few statements, each prepared once).

    Each row carries its id: the table's largest id so far plus its place (the batch holds the
    write lock, so nothing else inserts meanwhile). The statement has no RETURNING: it inserts
    every row it can, and its row count says how many it did; only when that is fewer than
    the chunk's rows does one query read back which of the chunk's ids exist.
    So a chunk costs one or two steps of the database, not one per row plus one per returned
    id; and every step is a hop of the GIL to the event loop's thread and back."""

    last_id_sql: str  # the table's largest id, 0 when empty
    inserted_sql: str  # the ids present between two ids, as one comma-separated text
    head: str  # before the rows
    row: str  # one row's placeholders: its id, then its parameters
    tail: str  # after the rows
    _by_size: dict[int, str] = field(default_factory=dict)

    def sql(self, rows: int) -> str:
        found = self._by_size.get(rows)
        if found is None:
            found = self._by_size[rows] = self.head + ", ".join([self.row] * rows) + self.tail
        return found


def _fills_own_key(table: Table, given: tuple[str, ...]) -> bool:
    """Whether the database numbers the table's rows (an integer key, not given by the rows)."""
    (primary_key,) = table.primary_key.columns
    serial = isinstance(primary_key.type, Integer) and primary_key.autoincrement is not False
    return serial and primary_key.name not in given


def _sqlite_bulk(
    table: Table, dialect: Dialect, given: tuple[str, ...], head: str, width: int, tail: str
) -> "SqliteBulk | None":
    """The bulk form when SQLite numbers the rows; None otherwise (rows go in one by one)."""
    if not _fills_own_key(table, given):
        return None
    (primary_key,) = table.primary_key.columns
    quote = dialect.identifier_preparer.quote
    key, name = quote(primary_key.name), quote(table.name)
    return SqliteBulk(
        last_id_sql=f"SELECT coalesce(max({key}), 0) FROM {name}",
        inserted_sql=f"SELECT group_concat({key}) FROM {name} WHERE {key} BETWEEN ? AND ?",
        head=head,
        row="(" + ", ".join("?" * (width + 1)) + ")",
        tail=tail,
    )


Insert = tuple[Prepared, tuple[Any, ...]]
# A row that goes in only if its primary row did, in the same transaction: its insert, and the
# place among its parameters that takes the primary row's id (None: it takes none).
Follower = tuple[Insert, int | None]
Follows = Sequence[Sequence[Follower]]  # per primary insert, its followers (or none)


def linked(follows: Follows, ids: Sequence[int | None]) -> list[tuple[int, Insert]]:
    """The followers of the primary rows that went in, each with its primary's place in the
    batch and the primary's id put in."""
    found: list[tuple[int, Insert]] = []
    if not follows:
        return found
    for owner, (followers, id_) in enumerate(zip(follows, ids, strict=True)):
        if id_ is None:
            continue
        for (prepared, params), place in followers:
            if place is not None:
                params = (*params[:place], id_, *params[place + 1 :])
            found.append((owner, (prepared, params)))
    return found


class RowFailed(Exception):
    """Insert `index` of the batch failed; the batch's transaction was rolled back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class _Unmatched(Exception):
    """A returned row equals no input (the database changed a value): go row by row."""


def _array_of(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """The element type of a parameter array. Text without its length: a cast to `VARCHAR(n)`
    would cut an over-long value silently, where the insert's own assignment refuses it."""
    if isinstance(type_, String):
        return "TEXT"
    return str(type_.compile(dialect=dialect))


def prepare(table: Table, columns: tuple[str, ...], dialect: Dialect) -> Prepared:
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    quote = dialect.identifier_preparer.quote
    (primary_key,) = table.primary_key.columns
    names = ", ".join(quote(name) for name in columns)
    head = f"INSERT INTO {quote(table.name)} ({names}) "
    tail = f" ON CONFLICT DO NOTHING RETURNING {quote(primary_key.name)}"
    types = [table.c[name].type for name in columns]
    processors = tuple(bind_processor(t, dialect) for t in types)
    if dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        key = quote(primary_key.name)
        many_head = f"INSERT INTO {quote(table.name)} ({key}, {names}) VALUES "
        many_tail = " ON CONFLICT DO NOTHING"
        many = _sqlite_bulk(table, dialect, columns, many_head, len(columns), many_tail)
        one_sql = f"{head}VALUES ({marks}){tail}"
        return Prepared(columns, one_sql, None, processors, sqlite_bulk=many)
    marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    one = f"{head}VALUES ({marks}){tail}"
    arrays = ", ".join(f"${n}::{_array_of(t, dialect)}[]" for n, t in enumerate(types, 1))
    if not _fills_own_key(table, columns):
        bulk = f"{head}SELECT * FROM unnest({arrays}){tail}, {names}"
        return Prepared(columns, one, bulk, processors)
    # Ids from the table's sequence up front, as for row statements: the answer is in input
    # order, so no matching by value is needed.
    key = quote(primary_key.name)
    fields = ", ".join(f"p{n}" for n in range(1, len(columns) + 1))
    sequence = f"pg_get_serial_sequence('{table.name}', '{primary_key.name}')"
    bulk = (
        f"WITH input AS MATERIALIZED (SELECT nextval(({sequence})::regclass) AS new_id, u.* "
        f"FROM unnest({arrays}) WITH ORDINALITY AS u({fields}, ordinal)), "
        f"inserted AS (INSERT INTO {quote(table.name)} ({key}, {names}) "
        f"SELECT input.new_id, {fields} FROM input ORDER BY input.ordinal{tail}) "
        f"SELECT inserted.{key} FROM input LEFT JOIN inserted ON inserted.{key} = input.new_id "
        "ORDER BY input.ordinal"
    )
    return Prepared(columns, one, bulk, processors, bulk_in_order=True)


class SqliteDriver:
    dialect: Dialect = SQLITE_DIALECT

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        self._connection: sqlite3.Connection | None = None

    async def run(self, inserts: Sequence[Insert], follows: Follows = ()) -> list[int | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, inserts, follows)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    def _run(self, inserts: Sequence[Insert], follows: Follows) -> list[int | None]:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            ids = _sqlite_batch(connection, inserts)
            if follows:
                dependents = linked(follows, ids)
                try:
                    _sqlite_batch(connection, [insert for _owner, insert in dependents])
                except RowFailed as failure:  # the primary row fails with its follower
                    raise RowFailed(dependents[failure.index][0], failure.error) from failure
            if _wrote_nothing(ids):
                connection.execute(TICK)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT leaves the transaction open
                connection.execute("ROLLBACK")
            raise
        return ids

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=SQLITE_CACHED_STATEMENTS,
            )
            configure_sqlite(connection)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _sqlite_batch(connection: sqlite3.Connection, inserts: Sequence[Insert]) -> list[int | None]:
    """Every insert of the batch, in the open transaction: rows of one shape together (one
    statement per chunk, `SqliteBulk`), the others one by one."""
    ids: list[int | None] = [None] * len(inserts)
    cursor = connection.cursor()  # one for the batch: its statements run one after another
    for prepared, indexes in _by_shape(inserts).items():
        bulk = prepared.sqlite_bulk
        if bulk is None or len(indexes) == 1:
            for index in indexes:
                ids[index] = _sqlite_insert(cursor, index, inserts[index])
            continue
        last_id = int(cursor.execute(bulk.last_id_sql).fetchone()[0])
        start = 0
        while start < len(indexes):
            size = _chunk_size(len(indexes) - start)
            chunk = indexes[start : start + size]
            start += size
            first = last_id + 1
            params = [v for n, i in enumerate(chunk, first) for v in (n, *inserts[i][1])]
            try:
                cursor.execute(bulk.sql(size), params)
            except BATCH_ERRORS_SQLITE:
                raise
            except Exception:
                # The statement undid itself; one by one names the row that fails.
                for index in chunk:
                    ids[index] = _sqlite_insert(cursor, index, inserts[index])
                last_id = int(cursor.execute(bulk.last_id_sql).fetchone()[0])
                continue
            last_id = first + size - 1
            if cursor.rowcount == size:  # the rows this statement inserted (not a trigger's)
                for n, index in enumerate(chunk, first):
                    ids[index] = n
                continue
            found = cursor.execute(bulk.inserted_sql, (first, last_id)).fetchone()[0]
            made = {int(id_) for id_ in found.split(",")} if found else set()
            for n, index in enumerate(chunk, first):
                ids[index] = n if n in made else None
    return ids


def _by_shape(inserts: Sequence[Insert]) -> dict[Prepared, list[int]]:
    """The inputs' indexes by statement, in the order the statements first appear."""
    groups: dict[Prepared, list[int]] = defaultdict(list)
    for index, (prepared, _params) in enumerate(inserts):
        groups[prepared].append(index)
    return groups


def _chunk_size(rows: int) -> int:
    """The largest power of two that is at most `rows` and `SQLITE_MAX_CHUNK`."""
    return min(SQLITE_MAX_CHUNK, 1 << (rows.bit_length() - 1))


def _sqlite_insert(cursor: sqlite3.Cursor, index: int, item: Insert) -> int | None:
    prepared, params = item
    try:
        row = cursor.execute(prepared.one_sql, params).fetchone()
    except BATCH_ERRORS_SQLITE:
        raise
    except Exception as error:
        raise RowFailed(index, error) from error
    return None if row is None else int(row[0])


# What stops a PostgreSQL batch where it is (the connection is rolled back or dropped).
_GIVE_UP: tuple[type[BaseException], ...] = (*BATCH_ERRORS_POSTGRES, asyncio.CancelledError)
_GIVE_UP_OR_ROW: tuple[type[BaseException], ...] = (*_GIVE_UP, RowFailed)


class PostgresDriver:
    dialect: Dialect = POSTGRES_DIALECT

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._last_batch: float | None = None  # time.monotonic() when the last batch began

    @property
    def server_pid(self) -> int | None:
        return None if self._connection is None else self._connection.get_server_pid()

    async def run(self, inserts: Sequence[Insert], follows: Follows = ()) -> list[int | None]:
        connection = await self._connect()
        now = time.monotonic()
        busy = self._last_batch is not None and now - self._last_batch < IDLE_SECONDS
        self._last_batch = now
        if not inserts:  # the tick alone: one statement, as a batch of one row is
            await self._tick(connection, busy)
            return []
        if busy and not follows and _one_statement(inserts):
            # A single statement is its own transaction: one round trip, not three. Only on a
            # connection used a moment ago; after a pause, BEGIN first probes it (below).
            try:
                ids = await _postgres_bulk(connection, inserts)
                if _wrote_nothing(ids):
                    await connection.execute(TICK)  # a transaction of its own
                return ids
            except RowFailed:  # one row, rolled back by itself
                raise
            except _GIVE_UP:
                await self._abandon(connection)
                raise
            except Exception:
                pass  # rolled back by itself: below, row by row in a transaction names the row
        try:
            await connection.execute("BEGIN")
        except CONNECTION_ERRORS_POSTGRES:
            # Broken since the last batch (a server restart): nothing was written, start afresh.
            connection.terminate()
            self._connection = None
            connection = await self._connect()
            await connection.execute("BEGIN")
        try:
            try:
                ids = await _postgres_bulk(connection, inserts)
                await _postgres_followers(connection, linked(follows, ids), one_by_one=False)
            except _GIVE_UP_OR_ROW:
                raise
            except Exception:  # a row's error, or `_Unmatched`: row by row names the row
                await connection.execute("ROLLBACK")
                await connection.execute("BEGIN")
                ids = [await _postgres_one(connection, i, item) for i, item in enumerate(inserts)]
                await _postgres_followers(connection, linked(follows, ids), one_by_one=True)
            if _wrote_nothing(ids):
                await connection.execute(TICK)
            await connection.execute("COMMIT")
        except BaseException:
            await self._abandon(connection)
            raise
        return ids

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _tick(self, connection: asyncpg.Connection, busy: bool) -> None:
        try:
            await connection.execute(TICK)
        except CONNECTION_ERRORS_POSTGRES:
            if busy:
                raise
            # Broken since the last batch (a server restart): nothing was written.
            connection.terminate()
            self._connection = None
            await (await self._connect()).execute(TICK)

    async def _connect(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        return self._connection

    async def _abandon(self, connection: asyncpg.Connection) -> None:
        """Roll back what is left of the transaction; drop a connection that cannot."""
        if connection.is_closed():
            self._connection = None
            return
        try:
            if connection.is_in_transaction():
                await connection.execute("ROLLBACK")
        except Exception:
            connection.terminate()
            self._connection = None


def _one_statement(inserts: Sequence[Insert]) -> bool:
    """Whether the batch is one statement whose answer needs no second look: one row, or rows
    of one shape whose bulk statement answers in input order."""
    if not inserts:
        return False
    first = inserts[0][0]
    if len(inserts) == 1:
        return True
    return first.bulk_in_order and all(prepared is first for prepared, _params in inserts)


async def _postgres_followers(
    connection: asyncpg.Connection, dependents: list[tuple[int, Insert]], one_by_one: bool
) -> None:
    """The followers of a batch's rows, in its transaction; a follower's failure is its primary
    row's (`RowFailed` names the primary)."""
    if not dependents:
        return
    try:
        if one_by_one:
            for index, (_owner, insert) in enumerate(dependents):
                await _postgres_one(connection, index, insert)
        else:
            await _postgres_bulk(connection, [insert for _owner, insert in dependents])
    except RowFailed as failure:
        raise RowFailed(dependents[failure.index][0], failure.error) from failure


async def _postgres_one(connection: asyncpg.Connection, index: int, item: Insert) -> int | None:
    prepared, params = item
    try:
        value = await connection.fetchval(prepared.one_sql, *params)
    except BATCH_ERRORS_POSTGRES:
        raise
    except Exception as error:
        raise RowFailed(index, error) from error
    return None if value is None else int(value)


async def _postgres_bulk(
    connection: asyncpg.Connection, inserts: Sequence[Insert]
) -> list[int | None]:
    """One statement per (table, columns) group, in the order the groups first appear."""
    ids: list[int | None] = [None] * len(inserts)
    for prepared, indexes in _by_shape(inserts).items():
        if len(indexes) == 1:
            ids[indexes[0]] = await _postgres_one(connection, indexes[0], inserts[indexes[0]])
            continue
        rows = [inserts[i][1] for i in indexes]
        returned = await connection.fetch(prepared.bulk_sql, *map(list, zip(*rows, strict=True)))
        if prepared.bulk_in_order:
            for index, record in zip(indexes, returned, strict=True):
                ids[index] = None if record[0] is None else int(record[0])
            continue
        for index, id_ in _match(indexes, rows, returned):
            ids[index] = id_
    return ids


def _match(
    indexes: list[int], rows: list[tuple[Any, ...]], returned: Sequence[Any]
) -> list[tuple[int, int]]:
    """Which input each returned row is: inputs with equal values are interchangeable."""
    waiting: dict[Hashable, list[int]] = defaultdict(list)
    try:
        for index, row in zip(indexes, rows, strict=True):
            waiting[row].append(index)
        found = []
        for record in returned:
            candidates = waiting.get(tuple(record)[1:])
            if not candidates:
                raise _Unmatched()
            found.append((candidates.pop(0), int(record[0])))
    except TypeError as error:  # an unhashable value
        raise _Unmatched() from error
    return found
