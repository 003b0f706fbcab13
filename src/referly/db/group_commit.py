"""Group commit for hot insert paths: concurrent inserts share one transaction, and each caller
is answered only after the commit that holds its row. Nothing is buffered past an answer: an
`insert()` that returns has been committed; one that raises wrote nothing.

Use one writer per server process, started with the app and closed with it:

    writer = GroupCommitWriter.for_url(settings.database_url)
    await writer.start()                       # e.g. in the app's lifespan
    result = await writer.insert(Click, {"program_id": 1, "partner_id": 7, ...})
    result.id                                  # the new row's primary key
    result.duplicate                           # True: an equal unique value existed, no row added
    await writer.close()                       # finishes the batch in flight, then stops

`await writer.barrier()` waits for the next commit without writing anything.

The target is a mapped class (`Click`) or a `Table`. `values` maps column names to Python
values, exactly as for an ORM object: they are converted
by the columns' own types (UTC datetimes, JSON) and the columns' Python-side defaults fill what
is missing, so the same call works on SQLite and PostgreSQL. Every insert runs as
`INSERT ... ON CONFLICT DO NOTHING RETURNING id`, so a duplicate of any unique constraint is
reported for that row alone and never fails the other rows of its batch.

How it works: `insert()` puts the statement and a future on a queue; one writer task takes
everything queued (up to `max_batch`), runs it in ONE transaction on a dedicated raw driver
connection (`group_commit_drivers`: one sqlite3 connection in its own thread, so a whole batch
costs one thread hop; or one asyncpg connection, where same-shaped rows go in as one
statement), commits, then resolves the futures. While a commit is in flight, new inserts wait
in the queue and form the next batch; at low load a batch is a single row and nothing waits on
a timer. The writer's connection is its own, outside the engine's pool: on SQLite it queues
for the write lock like any other writer (busy timeout); a broken PostgreSQL connection is
replaced on the next batch.

Errors (all `ServiceUnavailable`, so the API renders them as 503, never a 2xx):
- `CommitFailed`: the batch's transaction did not commit (lost connection, database locked
  for longer than the busy timeout, a deferred constraint); every row of that batch failed.
- `RowRejected`: the database refused this row (a foreign key, NOT NULL, a bad value); the
  rest of its batch is retried without it and commits. Validate before inserting, so this
  means a race (a partner deleted meanwhile) or a bug.
- `WriterClosed`: the writer is not running.

`writer.stats` counts committed batches, rows, duplicates and failed batches.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import FromClause, Table
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase

from referly.db.group_commit_drivers import (
    Follower,
    Follows,
    Insert,
    PostgresDriver,
    Prepared,
    RowFailed,
    SqliteDriver,
    prepare,
)
from referly.errors import ServiceUnavailable

log = logging.getLogger("referly.group_commit")

DEFAULT_MAX_BATCH = 512
Target = FromClause | type[DeclarativeBase]  # a table, or a mapped class
Values = Mapping[str, Any]  # a row's values by column name


class WriteFailed(ServiceUnavailable):
    """The write was not committed."""


class CommitFailed(WriteFailed, message="The write could not be committed; try again shortly"):
    """The batch's transaction did not commit; every row of it failed."""


class RowRejected(WriteFailed, message="The database refused the write"):
    """The database refused this row; the rest of its batch committed."""


class WriterClosed(WriteFailed, message="The writer is not running"):
    """The writer was closed, or never started."""


@dataclass(frozen=True, slots=True)
class InsertResult:
    id: int | None  # None: a unique constraint already held an equal row

    @property
    def duplicate(self) -> bool:
        return self.id is None


@dataclass
class WriterStats:
    batches: int = 0  # committed transactions
    rows: int = 0  # rows committed
    duplicates: int = 0
    largest_batch: int = 0
    failed_batches: int = 0


def table_of(target: Target) -> Table:
    table = target.__table__ if isinstance(target, type) else target
    if not isinstance(table, Table):
        raise TypeError(f"not a table or a mapped class: {target!r}")
    return table


