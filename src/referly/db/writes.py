"""Where the domain's inserts go: the process's group-commit writer (`GroupCommitWriter`, shared
commits for the hot paths) or the caller's ORM session (`SessionWriter`, inside a transaction
that holds other work too, such as an idempotency key's answer). Both insert with
`ON CONFLICT DO NOTHING`, so a row whose unique value exists comes back as a duplicate, never
as an error."""

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referly.db.group_commit import (
    Follow,
    GroupCommitWriter,
    InsertResult,
    Target,
    Values,
    table_of,
)


class RowWriter(Protocol):
    async def insert(
        self, target: Target, values: Values, follow: Sequence[Follow] = ()
    ) -> InsertResult:
        """Insert one row, and the rows that `follow` it if it went in, in one transaction; a
        duplicate of a unique value inserts nothing."""
        ...

    async def barrier(self) -> None:
        """Wait as long as an insert would, writing nothing."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for a rare write that is not an insert (an update), committed when the
        block ends."""
        ...


class HotWriter:
    """The `RowWriter` of the hot paths: inserts through the group-commit writer, the rare
    other write in a transaction of its own."""

    def __init__(
        self, writer: GroupCommitWriter, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self.writer = writer
        self.sessionmaker = sessionmaker

    async def insert(
        self, target: Target, values: Values, follow: Sequence[Follow] = ()
    ) -> InsertResult:
        return await self.writer.insert(target, values, follow)

    async def barrier(self) -> None:
        await self.writer.barrier()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session, session.begin():
            yield session


class SessionWriter:
    """A `RowWriter` on an ORM session: the row is flushed in the session's transaction and
    committed with it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(
        self, target: Target, values: Values, follow: Sequence[Follow] = ()
    ) -> InsertResult:
        inserted = await self._insert(target, values)
        if inserted is not None:
            for row in follow:
                linked = {row.link: inserted} if row.link is not None else {}
                await self._insert(row.target, {**row.values, **linked})
        return InsertResult(inserted)

    async def _insert(self, target: Target, values: Values) -> int | None:
        table = table_of(target)
        build = postgresql.insert if self._dialect() == "postgresql" else sqlite.insert
        (key,) = table.primary_key.columns
        statement = build(table).values(dict(values)).on_conflict_do_nothing().returning(key)
        inserted: int | None = await self.session.scalar(statement)
        return inserted

    async def barrier(self) -> None:
        return None  # the caller's commit comes later, for every outcome alike

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        yield self.session  # committed with the rest of the caller's transaction

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name
