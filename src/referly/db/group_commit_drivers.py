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

Row statements (`RowStatement`: `INSERT ... SELECT ... WHERE ...`, at most one row per call) go
in the same way, their ids also taken from the sequence.

A batch that is one statement (one row, or rows of one shape answered in input order) runs
without BEGIN/COMMIT when the connection carried a batch less than `IDLE_SECONDS` ago: a single
statement is its own transaction, committed (and, with `synchronous_commit` on, flushed) before
its answer comes back, so one round trip does what three did. Otherwise the batch runs inside
BEGIN ... COMMIT, and a BEGIN that finds the connection broken (the server restarted since the
last batch) reconnects and runs the batch once more: nothing of it had reached the database."""

import asyncio
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Integer, Table
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from referly.db.engine import SQLITE_BUSY_TIMEOUT_MS
from referly.db.types import UTCDateTime

ROW_ERRORS_SQLITE = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
ROW_ERRORS_POSTGRES = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)
# A connection that went away between batches; seen on its first statement, before any write.
CONNECTION_ERRORS_POSTGRES = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
)
# A connection that carried a batch less than this long ago is taken to be alive: the next
# batch goes in as one statement. After a longer pause, BEGIN goes first, so a connection broken
# meanwhile (a server restart) is found before anything is written and replaced.
IDLE_SECONDS = 1.0
PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


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


Insert = tuple[Prepared, tuple[Any, ...]]


@dataclass(frozen=True, eq=False)  # compared by identity: the writer caches one per dialect
class RowStatement:
    """An insert of at most one row per call, its values taken from a query:

        INSERT INTO <table> (<columns>) SELECT <values> FROM <source> WHERE <where>
        ON CONFLICT DO NOTHING RETURNING <primary key>

    `values` (one SQL expression per column), `source` and `where` are SQL text valid on both
    SQLite and PostgreSQL; they name the call's parameters as `:name`, and qualify every
    column they read with its table's alias. `params` lists each parameter's name and type,
    and every parameter must be used. Columns' Python-side defaults do not apply: give a
    value for every column that needs one. Give types without a length (`String()`): on PostgreSQL
    a parameter is cast to its type. The call inserts nothing when the query finds no row
    (an unknown key, say) or when the row would break a unique constraint."""

    table: Table
    columns: tuple[str, ...]
    values: tuple[str, ...]
    source: str
    where: str
    params: tuple[tuple[str, TypeEngine[Any]], ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(self.columns):
            raise ValueError("a row statement needs one value expression per column")
        used = set(PARAMETER.findall(" ".join((*self.values, self.source, self.where))))
        declared = [name for name, _type in self.params]
        if used != set(declared) or len(declared) != len(set(declared)):
            raise ValueError(f"parameters used {sorted(used)} but declared {declared}")


class RowFailed(Exception):
    """Insert `index` of the batch failed; the batch's transaction was rolled back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class _Unmatched(Exception):
    """A returned row equals no input (the database changed a value): go row by row."""


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The type's bind processor for the dialect; for `UTCDateTime` on SQLite, an equal one
    that formats the text in one step (the column's own chain is most of a row's cost)."""
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return sqlite_utc_text
    processor: Callable[[Any], Any] | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What `UTCDateTime` stores on SQLite: naive UTC as `YYYY-MM-DD HH:MM:SS.ffffff`."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the offset, +00:00


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
    processors = tuple(_bind_processor(t, dialect) for t in types)
    if dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        return Prepared(columns, f"{head}VALUES ({marks}){tail}", None, processors)
    marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    one = f"{head}VALUES ({marks}){tail}"
    arrays = ", ".join(f"${n}::{t.compile(dialect=dialect)}[]" for n, t in enumerate(types, 1))
    serial = isinstance(primary_key.type, Integer) and primary_key.autoincrement is not False
    if primary_key.name in columns or not serial:
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


def prepare_row_statement(statement: RowStatement, dialect: Dialect) -> Prepared:
    """The statement's SQL for one driver: numbered parameters for one row and, on
    PostgreSQL, the statement for many rows at once (one array per parameter)."""
    table = statement.table
    unknown = [name for name in statement.columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    quote = dialect.identifier_preparer.quote
    (primary_key,) = table.primary_key.columns
    key = quote(primary_key.name)
    names = [name for name, _type in statement.params]
    types = [type_ for _name, type_ in statement.params]
    processors = tuple(_bind_processor(t, dialect) for t in types)
    columns = ", ".join(quote(name) for name in statement.columns)
    tail = f"ON CONFLICT DO NOTHING RETURNING {key}"

    def render(text: str, mark: Callable[[int], str]) -> str:
        return PARAMETER.sub(lambda found: mark(names.index(found.group(1))), text)

    def query(mark: Callable[[int], str]) -> tuple[str, str, str]:
        values = ", ".join(render(value, mark) for value in statement.values)
        return values, render(statement.source, mark), render(statement.where, mark)

    if dialect.name == "sqlite":
        values, source, where = query(lambda n: f"?{n + 1}")
        one = f"INSERT INTO {quote(table.name)} ({columns}) SELECT {values} FROM {source} "
        return Prepared(statement.columns, f"{one}WHERE {where} {tail}", None, processors)
    casts = [t.compile(dialect=dialect) for t in types]
    values, source, where = query(lambda n: f"${n + 1}::{casts[n]}")
    one = f"INSERT INTO {quote(table.name)} ({columns}) SELECT {values} FROM {source} "
    one += f"WHERE {where} {tail}"
    # Many rows: each input takes its id from the table's sequence up front, so the ids the
    # insert returns name the inputs that made a row; inputs are inserted in their order.
    arrays = ", ".join(f"${n}::{cast}[]" for n, cast in enumerate(casts, 1))
    fields = ", ".join(f"p_{name}" for name in names)
    sequence = f"pg_get_serial_sequence('{table.name}', '{primary_key.name}')"
    values, source, where = query(lambda n: f"input.p_{names[n]}")
    bulk = (
        f"WITH input AS MATERIALIZED (SELECT nextval(({sequence})::regclass) AS new_id, u.* "
        f"FROM unnest({arrays}) WITH ORDINALITY AS u({fields}, ordinal)), "
        f"inserted AS (INSERT INTO {quote(table.name)} ({key}, {columns}) "
        f"SELECT input.new_id, {values} FROM input, {source} WHERE {where} "
        f"ORDER BY input.ordinal {tail}) "
        f"SELECT inserted.{key} FROM input LEFT JOIN inserted ON inserted.{key} = input.new_id "
        "ORDER BY input.ordinal"
    )
    return Prepared(statement.columns, one, bulk, processors, bulk_in_order=True)


class SqliteDriver:
    dialect: Dialect = SQLiteDialect_pysqlite()

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        self._connection: sqlite3.Connection | None = None

    async def run(self, inserts: Sequence[Insert]) -> list[int | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, inserts)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=True)

    def _run(self, inserts: Sequence[Insert]) -> list[int | None]:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            cursor = connection.cursor()  # one for the batch: its rows run one after another
            ids = [_sqlite_insert(cursor, index, item) for index, item in enumerate(inserts)]
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT leaves the transaction open
                connection.execute("ROLLBACK")
            raise
        return ids

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            ):
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _sqlite_insert(cursor: sqlite3.Cursor, index: int, item: Insert) -> int | None:
    prepared, params = item
    try:
        row = cursor.execute(prepared.one_sql, params).fetchone()
    except ROW_ERRORS_SQLITE as error:
        raise RowFailed(index, error) from error
    return None if row is None else int(row[0])


class PostgresDriver:
    dialect: Dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._last_batch: float | None = None  # time.monotonic() when the last batch began

    @property
    def server_pid(self) -> int | None:
        return None if self._connection is None else self._connection.get_server_pid()

    async def run(self, inserts: Sequence[Insert]) -> list[int | None]:
        connection = await self._connect()
        now = time.monotonic()
        busy = self._last_batch is not None and now - self._last_batch < IDLE_SECONDS
        self._last_batch = now
        if busy and _one_statement(inserts):
            # A single statement is its own transaction: one round trip, not three. Only on a
            # connection used a moment ago; after a pause, BEGIN first probes it (below).
            try:
                return await _postgres_bulk(connection, inserts)
            except RowFailed:  # one row, rolled back by itself
                raise
            except ROW_ERRORS_POSTGRES:
                pass  # rolled back by itself: below, row by row in a transaction names the row
            except BaseException:
                await self._abandon(connection)
                raise
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
            except (_Unmatched, *ROW_ERRORS_POSTGRES):
                await connection.execute("ROLLBACK")
                await connection.execute("BEGIN")
                ids = [await _postgres_one(connection, i, item) for i, item in enumerate(inserts)]
            await connection.execute("COMMIT")
        except BaseException:
            await self._abandon(connection)
            raise
        return ids

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

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
    first = inserts[0][0]
    if len(inserts) == 1:
        return True
    return first.bulk_in_order and all(prepared is first for prepared, _params in inserts)


async def _postgres_one(connection: asyncpg.Connection, index: int, item: Insert) -> int | None:
    prepared, params = item
    try:
        value = await connection.fetchval(prepared.one_sql, *params)
    except ROW_ERRORS_POSTGRES as error:
        raise RowFailed(index, error) from error
    return None if value is None else int(value)


async def _postgres_bulk(
    connection: asyncpg.Connection, inserts: Sequence[Insert]
) -> list[int | None]:
    """One statement per (table, columns) group, in the order the groups first appear."""
    groups: dict[Prepared, list[int]] = defaultdict(list)
    for index, (prepared, _params) in enumerate(inserts):
        groups[prepared].append(index)
    ids: list[int | None] = [None] * len(inserts)
    for prepared, indexes in groups.items():
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