@dataclass(frozen=True)
class _Binder:
    """How rows with one set of given columns become parameters: the given values, then the
    Python-side defaults of the columns not given (a value, or a callable to call per row)."""

    defaults: tuple[tuple[Any, bool], ...]  # (value or callable, is callable)
    prepared: Prepared
    processed: tuple[tuple[int, Any], ...]  # (place, bind processor) of the columns with one


def _defaults(table: Table, given: tuple[str, ...]) -> tuple[tuple[str, Any, bool], ...]:
    found = []
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            found.append((column.name, default.arg, False))  # type: ignore[attr-defined]
        elif default.is_callable:
            found.append((column.name, default.arg, True))  # type: ignore[attr-defined]
    return tuple(found)


class _Driver(Protocol):
    dialect: Dialect

    async def run(self, inserts: Sequence[Insert], follows: Follows = ()) -> list[int | None]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Follow:
    """A row that goes in with another (`insert(..., follow=...)`), in the same transaction,
    only if that one went in: an outbox event for a new customer, say. `link` names its column
    that takes the other row's new id."""

    target: Target
    values: Values
    link: str | None = None


@dataclass(slots=True)
class _Pending:
    insert: Insert | None  # None: a barrier
    future: asyncio.Future[Any]
    follows: tuple[Follower, ...] = ()


@dataclass
class GroupCommitWriter:
    driver: _Driver
    max_batch: int = DEFAULT_MAX_BATCH
    autostart: bool = False  # start on the first insert (for apps served without a lifespan)
    stats: WriterStats = field(default_factory=WriterStats)
    _closed: bool = False
    # Waiting for the next batch; None asks the writer task to stop. `_wakeup`: what the task
    # awaits while the queue is empty.
    _queue: deque[_Pending | None] = field(default_factory=deque)
    _wakeup: asyncio.Future[None] | None = None
    _task: asyncio.Task[None] | None = None
    _binders: dict[tuple[Table, tuple[str, ...]], _Binder] = field(default_factory=dict)

    @classmethod
    def for_url(
        cls, database_url: str, max_batch: int = DEFAULT_MAX_BATCH, autostart: bool = False
    ) -> "GroupCommitWriter":
        """A writer for the same database URL the engine uses (`sqlite:///...`, `postgresql://...`)."""
        url = make_url(database_url)
        backend = url.get_backend_name()
        if backend == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise ValueError("group commit needs a database file, not an in-memory SQLite")
            return cls(SqliteDriver(url.database), max_batch, autostart)
        if backend in ("postgresql", "postgres"):
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            return cls(PostgresDriver(dsn), max_batch, autostart)
        raise ValueError(f"unsupported database URL scheme: {url.drivername!r}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running and not self._closed:
            self._task = asyncio.create_task(self._consume(), name="group-commit-writer")

    async def close(self) -> None:
        """Commit what is queued, stop the writer task and close the connection."""
        self._closed = True
        if self._task is not None:
            task, self._task = self._task, None
            self._put(None)
            await task
        await self.driver.close()

    async def insert(
        self, target: Target, values: Values, follow: Sequence[Follow] = ()
    ) -> InsertResult:
        """Insert one row, and the rows that `follow` it if it went in; returns once the
        transaction holding them has committed."""
        if self._task is None and self.autostart:
            await self.start()
        if not self.running:
            raise WriterClosed()
        insert = self._bind(table_of(target), values)
        followers = tuple(self._follower(row) for row in follow)
        future = asyncio.get_running_loop().create_future()
        pending = _Pending(insert, future, followers)
        self._put(pending)
        result: InsertResult = await pending.future
        return result

    async def barrier(self) -> None:
        """Returns once the next batch has committed, storing nothing itself: a request that
        stores nothing (an unknown referral key, say) is answered on the same schedule as one
        that stores a row, its commit as durable (a batch that wrote no row writes the tick,
        `CommitTick`, so its commit waits for the disk too)."""
        if self._task is None and self.autostart:
            await self.start()
        if not self.running:
            raise WriterClosed()
        pending = _Pending(None, asyncio.get_running_loop().create_future())
        self._put(pending)
        await pending.future

    def _follower(self, row: Follow) -> Follower:
        if row.link is None:
            return self._bind(table_of(row.target), row.values), None
        insert = self._bind(table_of(row.target), {**row.values, row.link: None})
        return insert, insert[0].columns.index(row.link)

    def _bind(self, table: Table, values: Mapping[str, Any]) -> Insert:
        """The row's statement, with values converted by the columns' types."""
        given = tuple(values)
        binder = self._binders.get((table, given))
        if binder is None:
            defaults = _defaults(table, given)
            columns = given + tuple(name for name, _value, _call in defaults)
            prepared = prepare(table, columns, self.driver.dialect)
            processed = tuple((n, p) for n, p in enumerate(prepared.processors) if p is not None)
            binder = _Binder(tuple((v, call) for _n, v, call in defaults), prepared, processed)
            self._binders[(table, given)] = binder
        row = [*values.values()]
        for value, call in binder.defaults:
            row.append(value(None) if call else value)
        for place, process in binder.processed:
            row[place] = process(row[place])
        return binder.prepared, tuple(row)

    def _put(self, item: _Pending | None) -> None:
        self._queue.append(item)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _consume(self) -> None:
        stopping = False
        while not stopping:
            while not self._queue:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
            self._wakeup = None
            queue = self._queue
            items = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
            stopping = None in items
            batch = [item for item in items if item is not None and not item.future.done()]
            try:
                if batch:
                    await self._commit(batch)
            except BaseException as error:  # the task itself is going away: nobody is left hanging
                _fail_all(batch, CommitFailed, error)
                self._fail_queued(error)
                raise

    async def _commit(self, batch: list[_Pending]) -> None:
        """Insert the batch's rows in one transaction; its barriers share the rows' fate (a
        failed commit fails them too, so they answer as a row of the batch would)."""
        pending = [item for item in batch if item.insert is not None]
        barriers = [item for item in batch if item.insert is None]
        if not pending:
            await self._tick(barriers)
            return
        while pending:
            try:
                inserts = [item.insert for item in pending if item.insert]
                follows = [item.follows for item in pending]
                ids = await self.driver.run(inserts, follows if any(follows) else ())
            except RowFailed as failure:
                rejected = pending.pop(failure.index)
                _fail_all([rejected], RowRejected, failure.error)
                continue
            except Exception as error:
                self.stats.failed_batches += 1
                log.warning(
                    "group commit of %d rows failed: %s", len(pending), type(error).__name__
                )
                _fail_all(pending + barriers, CommitFailed, error)
                return
            self._resolve(pending, ids)
            break
        for item in barriers:
            if not item.future.done():
                item.future.set_result(None)

    async def _tick(self, barriers: list[_Pending]) -> None:
        """A batch of barriers alone: a commit that waits for the disk, writing only the
        tick, so it takes as long as a batch with a row."""
        try:
            await self.driver.run([])
        except Exception as error:
            self.stats.failed_batches += 1
            log.warning("group commit of a barrier failed: %s", type(error).__name__)
            _fail_all(barriers, CommitFailed, error)
            return
        for item in barriers:
            if not item.future.done():
                item.future.set_result(None)

    def _resolve(self, batch: list[_Pending], ids: list[int | None]) -> None:
        inserted = sum(1 for id_ in ids if id_ is not None)
        self.stats.batches += 1
        self.stats.rows += inserted
        self.stats.duplicates += len(ids) - inserted
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for item, id_ in zip(batch, ids, strict=True):
            if not item.future.done():
                item.future.set_result(InsertResult(id_))

    def _fail_queued(self, cause: BaseException) -> None:
        while self._queue:
            item = self._queue.popleft()
            if item is not None:
                _fail_all([item], WriterClosed, cause)


def _fail_all(batch: list[_Pending], error: type[WriteFailed], cause: BaseException) -> None:
    for item in batch:
        if not item.future.done():
            failure = error()
            failure.__cause__ = cause
            item.future.set_exception(failure)


__all__ = [
    "CommitFailed",
    "Follow",
    "GroupCommitWriter",
    "InsertResult",
    "RowRejected",
    "WriteFailed",
    "WriterClosed",
    "WriterStats",
]
